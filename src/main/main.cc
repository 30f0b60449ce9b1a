// conclave: the executable. Parses the command line, loads the config, drives the module host and
// the HTTP engine, turns signals into requests for its control loop, and exec-restarts in place.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
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
#include "preflight.h"

#ifdef CONCLAVE_STATIC_MODULES
extern "C" {
const conclave::core::ModuleDescriptor* conclave_module_database() noexcept;
const conclave::core::ModuleDescriptor* conclave_module_service() noexcept;
const conclave::core::ModuleDescriptor* conclave_module_api() noexcept;
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

enum class Action { kReload, kShutdown, kRestart, kReloadConfig };
struct ControlRequest {
  Action action;
  std::vector<std::string> modules;  // kReload: forced modules
  std::string why;
};

// What the signal thread and admin commands ask of the control loop. Thread-safe.
class ControlQueue {
 public:
  void Push(ControlRequest r) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(r));
    }
    cv_.notify_one();
  }
  ControlRequest Pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !queue_.empty(); });
    ControlRequest r = std::move(queue_.front());
    queue_.pop_front();
    return r;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ControlRequest> queue_;
};

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP}) sigaddset(&set, s);
  return set;
}

// Waits for signals on its own thread (never in handler context) and queues requests.
class SignalThread {
 public:
  SignalThread(ControlQueue& queue, bool dev)
      : thread_([this, &queue, dev] {
          sigset_t set = HandledSignals();
          timespec tick{0, 200 * 1000 * 1000};
          while (!stop_.load()) {
            int sig = sigtimedwait(&set, nullptr, &tick);
            if (sig < 0) continue;
            switch (sig) {
              case SIGINT:
                if (dev) {
                  queue.Push({Action::kReload, {}, "SIGINT"});
                } else {
                  queue.Push({Action::kShutdown, {}, "SIGINT"});
                }
                break;
              case SIGUSR1:
                queue.Push({dev ? Action::kReload : Action::kShutdown, {}, "SIGUSR1"});
                break;
              case SIGUSR2:
                queue.Push({Action::kRestart, {}, "SIGUSR2"});
                break;
              case SIGHUP:
                queue.Push({Action::kReloadConfig, {}, "SIGHUP"});
                break;
              default:
                queue.Push({Action::kShutdown, {}, sig == SIGQUIT ? "SIGQUIT" : "SIGTERM"});
            }
          }
        }) {}
  ~SignalThread() {
    stop_.store(true);
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

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
  for (const auto& w : core::UnknownKeyWarnings(
           fresh->config.raw, [&](std::string_view key) { return server.sections().Knows(key); })) {
    CONCLAVE_LOG(kWarn, "config", "{}", w);
  }
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

// Where the module host finds the modules: the static table (release) or the build's lib dir.
core::ModuleHostOptions HostOptions(const core::Config& config, const std::string& executable,
                                    bool dev) {
  core::ModuleHostOptions options;
  options.dynamic = dev;
  options.drain_timeout = config.reload_drain_timeout;
  options.runtime_dir = config.runtime_dir;
  options.executable_path = executable;
#ifdef CONCLAVE_STATIC_MODULES
  options.static_modules = {{"database", &conclave_module_database},
                            {"service", &conclave_module_service},
                            {"api", &conclave_module_api},
                            {"admin", &conclave_module_admin}};
#else
  options.modules = {"database", "service", "api", "admin"};
  options.module_dir = config.module_dir.empty()
                           ? (std::filesystem::path(executable).parent_path() / ".." / "lib")
                                 .lexically_normal()
                                 .string()
                           : config.module_dir;
#endif
  return options;
}

int Run(int argc, char** argv) {
  // Block before any thread starts so that every thread inherits the mask and only the signal
  // thread ever sees these signals.
  sigset_t signals = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

#ifdef CONCLAVE_STATIC_MODULES
  const bool dev = false;
#else
  const bool dev = true;
#endif
  CLI::App cli{"conclave: a modular Matrix homeserver.", "conclave"};
  std::optional<std::string> config_path;
  std::vector<std::string> execute;
  bool version = false;
  bool print_admin_commands = false;
  bool check_config = false;
  cli.add_option("-c,--config", config_path,
                 "TOML config file (default: ./conclave.toml if present)");
  cli.add_option("--execute", execute,
                 "Run an admin command after start-up and print its output (repeatable; not run "
                 "again after an exec restart), e.g. --execute \"server uptime\"")
      ->allow_extra_args(false);
  cli.add_flag("-V,--version", version, "Print version, commit and build type, then exit");
  cli.add_flag("--check-config", check_config,
               "Load and validate the config (file and CONCLAVE_* environment), print the result "
               "and exit: 0 when valid, 2 when not. Nothing is bound or opened. A restart in "
               "place runs the new binary this way first and stays up if it fails");
  cli.add_flag("--print-admin-commands", print_admin_commands,
               "Print the reference of the admin commands (Markdown, docs/admin-commands.md) and "
               "exit; the modules start over a temporary database, not the configured one");
  cli.footer(
      "Signals: SIGTERM/SIGQUIT (Ctrl+\\) shut down; in dev builds SIGINT (Ctrl+C) and SIGUSR1 "
      "hot-reload changed modules (in release SIGINT shuts down); SIGUSR2 restarts in place "
      "(exec of the binary on disk, keeping the listening sockets); SIGHUP re-reads the config "
      "file and applies the settings that can change at runtime.\n"
      "Every config key can be overridden by the environment variable CONCLAVE_<KEY>.");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << cli.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "conclave: " << e.what() << "\nRun 'conclave --help' for usage.\n";
    return kExitUsage;
  }
  if (version) {
    std::cout << "conclave " << core::Version() << " (commit " << core::Commit() << ", "
              << core::BuildType() << " build, " << core::Compiler() << ")\n";
    return 0;
  }

  // An exec restart keeps argv: its --execute commands already ran in the first image (and a
  // "server restart" among them would restart forever).
  const bool exec_restarted = std::getenv(core::kExecRestartVariable) != nullptr;
  unsetenv(core::kExecRestartVariable);
  if (exec_restarted) execute.clear();

  auto loaded = core::LoadConfig(config_path, environ);
  if (!loaded.ok()) {
    std::cerr << "conclave: " << loaded.status().message() << "\n";
    return kExitUsage;
  }
  core::Config& config = loaded->config;
  if (check_config) {
    // The modules validate their own options (without being loaded) and name the keys they read.
    auto warnings =
        core::CheckModuleOptions(HostOptions(config, ExecutablePath(), dev), config.raw);
    if (!warnings.ok()) {
      std::cerr << "conclave: " << warnings.status().message() << "\n";
      return kExitUsage;
    }
    for (const auto& w : *warnings) std::cerr << "conclave: " << w << "\n";
    std::cout << "conclave " << core::Version() << " (commit " << core::Commit() << "): config OK ("
              << config_path.value_or("conclave.toml if present") << ")\n";
    return 0;
  }
  RaiseDescriptorLimit();
  (void)core::SetLogLevel(config.log_level);  // validated by the config loader
  // --print-admin-commands: the admin module renders the reference, and it loads only after its
  // dependencies; they start over a throwaway database, so this works while a server runs.
  std::string scratch_dir;
  if (print_admin_commands) {
    char pattern[] = "/tmp/conclave-print-admin-commands-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      std::cerr << "conclave: cannot create a temporary directory: " << std::strerror(errno)
                << "\n";
      return 1;
    }
    scratch_dir = pattern;
    config.database_path = scratch_dir + "/db";
    config.admin_execute.clear();
    (void)core::SetLogLevel("error");
  }

