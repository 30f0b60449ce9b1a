// E2ee: the server's side of end-to-end encryption — device keys, one-time and fallback keys,
// the device-list changes other users learn of, and to-device messages.
//
// Client-Server API, "End-to-End Encryption" (keys.yaml: /keys/upload, /keys/query,
// /keys/claim, /keys/changes) and "Send-to-Device messaging" (to_device.yaml). The server never
// sees plaintext: it checks that uploaded device keys belong to the uploading device and are
// signed by it, and stores, serves and routes what clients give it. Device-list changes and
// to-device messages are committed on the Stream, so /sync tokens order them with everything
// else; every write of one call is one WriteBatch.
//
// Thread-safe: one mutex serializes the writes of E2ee (uploads, claims, sends, acknowledgements,
// device removal), so a claim never hands one key out twice. Owned by the Homeserver; must not
// outlive the service module.
#ifndef CONCLAVE_SERVICE_E2EE_E2EE_H_
#define CONCLAVE_SERVICE_E2EE_E2EE_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/metrics.h"
#include "conclave/core/notifier.h"
#include "conclave/database/write_batch.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/store.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service {

class FederationClient;
class TransactionQueue;

// The algorithm of the one-time and fallback keys clients use (Olm).
inline constexpr char kSignedCurve25519[] = "signed_curve25519";
// Most one-time plus fallback keys one upload may carry; more is M_TOO_LARGE. Clients upload
// about half of what libolm/vodozemac keep (50 of 100), so this leaves room.
inline constexpr size_t kMaxKeysPerUpload = 256;
// Largest device_keys object and largest single one-time key, in bytes of JSON.
inline constexpr size_t kMaxDeviceKeysBytes = 16 * 1024;
inline constexpr size_t kMaxOneTimeKeyBytes = 2 * 1024;
// Pending to-device messages kept per device; a message beyond it is dropped (logged, and
// counted in conclave_to_device_dropped_total). The device catches up once it syncs.
inline constexpr size_t kMaxPendingToDevice = 10000;
// Largest to-device request: messages addressed in one PUT (devices, after `*` expansion).
inline constexpr size_t kMaxToDeviceMessages = 10000;

// The E2EE maps (schema.h, kDeviceKeysMap and after). Must not outlive the Database.
struct E2eeMaps {
  database::Map* device_keys = nullptr;
  database::Map* one_time_keys = nullptr;
  database::Map* fallback_keys = nullptr;
  database::Map* key_changes = nullptr;
  database::Map* to_device = nullptr;
  database::Map* to_device_txns = nullptr;
  database::Map* cross_signing = nullptr;
  database::Map* key_signatures = nullptr;

  // Opens (creating if needed) every map above.
  static absl::StatusOr<E2eeMaps> Open(database::Database& db);
};

// {algorithm: count} of a device's one-time keys (keys.yaml `one_time_key_counts`, /sync's
// `device_one_time_keys_count`); signed_curve25519 always present.
using KeyCounts = std::map<std::string, int64_t>;

// POST /keys/upload (keys.yaml): what the device uploads, each part optional. Keys are by
// "<algorithm>:<key_id>", each a signed object or a string as the client sent it.
struct KeysUploadRequest {
  std::optional<boost::json::object> device_keys;
  std::map<std::string, boost::json::value> one_time_keys;
  std::map<std::string, boost::json::value> fallback_keys;
};

// POST /keys/signatures/upload: user_id → key id (a device id, or a master key's public key)
// → the signed object as uploaded (anything else is a failure of that key).
using SignaturesUploadRequest = std::map<std::string, std::map<std::string, boost::json::value>>;
// Its `failures`: user_id → key id → why (a Matrix error status: M_INVALID_SIGNATURE,
// M_NOT_FOUND, M_INVALID_PARAM, M_BAD_JSON).
using SignatureFailures = std::map<std::string, std::map<std::string, absl::Status>>;

