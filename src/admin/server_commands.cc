// `server`: status and control of the process — uptime, build, config, memory, reload, restart,
// shutdown, and notices to the admin room.
#include "server_commands.h"

#include <dlfcn.h>

#include <filesystem>
#include <optional>

#include "absl/strings/str_join.h"
#include "conclave/core/build_info.h"
#include "conclave/core/config.h"
#include "conclave/core/config_reload.h"
#include "conclave/core/elf_file.h"
#include "conclave/core/module_host.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/database.h"
#include "conclave/service/admin_room/admin_room.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/storage/globals.h"
#include "format.h"
#include "tree.h"

namespace conclave::admin {
namespace {

// The running executable's path on disk: /proc/self/exe, without the " (deleted)" the kernel
// appends once the build replaced the file.
std::string RunningExecutablePath() {
  std::error_code ec;
  std::string path = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.ends_with(kDeleted)) path.resize(path.size() - kDeleted.size());
  return path;
}

absl::StatusOr<Reply> Uptime(Context& context) {
  core::Server& server = context.server();
  absl::Duration up = absl::Trunc(absl::Now() - server.start_time(), absl::Seconds(1));
  std::string out = core::StrCat("up ", absl::FormatDuration(up), " (since ",
                                 FormatUtc(server.start_time()), ")");
  if (const service::Globals* globals = context.environment().globals) {
    core::StrAppend(&out, "; database first started ", FormatUtc(globals->first_start()));
  }
  return Reply(out);
}

absl::StatusOr<Reply> BuildInfo(Context& context) {
  auto executable_id = core::LoadedBuildId("");
  Reply reply;
  reply.Table({}, {{"version", std::string(core::Version())},
                   {"commit", std::string(core::Commit())},
                   {"build type", std::string(core::BuildType())},
                   {"compiler", std::string(core::Compiler())},
                   {"executable build id", executable_id.ok() ? *executable_id : "unknown"}});
  std::vector<std::vector<std::string>> modules;
  if (core::ModuleHost* host = context.server().modules()) {
    for (const auto& m : host->List()) {
      modules.push_back({m.name, core::StrCat(m.generation), m.build_id});
    }
  }
  if (!modules.empty()) reply.Table({"module", "generation", "build id"}, std::move(modules));
  return reply;
}

absl::StatusOr<Reply> ShowConfig(Context& context) {
  const core::Config config = context.server().runtime().Current();
  std::vector<std::vector<std::string>> rows;
  for (const std::string& key : core::ConfigKeys()) {
    std::optional<std::string> value = core::ConfigValueText(config, key);
    if (!value) {
      value = "(not shown: unknown to this build)";
    } else if (IsSecretConfigKey(key) && *value != "\"\"") {
      value = "(set; redacted)";  // also a secret key core does not know as one
    }
    auto source = config.sources.find(key);
    rows.push_back({key, *value, source == config.sources.end() ? "default" : source->second,
                    core::ConfigKeyIsRuntime(key) ? "SIGHUP" : "restart"});
  }
  // The modules' options, as their sections hold them (the values SIGHUP last applied).
  for (const core::OptionRead& option : context.server().sections().InForce()) {
    const bool redact =
        (option.secret || IsSecretConfigKey(option.key)) && option.value_text != "\"\"";
    rows.push_back({option.key, redact ? "(set; redacted)" : option.value_text, option.source,
                    option.runtime ? "SIGHUP" : "restart"});
  }
  Reply reply;
  reply.Table({"key", "value", "source", "a change needs"}, std::move(rows));
  reply.Text(
      "Sources: default, file (the TOML config), env (CONCLAVE_<KEY>). SIGHUP re-reads the file "
      "and applies the keys marked SIGHUP; the others keep their value until a restart (a "
      "module's own options also change when that module is reloaded).");
  return reply;
}

absl::StatusOr<Reply> MemoryUsage(Context& context) {
  Reply reply;
  MallctlFunction mallctl = context.environment().mallctl;
  if (mallctl == nullptr) {
    // jemalloc is linked into the executable only, never into a module: look it up at run time.
    mallctl = reinterpret_cast<MallctlFunction>(dlsym(RTLD_DEFAULT, "mallctl"));
  }
  auto jemalloc = ReadJemallocStats(mallctl);
  if (jemalloc.ok()) {
    reply.Table({"jemalloc", "bytes"}, {{"allocated", FormatBytes(jemalloc->allocated)},
                                        {"active", FormatBytes(jemalloc->active)},
                                        {"resident", FormatBytes(jemalloc->resident)},
                                        {"mapped", FormatBytes(jemalloc->mapped)}});
  } else {
    reply.Text(core::StrCat("jemalloc: not available (", jemalloc.status().message(), ")"));
  }
  auto db = context.database();
  if (!db.ok()) {
    reply.Text(core::StrCat("RocksDB: not available (", db.status().message(), ")"));
    return reply;
  }
  auto memory = (*db)->Memory();
  if (!memory.ok()) return memory.status();
  reply.Table({"RocksDB", "bytes"},
              {{"memtables", FormatBytes(memory->memtable_bytes)},
               {"block cache", core::StrCat(FormatBytes(memory->block_cache_bytes), " of ",
                                            FormatBytes(memory->block_cache_capacity), " (",
                                            Plural(memory->block_caches, "cache", "caches"), ")")},
               {"table readers", FormatBytes(memory->table_readers_bytes)}});
  return reply;
}

absl::StatusOr<Reply> ReloadModules(Context& context) {
  core::ModuleHost* host = context.server().modules();
  if (host == nullptr) return absl::FailedPreconditionError("no module host in this process");
  if (!host->dynamic()) {
    return absl::FailedPreconditionError(
        "hot reload is a dev-build feature; this is a release build (use `server restart`)");
  }
  if (auto s = host->RequestReload({}); !s.ok()) return s;
  return Reply(core::StrCat("reload of changed modules requested ", context.By(),
                            "; the server log reports the outcome"));
}

absl::StatusOr<Reply> Restart(Context& context, bool force) {
  const std::string path = context.environment().executable_path.empty()
                               ? RunningExecutablePath()
                               : context.environment().executable_path;
  if (!force) {
    if (auto changed = CheckBinaryUnchanged(path); !changed.ok()) return changed;
  }
  if (auto s = context.server().RequestRestart(); !s.ok()) return s;
  return Reply(core::StrCat("restarting in place (exec ", path, "), as asked ", context.By(),
                            "; the listening sockets stay open, so clients wait and reconnect"));
}

absl::StatusOr<Reply> Shutdown(Context& context) {
  context.server().RequestShutdown();
  return Reply(core::StrCat("shutting down, as asked ", context.By()));
}

absl::StatusOr<Reply> AdminNotice(Context& context, const std::vector<std::string>& words) {
  std::string message = absl::StrJoin(words, " ");
  const std::string& body = context.request().body;
  if (!body.empty()) message = message.empty() ? body : core::StrCat(message, "\n", body);
  if (message.empty()) return absl::InvalidArgumentError("MESSAGE is empty");
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  const std::string html = Reply(message).Render().html;
  if (auto s = hs->admin_room().Notice(message, html, std::nullopt); !s.ok()) {
    return s;
  }
  return Reply(core::StrCat("posted to the admin room ", hs->admin_room().room_id()));
}

}  // namespace