  const std::string executable = ExecutablePath();
  core::Server server(config, std::string(core::BuildType()));
  ControlQueue control;
  server.set_shutdown_callback(
      [](void* q) {
        static_cast<ControlQueue*>(q)->Push({Action::kShutdown, {}, "admin"});
      },
      &control);
  server.set_restart_callback(
      [](void* q) {
        static_cast<ControlQueue*>(q)->Push({Action::kRestart, {}, "admin"});
      },
      &control);

  core::ModuleHostOptions options = HostOptions(config, executable, dev);
  auto host = core::ModuleHost::Create(server, options);
  if (!host.ok()) {
    std::cerr << "conclave: " << host.status().message() << "\n";
    return 1;
  }
  server.set_modules(host->get());
  (*host)->set_reload_requester([&control](std::vector<std::string> modules) {
    control.Push({Action::kReload, std::move(modules), "admin command"});
  });

  std::vector<int> inherited = core::TakeListenFds();
  if (auto s = (*host)->Start(); !s.ok()) {
    std::cerr << "conclave: " << s.message() << "\n";
    return kExitUsage;
  }
  if (print_admin_commands) {
    auto out = server.commands().Execute("help --markdown");
    absl::Status stopped = (*host)->Stop();
    std::error_code ignored;
    std::filesystem::remove_all(scratch_dir, ignored);
    if (!out.ok()) {
      std::cerr << "conclave: " << out.status().message() << "\n";
      return 1;
    }
    std::cout << out->plain << std::flush;
    return stopped.ok() ? 0 : 1;
  }
  // Only now are the modules' keys known (their sections registered at load).
  for (const auto& w : core::UnknownKeyWarnings(
           config.raw, [&](std::string_view key) { return server.sections().Knows(key); })) {
    CONCLAVE_LOG(kWarn, "config", "{}", w);
  }
  core::HttpServer http(server.router(), server.notifier(), config);
  if (auto s = http.Listen(inherited); !s.ok()) {
    std::cerr << "conclave: " << s.message() << "\n";
    (*host)->Stop().IgnoreError();
    return 1;
  }
  const int threads = config.worker_threads > 0
                          ? config.worker_threads
                          : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  http.Start(threads);
  SignalThread signal_thread(control, dev);
#ifdef CONCLAVE_MAIN_VARIANT
  constexpr std::string_view kVariant = " [variant build]";  // tests only: see CMakeLists.txt
#else
  constexpr std::string_view kVariant = "";
#endif
  CONCLAVE_LOG(kInfo, "main", "conclave {} ({} build) listening on http://{}:{}{}{}",
               core::Version(), core::BuildType(), config.address, http.port(),
               inherited.empty() ? "" : " (inherited socket)", kVariant);

