#include "conclave/core/gate.h"

namespace conclave::core {

bool Gate::TryEnter() {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  ++in_flight_;
  return true;
}

void Gate::Leave() {
  std::lock_guard lock(mu_);
  if (--in_flight_ == 0) drained_.notify_all();
}

void Gate::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

void Gate::Open() {
  std::lock_guard lock(mu_);
  closed_ = false;
}

bool Gate::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

int Gate::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

bool Gate::WaitDrained(absl::Duration timeout) {
  std::unique_lock lock(mu_);
  return drained_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                           [this] { return in_flight_ == 0; });
}

}  // namespace conclave::core
