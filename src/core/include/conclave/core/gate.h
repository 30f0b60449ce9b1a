// Gate: counts work in flight for one module so a reload can wait for it to drain.
//
// After Seastar's `gate`: Enter() on request start, Leave() on finish; Close() stops new entries
// and WaitDrained() blocks until the count is zero. Thread-safe. GateHolder leaves on
// destruction, so no exit path (an exception included) can leave the gate entered.
#ifndef CONCLAVE_CORE_GATE_H_
#define CONCLAVE_CORE_GATE_H_

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace conclave::core {

class Gate {
 public:
  // Returns false (and counts nothing) if the gate is closed.
  bool TryEnter() ABSL_LOCKS_EXCLUDED(mu_);
  void Leave() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops new entries. Idempotent.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);
  void Open() ABSL_LOCKS_EXCLUDED(mu_);
  bool closed() const ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until nothing is in flight or `timeout` passes; returns whether it drained.
  bool WaitDrained(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  int in_flight() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// One entry into a Gate, left on destruction. Move-only; an empty holder leaves nothing.
class [[nodiscard]] GateHolder {
 public:
  GateHolder() = default;
  // Enters `gate`; empty (see entered()) when it is closed.
  explicit GateHolder(Gate& gate) : gate_(gate.TryEnter() ? &gate : nullptr) {}
  GateHolder(GateHolder&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
  GateHolder& operator=(GateHolder&& other) noexcept {
    if (this != &other) {
      Release();
      gate_ = std::exchange(other.gate_, nullptr);
    }
    return *this;
  }
  ~GateHolder() { Release(); }
  bool entered() const { return gate_ != nullptr; }
  void Release() {
    if (gate_ != nullptr) std::exchange(gate_, nullptr)->Leave();
  }

 private:
  Gate* gate_ = nullptr;
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_GATE_H_
