// The Server: the process-wide run state that every module reaches through its ModuleContext.
//
// Owned by main; created before any module is loaded and destroyed after the last one is shut
// down, so a reference to it (or to anything it returns) is valid inside every hook and every
// object a module creates. Accessors are thread-safe; the objects returned say their own rules.
#ifndef CONCLAVE_CORE_SERVER_H_
#define CONCLAVE_CORE_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "conclave/core/config.h"
#include "conclave/core/config_sections.h"
#include "conclave/core/notifier.h"
#include "conclave/core/parking.h"
#include "conclave/core/runtime_settings.h"

namespace conclave::core {

class Router;
class ModuleHost;
class CommandSlot;
class MetricsRegistry;

class Server {
 public:
  // `config` is copied. `build_type` is "dev" or "release". Applies the config's process-wide
  // logging settings (log_format, access_log; main applies log_level) and creates the metrics
  // registry, so that its start time is the process's.
  Server(Config config, std::string build_type);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The core config the process started with. The keys SIGHUP can change are read from
  // runtime().
  const Config& config() const { return config_; }
  // Core's runtime keys as they are now (SIGHUP applies a re-read config file to them; see
  // runtime_settings.h).
  RuntimeSettings& runtime() { return runtime_; }
  // The raw config table and the modules' option sections (config_sections.h): a module reads
  // its options from sections().raw() at load and registers its section there.
  ConfigSections& sections() { return sections_; }
  Parking& parking() { return parking_; }
  Router& router() { return *router_; }
  CommandSlot& commands() { return *commands_; }
  // Wakes long-polling requests (see notifier.h).
  Notifier& notifier() { return notifier_; }
  // The process-wide metrics registry (GlobalMetrics(), metrics.h): permanent, so what modules
  // add to it survives their reloads; their collectors must be unregistered in `unload`.
  MetricsRegistry& metrics();
  // Null until main attaches the host (and in tests that have none).
  ModuleHost* modules() const { return modules_; }
  void set_modules(ModuleHost* host) { modules_ = host; }

  // When this process started (not the first start of the database; see service globals).
  absl::Time start_time() const { return start_time_; }
  // "dev" (shared, reloadable modules) or "release" (static table).
  const std::string& build_type() const { return build_type_; }

  // Asks main to shut down gracefully (as SIGTERM would). Thread-safe, returns at once.
  void RequestShutdown();
  // Set by main: what RequestShutdown() calls.
  void set_shutdown_callback(void (*callback)(void*), void* arg);

  // Asks main to restart in place, as SIGUSR2 would: an exec of the executable that keeps the
  // listening sockets (DESIGN.md section 5). Thread-safe, returns at once; main drains requests
  // and stops the modules before the exec. Returns kFailedPrecondition when main installed no
  // restart callback (tests and tools that run commands without main).
  absl::Status RequestRestart();
  // Set by main: what RequestRestart() calls.
  void set_restart_callback(void (*callback)(void*), void* arg);

 private:
  Config config_;
  RuntimeSettings runtime_{config_};
  ConfigSections sections_{config_.raw};
  std::string build_type_;
  absl::Time start_time_;
  Parking parking_;
  Notifier notifier_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<CommandSlot> commands_;
  ModuleHost* modules_ = nullptr;
  void (*shutdown_callback_)(void*) = nullptr;
  void* shutdown_arg_ = nullptr;
  void (*restart_callback_)(void*) = nullptr;
  void* restart_arg_ = nullptr;
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_SERVER_H_
