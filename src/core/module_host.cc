#include "conclave/core/module_host.h"

#include <algorithm>
#include <filesystem>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "conclave/core/elf_file.h"
#include "conclave/core/http.h"
#include "conclave/core/log.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "reload_metrics.h"
#include "shared_library.h"

namespace conclave::core {
namespace {

constexpr std::string_view kPrefix = "libconclave_";
constexpr std::string_view kSuffix = ".so";

std::string FileName(const std::string& module) { return core::StrCat(kPrefix, module, kSuffix); }

// The module names among `needed` (DT_NEEDED entries) that are in `modules`; the rest are
// third-party or core libraries, returned in `others`.
std::vector<std::string> ModuleDeps(const std::vector<std::string>& needed,
                                    const std::vector<std::string>& modules,
                                    std::vector<std::string>* others) {
  std::vector<std::string> out;
  for (const auto& soname : needed) {
    bool is_module = false;
    for (const auto& m : modules) {
      if (soname == FileName(m)) {
        out.push_back(m);
        is_module = true;
      }
    }
    if (!is_module && others != nullptr) others->push_back(soname);
  }
  return out;
}

// The descriptor's null-terminated `dependencies` array as a vector.
std::vector<std::string> DeclaredDependencies(const ModuleDescriptor* d) {
  std::vector<std::string> out;
  for (const char* const* p = d->dependencies; p != nullptr && *p != nullptr; ++p) {
    out.emplace_back(*p);
  }
  return out;
}

// `linked` are the modules in the file's DT_NEEDED; `graph` knows their own dependencies (in
// release, where nothing is linked dynamically, `linked` is the declared list itself).
absl::Status CheckDescriptor(const ModuleDescriptor* d, const std::string& module,
                             const std::vector<std::string>& linked, const ModuleGraph* graph) {
  if (d == nullptr) return absl::FailedPreconditionError(module + ": entry returned null");
  if (d->descriptor_version != 1) {
    return absl::FailedPreconditionError(
        core::StrCat(module, ": descriptor version ", d->descriptor_version, ", host expects 1"));
  }
  if (d->abi_fingerprint == nullptr ||
      std::string_view(d->abi_fingerprint) != CONCLAVE_ABI_FINGERPRINT) {
    return absl::FailedPreconditionError(
        core::StrCat(module, ": ABI fingerprint mismatch: module built as [",
                     d->abi_fingerprint ? d->abi_fingerprint : "", "], host is [",
                     CONCLAVE_ABI_FINGERPRINT, "]; rebuild it with the same compiler and flags"));
  }
  if (d->name == nullptr || module != d->name) {
    return absl::FailedPreconditionError(
        core::StrCat(module, ": descriptor names itself '", d->name ? d->name : "", "'"));
  }
  if (d->load == nullptr || d->unload == nullptr) {
    return absl::FailedPreconditionError(module + ": descriptor lacks a load or unload hook");
  }
  const std::vector<std::string> declared = DeclaredDependencies(d);
  // Every declared dependency must be linked (the host orders loads by DT_NEEDED), and every
  // linked module must be declared or reachable through a declared one: a module may link a
  // dependency of its dependency (CMake propagates public link libraries).
  std::set<std::string> reachable;
  std::vector<std::string> pending = declared;
  while (!pending.empty()) {
    std::string next = pending.back();
    pending.pop_back();
    if (!reachable.insert(next).second || graph == nullptr) continue;
    for (const auto& d : graph->DependenciesOf(next)) pending.push_back(d);
  }
  bool ok = std::all_of(declared.begin(), declared.end(), [&](const std::string& d) {
    return std::find(linked.begin(), linked.end(), d) != linked.end();
  });
  ok = ok && std::all_of(linked.begin(), linked.end(),
                         [&](const std::string& l) { return reachable.contains(l); });
  if (!ok) {
    return absl::FailedPreconditionError(
        core::StrCat(module, ": declares dependencies [", absl::StrJoin(declared, ", "),
                     "] but links [", absl::StrJoin(linked, ", "), "]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModuleHost>> ModuleHost::Create(Server& server,
                                                               ModuleHostOptions options) {
  std::optional<RuntimeDir> runtime;
  if (options.dynamic) {
    std::vector<std::string> stale;
    CONCLAVE_ASSIGN_OR_RETURN(auto dir, RuntimeDir::Create(options.runtime_dir, &stale));
    for (const auto& s : stale) CONCLAVE_LOG(kInfo, "host", "removed stale runtime dir {}", s);
    runtime.emplace(std::move(dir));
  }
  return std::unique_ptr<ModuleHost>(
      new ModuleHost(server, std::move(options), std::move(runtime)));
}

ModuleHost::ModuleHost(Server& server, ModuleHostOptions options, std::optional<RuntimeDir> runtime)
    : server_(server), options_(std::move(options)), runtime_(std::move(runtime)) {}

ModuleHost::~ModuleHost() = default;

const std::string& ModuleHost::runtime_path() const {
  static const std::string kNone;
  return runtime_ ? runtime_->path() : kNone;
}

std::string ModuleHost::BuildPath(const std::string& module) const {
  return core::StrCat(options_.module_dir, "/", FileName(module));
}

absl::StatusOr<ModuleGraph> ModuleHost::ReadGraph(
    std::map<std::string, std::string>* build_ids) const {
  std::map<std::string, std::vector<std::string>> deps;
  std::vector<std::string> names;
  if (options_.dynamic) {
    names = options_.modules;
    for (const auto& m : names) {
      CONCLAVE_ASSIGN_OR_RETURN(ElfInfo elf, ReadElfFile(BuildPath(m)));
      deps[m] = ModuleDeps(elf.needed, names, nullptr);
      if (build_ids != nullptr) (*build_ids)[m] = elf.build_id;
    }
  } else {
    for (const auto& s : options_.static_modules) {
      names.push_back(s.name);
      deps[s.name] = DeclaredDependencies(s.entry());
    }
  }
  return ModuleGraph::Build(names, deps);
}

absl::Status ModuleHost::LoadOne(const std::string& module, int generation,
                                 const std::string& source, bool copy, const ModuleGraph& graph,
                                 const std::string& saved) {
  Loaded entry;
  entry.name = module;
  entry.generation = generation;
  if (options_.dynamic) {
    entry.path = copy ? runtime_->ShadowPath(module, generation) : source;
    if (copy) CONCLAVE_RETURN_IF_ERROR(CopyFile(source, entry.path));
    std::vector<std::string> third_party;
    CONCLAVE_ASSIGN_OR_RETURN(ElfInfo elf, ReadElfFile(entry.path));
    entry.build_id = elf.build_id;
    std::vector<std::string> linked = ModuleDeps(elf.needed, options_.modules, &third_party);
    // Third-party libraries first: loaded in the same dlopen as the module, they would bind
    // their weak symbols to the module's copies and keep it mapped forever.
    internal::PinLibraries(third_party);
    CONCLAVE_ASSIGN_OR_RETURN(entry.handle, internal::OpenLibrary(entry.path));
    auto fail = [&](absl::Status status) {
      if (auto closed = internal::CloseAndVerify(entry.handle, entry.path); !closed.ok()) {
        CONCLAVE_LOG(kError, "host", "{}", closed.message());
      }
      return status;
    };
    auto symbol =
        internal::FindSymbol(entry.handle, core::StrCat("conclave_module_", module), entry.path);
    if (!symbol.ok()) return fail(symbol.status());
    entry.descriptor = reinterpret_cast<ModuleEntry>(*symbol)();
    if (auto s = CheckDescriptor(entry.descriptor, module, linked, &graph); !s.ok()) {
      return fail(s);
    }
    ModuleContext context{server_, module};
    if (!started_.contains(module) && entry.descriptor->startup != nullptr) {
      if (auto s = entry.descriptor->startup(context); !s.ok()) return fail(s);
    }
    started_.insert(module);
    if (auto s = entry.descriptor->load(context, saved); !s.ok()) {
      return fail(absl::Status(s.code(), core::StrCat(module, ": load hook: ", s.message())));
    }
  } else {
    auto it = std::find_if(options_.static_modules.begin(), options_.static_modules.end(),
                           [&](const StaticModule& s) { return s.name == module; });
    entry.descriptor = it->entry();
    entry.path = options_.executable_path;
    if (auto id = LoadedBuildId(""); id.ok()) entry.build_id = *id;
    CONCLAVE_RETURN_IF_ERROR(
        CheckDescriptor(entry.descriptor, module, graph.DependenciesOf(module), &graph));
    ModuleContext context{server_, module};
    if (!started_.contains(module) && entry.descriptor->startup != nullptr) {
      CONCLAVE_RETURN_IF_ERROR(entry.descriptor->startup(context));
    }
    started_.insert(module);
    CONCLAVE_RETURN_IF_ERROR(entry.descriptor->load(context, saved));
  }
  entry.dependencies = DeclaredDependencies(entry.descriptor);
  entry.loaded_at = absl::Now();
  loaded_[module] = std::move(entry);
  return absl::OkStatus();
}

absl::Status ModuleHost::UnloadOne(const std::string& module, bool shutdown, std::string* saved) {
  auto it = loaded_.find(module);
  if (it == loaded_.end()) return absl::OkStatus();
  Loaded entry = std::move(it->second);
  loaded_.erase(it);
  ModuleContext context{server_, module};
  absl::Status result;
  auto bytes = entry.descriptor->unload(context);
  if (bytes.ok()) {
    if (saved != nullptr) *saved = std::move(*bytes);
  } else {
    result = absl::Status(bytes.status().code(),
                          core::StrCat(module, ": unload hook: ", bytes.status().message()));
  }
  if (shutdown && entry.descriptor->shutdown != nullptr) {
    if (auto s = entry.descriptor->shutdown(context); !s.ok() && result.ok()) {
      result = absl::Status(s.code(), core::StrCat(module, ": shutdown hook: ", s.message()));
    }
  }
  if (entry.handle != nullptr) {
    if (auto s = internal::CloseAndVerify(entry.handle, entry.path); !s.ok() && result.ok()) {
      result = s;
    }
  }
  return result;
}

absl::Status ModuleHost::Start() {
  std::lock_guard ops(ops_mu_);
  stopped_.clear();
  CONCLAVE_ASSIGN_OR_RETURN(graph_, ReadGraph(nullptr));
  for (const auto& m : graph_.TopologicalOrder()) {
    absl::Status s = LoadOne(m, 1, options_.dynamic ? BuildPath(m) : "", true, graph_, "");
    if (!s.ok()) {
      StopLocked().IgnoreError();
      return s;
    }
    CONCLAVE_LOG(kDebug, "host", "loaded {} generation 1", m);
  }
  PublishList();
  return absl::OkStatus();
}

absl::Status ModuleHost::Stop() {
  std::lock_guard ops(ops_mu_);
  return StopLocked();
}

absl::Status ModuleHost::StopLocked() {
  std::set<std::string> all;
  for (const auto& [name, entry] : loaded_) all.insert(name);
  // The HTTP engine is stopped before this; the gates only make sure of it.
  server_.notifier().Interrupt();
  if (auto s = server_.router().CloseGates(all, options_.drain_timeout); !s.ok()) {
    CONCLAVE_LOG(kWarn, "host", "stopping anyway: {}", s.message());
  }
  absl::Status first;
  auto order = graph_.TopologicalOrder();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (auto s = UnloadOne(*it, true, nullptr); !s.ok()) {
      CONCLAVE_LOG(kError, "host", "{}", s.message());
      if (first.ok()) first = s;
    }
  }
  started_.clear();
  server_.router().OpenGates(all);
  PublishList();
  return first;
}

absl::StatusOr<ModuleHost::ReloadPlan> ModuleHost::PlanReload(const std::vector<std::string>& force,
                                                              bool* restart, std::string* message) {
  auto refuse = [&](absl::Status status, std::string text) {
    *message = std::move(text);
    return status;
  };
  if (!options_.dynamic) {
    return refuse(absl::FailedPreconditionError("hot reload is a dev-build feature"),
                  "not reloaded: hot reload is a dev-build feature; this is a release build");
  }
  for (const auto& name : force) {
    if (!loaded_.contains(name)) {
      return refuse(absl::NotFoundError(name),
                    core::StrCat("not reloaded: no module '", name, "' is loaded"));
    }
  }
  ReloadPlan plan;
  if (auto changed = PermanentCodeChanged(); changed.ok() && *changed) {
    *restart = true;
    *message = "core or main changed: restarting in place";
    return plan;
  }
  std::map<std::string, std::string> build_ids;
  auto new_graph = ReadGraph(&build_ids);
  if (!new_graph.ok()) {
    return refuse(new_graph.status(), core::StrCat("not reloaded: ", new_graph.status().message()));
  }
  std::set<std::string> changed(force.begin(), force.end());
  for (const auto& [name, id] : build_ids) {
    if (loaded_.contains(name) && loaded_[name].build_id != id) changed.insert(name);
  }
  plan.modules = new_graph->WithDependents(changed);
  for (const auto& m : graph_.WithDependents(changed)) plan.modules.insert(m);
  // A module stopped by UnloadModule() stays stopped; LoadModule() brings it back.
  std::erase_if(plan.modules, [this](const std::string& m) { return !loaded_.contains(m); });
  if (plan.modules.empty()) *message = "nothing changed";
  for (const auto& m : plan.modules) {
    if (!loaded_[m].descriptor->reloadable) {
      return refuse(
          absl::FailedPreconditionError(m + " is not reloadable"),
          core::StrCat("not reloaded: module ", m, " refuses hot reload; restart instead"));
    }
  }
  plan.graph = *std::move(new_graph);
  return plan;
}

void ModuleHost::RollBack(const std::vector<std::string>& loaded_new,
                          const std::vector<std::string>& old_order,
                          std::map<std::string, Loaded>& previous,
                          std::map<std::string, std::string>& saved) {
  for (auto it = loaded_new.rbegin(); it != loaded_new.rend(); ++it) {
    std::string ignored;
    if (auto s = UnloadOne(*it, false, &ignored); !s.ok()) {
      CONCLAVE_LOG(kError, "host", "rollback: {}", s.message());
    }
    std::error_code ec;
    std::filesystem::remove(runtime_->ShadowPath(*it, previous[*it].generation + 1), ec);
  }
  for (const auto& m : old_order) {
    if (loaded_.contains(m)) continue;
    const Loaded& p = previous[m];
    if (auto s = LoadOne(m, p.generation, p.path, false, graph_, saved[m]); !s.ok()) {
      CONCLAVE_LOG(kCritical, "host", "rollback of {} failed, it is not loaded: {}", m,
                   s.message());
    } else {
      loaded_[m].loaded_at = p.loaded_at;
    }
  }
}

absl::Status ModuleHost::SwapGenerations(const ReloadPlan& plan,
                                         std::vector<std::string>* loaded_new) {
  // Unload in reverse dependency order, keeping what rollback needs.
  std::map<std::string, Loaded> previous;
  for (const auto& m : plan.modules) previous[m] = loaded_[m];
  std::map<std::string, std::string> saved;
  absl::Status failure;
  const std::vector<std::string> old_order = graph_.Order(plan.modules);
  for (auto it = old_order.rbegin(); it != old_order.rend() && failure.ok(); ++it) {
    failure = UnloadOne(*it, false, &saved[*it]);
  }
  if (failure.ok()) {
    for (const auto& m : plan.graph->Order(plan.modules)) {
      failure = LoadOne(m, previous[m].generation + 1, BuildPath(m), true, *plan.graph, saved[m]);
      if (!failure.ok()) break;
      loaded_new->push_back(m);
    }
  }
  if (!failure.ok()) {
    // Roll back: drop the new generations, bring the previous ones back with the same bytes.
    RollBack(*loaded_new, old_order, previous, saved);
    return absl::Status(failure.code(), core::StrCat(failure.message(),
                                                     "; rolled back to the previous generation of ",
                                                     absl::StrJoin(old_order, ", ")));
  }
  for (const auto& [m, p] : previous) {
    std::error_code ec;
    std::filesystem::remove(p.path, ec);
  }
  return absl::OkStatus();
}

ReloadReport ModuleHost::Reload(const std::vector<std::string>& force) {
  std::lock_guard ops(ops_mu_);
  const absl::Time start = absl::Now();
  Router& router = server_.router();
  const uint64_t failed_before = router.failed_requests();
  ReloadReport report;
  auto finish = [&](absl::Status status, std::string message) {
    report.status = std::move(status);
    report.elapsed = absl::Now() - start;
    report.failed_requests = router.failed_requests() - failed_before;
    report.message = std::move(message);
    internal::CountReload(report);
    return report;
  };
  std::string message;
  absl::StatusOr<ReloadPlan> plan = PlanReload(force, &report.restart_needed, &message);
  if (!plan.ok()) return finish(plan.status(), std::move(message));
  if (plan->modules.empty()) return finish(absl::OkStatus(), std::move(message));

  // Parked long-polls are answered now; their next request is served by the new code.
  server_.notifier().Interrupt();
  absl::Cleanup resume_long_polls = [this] { server_.notifier().Resume(); };
  if (auto s = router.CloseGates(plan->modules, options_.drain_timeout); !s.ok()) {
    router.OpenGates(plan->modules);
    return finish(s, core::StrCat("reload cancelled: ", s.message()));
  }
  std::vector<std::string> loaded_new;
  absl::Status swapped = SwapGenerations(*plan, &loaded_new);
  if (swapped.ok()) graph_ = *std::move(plan->graph);
  router.OpenGates(plan->modules);
  PublishList();
  if (!swapped.ok()) return finish(swapped, core::StrCat("reload failed: ", swapped.message()));
  report.reloaded = loaded_new;
  const uint64_t failed = router.failed_requests() - failed_before;
  return finish(absl::OkStatus(),
                core::StrCat("reloaded ", loaded_new.size(),
                             loaded_new.size() == 1 ? " module (" : " modules (",
                             absl::StrJoin(loaded_new, ", "), ") in ",
                             absl::ToInt64Milliseconds(absl::Now() - start), " ms; ", failed,
                             failed == 1 ? " request failed" : " requests failed"));
}

absl::StatusOr<bool> ModuleHost::PermanentCodeChanged() const {
  if (!options_.dynamic) return false;
  // Any function of core locates the loaded libconclave_core.so.
  CONCLAVE_ASSIGN_OR_RETURN(std::string core_path,
                            LoadedObjectPath(reinterpret_cast<const void*>(&ReadElfFile)));
  std::vector<std::pair<std::string, std::string>> objects = {{core_path, core_path}};
  if (!options_.executable_path.empty()) objects.emplace_back("", options_.executable_path);
  for (const auto& [loaded_name, disk_path] : objects) {
    CONCLAVE_ASSIGN_OR_RETURN(std::string running, LoadedBuildId(loaded_name));
    auto on_disk = ReadElfFile(disk_path);
    if (!on_disk.ok()) continue;  // being rewritten: not now
    if (on_disk->build_id != running) return true;
  }
  return false;
}

std::vector<ModuleInfo> ModuleHost::List() const {
  absl::MutexLock lock(&mu_);
  return published_;
}

void ModuleHost::PublishList() {
  std::vector<ModuleInfo> list;
  for (const auto& m : graph_.TopologicalOrder()) {
    auto it = loaded_.find(m);
    if (it == loaded_.end()) continue;
    const Loaded& l = it->second;
    list.push_back(ModuleInfo{l.name, l.generation, l.build_id, l.loaded_at, l.dependencies,
                              l.descriptor->reloadable, l.path});
  }
  std::vector<std::string> unloaded;
  for (const auto& m : graph_.TopologicalOrder()) {
    if (stopped_.contains(m)) unloaded.push_back(m);
  }
  absl::MutexLock lock(&mu_);
  published_ = std::move(list);
  published_unloaded_ = std::move(unloaded);
}

std::vector<std::string> ModuleHost::Unloaded() const {
  absl::MutexLock lock(&mu_);
  return published_unloaded_;
}

absl::Status ModuleHost::UnloadModule(const std::string& name) {
  if (!options_.dynamic) {
    return absl::FailedPreconditionError(
        "unloading modules is a dev-build feature; this is a release build");
  }
  std::unique_lock ops(ops_mu_, std::try_to_lock);
  if (!ops.owns_lock()) {
    return absl::UnavailableError("a reload or another module operation is running; try again");
  }
  auto it = loaded_.find(name);
  if (it == loaded_.end()) {
    return absl::NotFoundError(core::StrCat("no module '", name, "' is loaded"));
  }
  std::vector<std::string> dependents;
  for (const auto& m : graph_.Order(graph_.WithDependents({name}))) {
    if (m != name && loaded_.contains(m)) dependents.push_back(m);
  }
  if (!dependents.empty()) {
    return absl::FailedPreconditionError(
        core::StrCat("cannot unload ", name, ": ", absl::StrJoin(dependents, ", "),
                     dependents.size() == 1 ? " depends on it" : " depend on it", " and ",
                     dependents.size() == 1 ? "is" : "are", " loaded; unload ",
                     dependents.size() == 1 ? "it" : "them", " first"));
  }
  const std::set<std::string> gate = {name};
  server_.notifier().Interrupt();
  absl::Cleanup resume_long_polls = [this] { server_.notifier().Resume(); };
  Router& router = server_.router();
  if (auto s = router.CloseGates(gate, options_.drain_timeout); !s.ok()) {
    router.OpenGates(gate);
    return s;
  }
  const int generation = it->second.generation;
  const std::string shadow = it->second.path;
  Stopped stopped{generation, ""};
  absl::Status status = UnloadOne(name, /*shutdown=*/true, &stopped.saved);
  started_.erase(name);
  stopped_[name] = std::move(stopped);
  std::error_code ec;
  std::filesystem::remove(shadow, ec);
  // Its routes are gone: requests for them get 404 instead of waiting at the gate.
  router.OpenGates(gate);
  PublishList();
  return status;
}

absl::Status ModuleHost::LoadModule(const std::string& name) {
  if (!options_.dynamic) {
    return absl::FailedPreconditionError(
        "loading modules is a dev-build feature; this is a release build");
  }
  std::unique_lock ops(ops_mu_, std::try_to_lock);
  if (!ops.owns_lock()) {
    return absl::UnavailableError("a reload or another module operation is running; try again");
  }
  if (loaded_.contains(name)) {
    return absl::AlreadyExistsError(
        core::StrCat("module ", name, " is loaded (to load new code: modules reload ", name, ")"));
  }
  if (!graph_.Contains(name)) return absl::NotFoundError(core::StrCat("no module '", name, "'"));
  std::vector<std::string> missing;
  for (const auto& d : graph_.DependenciesOf(name)) {
    if (!loaded_.contains(d)) missing.push_back(d);
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(
        core::StrCat("cannot load ", name, ": it depends on ", absl::StrJoin(missing, ", "),
                     missing.size() == 1 ? ", which is not loaded; load it first"
                                         : ", which are not loaded; load them first"));
  }
  auto it = stopped_.find(name);
  const int generation = it != stopped_.end() ? it->second.generation + 1 : 1;
  const std::string saved = it != stopped_.end() ? it->second.saved : std::string();
  absl::Status status = LoadOne(name, generation, BuildPath(name), true, graph_, saved);
  if (!status.ok()) {
    std::error_code ec;
    std::filesystem::remove(runtime_->ShadowPath(name, generation), ec);
    return status;
  }
  stopped_.erase(name);
  PublishList();
  return absl::OkStatus();
}

absl::Status ModuleHost::RequestReload(std::vector<std::string> force) {
  if (!options_.dynamic) {
    return absl::FailedPreconditionError(
        "hot reload is a dev-build feature; this is a release build");
  }
  std::function<void(std::vector<std::string>)> requester;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& name : force) {
      bool known = std::any_of(published_.begin(), published_.end(),
                               [&](const ModuleInfo& i) { return i.name == name; });
      if (!known) return absl::NotFoundError(core::StrCat("no module '", name, "' is loaded"));
    }
    requester = requester_;
  }
  if (!requester) return absl::FailedPreconditionError("no reload requester installed");
  requester(std::move(force));
  return absl::OkStatus();
}

void ModuleHost::set_reload_requester(std::function<void(std::vector<std::string>)> requester) {
  absl::MutexLock lock(&mu_);
  requester_ = std::move(requester);
}

}  // namespace conclave::core
