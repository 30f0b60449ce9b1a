// WorkerThread (worker_thread.h).
#include "conclave/core/worker_thread.h"

#include <algorithm>
#include <system_error>
#include <utility>

#include "conclave/core/str_cat.h"

namespace conclave::core {

absl::Status WorkerThread::Start(std::string_view name, std::function<void()> body) {
  if (thread_.joinable()) return absl::OkStatus();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
    woken_ = false;
  }
  try {
    thread_ = std::thread(std::move(body));
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(StrCat(name, " thread: ", e.what()));
  }
  return absl::OkStatus();
}

void WorkerThread::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void WorkerThread::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

bool WorkerThread::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || stopping_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), std::max(timeout, absl::Milliseconds(1)));
  woken_ = false;
  return !stopping_;
}

bool WorkerThread::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

}  // namespace conclave::core
