// Pushers: the HTTP pushers a user's devices register (Client-Server API, "Push Notifications";
// pusher.yaml: GET /pushers, POST /pushers/set), kept in the `pushers` map (schema.h) with the
// device whose access token set each one, so that removing the device (logout, device deletion,
// a password change that logs devices out) or deactivating the account removes its pushers in
// the same WriteBatch, as Synapse does.
//
// Sending to the Push Gateway is not built: it needs an outbound HTTP client in core (schema.h
// describes the `push_queue` format it will use; docs/matrix.md lists it as not implemented).
//
// Thread-safe: Set's read-modify-write steps are serialized by a lock. Owned by the Homeserver;
// must not outlive its Store.
#ifndef CONCLAVE_SERVICE_PUSH_PUSHERS_H_
#define CONCLAVE_SERVICE_PUSH_PUSHERS_H_

#include <boost/json/object.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/database/write_batch.h"
#include "conclave/service/storage/store.h"

namespace conclave::service {

// The path every HTTP pusher's data.url must have (Push Gateway API, POST /_matrix/push/v1/notify).
inline constexpr std::string_view kPushGatewayPath = "/_matrix/push/v1/notify";

class Pushers {
 public:
  // Opens the `pushers` map. `store` must outlive the result. Database errors.
  static absl::StatusOr<std::unique_ptr<Pushers>> Open(Store& store);

  // The pushers of `user_id` as GET /pushers shows them (pushkey, kind, app_id,
  // app_display_name, device_display_name, profile_tag if set, lang, data), by app id and
  // pushkey. Database errors.
  absl::StatusOr<std::vector<boost::json::object>> List(std::string_view user_id) const;

  // POST /pushers/set for `user_id` from `device_id`: `body` as pusher.yaml. `kind` "http"
  // creates or replaces the user's pusher of (app_id, pushkey) and, unless `append` is true,
  // removes other users' pushers with the same app_id and pushkey; `kind` null removes it
  // (removing an absent one succeeds). Errors, nothing written: M_MISSING_PARAM naming a missing
  // field; M_INVALID_PARAM for a field of the wrong type, a pushkey over 512 bytes, an app_id
  // over 64 characters, a kind other than "http" (email pushers need mail sending, which this
  // server has not), a data.url that is not http(s) with the path /_matrix/push/v1/notify, a
  // data.format other than "event_id_only". Database errors.
  absl::Status Set(std::string_view user_id, std::string_view device_id,
                   const boost::json::object& body);

  // Adds to `batch` the removal of `user_id`'s pushers set from one of `device_ids`, or of all
  // of them when `deactivating`. Writes nothing itself. Database errors from reading.
  absl::Status AddRemovals(std::string_view user_id, const std::vector<std::string>& device_ids,
                           bool deactivating, database::WriteBatch& batch) const;

 private:
  explicit Pushers(Store& store) : store_(store) {}

  Store& store_;
  database::Map* pushers_ = nullptr;
  std::mutex mu_;  // serializes Set
};

// OK when `url` is http:// or https://, a non-empty host, and the path kPushGatewayPath (a query
// is allowed); M_INVALID_PARAM otherwise.
absl::Status CheckPushGatewayUrl(std::string_view url);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PUSH_PUSHERS_H_
