// Sync: the body of GET /_matrix/client/v3/sync (Client-Server API "Syncing").
//
// Tokens are `s<stream position>_<typing serial>`: the stream (stream.h) orders everything
// persistent, the typing serial (typing.h) the ephemeral typing notifications. A sync with
// nothing new and time left answers "wait on the user's notifier key": the api returns that to
// the HTTP engine, which parks the request (core/notifier.h) and dispatches it again. Thread-safe.
// Owned by the Homeserver; must not outlive the service module.
#ifndef CONCLAVE_SERVICE_SYNC_SYNC_H_
#define CONCLAVE_SERVICE_SYNC_SYNC_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/notifier.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/protocol/filter.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service {

class E2ee;
class Rooms;
class Typing;

struct SyncRequest {
  std::string since;  // empty: initial sync
  Filter filter;      // parsed inline filter or stored filter; default: {}
  bool full_state = false;
  std::optional<std::string> set_presence;  // online, offline, unavailable
  bool may_wait = false;                    // the client gave a timeout and time is left
};

struct SyncResult {
  // The response body; empty when there is nothing new and `may_wait` was set: then wait on
  // notifier key `wait_key` at version `wait_version`.
  std::optional<boost::json::object> body;
  std::string wait_key;
  uint64_t wait_version = 0;
  // When waiting: wake by then even if nothing is notified (a typing notice runs out).
  std::optional<absl::Time> wake_by;
};

class Sync {
 public:
  // What Sync reads; every reference must outlive it.
  struct Deps {
    Stream& stream;
    core::Notifier& notifier;  // the version a waiting /sync parks on
    Accounts& accounts;        // account data and presence
    Rooms& rooms;
    Typing& typing;
    E2ee& e2ee;  // to_device, device_lists, key counts
  };
  explicit Sync(Deps deps);

  // M_INVALID_PARAM for a malformed `since`.
  absl::StatusOr<SyncResult> Run(const Session& session, const SyncRequest& request);

 private:
  Deps deps_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_SYNC_SYNC_H_
