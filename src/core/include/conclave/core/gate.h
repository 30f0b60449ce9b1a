// Gate: counts work in flight for one module so a reload can wait for it to drain.
//
// After Seastar's `gate`: Enter() on request start, Leave() on finish; Close() stops new entries
// and Wait() blocks until the count is zero. Thread-safe.
#ifndef CONCLAVE_CORE_GATE_H_
#define CONCLAVE_CORE_GATE_H_

#include <condition_variable>
#include <mutex>

#include "absl/time/time.h"

namespace conclave::core {

class Gate {
 public:
  // Returns false (and counts nothing) if the gate is closed.
  bool TryEnter();
  void Leave();
  // Stops new entries. Idempotent.
  void Close();
  void Open();
  bool closed() const;
  // Blocks until nothing is in flight or `timeout` passes; returns whether it drained.
  bool WaitDrained(absl::Duration timeout);
  int in_flight() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable drained_;
  int in_flight_ = 0;
  bool closed_ = false;
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_GATE_H_
