// conclave: the executable. Parses the command line, loads the config, drives the module host and
// the HTTP engine, turns signals into requests for its control loop, and exec-restarts in place.
#include <dlfcn.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "command_line.h"
#include "conclave/core/build_info.h"
#include "conclave/core/command_slot.h"
#include "conclave/core/config.h"
#include "conclave/core/config_reload.h"
#include "conclave/core/config_sections.h"
#include "conclave/core/http.h"
#include "conclave/core/http_server.h"
#include "conclave/core/listen_fds.h"
#include "conclave/core/log.h"
#include "conclave/core/module_host.h"
#include "conclave/core/module_options.h"
#include "conclave/core/sd_notify.h"
#include "conclave/core/server.h"
#include "control.h"
#include "preflight.h"
#include "watcher.h"

#ifdef CONCLAVE_STATIC_MODULES
extern "C" {
const conclave::core::ModuleDescriptor* conclave_module_database() noexcept;
const conclave::core::ModuleDescriptor* conclave_module_service() noexcept;
const conclave::core::ModuleDescriptor* conclave_module_api() noexcept;
const conclave::core::ModuleDescriptor* conclave_module_media() noexcept;
const conclave::core::ModuleDescriptor* conclave_module_federation() noexcept;
const conclave::core::ModuleDescriptor* conclave_module_admin() noexcept;
}
#endif

extern char** environ;

namespace conclave {
namespace {

constexpr int kExitUsage = 2;
// How long the new binary's --check-config may take before a restart is refused.
constexpr absl::Duration kPreflightTimeout =
    absl::Seconds(30);  // bad command line, config, or a database we must not open

// A service manager's notification failing is logged, never fatal (sd_notify.h).
void Notify(const absl::Status& sent) {
  if (!sent.ok()) CONCLAVE_LOG(kWarn, "main", "{}", sent.message());
}

// Up to the hard limit: every connection is a descriptor, and the soft default (1024) is far
// below what a server holds (10,000 idle keep-alive clients, say). Kept across exec restarts.
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    CONCLAVE_LOG(kWarn, "main", "cannot raise the descriptor limit from {}: {}", before,
                 std::strerror(errno));
  }
}

// SIGHUP: re-reads the config file (and the environment the process started with) and applies the
// runtime-changeable keys that changed; a key that needs a restart keeps its running value and is
// named in the log. An unreadable or invalid file changes nothing.
// Logs the keys of `raw` that neither core nor a loaded module's option section knows.
void LogUnknownKeys(const core::RawConfig& raw, core::Server& server) {
  for (const auto& w : core::UnknownKeyWarnings(
           raw, [&](std::string_view key) { return server.sections().Knows(key); })) {
    CONCLAVE_LOG(kWarn, "config", "{}", w);
  }
}

void ReloadConfig(const std::optional<std::string>& path, core::Config& running,
                  core::Server& server) {
  auto fresh = core::LoadConfig(path, environ);
  if (!fresh.ok()) {
    CONCLAVE_LOG(kError, "main", "config not reloaded, the running config stays: {}",
                 fresh.status().message());
    return;
  }
  // The modules' sections first: an invalid value of theirs changes nothing either.
  auto module_plan = server.sections().Reload(fresh->config.raw);
  if (!module_plan.ok()) {
    CONCLAVE_LOG(kError, "main", "config not reloaded, the running config stays: {}",
                 module_plan.status().message());
    return;
  }
  LogUnknownKeys(fresh->config.raw, server);
  core::ConfigReloadPlan plan = core::PlanConfigReload(running, fresh->config);
  for (auto& c : module_plan->apply) plan.apply.push_back(std::move(c));
  for (auto& c : module_plan->needs_restart) plan.needs_restart.push_back(std::move(c));
  running = core::MergeRuntimeKeys(running, fresh->config);
  // Only what changed in the file: a level set with `debug change-log-level` survives a SIGHUP
  // that does not touch log_level.
  for (const core::ConfigChange& change : plan.apply) {
    if (change.key == "log_level") (void)core::SetLogLevel(running.log_level);
    if (change.key == "log_format") (void)core::SetLogFormat(running.log_format);
    if (change.key == "access_log") core::SetAccessLogEnabled(running.access_log);
  }
  server.runtime().Apply(running);
  core::Log(plan.needs_restart.empty() ? core::LogLevel::kInfo : core::LogLevel::kWarn, "main",
            "config reloaded from {}: {}", path.value_or("conclave.toml"),
            core::DescribeConfigReload(plan));
}

