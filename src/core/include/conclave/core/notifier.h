// Notifier: wakes long-polling requests (`/sync` with `timeout`) when something they wait for
// happens, without a thread per waiting request.
//
// Keys are opaque strings chosen by the modules (the homeserver uses user ids). Each key has a
// version that Notify() bumps. A handler that has nothing to answer yet reads Version(key), looks
// for news, and if there is none returns a Response with `wait` set to that key and version; the
// HTTP engine then parks the request (no module code involved) until the key's version moves, the
// deadline passes, or a reload or shutdown interrupts it, and dispatches it again (Request
// `wake_reason` says why). Reading the version before looking closes the race with a Notify that
// lands in between: the engine wakes at once when the version already moved.
//
// Thread-safe. Owned by the Server (permanent code), so parked requests never point into a module.
#ifndef CONCLAVE_CORE_NOTIFIER_H_
#define CONCLAVE_CORE_NOTIFIER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace conclave::core {

// Why a parked request was dispatched again.
enum class WakeReason {
  kNone,         // first dispatch: the request has not waited
  kNotified,     // its key's version moved
  kTimeout,      // its deadline passed
  kInterrupted,  // a reload or shutdown began: answer now, don't wait again
};

class Notifier {
 public:
  // The engine's side of a parked request. Wake() is called with the notifier's lock held: it
  // must not block and must not call back into the Notifier.
  class Waiter {
   public:
    virtual ~Waiter() = default;
    virtual void Wake(WakeReason reason) = 0;
  };

  Notifier() = default;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Current version of `key` (0 if never notified).
  uint64_t Version(std::string_view key) const ABSL_LOCKS_EXCLUDED(mu_);

  // Bumps the version of each key and wakes their waiters.
  void Notify(std::string_view key) ABSL_LOCKS_EXCLUDED(mu_);
  void Notify(const std::vector<std::string>& keys) ABSL_LOCKS_EXCLUDED(mu_);

  // Parks `waiter` on `key`. Returns the reason to wake at once instead of parking: kNotified if
  // the version is no longer `seen_version`, kInterrupted while interrupted; kNone when parked
  // (then Unsubscribe must follow, and `waiter` must stay alive until it returns).
  WakeReason Subscribe(std::string_view key, uint64_t seen_version, Waiter* waiter)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Unsubscribe(std::string_view key, Waiter* waiter) ABSL_LOCKS_EXCLUDED(mu_);

  // Wakes every parked request with kInterrupted, and keeps answering Subscribe with kInterrupted
  // until as many Resume() calls as Interrupt() calls were made. Used around reloads and at
  // shutdown.
  void Interrupt() ABSL_LOCKS_EXCLUDED(mu_);
  void Resume() ABSL_LOCKS_EXCLUDED(mu_);

  // Parked requests right now (for tests and stats).
  size_t waiting() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    uint64_t version = 0;
    std::vector<Waiter*> waiters;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int interrupts_ ABSL_GUARDED_BY(mu_) = 0;
  size_t waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_NOTIFIER_H_