// Why a server's users are missing from a query or claim (keys.yaml `failures`): the server
// could not be reached or answered an error ({status 503, message naming it}), or there is no
// federation client ({status 503, "Federation is not supported by this server"}).
struct ServerFailure {
  int status = 503;
  std::string message;
};

// POST /keys/query's `device_keys`: user_id → the device ids wanted (empty: all the user's).
using KeysQueryRequest = std::map<std::string, std::vector<std::string>>;
// Its answer. The key objects are the signed JSON as uploaded (plus `unsigned` for devices, and
// the viewer's own signatures of other users' master keys).
struct KeysQueryResult {
  // user_id → device_id → device keys; every local user asked has an entry, maybe empty.
  std::map<std::string, std::map<std::string, boost::json::object>> device_keys;
  std::map<std::string, boost::json::object> master_keys;        // by user_id
  std::map<std::string, boost::json::object> self_signing_keys;  // by user_id
  std::map<std::string, boost::json::object> user_signing_keys;  // the asker's own only
  std::map<std::string, ServerFailure> failures;                 // by server name
};

// POST /keys/claim's `one_time_keys`: user_id → device_id → algorithm.
using KeysClaimRequest = std::map<std::string, std::map<std::string, std::string>>;
// One claimed key: its "<algorithm>:<key_id>" and the key as uploaded (signed object or string).
struct ClaimedKey {
  std::string key_id;
  boost::json::value key;
};
struct KeysClaimResult {
  // user_id → device_id → key; users and devices with no key left are absent.
  std::map<std::string, std::map<std::string, ClaimedKey>> one_time_keys;
  std::map<std::string, ServerFailure> failures;  // by server name
};

// Users whose devices a /sync or /keys/changes reports (device_lists, keys.yaml "changes").
struct DeviceListChanges {
  std::set<std::string> changed;  // share a room with the user and changed devices or keys
  std::set<std::string> left;     // no longer share any room with the user
};

// One pending to-device message, for /sync's to_device.events.
struct ToDeviceMessage {
  uint64_t position = 0;
  std::string sender;
  std::string type;
  boost::json::object content;
};

// One device's pending to-device messages (admin: the backlog).
struct ToDeviceBacklog {
  std::string user_id;
  std::string device_id;
  size_t pending = 0;
  // When the oldest of them was stored, milliseconds since the Unix epoch; 0 when unknown (a
  // message stored before conclave recorded the time).
  int64_t oldest_ms = 0;
};

class E2ee {
 public:
  // What E2ee uses; every reference must outlive it.
  struct Deps {
    std::string server_name;
    Store& store;
    Stream& stream;
    core::Notifier& notifier;  // woken: recipients of to-device messages, users sharing a room
    core::MetricsRegistry& metrics;
    Accounts& accounts;  // devices (for `*` and display names)
    Rooms& rooms;        // who shares a room with whom
    // Where to-device messages for users of other servers go (m.direct_to_device EDUs); null:
    // they are dropped.
    TransactionQueue* federation_queue = nullptr;
    // Key queries and claims for users of other servers; null: those servers are `failures`.
    FederationClient* federation_client = nullptr;
  };
  // Opens the E2EE maps. Database errors.
  static absl::StatusOr<std::unique_ptr<E2ee>> Open(Deps deps);

