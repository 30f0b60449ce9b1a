// The homeserver's on-disk schema, in one place: the name of every map (RocksDB column family)
// the service module keeps, and the encoder of every key it writes. store.h says what each map
// holds; verify.cc checks exactly these rows. Internal to the service module: api and admin go
// through the domain classes, never through keys.
//
// Keys are database::KeyBuilder strings (escaped strings, big-endian integers), so a key's
// leading parts are a prefix of it and positions sort numerically. All functions are pure and
// thread-safe.
#ifndef CONCLAVE_SERVICE_STORAGE_SCHEMA_H_
#define CONCLAVE_SERVICE_STORAGE_SCHEMA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "conclave/database/iterator.h"

namespace conclave::service::schema {

// Maps that Store (store.h) does not open at every load.
// `banned_rooms`: room_id → {banned_by, reason, banned_ts}; created on the first ban, so verify
// opens it only when it exists.
inline constexpr char kBannedRoomsMap[] = "banned_rooms";
// `remote_invites`: PairKey(user_id, room_id) → {room_id, pos, event, invite_state}: an invite
// of a local user to a room of another server (Server-Server API "Inviting to a room", PUT
// /v2/invite): the invite as this server signed it, the invite_room_state it came with plus the
// invite stripped, and the stream position at which it arrived (/sync's rooms.invite).
// Created on the first remote invite (Rooms::StoreRemoteInvite, room_federation.cc).
inline constexpr char kRemoteInvitesMap[] = "remote_invites";
// `globals`: "schema_version" → u64, "first_start_us" → u64 (globals.cc).
inline constexpr char kGlobalsMap[] = "globals";
// The one key of the `stream` map; its value is the last stream position (EncodePosition).
inline constexpr char kStreamPositionKey[] = "position";

// A u64 as stored (big-endian), and back (kDataLoss-like errors of KeyReader when it is not).
std::string EncodePosition(uint64_t position);
absl::StatusOr<uint64_t> DecodePosition(std::string_view value);

// The key of one user or one room: also the prefix of every key the user or room leads
// (devices, filters and account_data by user; timeline, room_state, room_members, receipts,
// room_aliases and message_index by room).
std::string UserPrefix(std::string_view user_id);
std::string RoomPrefix(std::string_view room_id);
// Iterator options visiting one room's entries (keys starting with RoomPrefix).
database::IteratorOptions RoomIteration(std::string_view room_id);

// `devices`: user_id, device_id.
std::string DeviceKey(std::string_view user_id, std::string_view device_id);
// `filters`: user_id, filter_id.
std::string FilterKey(std::string_view user_id, std::string_view filter_id);
// `account_data`: user_id, room_id ("" for global), type.
std::string AccountDataKey(std::string_view user_id, std::string_view room_id,
                           std::string_view type);
// `timeline` and `message_index`: room_id, position.
std::string TimelineKey(std::string_view room_id, uint64_t position);
// The position of a `timeline` key (room_id, position).
absl::StatusOr<uint64_t> PositionOfTimelineKey(std::string_view key);
// `room_state`: room_id, type, state_key.
std::string StateKeyOf(std::string_view room_id, std::string_view type, std::string_view state_key);
// Two strings: `room_members` (room_id, user_id), `user_rooms` (user_id, room_id),
// `room_aliases` (room_id, alias).
std::string PairKey(std::string_view a, std::string_view b);
// `receipts`: room_id, receipt type, user_id.
std::string ReceiptKey(std::string_view room_id, std::string_view receipt_type,
                       std::string_view user_id);
// `receipts` of one thread (receipts.md "Threaded read receipts"): room_id, receipt type,
// user_id, thread_id ("main" or the thread root's event id). Unthreaded receipts keep
// ReceiptKey, so a user has one of those and one per thread.
std::string ThreadedReceiptKey(std::string_view room_id, std::string_view receipt_type,
                               std::string_view user_id, std::string_view thread_id);
// `txn_ids`: who sent, from which device, with which transaction id.
std::string TxnKey(std::string_view user_id, std::string_view device_id, std::string_view txn_id);

// --- relations (Client-Server API "Forming relationships between events"; EventWriter) ---------
// `relations`: RelationKey → {event_id, type, sender, ts} of a child event whose content's
// `m.relates_to` names the parent (relation_rows.h). Redacting the child deletes the row.
std::string RelationKey(std::string_view room_id, std::string_view parent_id,
                        std::string_view rel_type, uint64_t position);
// The prefix of a parent's `relations` rows, or of those of one rel_type when given.
std::string RelationPrefix(std::string_view room_id, std::string_view parent_id,
                           std::optional<std::string_view> rel_type = std::nullopt);
// `threads`: ThreadKey → "": one row per thread root, at the stream position of its latest
// m.thread child, so a room's threads iterate by latest activity (GET /threads).
std::string ThreadKey(std::string_view room_id, uint64_t position, std::string_view root_id);

// --- end-to-end encryption (service/e2ee/; E2eeMaps opens these at every load) ---------------
// `e2ee_device_keys`: DeviceKey(user_id, device_id) → the signed device_keys object as uploaded.
inline constexpr char kDeviceKeysMap[] = "e2ee_device_keys";
// `e2ee_one_time_keys`: OneTimeKeyKey → the key as uploaded (a signed object or a string).
inline constexpr char kOneTimeKeysMap[] = "e2ee_one_time_keys";
// `e2ee_fallback_keys`: FallbackKeyKey → {key_id, key, used}.
inline constexpr char kFallbackKeysMap[] = "e2ee_fallback_keys";
// `e2ee_key_changes`: KeyChangeKey(position, user_id) → "": the user's device list or device
// keys changed in the commit at that stream position.
inline constexpr char kKeyChangesMap[] = "e2ee_key_changes";
// `e2ee_to_device`: ToDeviceKey → {sender, type, content}, pending until a sync acknowledges it.
inline constexpr char kToDeviceMap[] = "e2ee_to_device";
// `e2ee_cross_signing`: PairKey(user_id, usage) → the signed cross-signing key as uploaded;
// usage is master, self_signing or user_signing.
inline constexpr char kCrossSigningMap[] = "e2ee_cross_signing";
// `e2ee_key_signatures`: KeySignatureKey → {signer's key id: signature}: signatures of another
// user's master key by the signer's user-signing key, shown to the signer only.
inline constexpr char kKeySignaturesMap[] = "e2ee_key_signatures";
// `e2ee_to_device_txns`: TxnKey(sender, sender's device, txn_id) → the stream position; for
// messages from other servers (m.direct_to_device EDUs) TxnKey(sender, "", message_id), which
// deduplicates them per sender (Server-Server API "Send-to-device messaging").
inline constexpr char kToDeviceTxnsMap[] = "e2ee_to_device_txns";

// --- media repository (service/media/; MediaStore opens these at every load) ------------------
// `media`: media_id → {uploader, content_type, filename, size, sha256, created_ts} of a local
// upload; sha256 (hex) is empty while a media id made by /create waits for its upload (then
// `unused_expires_ts` says until when). The content is the file named by sha256 under the media
// directory (service/media/content_files.h).
inline constexpr char kMediaMap[] = "media";
// `media_by_user`: MediaByUserKey(uploader, created_ts, media_id) → "": a user's media, oldest
// first (admin commands).
inline constexpr char kMediaByUserMap[] = "media_by_user";
std::string MediaByUserKey(std::string_view user_id, int64_t created_ts, std::string_view media_id);
// `media_content`: sha256 (hex) → u64 (EncodePosition): how many `media` rows name that content.
// A content file goes when its count reaches zero; no row for a count of zero.
inline constexpr char kMediaContentMap[] = "media_content";
// `media_usage`: user_id → two u64 (EncodeMediaUsage in service/media): the bytes and the number
// of a user's uploaded media, for quotas; no row for a user with none.
inline constexpr char kMediaUsageMap[] = "media_usage";

// `e2ee_one_time_keys`: user_id, device_id, algorithm, key_id.
std::string OneTimeKeyKey(std::string_view user_id, std::string_view device_id,
                          std::string_view algorithm, std::string_view key_id);
// The prefix of a device's `e2ee_one_time_keys` of one algorithm.
std::string OneTimeKeyPrefix(std::string_view user_id, std::string_view device_id,
                             std::string_view algorithm);
// `e2ee_fallback_keys`: user_id, device_id, algorithm.
std::string FallbackKeyKey(std::string_view user_id, std::string_view device_id,
                           std::string_view algorithm);
// `e2ee_key_signatures`: the signed user, the signed key's id (its public key), the signer.
std::string KeySignatureKey(std::string_view user_id, std::string_view key_id,
                            std::string_view signer);
// `e2ee_key_changes`: position, user_id (so a window of positions is one key range).
std::string KeyChangeKey(uint64_t position, std::string_view user_id);
// `e2ee_to_device`: user_id, device_id, position (stream order per device).
std::string ToDeviceKey(std::string_view user_id, std::string_view device_id, uint64_t position);

// --- server-side key backup (service/e2ee/backup.cc; KeyBackup opens these at every load) -----
// `e2ee_backup_versions`: BackupVersionKey → {algorithm, auth_data, etag, count} for a live
// backup version, {deleted: true} for a deleted one (kept so a version number is never given
// out twice and a repeated DELETE succeeds, key_backup.yaml).
inline constexpr char kBackupVersionsMap[] = "e2ee_backup_versions";
// `e2ee_backup_keys`: BackupKeyKey → {first_message_index, forwarded_count, is_verified,
// session_data} (key_backup.yaml KeyBackupData).
inline constexpr char kBackupKeysMap[] = "e2ee_backup_keys";

// `e2ee_backup_versions`: user_id, version (so a user's versions sort numerically).
std::string BackupVersionKey(std::string_view user_id, uint64_t version);
// `e2ee_backup_keys`: user_id, version, room_id, session_id.
std::string BackupKeyKey(std::string_view user_id, uint64_t version, std::string_view room_id,
                         std::string_view session_id);
// The prefix of one version's `e2ee_backup_keys`, or of one room's keys in it when `room_id`
// is given.
std::string BackupKeyPrefix(std::string_view user_id, uint64_t version,
                            std::optional<std::string_view> room_id = std::nullopt);

// --- push (service/push/; Notifications opens these at every load) --------------------------
// `push_counts`: PushCountKey(user_id, room_id, position) → {"h": true when highlighted, "t":
// the thread root's event id, absent for the main timeline}: one row per event that notified the
// user, written in the event's WriteBatch; unread counts are the rows after the read position.
inline constexpr char kPushCountsMap[] = "push_counts";
// `push_notifications`: NotificationKey(user_id, position) → {room_id, event_id, actions, ts,
// highlight}: the same events in the user's stream order, for GET /notifications.
inline constexpr char kPushNotificationsMap[] = "push_notifications";
// `push_read`: PushReadKey(user_id, room_id, thread) → EncodePosition: the user's own newest
// event in one count partition of the room ("main" or a thread root), which marks what came
// before it in that partition as read (Client-Server API "Marking notifications as read":
// "either by using the API or by sending an event"; "Threaded read receipts"). Rows written
// before threads were told apart have the key PairKey(user_id, room_id) and mark every
// partition.
inline constexpr char kPushReadMap[] = "push_read";

// `push_counts`: user_id, room_id, position.
std::string PushCountKey(std::string_view user_id, std::string_view room_id, uint64_t position);
// `push_read`: user_id, room_id, thread ("main" or the thread root's event id).
std::string PushReadKey(std::string_view user_id, std::string_view room_id,
                        std::string_view thread);
// `push_notifications`: user_id, position.
std::string NotificationKey(std::string_view user_id, uint64_t position);
// `pushers`: PusherKey(user_id, app_id, pushkey) → the pusher as GET /pushers shows it plus
// `device_id`, the device whose access token set it (removed with that device).
inline constexpr char kPushersMap[] = "pushers";
// `push_queue`: PushQueueKey(user_id, app_id, pushkey, position) → {room_id, event_id, prio
// ("high" or "low"), tweaks (the notifying rule's set_tweak actions), room_name, room_alias and
// sender_display_name when known, attempts, next_attempt_ts (ms since the Unix epoch; 0: at
// once)}: one pending Push Gateway request per pusher and notified event, in stream order,
// written by Notifications::Put in the event's WriteBatch and sent by PushSender
// (service/push/push_sender.h); removed once the gateway accepted it (or rejected its pushkey,
// which removes the pusher too), when its pusher is gone, or after its last attempt; retried
// with backoff after `next_attempt_ts`.
inline constexpr char kPushQueueMap[] = "push_queue";

// `pushers`: user_id, app_id, pushkey.
std::string PusherKey(std::string_view user_id, std::string_view app_id, std::string_view pushkey);
// `push_queue`: user_id, app_id, pushkey, position.
std::string PushQueueKey(std::string_view user_id, std::string_view app_id,
                         std::string_view pushkey, uint64_t position);

// --- federation: other servers' keys (service/federation/remote_keys.h; RemoteKeys opens these
// at every load) ------------------------------------------------------------------------------
// `federation_server_keys`: PairKey(server_name, key_id) → {key (unpadded base64 ed25519),
// valid_until_ts (ms; the lesser of the server's and 7 days after the fetch, keys_server.yaml),
// expired_ts (ms; only for an old key, from `old_verify_keys`), fetched_ts (ms)}: one row per
// key a server published; a key that left `verify_keys` keeps its row and its valid_until_ts.
inline constexpr char kServerKeysMap[] = "federation_server_keys";
// `federation_key_responses`: server_name → the GET /_matrix/key/v2/server answer as fetched
// (its own signatures intact), which the notary endpoints serve with this server's signature
// added.
inline constexpr char kServerKeyResponsesMap[] = "federation_key_responses";

// --- federation transactions (service/federation/transaction_queue.h and
// inbound_transactions.h; opened at every load) ------------------------------------------------
// `federation_outbound_edus`: OutboundKey(destination, seq) → {edu_type, content}: an EDU
// waiting to go to `destination` in a PUT /send transaction (TransactionQueue), in queue order
// (`seq` grows across destinations and restarts); removed once a transaction carrying it got a
// 200.
inline constexpr char kOutboundEdusMap[] = "federation_outbound_edus";
// `federation_outbound_pdus`: OutboundKey(destination, seq) → the PDU as it is to be sent; the
// same life as the EDUs (nothing queues PDUs yet: no rooms federate).
inline constexpr char kOutboundPdusMap[] = "federation_outbound_pdus";
// `federation_destinations`: destination → {attempts (failed transactions in a row),
// next_attempt_ts, last_success_ts, last_attempt_ts (ms since the Unix epoch; 0: never),
// last_error, txn: {id, pdus, edus (the seq numbers it carries)} while a transaction is
// unanswered: its retries reuse the id and carry the same entries}. Written by TransactionQueue
// when it sends.
inline constexpr char kDestinationsMap[] = "federation_destinations";
// `federation_inbound_txns`: PairKey(origin, txn_id) → {response (the 200 body answered), ts
// (ms)}: the answer a repeat of the transaction gets again (InboundTransactions); rows older than
// a day are removed at load.
inline constexpr char kInboundTxnsMap[] = "federation_inbound_txns";
// `federation_outbound_*`: destination, seq.
std::string OutboundKey(std::string_view destination, uint64_t seq);

}  // namespace conclave::service::schema

#endif  // CONCLAVE_SERVICE_STORAGE_SCHEMA_H_