  // The config's admin_execute commands, at every start: output and errors to the log, never
  // fatal. Only the first two words of a command are logged (its arguments may be secrets).
  auto first_two_words = [](std::string_view line) {
    size_t end = 0;
    for (int word = 0; word < 2; ++word) {
      if ((end = line.find_first_not_of(' ', end)) == std::string_view::npos) return line;
      if ((end = line.find(' ', end)) == std::string_view::npos) return line;
    }
    return line.substr(0, end);
  };
  for (const auto& command : config.admin_execute) {
    std::string_view name = first_two_words(command);
    auto out = server.commands().Execute(command);
    if (out.ok()) {
      CONCLAVE_LOG(kInfo, "admin", "admin_execute '{}':\n{}", name, out->plain);
    } else {
      CONCLAVE_LOG(kError, "admin", "admin_execute '{}' failed: {}", name, out.status().message());
    }
  }
  for (const auto& command : execute) {
    auto out = server.commands().Execute(command);
    if (out.ok()) {
      const std::string& text = out->plain;
      std::cout << text << (text.empty() || text.back() == '\n' ? "" : "\n") << std::flush;
    } else {
      std::cerr << "conclave: " << command << ": " << out.status().message() << "\n";
    }
  }

  auto ready = [&](std::string_view status) {
    Notify(core::NotifyServiceManager(
        core::StrCat("READY=1\nSTATUS=", status, "\nMAINPID=", static_cast<long>(getpid()))));
  };
  const std::string serving = core::StrCat("serving on ", config.address, ":", http.port());
  ready(serving);
  core::Config running = config;  // the config in force: start-up plus what SIGHUP applied

  for (;;) {
    ControlRequest request = control.Pop();
    if (request.action == Action::kReloadConfig) {
      CONCLAVE_LOG(kInfo, "main", "{}: re-reading the config", request.why);
      Notify(core::NotifyReloading("re-reading the config"));
      ReloadConfig(config_path, running, server);
      ready(serving);
      continue;
    }
    if (request.action == Action::kReload) {
      CONCLAVE_LOG(kInfo, "main", "{}: reloading", request.why);
      Notify(core::NotifyReloading("hot-reloading modules"));
      core::ReloadReport report = (*host)->Reload(request.modules);
      if (!report.restart_needed) {
        core::Log(report.status.ok() ? core::LogLevel::kInfo : core::LogLevel::kError, "host", "{}",
                  report.message);
        ready(serving);
        continue;
      }
      CONCLAVE_LOG(kInfo, "host", "{}", report.message);
      request.action = Action::kRestart;
    }
    if (request.action == Action::kRestart) {
      // The new image must be able to start before this one stops serving: run it with
      // --check-config first (preflight.h). If it fails, nothing was stopped.
      if (auto checked = PreflightCheck(executable, argc, argv, kPreflightTimeout); !checked.ok()) {
        CONCLAVE_LOG(kError, "main",
                     "{}: restart refused, still serving with the running binary: {}", request.why,
                     checked.message());
        // Whoever typed `!admin server restart` was told "restarting": say it did not.
        (void)server.commands().Execute(core::CommandRequest{
            .command_line = "server admin-notice",
            .body = core::StrCat("Restart refused, still serving with the running binary: ",
                                 checked.message()),
            .invoker = ""});
        ready(serving);
        continue;
      }
      CONCLAVE_LOG(kInfo, "main", "{}: restarting in place (exec {})", request.why, executable);
      Notify(core::NotifyReloading("restarting in place"));
      http.Stop(config.reload_drain_timeout);
      if (auto s = (*host)->Stop(); !s.ok()) CONCLAVE_LOG(kError, "main", "{}", s.message());
      auto s = core::ExecWithListenFds(executable, argv, http.listening_fds());
      CONCLAVE_LOG(kError, "main", "restart failed, resuming: {}", s.message());
      if (auto started = (*host)->Start(); !started.ok()) {
        CONCLAVE_LOG(kCritical, "main", "cannot resume after a failed restart: {}",
                     started.message());
        Notify(
            core::NotifyServiceManager("STOPPING=1\nSTATUS=cannot resume after a failed restart"));
        return 1;
      }
      http.Start(threads);
      ready(serving);
      continue;
    }
    CONCLAVE_LOG(kInfo, "main", "{}: shutting down", request.why);
    break;
  }
  Notify(core::NotifyServiceManager("STOPPING=1\nSTATUS=shutting down"));
  http.Stop(config.reload_drain_timeout);
  http.CloseListeners();
  absl::Status stopped = (*host)->Stop();
  if (!stopped.ok()) {
    CONCLAVE_LOG(kError, "main", "shutdown: {}", stopped.message());
    return 1;
  }
  CONCLAVE_LOG(kInfo, "main", "stopped cleanly");
  return 0;
}

}  // namespace
}  // namespace conclave

int main(int argc, char** argv) { return conclave::Run(argc, argv); }