  // --- keys (keys.cc) ---------------------------------------------------------------------------
  // POST /keys/upload for `session`'s device. Returns the device's one-time key counts afterwards.
  // Matrix errors, with nothing stored: M_BAD_JSON for wrong shapes (key ids, device keys);
  // M_INVALID_PARAM for device keys of another user or device, changed keys of a device that
  // already has keys, or a one-time key id uploaded before with other content;
  // M_INVALID_SIGNATURE for a missing or wrong self-signature (signed keys are checked against
  // the device's ed25519 key when it is known); M_TOO_LARGE beyond kMaxKeysPerUpload keys or the
  // byte limits above.
  absl::StatusOr<KeyCounts> Upload(const Session& session, const KeysUploadRequest& request);
  // POST /keys/query by `session`'s user: device keys with `unsigned.device_display_name`;
  // master and self-signing keys of the asked users that have them, the user-signing key only
  // the asker's own. Users of other servers are asked of their server (POST
  // /_matrix/federation/v1/user/keys/query, one request per server, one after the other, all
  // within `timeout`; this blocks: call it from a blocking route): of its answer only the
  // asked users' keys whose `user_id` (and `device_id`) match are kept; a server that cannot
  // be reached or answers an error is in `failures`. M_INVALID_PARAM for a user id that is not
  // one; database errors.
  absl::StatusOr<KeysQueryResult> Query(const Session& session, const KeysQueryRequest& request,
                                        absl::Duration timeout = absl::Seconds(10));
  // POST /keys/claim: one key per asked device, removed in the same batch that reads it; the
  // device's fallback key (marked used, kept) when none is left. Unknown users and devices are
  // left out (keys.yaml). Users of other servers are claimed from their server (POST
  // /_matrix/federation/v1/user/keys/claim, as Query does, within `timeout`), unreachable ones
  // listed in `failures`. M_INVALID_PARAM for a user id that is not one, M_TOO_LARGE beyond
  // kMaxToDeviceMessages devices.
  absl::StatusOr<KeysClaimResult> Claim(const KeysClaimRequest& request,
                                        absl::Duration timeout = absl::Seconds(10));
  // Server-Server API "End-to-End Encryption", POST /user/keys/query: Query of the local users
  // in `request` as another server sees them (no user-signing keys, no viewer's signatures);
  // users of other servers are left out. Database errors.
  absl::StatusOr<KeysQueryResult> QueryForServer(const KeysQueryRequest& request);
  // POST /user/keys/claim: Claim of the local users in `request`; others are left out.
  // M_TOO_LARGE beyond kMaxToDeviceMessages devices; database errors.
  absl::StatusOr<KeysClaimResult> ClaimForServer(const KeysClaimRequest& request);
  // GET /user/devices/{userId} (user_devices.yaml): the local user's devices that have keys,
  // their master and self-signing keys, and the stream position as `stream_id`. M_NOT_FOUND for
  // a user who does not exist (or is not local); database errors.
  struct UserDevice {
    std::string device_id;
    boost::json::object keys;
    std::optional<std::string> display_name;
  };
  struct UserDevicesResult {
    uint64_t stream_id = 0;
    std::vector<UserDevice> devices;
    std::optional<boost::json::object> master_key;
    std::optional<boost::json::object> self_signing_key;
  };
  absl::StatusOr<UserDevicesResult> UserDevices(std::string_view user_id) const;
  // The device's one-time key counts. Database errors.
  absl::StatusOr<KeyCounts> OneTimeKeyCounts(std::string_view user_id,
                                             std::string_view device_id) const;
  // Algorithms of the device's fallback keys not yet claimed.
  absl::StatusOr<std::vector<std::string>> UnusedFallbackKeyTypes(std::string_view user_id,
                                                                  std::string_view device_id) const;

  // --- cross-signing (cross_signing.cc) ------------------------------------------------------
  // Whether POST /keys/device_signing/upload of `body` must pass user-interactive auth
  // (cross_signing.yaml): the user has a master key and `body` holds a key that differs from
  // the stored one. Database errors.
  absl::StatusOr<bool> CrossSigningNeedsAuth(const Session& session,
                                             const boost::json::object& body) const;
  // Stores `body`'s master_key, self_signing_key and user_signing_key (each optional) for
  // `session`'s user, with a key change (the user's device list changes for whoever shares a
  // room). Matrix errors, with nothing stored: M_BAD_JSON for wrong shapes; M_INVALID_PARAM for a
  // key of another user, the wrong `usage`, or not exactly one ed25519 key; M_INVALID_SIGNATURE
  // when a self-signing or user-signing key is not signed by the master key (the uploaded one,
  // else the stored one); M_MISSING_PARAM for such a key with no master key at all.
  absl::Status UploadCrossSigning(const Session& session, const boost::json::object& body);
  // POST /keys/signatures/upload: `request` is {user_id: {key_id: signed object}}; each object must
  // be the stored key (a device's device keys, by device id, or a master key, by its public
  // key) with new signatures by the uploader: of the uploader's own devices by their
  // self-signing key, of their own master key by one of their devices, of another user's master
  // key by their user-signing key (kept apart and shown to the uploader only). Valid signatures
  // are stored, with a key change of the signed user; the result lists the others
  // (M_INVALID_SIGNATURE, M_NOT_FOUND for an unknown key, M_INVALID_PARAM for an object that is
  // not the stored key, M_BAD_JSON for one that is not an object). Database errors.
  absl::StatusOr<SignatureFailures> UploadSignatures(const Session& session,
                                                     const SignaturesUploadRequest& request);