std::string ExecutablePath() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : path.string();
}

#ifdef CONCLAVE_STATIC_MODULES
constexpr bool kDev = false;
#else
constexpr bool kDev = true;
#endif
#ifdef CONCLAVE_MAIN_VARIANT
constexpr std::string_view kVariant = " [variant build]";  // tests only: see CMakeLists.txt
#else
constexpr std::string_view kVariant = "";
#endif

// The file of the loaded libconclave_core.so (dev), found from one of its functions.
// Where the module host finds the modules: the static table (release) or the build's lib dir.
core::ModuleHostOptions HostOptions(const core::Config& config, const std::string& executable) {
  core::ModuleHostOptions options;
  options.dynamic = kDev;
  options.drain_timeout = config.reload_drain_timeout;
  options.runtime_dir = config.runtime_dir;
  options.executable_path = executable;
#ifdef CONCLAVE_STATIC_MODULES
  options.static_modules = {{"database", &conclave_module_database},
                            {"service", &conclave_module_service},
                            {"api", &conclave_module_api},
                            {"media", &conclave_module_media},
                            {"federation", &conclave_module_federation},
                            {"admin", &conclave_module_admin}};
#else
  options.modules = {"database", "service", "api", "media", "federation", "admin"};
  options.module_dir = config.module_dir.empty()
                           ? (std::filesystem::path(executable).parent_path() / ".." / "lib")
                                 .lexically_normal()
                                 .string()
                           : config.module_dir;
#endif
  return options;
}

std::string CoreLibraryPath() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&core::Version), &info) == 0 ||
      info.dli_fname == nullptr) {
    return "";
  }
  std::error_code ec;
  auto path = std::filesystem::canonical(info.dli_fname, ec);
  return ec ? std::string(info.dli_fname) : path.string();
}

// One image of the running server: what Run() builds step by step, in this order, and tears
// down in reverse. Confined to the main thread.
class Process {
 public:
  Process(int argc, char** argv, CommandLine command_line, core::Config config)
      : argc_(argc),
        argv_(argv),
        cli_(std::move(command_line)),
        config_(std::move(config)),
        executable_(ExecutablePath()) {}

  // Creates the server and the module host and starts every module. Returns the exit status
  // when that fails.
  std::optional<int> StartModules();
  // --print-admin-commands: prints the reference and stops the modules. Returns the exit status.
  int PrintAdminCommands(const std::string& scratch_dir);
  // Binds (or adopts) the listening sockets, starts serving and takes over the client
  // connections handed over by the previous image. Returns the exit status on error.
  std::optional<int> StartServing(core::InheritedFds inherited);
  // The config's admin_execute commands (to the log), then --execute's (to stdout).
  void RunStartupCommands();
  // --watch (or the `watch` key): starts the build watcher (before serving). Returns the exit
  // status on error, after stopping the modules.
  std::optional<int> StartWatching();
  // Handles control requests until one asks for shutdown. Returns the exit status.
  int ControlLoop();
  ControlQueue& control() { return control_; }
  void LogUnknownConfigKeys() { LogUnknownKeys(config_.raw, *server_); }
  // Stops serving and every module. Returns the exit status.
  int Shutdown();

 private:
  void Ready() {
    Notify(core::NotifyServiceManager(
        core::StrCat("READY=1\nSTATUS=", serving_, "\nMAINPID=", static_cast<long>(getpid()))));
  }
  core::ModuleHostOptions HostOptions() const {
    return ::conclave::HostOptions(config_, executable_);
  }
  void Reload(const ControlRequest& request, bool* restart);
  // SIGHUP: re-reads the federation listener's certificate and key (new connections get them);
  // an error is logged and the running certificate stays.
  void ReloadTlsCertificate();
  // Exec restart; returns only when it failed or was refused. Returns the exit status when the
  // process cannot go on.
  std::optional<int> Restart(const ControlRequest& request);

