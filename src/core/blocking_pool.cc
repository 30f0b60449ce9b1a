#include "conclave/core/blocking_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "conclave/core/exceptions.h"
#include "conclave/core/log.h"

namespace conclave::core {

BlockingPool::BlockingPool(Options options) : options_(options) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] {
      if (options_.nice != 0) {
        // Linux applies PRIO_PROCESS with a thread id to that thread alone.
        const int tid = static_cast<int>(syscall(SYS_gettid));
        setpriority(PRIO_PROCESS, tid, getpriority(PRIO_PROCESS, tid) + options_.nice);
      }
      Work();
    });
  }
}

BlockingPool::~BlockingPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& t : threads_) t.join();
}

absl::Status BlockingPool::Submit(absl::AnyInvocable<void() &&> work) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::FailedPreconditionError("the blocking pool is shutting down");
  if (queue_.size() >= options_.max_queued) {
    return absl::ResourceExhaustedError("the blocking pool's queue is full");
  }
  queue_.push_back(std::move(work));
  return absl::OkStatus();
}

size_t BlockingPool::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void BlockingPool::Work() {
  for (;;) {
    absl::AnyInvocable<void() &&> task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      std::move(task)();
    } catch (...) {
      CONCLAVE_LOG(kError, "pool", "a blocking task threw: {}", CurrentExceptionMessage());
    }
    task = nullptr;  // destroyed here, outside the lock and the catch
  }
}

}  // namespace conclave::core