  // --- device lists (device_lists.cc) ------------------------------------------------------
  // Users whose device lists concern `user_id` between stream positions `after` (exclusive) and
  // `upto` (inclusive): changed (themselves, or users sharing a room, who changed devices or
  // keys; users who started sharing a room) and left (stopped sharing every room).
  // `memberships` are the user's rooms (Rooms::UserRooms). Database errors.
  absl::StatusOr<DeviceListChanges> Changes(std::string_view user_id, uint64_t after, uint64_t upto,
                                            const std::vector<UserRoom>& memberships) const;

  // --- to-device (to_device.cc) -------------------------------------------------------------
  // PUT /sendToDevice/{type}/{txn_id}: `messages` is {user_id: {device_id or "*": content}}.
  // Stores one message per addressed device at one stream position and wakes the recipients;
  // the same (device, txn_id) again stores nothing and succeeds (idempotent). Local users and
  // devices that do not exist are skipped. The messages for users of other servers become one
  // m.direct_to_device EDU per server (Server-Server API "Send-to-device messaging"; message_id
  // "<device_id>/<txn_id>"), queued on `federation_queue` in the same batch (dropped when there
  // is none). M_BAD_JSON for wrong shapes, M_INVALID_PARAM for a bad user id, M_TOO_LARGE beyond
  // kMaxToDeviceMessages.
  absl::Status SendToDevice(const Session& session, std::string_view type, std::string_view txn_id,
                            const boost::json::object& messages);
  // An m.direct_to_device EDU `content` ({sender, type, message_id, messages}) from `origin`:
  // the messages for local users are stored as SendToDevice stores them (`*`: every device;
  // unknown users and devices, and users of other servers, skipped), once per (sender,
  // message_id). M_BAD_JSON for a wrong shape, M_FORBIDDEN when the sender is not a user of
  // `origin`; database errors.
  absl::Status ReceiveToDevice(std::string_view origin, const boost::json::object& content);
  // m.device_list_update and m.signing_key_update from `origin`: records a key change of
  // `user_id` at a new stream position, so /sync device_lists.changed and /keys/changes report
  // it to the local users who share a room with that user (none until rooms federate), and
  // wakes them. M_FORBIDDEN when `user_id` is not a user of `origin`; M_INVALID_PARAM when it
  // is not a user id; database errors.
  absl::Status RecordRemoteKeyChange(std::string_view origin, std::string_view user_id);
  // The device's pending messages with position <= `upto`, in stream order, after deleting
  // those at or before `acknowledged` (the `since` of a sync, which proves the client received
  // them; nullopt on an initial sync: nothing deleted). Database errors.
  absl::StatusOr<std::vector<ToDeviceMessage>> ToDeviceForSync(std::string_view user_id,
                                                               std::string_view device_id,
                                                               std::optional<uint64_t> acknowledged,
                                                               uint64_t upto);
  // Pending to-device messages of the device (admin: the backlog). Database errors.
  absl::StatusOr<size_t> PendingToDevice(std::string_view user_id, std::string_view device_id);
  // Every device with pending to-device messages — of `user_id` only, when not empty — ordered
  // by user and device id (admin: the backlog). One scan of e2ee_to_device, so time linear in
  // the messages pending (at most kMaxPendingToDevice per device). Database errors, DataLoss for
  // a corrupt row.
  absl::StatusOr<std::vector<ToDeviceBacklog>> ToDeviceBacklogs(std::string_view user_id) const;
  // to-device messages dropped because a device had kMaxPendingToDevice pending, since start.
  uint64_t dropped_to_device() const { return dropped_->value(); }

