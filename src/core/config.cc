#include "conclave/core/config.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#define TOML_EXCEPTIONS 1
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "conclave/core/log.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

// A raw value from either source: TOML node or environment string.
struct RawValue {
  const toml::node* node = nullptr;  // from the file
  std::optional<std::string> text;   // from the environment
};

absl::Status Bad(std::string_view key, std::string_view origin, std::string_view why) {
  return absl::InvalidArgumentError(core::StrCat("config: ", key, " (", origin, "): ", why));
}

absl::StatusOr<std::string> AsString(const RawValue& v, std::string_view key,
                                     std::string_view origin) {
  if (v.text) return *v.text;
  if (auto s = v.node->value<std::string>(); s && v.node->is_string()) return *s;
  return Bad(key, origin, "expected a string");
}

absl::StatusOr<int64_t> AsInteger(const RawValue& v, std::string_view key,
                                  std::string_view origin) {
  if (v.text) {
    int64_t out;
    if (!absl::SimpleAtoi(*v.text, &out)) return Bad(key, origin, "expected an integer");
    return out;
  }
  if (!v.node->is_integer()) return Bad(key, origin, "expected an integer");
  return *v.node->value<int64_t>();
}

absl::StatusOr<bool> AsBool(const RawValue& v, std::string_view key, std::string_view origin) {
  if (v.text) {
    bool out;
    if (!absl::SimpleAtob(*v.text, &out)) return Bad(key, origin, "expected true or false");
    return out;
  }
  if (!v.node->is_boolean()) return Bad(key, origin, "expected true or false");
  return *v.node->value<bool>();
}

absl::StatusOr<absl::Duration> AsDuration(const RawValue& v, std::string_view key,
                                          std::string_view origin) {
  auto text = AsString(v, key, origin);
  if (!text.ok()) return Bad(key, origin, "expected a duration string such as \"5s\" or \"250ms\"");
  absl::Duration d;
  if (!absl::ParseDuration(*text, &d) || d < absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return Bad(key, origin,
               core::StrCat("'", *text, "' is not a duration such as \"5s\" or \"250ms\""));
  }
  return d;
}

absl::StatusOr<double> AsDouble(const RawValue& v, std::string_view key, std::string_view origin) {
  if (v.text) {
    double out;
    if (!absl::SimpleAtod(*v.text, &out)) return Bad(key, origin, "expected a number");
    return out;
  }
  if (v.node->is_integer()) return static_cast<double>(*v.node->value<int64_t>());
  if (!v.node->is_floating_point()) return Bad(key, origin, "expected a number");
  return *v.node->value<double>();
}

using Setter = std::function<absl::Status(Config&, const RawValue&, std::string_view key,
                                          std::string_view origin)>;
struct KeySpec {
  std::string name;
  Setter set;
};

Setter StringKey(std::string Config::*field, bool non_empty) {
  return [=](Config& c, const RawValue& v, std::string_view key, std::string_view origin) {
    auto s = AsString(v, key, origin);
    if (!s.ok()) return s.status();
    if (non_empty && s->empty()) return Bad(key, origin, "must not be empty");
    c.*field = *s;
    return absl::OkStatus();
  };
}

template <typename Int>
Setter IntKey(Int Config::*field, int64_t min, int64_t max) {
  return [=](Config& c, const RawValue& v, std::string_view key, std::string_view origin) {
    auto n = AsInteger(v, key, origin);
    if (!n.ok()) return n.status();
    if (*n < min || *n > max) {
      return Bad(key, origin, core::StrCat(*n, " is outside ", min, "..", max));
    }
    c.*field = static_cast<Int>(*n);
    return absl::OkStatus();
  };
}

Setter RateKey(double Config::*field) {
  return [=](Config& c, const RawValue& v, std::string_view key, std::string_view origin) {
    auto d = AsDouble(v, key, origin);
    if (!d.ok()) return d.status();
    if (!(*d >= 0 && *d <= 1e9)) return Bad(key, origin, "must be between 0 and 1e9");
    c.*field = *d;
    return absl::OkStatus();
  };
}

Setter BoolKey(bool Config::*field) {
  return [=](Config& c, const RawValue& v, std::string_view key, std::string_view origin) {
    auto b = AsBool(v, key, origin);
    if (!b.ok()) return b.status();
    c.*field = *b;
    return absl::OkStatus();
  };
}

