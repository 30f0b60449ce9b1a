// ModuleHost: loads the reloadable subsystems, reloads them on request, and reports.
//
// DESIGN.md sections 3-4. In the dev build each module is a shared library that the host copies
// to a shadow file in the runtime directory and dlopens (RTLD_NOW | RTLD_GLOBAL) in dependency
// order; in release the same descriptors come from a static table and nothing is reloadable.
#ifndef CONCLAVE_CORE_MODULE_HOST_H_
#define CONCLAVE_CORE_MODULE_HOST_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "conclave/core/module.h"
#include "conclave/core/module_graph.h"
#include "conclave/core/runtime_dir.h"

namespace conclave::core {

class Server;

// A module linked into the binary (release): its name and entry function.
struct StaticModule {
  std::string name;
  ModuleEntry entry;
};

struct ModuleHostOptions {
  // true: shared libraries from `module_dir` (dev); false: `static_modules` (release).
  bool dynamic = true;
  // Directory holding `libconclave_<name>.so` as the build writes them.
  std::string module_dir;
  // Names of the modules to load (dynamic). Their order breaks ties in the load order.
  std::vector<std::string> modules;
  std::vector<StaticModule> static_modules;
  // Base of the runtime directory (see RuntimeDir::Create); empty for the default.
  std::string runtime_dir;
  // How long a reload waits for in-flight requests of the modules it reloads.
  absl::Duration drain_timeout = absl::Seconds(5);
  // The running executable's path on disk, to notice when main was rebuilt. Empty: not checked.
  std::string executable_path;
};

// What `modules list` shows. A value type.
struct ModuleInfo {
  std::string name;
  int generation = 0;  // 1 at first load, +1 per reload
  std::string build_id;
  absl::Time loaded_at;
  std::vector<std::string> dependencies;  // as the module declares them
  bool reloadable = true;
  std::string path;  // the loaded file (a shadow copy in dev)
};

// The outcome of one reload, and the line that reports it.
struct ReloadReport {
  absl::Status status;                // OK, or why nothing changed / what was rolled back
  std::vector<std::string> reloaded;  // modules loaded anew, in load order
  absl::Duration elapsed;
  uint64_t failed_requests = 0;  // requests that failed while the reload ran
  bool restart_needed = false;   // core or main changed: an exec restart applies it
  std::string message;           // e.g. "reloaded 2 modules (api, admin) in 23 ms; ..."
};

// Start(), Reload() and Stop() are called from main's control thread. UnloadModule() and
// LoadModule() may be called from any thread (admin commands); all five are serialized by an
// internal mutex. List(), Unloaded() and RequestReload() are thread-safe. Must outlive every
// module it loaded: call Stop() before destroying it.
class ModuleHost {
 public:
  // Creates the runtime directory (dynamic). Returns its errors.
  static absl::StatusOr<std::unique_ptr<ModuleHost>> Create(Server& server,
                                                            ModuleHostOptions options);
  ~ModuleHost();

  // Loads every module in dependency order, running `startup` then `load("")`. On error, unloads
  // what it loaded and returns the first error (kFailedPrecondition for a bad module,
  // whatever a hook returned, e.g. kUnavailable "database is in use").
  absl::Status Start();

  // Reloads modules whose file changed on disk (by GNU build id) plus `force` (by name), plus
  // everything that depends on them; rolls back to the previous generation on any failure.
  // Never throws; the report says what happened.
  ReloadReport Reload(const std::vector<std::string>& force = {});

  // Unloads every module in reverse order: `unload`, then `shutdown`, then dlclose.
  absl::Status Stop();

  std::vector<ModuleInfo> List() const;
  bool dynamic() const { return options_.dynamic; }
  const std::string& runtime_path() const;

  // Whether core's library or the executable on disk differ from the running ones (dev). Such a
  // change needs an exec restart.
  absl::StatusOr<bool> PermanentCodeChanged() const;

  // Asks the control thread to Reload(`force`) soon (admin commands cannot reload synchronously:
  // the admin module may be in the reload set). kFailedPrecondition in a release build, or if no
  // requester is installed; kNotFound for an unknown module name.
  absl::Status RequestReload(std::vector<std::string> force);
  void set_reload_requester(std::function<void(std::vector<std::string>)> requester);