  const int argc_;
  char** const argv_;
  const CommandLine cli_;
  core::Config config_;
  const std::string executable_;
  ControlQueue control_;
  std::unique_ptr<core::Server> server_;
  std::unique_ptr<core::ModuleHost> host_;
  std::unique_ptr<core::HttpServer> http_;
  int threads_ = 0;
  std::string serving_;
  core::Config running_;  // the config in force: start-up plus what SIGHUP applied
  std::unique_ptr<BuildWatcher> watcher_;
};

std::optional<int> Process::StartModules() {
  server_ = std::make_unique<core::Server>(config_, std::string(core::BuildType()));
  server_->set_shutdown_callback(
      [](void* q) {
        static_cast<ControlQueue*>(q)->Push({Action::kShutdown, {}, "admin"});
      },
      &control_);
  server_->set_restart_callback(
      [](void* q) {
        static_cast<ControlQueue*>(q)->Push({Action::kRestart, {}, "admin"});
      },
      &control_);
  auto host = core::ModuleHost::Create(*server_, HostOptions());
  if (!host.ok()) {
    std::cerr << "conclave: " << host.status().message() << "\n";
    return 1;
  }
  host_ = *std::move(host);
  server_->set_modules(host_.get());
  host_->set_reload_requester([this](std::vector<std::string> modules) {
    control_.Push({Action::kReload, std::move(modules), "admin command"});
  });
  if (auto s = host_->Start(); !s.ok()) {
    std::cerr << "conclave: " << s.message() << "\n";
    return kExitUsage;
  }
  return std::nullopt;
}

int Process::PrintAdminCommands(const std::string& scratch_dir) {
  auto out = server_->commands().Execute("help --markdown");
  absl::Status stopped = host_->Stop();
  std::error_code ignored;
  std::filesystem::remove_all(scratch_dir, ignored);
  if (!out.ok()) {
    std::cerr << "conclave: " << out.status().message() << "\n";
    return 1;
  }
  std::cout << out->plain << std::flush;
  return stopped.ok() ? 0 : 1;
}

std::optional<int> Process::StartServing(core::InheritedFds inherited) {
  http_ = std::make_unique<core::HttpServer>(server_->router(), server_->notifier(), config_);
  if (auto s = http_->Listen(inherited.listeners); !s.ok()) {
    std::cerr << "conclave: " << s.message() << "\n";
    host_->Stop().IgnoreError();
    return 1;
  }
  threads_ = config_.worker_threads > 0
                 ? config_.worker_threads
                 : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  http_->Start(threads_);
  http_->Adopt(std::move(inherited.handover));
  CONCLAVE_LOG(kInfo, "main", "conclave {} ({} build) listening on http://{}:{}{}{}",
               core::Version(), core::BuildType(), config_.address, http_->port(),
               inherited.listeners.empty() ? "" : " (inherited socket)", kVariant);
  if (const uint16_t port = http_->federation_port(); port != 0) {
    const std::string& host =
        config_.federation_address.empty() ? config_.address : config_.federation_address;
    const bool v6 = host.find(':') != std::string::npos;
    CONCLAVE_LOG(kInfo, "main", "federation listening on https://{}{}{}:{} (TLS, certificate {})",
                 v6 ? "[" : "", host, v6 ? "]" : "", port, config_.tls_certificate_path);
  } else {
    CONCLAVE_LOG(kInfo, "main",
                 "no federation (TLS) listener: tls_certificate_path is empty; other servers "
                 "cannot reach this one");
  }
  serving_ = core::StrCat("serving on ", config_.address, ":", http_->port());
  running_ = config_;
  return std::nullopt;
}

