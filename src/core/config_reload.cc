#include "conclave/core/config_reload.h"

#include <functional>
#include <map>

#include "absl/strings/str_join.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

// How to show each key's value, and whether SIGHUP applies it. Every key of ConfigKeys() must be
// here: config_reload_test checks it, so a new key cannot be silently ignored by a reload.
struct KeyView {
  bool runtime;
  std::function<std::string(const Config&)> show;
};

template <typename T>
std::function<std::string(const Config&)> Show(T Config::*field) {
  return [field](const Config& c) {
    if constexpr (std::is_same_v<T, bool>) {
      return std::string(c.*field ? "true" : "false");
    } else if constexpr (std::is_same_v<T, std::string>) {
      return core::StrCat("\"", c.*field, "\"");
    } else if constexpr (std::is_same_v<T, absl::Duration>) {
      return core::StrCat("\"", absl::FormatDuration(c.*field), "\"");
    } else {
      return core::StrCat(c.*field);
    }
  };
}

const std::map<std::string, KeyView, std::less<>>& Keys() {
  static const auto* keys = new std::map<std::string, KeyView, std::less<>>{
      {"server_name", {false, Show(&Config::server_name)}},
      {"address", {false, Show(&Config::address)}},
      {"port", {false, Show(&Config::port)}},
      {"database_path", {false, Show(&Config::database_path)}},
      {"database_sync_writes", {false, Show(&Config::database_sync_writes)}},
      {"database_backup_path", {false, Show(&Config::database_backup_path)}},
      {"database_backups_to_keep", {false, Show(&Config::database_backups_to_keep)}},
      {"log_level", {true, Show(&Config::log_level)}},
      {"log_format", {true, Show(&Config::log_format)}},
      {"access_log", {true, Show(&Config::access_log)}},
      {"metrics_enabled", {false, Show(&Config::metrics_enabled)}},
      {"metrics_address", {false, Show(&Config::metrics_address)}},
      {"metrics_port", {false, Show(&Config::metrics_port)}},
      // The paths need a restart; SIGHUP re-reads the files they name (HttpServer).
      {"federation_port", {false, Show(&Config::federation_port)}},
      {"federation_address", {false, Show(&Config::federation_address)}},
      {"tls_certificate_path", {false, Show(&Config::tls_certificate_path)}},
      {"tls_private_key_path", {false, Show(&Config::tls_private_key_path)}},
      {"worker_threads", {false, Show(&Config::worker_threads)}},
      {"blocking_threads", {false, Show(&Config::blocking_threads)}},
      {"blocking_queue", {false, Show(&Config::blocking_queue)}},
      {"max_header_size", {false, Show(&Config::max_header_size)}},
      {"max_body_size", {false, Show(&Config::max_body_size)}},
      {"request_timeout", {false, Show(&Config::request_timeout)}},
      {"idle_timeout", {false, Show(&Config::idle_timeout)}},
      {"reload_drain_timeout", {false, Show(&Config::reload_drain_timeout)}},
      {"module_dir", {false, Show(&Config::module_dir)}},
      {"runtime_dir", {false, Show(&Config::runtime_dir)}},
      {"watch", {false, Show(&Config::watch)}},
      // Run at start only: a new list takes effect at the next start, which is what it says.
      // Commands may carry passwords (users create-user NAME PASSWORD): only their number shows.
      {"admin_execute",
       {false,
        [](const Config& c) {
          const size_t n = c.admin_execute.size();
          return core::StrCat("(", n, n == 1 ? " command" : " commands",
                              "; not shown, they may hold passwords)");
        }}},
  };
  return *keys;
}

}  // namespace

std::optional<std::string> ConfigValueText(const Config& config, std::string_view key) {
  auto it = Keys().find(key);
  if (it == Keys().end()) return std::nullopt;
  return it->second.show(config);
}

bool ConfigKeyIsRuntime(std::string_view key) {
  auto it = Keys().find(key);
  return it != Keys().end() && it->second.runtime;
}

ConfigReloadPlan PlanConfigReload(const Config& running, const Config& fresh) {
  ConfigReloadPlan plan;
  for (const std::string& key : ConfigKeys()) {
    auto it = Keys().find(key);
    if (it == Keys().end()) {
      // Unknown to this table (config_reload_test fails first): treat as needing a restart.
      plan.needs_restart.push_back({key, "?", "?"});
      continue;
    }
    std::string from = it->second.show(running), to = it->second.show(fresh);
    // Commands compare equal as shown; compare the real values.
    const bool changed =
        key == "admin_execute" ? running.admin_execute != fresh.admin_execute : from != to;
    if (!changed) continue;
    (it->second.runtime ? plan.apply : plan.needs_restart).push_back({key, from, to});
  }
  return plan;
}

Config MergeRuntimeKeys(const Config& running, const Config& fresh) {
  Config out = running;
  out.log_level = fresh.log_level;
  out.log_format = fresh.log_format;
  out.access_log = fresh.access_log;
  for (const auto& [key, source] : fresh.sources) {
    if (ConfigKeyIsRuntime(key)) out.sources[key] = source;
  }
  out.raw = fresh.raw;
  return out;
}

std::string DescribeConfigReload(const ConfigReloadPlan& plan) {
  auto list = [](const std::vector<ConfigChange>& changes) {
    return absl::StrJoin(changes, ", ", [](std::string* out, const ConfigChange& c) {
      out->append(core::StrCat(c.key, " (", c.from, " -> ", c.to, ")"));
    });
  };
  if (plan.apply.empty() && plan.needs_restart.empty()) return "no changes";
  std::string out;
  if (!plan.apply.empty()) out = core::StrCat("applied ", list(plan.apply));
  if (!plan.needs_restart.empty()) {
    out += core::StrCat(out.empty() ? "" : "; ",
                        "needs a restart, not applied: ", list(plan.needs_restart));
  }
  return out;
}

}  // namespace conclave::core
