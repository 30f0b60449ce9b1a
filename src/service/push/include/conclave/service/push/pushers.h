// Pushers: the HTTP pushers a user's devices register (Client-Server API, "Push Notifications";
// pusher.yaml: GET /pushers, POST /pushers/set), kept in the `pushers` map (schema.h) with the
// device whose access token set each one, so that removing the device (logout, device deletion,
// a password change that logs devices out) or deactivating the account removes its pushers in
// the same WriteBatch, as Synapse does.
//
// What is sent to each pusher's gateway is queued by Notifications and sent by PushSender
// (push_sender.h); this class only keeps the pushers.
//
// Thread-safe: Set's read-modify-write steps are serialized by a lock. Owned by the Homeserver;
// must not outlive its Store.
#ifndef CONCLAVE_SERVICE_PUSH_PUSHERS_H_
#define CONCLAVE_SERVICE_PUSH_PUSHERS_H_

#include <boost/json/object.hpp>
#include <memory>
#include <mutex>
#include <optional>
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

  // One pusher's key: what Notifications queues entries under.
  struct Id {
    std::string app_id;
    std::string pushkey;
  };

  // The pushers of `user_id` as GET /pushers shows them (pushkey, kind, app_id,
  // app_display_name, device_display_name, profile_tag if set, lang, data), by app id and
  // pushkey. Database errors.
  absl::StatusOr<std::vector<boost::json::object>> List(std::string_view user_id) const;

  // The (app_id, pushkey) of each pusher of `user_id`, in key order. Database errors.
  absl::StatusOr<std::vector<Id>> Ids(std::string_view user_id) const;

  // The stored pusher `user_id` has for (`app_id`, `pushkey`), with `device_id` and
  // `pushkey_ts` (seconds since the Unix epoch when it was last set; absent for pushers set
  // before it was recorded); nullopt when there is none. kDataLoss for a record that does not
  // decode; database errors.
  absl::StatusOr<std::optional<boost::json::object>> Get(std::string_view user_id,
                                                         std::string_view app_id,
                                                         std::string_view pushkey) const;

  // Removes that pusher (the gateway rejected its pushkey: Push Gateway API, "rejected"). An
  // absent one succeeds. Database errors.
  absl::Status Remove(std::string_view user_id, std::string_view app_id, std::string_view pushkey);

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
