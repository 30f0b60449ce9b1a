// KeyBackup: server-side backups of room keys — per user, numbered backup versions (algorithm,
// auth_data, etag, key count) and the encrypted Megolm session keys stored in them per room and
// session.
//
// Client-Server API, "Server-side key backups" (end_to_end_encryption.md) and key_backup.yaml
// (/room_keys/version, /room_keys/keys at the three levels). The server never decrypts
// anything: `auth_data` and `session_data` are kept and served as uploaded. The types below are
// the api/service boundary; the api owns the JSON shapes and turns them into these. Every write
// of one call is one WriteBatch (the keys with their version's count and etag).
//
// Thread-safe: one mutex serializes the writes (version numbers, counts and etags are
// read-modify-write); reads take no lock. Owned by the Homeserver; must not outlive the service
// module.
#ifndef CONCLAVE_SERVICE_E2EE_BACKUP_H_
#define CONCLAVE_SERVICE_E2EE_BACKUP_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/database/write_batch.h"
#include "conclave/service/storage/store.h"

namespace conclave::service {

// The one backup algorithm the spec defines (key_backup.yaml's enum). Others are stored too:
// clients try newer ones (MSC4048) and the server does not read `auth_data` anyway.
inline constexpr char kMegolmBackupV1[] = "m.megolm_backup.v1.curve25519-aes-sha2";
// Largest `auth_data` and largest `session_data` of one key, in bytes of JSON; more is
// M_TOO_LARGE. A curve25519 backup's auth_data with a few signatures is under 1 KiB, a
// session's ciphertext about 1.5 KiB.
inline constexpr size_t kMaxBackupAuthDataBytes = 16 * 1024;
inline constexpr size_t kMaxBackupSessionDataBytes = 16 * 1024;
// Longest room id and session id a backed-up key may have, in bytes (the identifier limit).
inline constexpr size_t kMaxBackupIdBytes = 255;

// One backup version, as GET /room_keys/version[/{version}] answers it.
struct BackupVersion {
  std::string version;  // decimal, increasing per user: "1", "2", ...
  std::string algorithm;
  boost::json::object auth_data;
  uint64_t count = 0;  // keys stored in the version
  std::string etag;    // changes whenever the version's keys change
};

// POST /room_keys/version and PUT /room_keys/version/{version}: `version` only for the PUT,
// where the body may repeat the path's version.
struct BackupVersionRequest {
  std::string algorithm;
  boost::json::object auth_data;
  std::optional<std::string> version;
};

// One backed-up session key (key_backup.yaml KeyBackupData).
struct BackedUpKey {
  int64_t first_message_index = 0;
  int64_t forwarded_count = 0;
  bool is_verified = false;
  boost::json::object session_data;  // algorithm-dependent, opaque to the server

  friend bool operator==(const BackedUpKey&, const BackedUpKey&) = default;
};

// Backed-up keys: room_id → session_id → key, sorted.
using BackedUpKeys = std::map<std::string, std::map<std::string, BackedUpKey>>;

// Which keys of a version a GET or DELETE of /room_keys/keys addresses: all of them, one
// room's (`room_id`), or one session's (`room_id` and `session_id`).
struct BackupKeyScope {
  std::optional<std::string> room_id;
  std::optional<std::string> session_id;  // only with room_id
};

// What a PUT or DELETE of /room_keys/keys answers (RoomKeysUpdateResponse).
struct BackupKeysUpdate {
  std::string etag;
  uint64_t count = 0;
};

// Whether `incoming` replaces `stored` for the same session (end_to_end_encryption.md,
// "Server-side key backups"): the verified one wins; with equal is_verified, the lower
// first_message_index; with that equal too, the lower forwarded_count. A full tie keeps
// `stored`. Pure.
bool ReplacesBackedUpKey(const BackedUpKey& stored, const BackedUpKey& incoming);

class KeyBackup {
 public:
  // Opens (creating if needed) the backup maps of `store`, which must outlive the KeyBackup.
  // Database errors.
  static absl::StatusOr<std::unique_ptr<KeyBackup>> Open(Store& store);

