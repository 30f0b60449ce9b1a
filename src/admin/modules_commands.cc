// `modules`: the loaded modules, hot reload, and stopping and starting one module (dev builds).

#include "absl/strings/str_join.h"
#include "conclave/core/module_host.h"
#include "conclave/core/server.h"
#include "conclave/core/str_cat.h"
#include "format.h"
#include "tree.h"

namespace conclave::admin {
namespace {

// The admin module cannot stop itself: the unload would wait for this very command, and no
// command could load it back.
constexpr char kSelf[] = "admin";

absl::StatusOr<core::ModuleHost*> Host(Context& context) {
  core::ModuleHost* host = context.server().modules();
  if (host == nullptr) return absl::FailedPreconditionError("no module host in this process");
  return host;
}

absl::Status DevOnly(core::ModuleHost& host, std::string_view what) {
  if (host.dynamic()) return absl::OkStatus();
  return absl::FailedPreconditionError(core::StrCat(
      what, " is a dev-build feature; this is a release build, whose modules are linked in"));
}

absl::StatusOr<Reply> List(Context& context) {
  auto host = Host(context);
  if (!host.ok()) return host.status();
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : (*host)->List()) {
    rows.push_back({m.name, core::StrCat(m.generation), m.build_id.substr(0, 12),
                    FormatUtc(m.loaded_at),
                    m.dependencies.empty() ? "-" : absl::StrJoin(m.dependencies, ", "),
                    m.reloadable ? "" : "not reloadable"});
  }
  Reply reply;
  reply.Table({"module", "generation", "build id", "loaded at", "depends on", "notes"},
              std::move(rows));
  if (auto unloaded = (*host)->Unloaded(); !unloaded.empty()) {
    reply.Text(core::StrCat("unloaded: ", absl::StrJoin(unloaded, ", "),
                            " (modules load NAME starts one again)"));
  }
  reply.Text((*host)->dynamic() ? "dev build: modules are shared libraries and hot-reloadable"
                                : "release build: modules are linked in; changes need a restart");
  return reply;
}

absl::StatusOr<Reply> Reload(Context& context, const std::vector<std::string>& names) {
  auto host = Host(context);
  if (!host.ok()) return host.status();
  if (auto s = DevOnly(**host, "hot reload"); !s.ok()) return s;
  if (auto s = (*host)->RequestReload(names); !s.ok()) {
    if (s.code() == absl::StatusCode::kNotFound) return absl::InvalidArgumentError(s.message());
    return s;
  }
  return Reply(core::StrCat(
      names.empty() ? std::string("reload of the changed modules")
                    : core::StrCat("reload of ", absl::StrJoin(names, ", "), " (and dependents)"),
      " requested ", context.By(), "; the server log reports the outcome"));
}

absl::StatusOr<Reply> Unload(Context& context, const std::string& name) {
  auto host = Host(context);
  if (!host.ok()) return host.status();
  if (auto s = DevOnly(**host, "unloading a module"); !s.ok()) return s;
  if (name == kSelf) {
    return absl::FailedPreconditionError(
        "the admin module cannot unload itself (nothing could load it back); "
        "use `modules reload admin` to load its new build");
  }
  int generation = 0;
  for (const auto& m : (*host)->List()) {
    if (m.name == name) generation = m.generation;
  }
  const absl::Time start = absl::Now();
  if (auto s = (*host)->UnloadModule(name); !s.ok()) return s;
  return Reply(core::StrCat("unloaded ", name, " (generation ", generation, ") in ",
                            absl::ToInt64Milliseconds(absl::Now() - start), " ms, ", context.By(),
                            "; its routes answer 404 until `modules load ", name, "`"));
}

absl::StatusOr<Reply> Load(Context& context, const std::string& name) {
  auto host = Host(context);
  if (!host.ok()) return host.status();
  if (auto s = DevOnly(**host, "loading a module"); !s.ok()) return s;
  const absl::Time start = absl::Now();
  if (auto s = (*host)->LoadModule(name); !s.ok()) return s;
  std::string generation = "?";
  std::string build_id;
  for (const auto& m : (*host)->List()) {
    if (m.name == name) {
      generation = core::StrCat(m.generation);
      build_id = m.build_id.substr(0, 12);
    }
  }
  return Reply(core::StrCat("loaded ", name, " generation ", generation, " (build id ", build_id,
                            ") in ", absl::ToInt64Milliseconds(absl::Now() - start), " ms, ",
                            context.By()));
}

}  // namespace

void AddModulesCommands(CommandTree& tree) {
  Group group = tree.AddGroup("modules", "Loaded modules and hot reload");
  tree.AddCommand(group, "list", "Every module: generation, build id, load time, dependencies",
                  List);
  auto* reload_names = tree.Make<std::vector<std::string>>();
  Command reload = tree.AddCommand(
      group, "reload",
      "Hot-reload the changed modules, or the NAMEs given, with their dependents (dev builds "
      "only); the server log reports the outcome",
      [reload_names](Context& context) { return Reload(context, *reload_names); });
  reload.Arg("NAME", reload_names, "Modules to reload even if their build is unchanged");
  auto* unload_name = tree.Make<std::string>();
  Command unload = tree.AddCommand(
      group, "unload",
      "Stop module NAME while the rest runs on (dev builds only); refused while another loaded "
      "module depends on it",
      [unload_name](Context& context) { return Unload(context, *unload_name); });
  unload.Arg("NAME", unload_name, "The module to stop").Required();
  auto* load_name = tree.Make<std::string>();
  Command load = tree.AddCommand(
      group, "load",
      "Start module NAME again after an unload, from its current build (dev builds only)",
      [load_name](Context& context) { return Load(context, *load_name); });
  load.Arg("NAME", load_name, "The module to start").Required();
}

}  // namespace conclave::admin