void Process::RunStartupCommands() {
  // Output and errors of admin_execute go to the log, never fatal. Only the first two words of
  // a command are logged (its arguments may be secrets).
  auto first_two_words = [](std::string_view line) {
    size_t end = 0;
    for (int word = 0; word < 2; ++word) {
      if ((end = line.find_first_not_of(' ', end)) == std::string_view::npos) return line;
      if ((end = line.find(' ', end)) == std::string_view::npos) return line;
    }
    return line.substr(0, end);
  };
  for (const auto& command : config_.admin_execute) {
    std::string_view name = first_two_words(command);
    auto out = server_->commands().Execute(command);
    if (out.ok()) {
      CONCLAVE_LOG(kInfo, "admin", "admin_execute '{}':\n{}", name, out->plain);
    } else {
      CONCLAVE_LOG(kError, "admin", "admin_execute '{}' failed: {}", name, out.status().message());
    }
  }
  for (const auto& command : cli_.execute) {
    auto out = server_->commands().Execute(command);
    if (out.ok()) {
      const std::string& text = out->plain;
      std::cout << text << (text.empty() || text.back() == '\n' ? "" : "\n") << std::flush;
    } else {
      std::cerr << "conclave: " << command << ": " << out.status().message() << "\n";
    }
  }
}

std::optional<int> Process::StartWatching() {
  const core::ModuleHostOptions options = HostOptions();
  WatchOptions watch;
  for (const auto& m : options.modules) {
    watch.files.push_back(core::StrCat(options.module_dir, "/libconclave_", m, ".so"));
  }
  if (std::string core_path = CoreLibraryPath(); !core_path.empty()) {
    watch.files.push_back(core_path);
  }
  watch.files.push_back(executable_);
  // The build directory of build/dev/lib: where ninja's log and the failure marker are.
  // A fresh build directory has no .ninja_log yet: CMake's cache says it is one all the same.
  std::filesystem::path build_dir = std::filesystem::path(options.module_dir).parent_path();
  if (std::filesystem::exists(build_dir / ".ninja_log") ||
      std::filesystem::exists(build_dir / "CMakeCache.txt")) {
    watch.build_dir = build_dir.string();
  }
  auto watcher = BuildWatcher::Start(watch, [this](const BuildOutcome& outcome) {
    if (outcome.failed) {
      control_.Push({Action::kBuildFailed, {}, outcome.failure});
    } else {
      control_.Push({Action::kReload,
                     {},
                     core::StrCat("watch (", absl::StrJoin(outcome.written, ", "), ")")});
    }
  });
  if (!watcher.ok()) {
    std::cerr << "conclave: " << watcher.status().message() << "\n";
    host_->Stop().IgnoreError();
    return kExitUsage;
  }
  watcher_ = *std::move(watcher);
  CONCLAVE_LOG(kInfo, "main", "watching {}{}", options.module_dir,
               watch.build_dir.empty() ? "" : core::StrCat(" (builds in ", watch.build_dir, ")"));
  return std::nullopt;
}

void Process::Reload(const ControlRequest& request, bool* restart) {
  CONCLAVE_LOG(kInfo, "main", "{}: reloading", request.why);
  Notify(core::NotifyReloading("hot-reloading modules"));
  core::ReloadReport report = host_->Reload(request.modules);
  *restart = report.restart_needed;
  if (report.restart_needed) {
    CONCLAVE_LOG(kInfo, "host", "{}", report.message);
    return;
  }
  core::Log(report.status.ok() ? core::LogLevel::kInfo : core::LogLevel::kError, "host", "{}",
            report.message);
  Ready();
}