bool IsSecretConfigKey(std::string_view key) {
  return key.find("token") != std::string_view::npos ||
         key.find("secret") != std::string_view::npos ||
         key.find("password") != std::string_view::npos;
}

bool HasConfigFormatter(std::string_view key) {
  return core::ConfigValueText(core::Config{}, key).has_value();
}

absl::StatusOr<JemallocStats> ReadJemallocStats(MallctlFunction mallctl) {
  if (mallctl == nullptr) {
    return absl::UnavailableError("this process does not use jemalloc (no mallctl symbol)");
  }
  // Statistics are cached by jemalloc; writing "epoch" refreshes them.
  uint64_t epoch = 1;
  size_t length = sizeof(epoch);
  if (int err = mallctl("epoch", &epoch, &length, &epoch, length); err != 0) {
    return absl::UnavailableError(core::StrCat("mallctl(\"epoch\") failed: error ", err));
  }
  JemallocStats stats;
  for (auto [name, field] : {std::pair{"stats.allocated", &JemallocStats::allocated},
                             std::pair{"stats.active", &JemallocStats::active},
                             std::pair{"stats.resident", &JemallocStats::resident},
                             std::pair{"stats.mapped", &JemallocStats::mapped}}) {
    size_t value = 0;
    length = sizeof(value);
    if (int err = mallctl(name, &value, &length, nullptr, 0); err != 0) {
      return absl::UnavailableError(core::StrCat("mallctl(\"", name, "\") failed: error ", err,
                                                 " (jemalloc built without statistics?)"));
    }
    stats.*field = value;
  }
  return stats;
}