  // --- devices (e2ee.cc) ---------------------------------------------------------------------
  // Accounts' device-removal hook: adds to `batch` the deletion of the devices' keys and pending
  // to-device messages, and when `deactivating` the account also of the user's cross-signing
  // keys and of the signatures others made of its master key; commits `batch` (which holds
  // Accounts' own deletions) on the stream with a key change of `user_id`, and wakes the users
  // sharing a room, so their device_lists show it. Database errors (then nothing is written).
  absl::Status CommitDeviceRemoval(std::string_view user_id,
                                   const std::vector<std::string>& device_ids, bool deactivating,
                                   database::WriteBatch& batch);

 private:
  E2ee(Deps deps, E2eeMaps maps);

  // Adds the key-change row of `user_id` at `position` to `batch`.
  void AddKeyChange(std::string_view user_id, uint64_t position, database::WriteBatch& batch);
  // Wakes `user_id` and every user sharing a room with it.
  void NotifyDeviceChange(std::string_view user_id);
  // The cross-signing key of `user_id` for `usage`, nullopt when none. Database errors.
  absl::StatusOr<std::optional<boost::json::object>> StoredCrossSigningKey(
      std::string_view user_id, std::string_view usage) const;
  // Adds to `user_id`'s master key `key` the signatures `viewer` made of it with their
  // user-signing key (e2ee_key_signatures). Database errors.
  absl::Status AddViewerSignatures(std::string_view viewer, std::string_view user_id,
                                   boost::json::object& key) const;
  // The signed device_keys of (user, device), nullopt when none. Database errors.
  absl::StatusOr<std::optional<boost::json::object>> StoredDeviceKeys(
      std::string_view user_id, std::string_view device_id) const;
  // Whether (user, device) exists in `devices`.
  absl::StatusOr<bool> DeviceExists(std::string_view user_id, std::string_view device_id) const;
  // Pending to-device count of a device, from the cache or counted. Caller holds mu_.
  absl::StatusOr<size_t> PendingLocked(const std::string& device_key);
  // One message to store for a local device.
  struct Recipient {
    std::string user_id;
    std::string device_id;
    const boost::json::object* content;
  };
  // Adds to `out` the local devices `devices` ({device_id or "*": content}) of local `user`
  // addresses, once per device (`seen`). Database errors.
  absl::Status AddRecipients(const std::string& user, const boost::json::object& devices,
                             std::set<std::pair<std::string, std::string>>& seen,
                             std::vector<Recipient>& out) const;
  // Stores `recipients`' messages from `sender` of `type` at one stream position with the
  // txn row `txn_row` (nothing when it exists already), adds `extra` to the same batch (the
  // EDUs for other servers), and wakes the recipients. Database errors.
  absl::Status StoreToDevice(std::string_view sender, std::string_view type,
                             const std::string& txn_row, const std::vector<Recipient>& recipients,
                             absl::FunctionRef<void(database::WriteBatch&)> extra);
  // Query's and Claim's local part, of the local users in `request` (others skipped); `viewer`
  // empty for another server (no user-signing keys, no viewer's signatures).
  absl::Status QueryLocal(std::string_view viewer, const KeysQueryRequest& request,
                          KeysQueryResult& result);
  absl::Status ClaimLocal(const KeysClaimRequest& request, KeysClaimResult& result);

  Deps deps_;
  E2eeMaps maps_;
  // conclave_to_device_dropped_total (lives as long as the registry), or unexported_dropped_
  // when it could not be registered.
  core::Counter* dropped_;
  core::Counter unexported_dropped_;

  std::mutex mu_;
  // DeviceKey(user, device) → pending to-device messages, for the devices counted since load.
  absl::flat_hash_map<std::string, size_t> pending_;  // guarded by mu_
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_E2EE_E2EE_H_