std::optional<int> Process::Restart(const ControlRequest& request) {
  // The new image must be able to start before this one stops serving: run it with
  // --check-config first (preflight.h). If it fails, nothing was stopped.
  if (auto checked = PreflightCheck(executable_, argc_, argv_, kPreflightTimeout); !checked.ok()) {
    CONCLAVE_LOG(kError, "main", "{}: restart refused, still serving with the running binary: {}",
                 request.why, checked.message());
    // Whoever typed `!admin server restart` was told "restarting": say it did not.
    (void)server_->commands().Execute(core::CommandRequest{
        .command_line = "server admin-notice",
        .body = core::StrCat("Restart refused, still serving with the running binary: ",
                             checked.message()),
        .invoker = ""});
    Ready();
    return std::nullopt;
  }
  CONCLAVE_LOG(kInfo, "main", "{}: restarting in place (exec {})", request.why, executable_);
  Notify(core::NotifyReloading("restarting in place"));
  // Keep-alive connections go to the new image at a request boundary (bounded by the drain
  // timeout); a failed exec takes them back below.
  core::HandOver handover = http_->StopForHandOver(config_.reload_drain_timeout);
  if (auto s = host_->Stop(); !s.ok()) CONCLAVE_LOG(kError, "main", "{}", s.message());
  auto s = core::ExecWithListenFds(executable_, argv_, http_->listening_fds(), handover);
  CONCLAVE_LOG(kError, "main", "restart failed, resuming: {}", s.message());
  if (auto started = host_->Start(); !started.ok()) {
    CONCLAVE_LOG(kCritical, "main", "cannot resume after a failed restart: {}", started.message());
    Notify(core::NotifyServiceManager("STOPPING=1\nSTATUS=cannot resume after a failed restart"));
    return 1;
  }
  http_->Start(threads_);
  http_->Adopt(std::move(handover));
  Ready();
  return std::nullopt;
}

void Process::ReloadTlsCertificate() {
  if (http_ == nullptr || http_->federation_port() == 0) return;
  if (auto s = http_->ReloadTlsCertificate(); !s.ok()) {
    CONCLAVE_LOG(kError, "main", "TLS certificate not reloaded, the running one stays: {}",
                 s.message());
    return;
  }
  CONCLAVE_LOG(kInfo, "main", "TLS certificate reloaded from {} (new connections get it)",
               running_.tls_certificate_path);
}

int Process::ControlLoop() {
  Ready();
  for (;;) {
    ControlRequest request = control_.Pop();
    switch (request.action) {
      case Action::kReloadConfig:
        CONCLAVE_LOG(kInfo, "main", "{}: re-reading the config", request.why);
        Notify(core::NotifyReloading("re-reading the config"));
        ReloadConfig(cli_.config_path, running_, *server_);
        ReloadTlsCertificate();
        Ready();
        continue;
      case Action::kBuildFailed:
        CONCLAVE_LOG(kError, "host", "not reloaded: the build failed ({}); the running code stays",
                     request.why);
        continue;
      case Action::kReload: {
        bool restart = false;
        Reload(request, &restart);
        if (!restart) continue;
        [[fallthrough]];
      }
      case Action::kRestart:
        if (auto exit_status = Restart(request)) return *exit_status;
        continue;
      case Action::kShutdown:
        CONCLAVE_LOG(kInfo, "main", "{}: shutting down", request.why);
        return Shutdown();
    }
  }
}

int Process::Shutdown() {
  watcher_.reset();
  Notify(core::NotifyServiceManager("STOPPING=1\nSTATUS=shutting down"));
  http_->Stop(config_.reload_drain_timeout);
  http_->CloseListeners();
  absl::Status stopped = host_->Stop();
  if (!stopped.ok()) {
    CONCLAVE_LOG(kError, "main", "shutdown: {}", stopped.message());
    return 1;
  }
  CONCLAVE_LOG(kInfo, "main", "stopped cleanly");
  return 0;
}

void PrintVersion(std::string_view suffix) {
  std::cout << "conclave " << core::Version() << " (commit " << core::Commit() << suffix;
}

// The `watch` key in a release build, which has no modules to watch: a warning, not an error
// (unlike `--watch`, typed for this binary), because one conclave.toml serves a checkout's dev
// and release builds alike and the key changes nothing that is served. Empty when it does not
// apply.
std::string WatchKeyIgnored(const core::Config& config) {
  if (kDev || !config.watch) return "";
  const core::RawValue* v = config.raw.Find("watch");
  return core::StrCat("config: watch (", v != nullptr ? v->origin : "default",
                      "): ignored, watch mode needs a dev build (shared modules) and this is a "
                      "release build");
}

