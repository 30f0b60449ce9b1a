#include "conclave/core/gate.h"

namespace conclave::core {

bool Gate::TryEnter() {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  ++in_flight_;
  return true;
}

void Gate::Leave() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

void Gate::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

void Gate::Open() {
  absl::MutexLock lock(&mu_);
  closed_ = false;
}

bool Gate::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

int Gate::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

bool Gate::WaitDrained(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  // absl::Mutex re-evaluates the condition whenever the mutex is released: Leave() needs no
  // explicit signal.
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&drained), timeout);
}

}  // namespace conclave::core