absl::Status CheckBinaryUnchanged(const std::string& executable_path) {
  auto running = core::LoadedBuildId("");
  if (!running.ok()) {
    return absl::FailedPreconditionError(
        core::StrCat("cannot read the running executable's build id: ", running.status().message(),
                     "; add --force to restart anyway"));
  }
  std::vector<std::pair<std::string, std::string>> objects = {{executable_path, *running}};
  // Dev builds: core is a shared library that the exec loads anew too (in release it is part of
  // the executable, whose link-map name is "").
  auto core_path = core::LoadedObjectPath(reinterpret_cast<const void*>(&core::ReadElfFile));
  if (core_path.ok() && !core_path->empty()) {
    if (auto id = core::LoadedBuildId(*core_path); id.ok()) objects.emplace_back(*core_path, *id);
  }
  for (const auto& [path, running_id] : objects) {
    auto on_disk = core::ReadElfFile(path);
    if (!on_disk.ok()) {
      return absl::FailedPreconditionError(
          core::StrCat("cannot read ", path, ": ", on_disk.status().message(),
                       "; the restart would fail. Add --force to try anyway"));
    }
    if (on_disk->build_id != running_id) {
      return absl::FailedPreconditionError(core::StrCat(
          path, " on disk is another build (build id ", on_disk->build_id.substr(0, 12),
          ") than the one running (", running_id.substr(0, 12),
          "): a restart would run the new build. Add --force to restart into it"));
    }
  }
  return absl::OkStatus();
}

void AddServerCommands(CommandTree& tree) {
  Group group = tree.AddGroup("server", "Server status and control");
  tree.AddCommand(group, "uptime", "How long the server has been running", Uptime);
  tree.AddCommand(group, "build-info",
                  "Version, commit, build type, compiler and the build id of every module",
                  BuildInfo);
  tree.AddCommand(group, "show-config",
                  "Every config key, its value and where it came from (secrets redacted)",
                  ShowConfig);
  tree.AddCommand(group, "memory-usage",
                  "Memory: jemalloc's allocated, active, resident and mapped bytes; RocksDB's "
                  "memtables and block cache",
                  MemoryUsage);
  tree.AddCommand(group, "reload-mods",
                  "Hot-reload the modules whose build changed (dev builds only)", ReloadModules);
  bool* force = tree.Make<bool>();
  Command restart =
      tree.AddCommand(group, "restart",
                      "Restart in place: exec the executable again, keeping the listening sockets",
                      [force](Context& context) { return Restart(context, *force); });
  restart.Flag("-f,--force", force,
               "Restart even when the executable on disk is another build than the one "
               "running");
  tree.AddCommand(group, "shutdown", "Shut the server down gracefully", Shutdown);
  auto* words = tree.Make<std::vector<std::string>>();
  Command notice = tree.AddCommand(
      group, "admin-notice",
      "Post MESSAGE (and the command's body, if any) to the admin room as the server bot",
      [words](Context& context) { return AdminNotice(context, *words); });
  notice.Arg("MESSAGE", words, "The text to post");
}

}  // namespace conclave::admin
