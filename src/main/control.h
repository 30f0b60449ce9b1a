// The control loop's requests: what signals, admin commands and watch mode ask of main's control
// thread, and the thread that turns signals into such requests.
#ifndef CONCLAVE_MAIN_CONTROL_H_
#define CONCLAVE_MAIN_CONTROL_H_

#include <signal.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace conclave {

enum class Action {
  kReload,        // reload changed modules (+ `modules`, forced)
  kShutdown,      // graceful shutdown
  kRestart,       // exec restart in place
  kReloadConfig,  // SIGHUP: re-read the config
  kBuildFailed,   // watch mode: the build failed, `why` says what; nothing is reloaded
};

struct ControlRequest {
  Action action;
  std::vector<std::string> modules;  // kReload: forced modules
  std::string why;                   // logged: "SIGINT", "admin", "watch", ...
};

// What the signal thread, admin commands and the watcher ask of the control loop, in order.
// Thread-safe.
class ControlQueue {
 public:
  void Push(ControlRequest r);
  // Blocks until a request is queued.
  ControlRequest Pop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ControlRequest> queue_;
};

// The signals main handles; block them in every thread before any thread starts.
sigset_t HandledSignals();

// Waits for HandledSignals() on its own thread through a signalfd (never in handler context, no
// periodic wake-up) and queues the request each one stands for: SIGINT/SIGUSR1 reload in dev
// (shut down in release), SIGUSR2 restarts, SIGHUP re-reads the config, SIGQUIT/SIGTERM shut
// down. Destruction stops and joins the thread.
class SignalThread {
 public:
  SignalThread(ControlQueue& queue, bool dev);
  ~SignalThread();

 private:
  int signal_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace conclave

#endif  // CONCLAVE_MAIN_CONTROL_H_