// --print-admin-commands: a throwaway database, so this works while a server runs. Returns the
// directory to remove, or empty on error (printed).
std::string PrepareAdminCommandsScratch(core::Config& config) {
  char pattern[] = "/tmp/conclave-print-admin-commands-XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    std::cerr << "conclave: cannot create a temporary directory: " << std::strerror(errno) << "\n";
    return "";
  }
  config.database_path = std::string(pattern) + "/db";
  config.admin_execute.clear();
  (void)core::SetLogLevel("error");
  return pattern;
}

int Run(int argc, char** argv) {
  // Block before any thread starts so that every thread inherits the mask and only the signal
  // thread ever sees these signals.
  sigset_t signals = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto parsed = ParseCommandLine(argc, argv);
  if (int* exit_status = std::get_if<int>(&parsed)) return *exit_status;
  CommandLine cli = std::get<CommandLine>(std::move(parsed));
  if (cli.version) {
    PrintVersion(core::StrCat(", ", core::BuildType(), " build, ", core::Compiler(), ")\n"));
    return 0;
  }
  if (cli.watch && !kDev) {
    std::cerr << "conclave: --watch needs a dev build (shared modules); this is a release build\n";
    return kExitUsage;
  }
  // An exec restart keeps argv: its --execute commands already ran in the first image (and a
  // "server restart" among them would restart forever).
  if (std::getenv(core::kExecRestartVariable) != nullptr) cli.execute.clear();
  unsetenv(core::kExecRestartVariable);

  auto loaded = core::LoadConfig(cli.config_path, environ);
  if (!loaded.ok()) {
    std::cerr << "conclave: " << loaded.status().message() << "\n";
    return kExitUsage;
  }
  // The federation listener's certificate and key are part of the config check: a server that
  // could not serve TLS does not start (nor does an exec restart into it).
  if (auto tls = core::CheckTlsListener(loaded->config); !tls.ok()) {
    std::cerr << "conclave: " << tls.message() << "\n";
    return kExitUsage;
  }
  if (cli.check_config) {
    // The modules validate their own options (without being loaded) and name the keys they read.
    auto warnings =
        core::CheckModuleOptions(HostOptions(loaded->config, ExecutablePath()), loaded->config.raw);
    if (!warnings.ok()) {
      std::cerr << "conclave: " << warnings.status().message() << "\n";
      return kExitUsage;
    }
    for (const auto& w : *warnings) std::cerr << "conclave: " << w << "\n";
    if (std::string w = WatchKeyIgnored(loaded->config); !w.empty()) {
      std::cerr << "conclave: " << w << "\n";
    }
    PrintVersion(core::StrCat("): config OK (",
                              cli.config_path.value_or("conclave.toml if present"), ")\n"));
    return 0;
  }
  RaiseDescriptorLimit();
  (void)core::SetLogLevel(loaded->config.log_level);  // validated by the config loader
  std::string scratch_dir;
  if (cli.print_admin_commands) {
    scratch_dir = PrepareAdminCommandsScratch(loaded->config);
    if (scratch_dir.empty()) return 1;
  }

  const bool watch = kDev && (cli.watch || loaded->config.watch);
  const std::string watch_ignored = WatchKeyIgnored(loaded->config);
  Process process(argc, argv, std::move(cli), std::move(loaded->config));
  core::InheritedFds inherited = core::TakeInheritedFds();
  if (auto exit_status = process.StartModules()) return *exit_status;
  if (!scratch_dir.empty()) return process.PrintAdminCommands(scratch_dir);
  process.LogUnknownConfigKeys();  // only now are the modules' keys known (registered at load)
  if (!watch_ignored.empty()) CONCLAVE_LOG(kWarn, "config", "{}", watch_ignored);
  if (watch) {
    if (auto exit_status = process.StartWatching()) return *exit_status;
  }
  if (auto exit_status = process.StartServing(std::move(inherited))) return *exit_status;
  SignalThread signal_thread(process.control(), kDev);
  process.RunStartupCommands();
  return process.ControlLoop();
}

}  // namespace
}  // namespace conclave

int main(int argc, char** argv) { return conclave::Run(argc, argv); }
