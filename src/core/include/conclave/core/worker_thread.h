// WorkerThread: one background thread of a module that sleeps between its passes until it is
// woken, stopped, or a timeout passes (service's search indexer and push sender).
#ifndef CONCLAVE_CORE_WORKER_THREAD_H_
#define CONCLAVE_CORE_WORKER_THREAD_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace conclave::core {

// Start() runs `body` on a new thread; the body loops over "do a pass, then
// `if (!Wait(timeout)) return;`". Stop() asks it to stop, wakes it and joins it; a module's
// unload hook calls it, so no thread outlives the code it runs (no detached threads).
//
// Thread-safe: Wake() and stopping() from any thread, Wait() from the body; Start() and Stop()
// from one thread at a time (the module hooks). Must not outlive what `body` uses; its
// destructor stops the thread.
class WorkerThread {
 public:
  WorkerThread() = default;
  ~WorkerThread() { Stop(); }
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  // Starts the thread running `body`; OK and nothing done when it runs already. `name` goes
  // into the error: kResourceExhausted when the thread cannot be created.
  absl::Status Start(std::string_view name, std::function<void()> body);
  // Asks the body to stop (Wait returns false, stopping() true), wakes it and joins the thread.
  // Idempotent; returns once the body returned.
  void Stop();
  // Ends the body's current or next Wait early. Cheap.
  void Wake() ABSL_LOCKS_EXCLUDED(mu_);
  // For the body: blocks until Wake(), Stop() or `timeout` (at least 1 ms) passes. Returns
  // false once Stop() was called. Consumes the wake-up.
  bool Wait(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether Stop() was called: a long pass checks it to stop early.
  bool stopping() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_WORKER_THREAD_H_