Setter DurationKey(absl::Duration Config::*field) {
  return [=](Config& c, const RawValue& v, std::string_view key, std::string_view origin) {
    auto d = AsDuration(v, key, origin);
    if (!d.ok()) return d.status();
    c.*field = *d;
    return absl::OkStatus();
  };
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

// An array of strings. From the environment: a TOML array (`["a", "b"]`) when the text starts
// with '[', else `;`-separated items, each trimmed, empty ones dropped.
Setter StringListKey(std::vector<std::string> Config::*field) {
  return [=](Config& c, const RawValue& v, std::string_view key,
             std::string_view origin) -> absl::Status {
    std::vector<std::string> out;
    if (v.text) {
      std::string_view text = Trim(*v.text);
      if (text.empty() || text.front() != '[') {
        while (!text.empty()) {
          size_t end = text.find(';');
          std::string_view item = Trim(text.substr(0, end));
          if (!item.empty()) out.emplace_back(item);
          text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        }
        c.*field = std::move(out);
        return absl::OkStatus();
      }
      toml::table table;
      try {
        table = toml::parse(core::StrCat("value = ", text), origin);
      } catch (const toml::parse_error& e) {
        return Bad(key, origin, core::StrCat("not a TOML array of strings: ", e.description()));
      }
      return StringListKey(field)(c, RawValue{table.get("value"), std::nullopt}, key, origin);
    }
    const toml::array* array = v.node != nullptr ? v.node->as_array() : nullptr;
    if (array == nullptr) return Bad(key, origin, "expected an array of strings");
    for (const toml::node& item : *array) {
      auto s = item.value<std::string>();
      if (!item.is_string() || !s) return Bad(key, origin, "expected an array of strings");
      out.push_back(*s);
    }
    c.*field = std::move(out);
    return absl::OkStatus();
  };
}

const std::vector<KeySpec>& Specs() {
  static const auto* specs = new std::vector<KeySpec>{
      {"server_name", StringKey(&Config::server_name, true)},
      {"address",
       [](Config& c, const RawValue& v, std::string_view key, std::string_view origin) {
         auto s = AsString(v, key, origin);
         if (!s.ok()) return s.status();
         in6_addr buffer;
         if (inet_pton(AF_INET, s->c_str(), &buffer) != 1 &&
             inet_pton(AF_INET6, s->c_str(), &buffer) != 1) {
           return Bad(key, origin,
                      core::StrCat("'", *s, "' is not an IPv4 or IPv6 address literal"));
         }
         c.address = *s;
         return absl::OkStatus();
       }},
      {"port", IntKey(&Config::port, 0, 65535)},
      {"database_path", StringKey(&Config::database_path, true)},
      {"database_sync_writes",
       [](Config& c, const RawValue& v, std::string_view key, std::string_view origin) {
         auto b = AsBool(v, key, origin);
         if (!b.ok()) return b.status();
         c.database_sync_writes = *b;
         return absl::OkStatus();
       }},
      {"database_backup_path", StringKey(&Config::database_backup_path, false)},
      {"database_backups_to_keep", IntKey(&Config::database_backups_to_keep, 1, 1000)},
      {"log_level",
       [](Config& c, const RawValue& v, std::string_view key, std::string_view origin) {
         auto s = AsString(v, key, origin);
         if (!s.ok()) return s.status();
         static constexpr std::string_view kLevels[] = {"trace", "debug",    "info", "warn",
                                                        "error", "critical", "off"};
         for (auto level : kLevels) {
           if (level == *s) {
             c.log_level = *s;
             return absl::OkStatus();
           }
         }
         return Bad(key, origin,
                    core::StrCat("'", *s,
                                 "' is not one of trace, debug, info, warn, error, critical, off"));
       }},
      {"worker_threads", IntKey(&Config::worker_threads, 0, 256)},
      {"max_header_size", IntKey(&Config::max_header_size, 1024, int64_t{1} << 24)},
      {"max_body_size", IntKey(&Config::max_body_size, 1024, int64_t{1} << 32)},
      {"request_timeout", DurationKey(&Config::request_timeout)},
      {"idle_timeout", DurationKey(&Config::idle_timeout)},
      {"reload_drain_timeout", DurationKey(&Config::reload_drain_timeout)},
      {"module_dir", StringKey(&Config::module_dir, false)},
      {"runtime_dir", StringKey(&Config::runtime_dir, false)},
      {"allow_registration", BoolKey(&Config::allow_registration)},
      {"registration_token", StringKey(&Config::registration_token, false)},
      {"rc_login_per_second", RateKey(&Config::rc_login_per_second)},
      {"rc_login_burst", IntKey(&Config::rc_login_burst, 1, 1000000)},
      {"rc_registration_per_second", RateKey(&Config::rc_registration_per_second)},
      {"rc_registration_burst", IntKey(&Config::rc_registration_burst, 1, 1000000)},
      {"rc_message_per_second", RateKey(&Config::rc_message_per_second)},
      {"rc_message_burst", IntKey(&Config::rc_message_burst, 1, 1000000)},
      {"admin_execute", StringListKey(&Config::admin_execute)},
  };
  return *specs;
}

std::string EnvName(std::string_view key) {
  return core::StrCat("CONCLAVE_", absl::AsciiStrToUpper(std::string(key)));
}

}  // namespace

