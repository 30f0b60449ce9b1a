// BlockingPool: a fixed set of threads for work that blocks for long (argon2 password hashing,
// large scans; later thumbnails and search indexing), so that it does not hold the HTTP engine's
// I/O threads.
//
// Permanent code (core). The HTTP engine owns one and runs the handlers of routes registered
// with RouteOptions::blocking on it, inside their module's gate (http.h). Whoever submits module
// code must make sure it finishes before the module is unloaded (a gate does that for handlers).
#ifndef CONCLAVE_CORE_BLOCKING_POOL_H_
#define CONCLAVE_CORE_BLOCKING_POOL_H_

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace conclave::core {

// Thread-safe. Tasks run in submission order, `threads` at a time. The destructor runs what is
// queued, then joins the threads.
class BlockingPool {
 public:
  struct Options {
    // Worker threads (at least 1).
    int threads = 2;
    // Tasks waiting for a thread at most; Submit refuses more.
    size_t max_queued = 1024;
    // Added to the workers' nice value (Linux: per thread), so that when the CPU is short the
    // I/O threads answering quick requests go first. 0 keeps the process's priority.
    int nice = 0;
  };

  explicit BlockingPool(Options options);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Queues `work` to run on a worker thread. An exception it throws is caught and logged (it
  // never reaches the pool's threads). kResourceExhausted when max_queued tasks are waiting
  // already; kFailedPrecondition once the pool is shutting down. On error `work` is destroyed
  // without running.
  absl::Status Submit(absl::AnyInvocable<void() &&> work) ABSL_LOCKS_EXCLUDED(mu_);

  // Tasks waiting for a thread right now (not counting running ones).
  size_t queued() const ABSL_LOCKS_EXCLUDED(mu_);
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void Work() ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_BLOCKING_POOL_H_