  // Stops module `name` while the others keep running (dev builds): closes its gate and waits
  // up to the drain timeout for its requests, runs its `unload` then its `shutdown` hook,
  // dlcloses it and verifies the copy is gone. Its routes answer 404 afterwards. The bytes its
  // `unload` returned are kept for LoadModule(). Must not be called from code of `name` or of a
  // module that depends on it (it would wait for itself). Returns kFailedPrecondition in a
  // release build or while another loaded module depends on `name` (the message names them),
  // kNotFound if `name` is not loaded, kUnavailable while a reload or another module operation
  // runs (try again), kDeadlineExceeded if its requests did not drain (nothing was unloaded), or
  // a hook's or the verification's error (the module is unloaded even then).
  absl::Status UnloadModule(const std::string& name);
  // Starts again a module stopped by UnloadModule() (dev builds): copies the build's current
  // file to a new shadow copy of the next generation, runs its `startup` and its `load` with the
  // bytes its last `unload` saved. Returns kFailedPrecondition in a release build or while a
  // module it depends on is not loaded (named), kNotFound for a name that is not a module,
  // kAlreadyExists if it is loaded, kUnavailable while a reload or another module operation
  // runs, or the load's error (checks, hooks, dlopen), after which it stays unloaded.
  absl::Status LoadModule(const std::string& name);
  // The modules stopped by UnloadModule() and not loaded again, in load order.
  std::vector<std::string> Unloaded() const;

 private:
  struct Loaded {
    std::string name;
    int generation = 0;
    void* handle = nullptr;  // dlopen handle (dynamic)
    const ModuleDescriptor* descriptor = nullptr;
    std::string path;
    std::string build_id;
    absl::Time loaded_at;
    std::vector<std::string> dependencies;
  };

  ModuleHost(Server& server, ModuleHostOptions options, std::optional<RuntimeDir> runtime);
  std::string BuildPath(const std::string& module) const;
  // Reads the graph from the build files (dynamic) or descriptors (static).
  absl::StatusOr<ModuleGraph> ReadGraph(std::map<std::string, std::string>* build_ids) const;
  // Loads generation `generation` of `module` from `source` (copied to a shadow file first when
  // `copy`), checks it against `graph`, runs startup once per process, then load(`saved`).
  absl::Status LoadOne(const std::string& module, int generation, const std::string& source,
                       bool copy, const ModuleGraph& graph, const std::string& saved);
  // Runs `unload` and (when `shutdown`) the `shutdown` hook, dlcloses and verifies the copy is
  // gone. Returns the saved bytes; on a verification failure `saved` still receives them.
  absl::Status UnloadOne(const std::string& module, bool shutdown, std::string* saved);
  // What a Reload() is to do: the modules to reload (empty: nothing changed) and the graph the
  // build files give now.
  struct ReloadPlan {
    std::set<std::string> modules;
    std::optional<ModuleGraph> graph;
  };
  // The plan for Reload(`force`), or why there is none: the error and, in `*message`, the
  // report's text. `*restart` is set when core or main changed (then the plan is empty).
  absl::StatusOr<ReloadPlan> PlanReload(const std::vector<std::string>& force, bool* restart,
                                        std::string* message);
  // With the plan's gates closed: unloads its modules in reverse order, loads the new builds in
  // order (appending each to `*loaded_new`), and on any failure rolls back to the previous
  // generations with the same saved bytes, returning the failure.
  absl::Status SwapGenerations(const ReloadPlan& plan, std::vector<std::string>* loaded_new);
  // Undoes a failed SwapGenerations(): unloads `loaded_new`, loads `previous` again.
  void RollBack(const std::vector<std::string>& loaded_new,
                const std::vector<std::string>& old_order, std::map<std::string, Loaded>& previous,
                std::map<std::string, std::string>& saved);
  void PublishList();
  // Stop() without taking `ops_mu_` (Start() calls it on failure).
  absl::Status StopLocked();

  Server& server_;
  ModuleHostOptions options_;
  std::optional<RuntimeDir> runtime_;
  ModuleGraph graph_;
  std::map<std::string, Loaded> loaded_;
  // Modules whose startup hook ran since the last Stop() (which runs their shutdown hooks).
  std::set<std::string> started_;
  // Modules stopped by UnloadModule(): their last generation and the bytes their unload saved.
  struct Stopped {
    int generation = 0;
    std::string saved;
  };
  std::map<std::string, Stopped> stopped_;
  // Serializes Start, Reload, Stop, UnloadModule and LoadModule (everything above).
  std::mutex ops_mu_;

  mutable absl::Mutex mu_;
  std::vector<ModuleInfo> published_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> published_unloaded_ ABSL_GUARDED_BY(mu_);
  std::function<void(std::vector<std::string>)> requester_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_MODULE_HOST_H_