  // --- versions ------------------------------------------------------------------------------
  // POST /room_keys/version: a new version for `user_id`, numbered one past every version the
  // user ever had (deleted ones too), which becomes the current one. Returns its version string.
  // M_MISSING_PARAM for an empty algorithm, M_TOO_LARGE beyond kMaxBackupAuthDataBytes,
  // M_USER_DEACTIVATED once the account's backups were removed; database errors.
  absl::StatusOr<std::string> CreateVersion(std::string_view user_id,
                                            const BackupVersionRequest& request);
  // GET /room_keys/version (`version` nullopt: the current one, the highest not deleted) and
  // GET /room_keys/version/{version}. M_NOT_FOUND "No current backup version" /
  // "Unknown backup version" (also for a deleted one, or a string that is not a version).
  absl::StatusOr<BackupVersion> GetVersion(std::string_view user_id,
                                           std::optional<std::string_view> version) const;
  // PUT /room_keys/version/{version}: replaces the auth_data. M_NOT_FOUND for an unknown or
  // deleted version; M_INVALID_PARAM when `request.algorithm` is not the version's or
  // `request.version` is given and differs from `version`; M_TOO_LARGE as CreateVersion.
  absl::Status UpdateVersion(std::string_view user_id, std::string_view version,
                             const BackupVersionRequest& request);
  // DELETE /room_keys/version/{version}: deletes the version and every key in it, in one batch.
  // Succeeds for a version deleted before; M_NOT_FOUND for one that never existed.
  absl::Status DeleteVersion(std::string_view user_id, std::string_view version);
  // Every live version of `user_id`, oldest first (admin). Database errors.
  absl::StatusOr<std::vector<BackupVersion>> ListVersions(std::string_view user_id) const;

  // --- keys ----------------------------------------------------------------------------------
  // PUT /room_keys/keys[/{roomId}[/{sessionId}]]: stores `keys` in `version`, each replacing a
  // stored key of its session only when ReplacesBackedUpKey says so; the etag changes when any
  // key was stored. M_NOT_FOUND when the user has no backup (or `version` is not a version
  // string and there is none); M_WRONG_ROOM_KEYS_VERSION with the current version
  // (CurrentRoomKeysVersion) when `version` is not the current one; M_INVALID_PARAM for a room
  // id that does not start with '!', an empty session id or either longer than
  // kMaxBackupIdBytes; M_TOO_LARGE for session_data beyond kMaxBackupSessionDataBytes. Nothing
  // is stored on error.
  absl::StatusOr<BackupKeysUpdate> PutKeys(std::string_view user_id, std::string_view version,
                                           const BackedUpKeys& keys);
  // GET /room_keys/keys[/{roomId}[/{sessionId}]]: the keys of `version` in `scope` (rooms with
  // none are absent). M_NOT_FOUND "Unknown backup version" for an unknown or deleted version,
  // "Key not found" for a session scope with no key.
  absl::StatusOr<BackedUpKeys> GetKeys(std::string_view user_id, std::string_view version,
                                       const BackupKeyScope& scope) const;
  // DELETE /room_keys/keys[/{roomId}[/{sessionId}]]: deletes the keys of `version` in `scope`
  // (none there is no error); the etag changes when any was deleted. M_NOT_FOUND for an unknown
  // or deleted version.
  absl::StatusOr<BackupKeysUpdate> DeleteKeys(std::string_view user_id, std::string_view version,
                                              const BackupKeyScope& scope);

  // --- accounts ------------------------------------------------------------------------------
  // Accounts' deactivation hook: adds to `batch` the deletion of every version (tombstones
  // included) and key of `user_id`, and refuses the user's backup writes from now on (so none
  // lands between this call and the batch's commit). Database errors.
  absl::Status AddUserRemoval(std::string_view user_id, database::WriteBatch& batch);

 private:
  KeyBackup(Store& store, database::Map* versions, database::Map* keys)
      : store_(store), versions_(versions), keys_(keys) {}

  // M_USER_DEACTIVATED once AddUserRemoval ran for `user_id`. Caller holds mu_.
  absl::Status CheckNotRemoved(std::string_view user_id) const;

  Store& store_;
  database::Map* versions_;
  database::Map* keys_;

  std::mutex mu_;
  absl::flat_hash_set<std::string> removed_users_;  // guarded by mu_
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_E2EE_BACKUP_H_
