// UiaSessions: the sessions of user-interactive authentication (Client-Server API,
// "User-interactive authentication API"), each bound to the operation it was started for.
//
// The spec's `session` identifies "subsequent attempts to authenticate in the same API call". A
// session that any request could complete would let a client start authentication for one
// operation (delete device A) and finish it for another (delete device B), so a session
// remembers a digest of its operation (who, method, path and the parts of the body that matter;
// the caller composes it) and Verify() refuses it for any other. A session ends when its
// operation succeeds (Finish), after kLifetime, or when kMaxSessions newer ones exist (the
// oldest goes first), so unauthenticated clients cannot grow it without bound.
//
// The sessions survive a reload of the service module through Save()/Restore() (the module's
// saved bytes); an exec restart drops them, which costs a client one more 401 with a fresh
// session. Thread-safe.
#ifndef CONCLAVE_SERVICE_ACCOUNTS_UIA_SESSIONS_H_
#define CONCLAVE_SERVICE_ACCOUNTS_UIA_SESSIONS_H_

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace conclave::service {

class UiaSessions {
 public:
  // How long a session can be completed after it started.
  static constexpr absl::Duration kLifetime = absl::Hours(1);
  // Sessions kept at most; starting one more drops the oldest.
  static constexpr size_t kMaxSessions = 10000;

  enum class Verdict {
    kValid,           // started for this operation, within kLifetime
    kUnknown,         // never started, finished, expired or evicted
    kOtherOperation,  // started for a different operation
  };

  // Starts a session bound to `operation` (any bytes; only their SHA-256 is kept) and returns
  // its id: 24 random alphanumeric characters.
  std::string Start(std::string_view operation, absl::Time now = absl::Now());

  // Whether session `id` may authenticate `operation` at `now`. Does not end the session: a
  // failed attempt (a wrong password) may be retried within it.
  Verdict Verify(std::string_view id, std::string_view operation,
                 absl::Time now = absl::Now()) const;

  // Ends session `id` (its operation went through); unknown ids are ignored.
  void Finish(std::string_view id);

  // Serialized sessions (JSON), and the reverse; Restore ignores malformed input and entries.
  std::string Save() const;
  void Restore(std::string_view saved);

  size_t size() const;

 private:
  struct Session {
    std::string digest;  // SHA-256 of the operation, raw bytes
    absl::Time started;
  };
  void InsertLocked(std::string id, Session session);

  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Session> sessions_;
  // Start times → ids, oldest first: expiry and eviction in order.
  std::multimap<absl::Time, std::string> by_start_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ACCOUNTS_UIA_SESSIONS_H_