const std::vector<std::string>& ConfigKeys() {
  static const auto* keys = [] {
    auto* out = new std::vector<std::string>;
    for (const auto& spec : Specs()) out->push_back(spec.name);
    return out;
  }();
  return *keys;
}

absl::StatusOr<LoadedConfig> ParseConfig(std::string_view toml_text, std::string_view origin,
                                         char** environ) {
  LoadedConfig out;
  toml::table table;
  try {
    table = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        core::StrCat("config: ", origin, ":", static_cast<int>(e.source().begin.line), ":",
                     static_cast<int>(e.source().begin.column), ": ", e.description()));
  }
  for (const auto& spec : Specs()) out.config.sources[spec.name] = "default";

  for (const auto& [key, node] : table) {
    std::string_view name = key.str();
    auto it = std::find_if(Specs().begin(), Specs().end(),
                           [&](const KeySpec& s) { return s.name == name; });
    if (it == Specs().end()) {
      out.warnings.push_back(
          core::StrCat("config: unknown key '", name, "' in ", origin, " (ignored)"));
      continue;
    }
    if (auto status = it->set(out.config, RawValue{&node, std::nullopt}, name, origin);
        !status.ok()) {
      return status;
    }
    out.config.sources[it->name] = "file";
  }

  // Environment overrides win over the file.
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.substr(0, 9) != "CONCLAVE_") continue;
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view env_name = entry.substr(0, eq);
    bool known = false;
    for (const auto& spec : Specs()) {
      if (EnvName(spec.name) != env_name) continue;
      known = true;
      if (auto status = spec.set(out.config, RawValue{nullptr, std::string(entry.substr(eq + 1))},
                                 spec.name, env_name);
          !status.ok()) {
        return status;
      }
      out.config.sources[spec.name] = "env";
    }
    if (!known) {
      out.warnings.push_back(
          core::StrCat("config: unknown environment variable '", env_name, "' (ignored)"));
    }
  }
  if (out.config.database_backup_path.empty()) {
    std::string_view base = out.config.database_path;
    while (base.size() > 1 && base.back() == '/') base.remove_suffix(1);
    out.config.database_backup_path = core::StrCat(base, "-backups");
  }
  return out;
}

absl::StatusOr<LoadedConfig> LoadConfig(const std::optional<std::string>& path, char** environ) {
  std::string file = path.value_or("conclave.toml");
  std::ifstream in(file);
  if (!in) {
    // Without -c, a missing ./conclave.toml means defaults; one that exists but cannot be read
    // is an error, never silently ignored.
    if (!path && errno == ENOENT) return ParseConfig("", "defaults", environ);
    int err = errno;
    std::string why = std::strerror(err);
    if (err == EACCES)
      return absl::PermissionDeniedError(core::StrCat("config: ", file, ": ", why));
    return absl::NotFoundError(core::StrCat("config: cannot read ", file, ": ", why));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(core::StrCat("config: cannot read ", file));
  return ParseConfig(buffer.str(), file, environ);
}

}  // namespace conclave::core
