// The homeserver's RocksDB column families ("maps"), opened once per load of the service module.
//
// Keys are built with database::KeyBuilder (big-endian integers, escaped strings), so prefixes
// and numeric order work. What each map holds, key → value (JSON unless said otherwise):
//   users           user_id → {password_hash, deactivated, admin, created_ts, displayname,
//                   avatar_url}
//   devices         user_id, device_id → {display_name, last_seen_ip, last_seen_ts,
//                   token_digest, refresh_digest, old_refresh_digest} (digests base64)
//   access_tokens   SHA-256 of the token (raw) → {user_id, device_id, expires_ts (refreshable
//                   sessions only, ms since the Unix epoch), revokes_refresh (base64 digest of
//                   the refresh token to revoke at the first use, after a refresh)}; the token
//                   itself is not stored
//   filters         user_id, filter_id → filter JSON
//   account_data    user_id, room_id ("" for global), type → {pos, content}
//   presence        user_id → {pos, presence, status_msg, last_active_ts}
//   rooms           room_id → {room_version, creator, created_ts}
//   events          event_id → room_id, pos (the key of the event in `timeline`)
//   timeline        room_id, pos → the event (PDU JSON plus `unsigned`)
//   message_index   room_id, pos → sender, for m.room.message and m.room.encrypted events only
//                   (checked by verify; unread counts come from push rules: schema.h `push_counts`)
//   room_state      room_id, type, state_key → event_id
//   room_members    room_id, user_id → {membership, pos}
//   user_rooms      user_id, room_id → {membership, pos}
//   aliases         alias → room_id
//   room_aliases    room_id, alias → ""
//   public_rooms    room_id → "" (published in the room directory)
//   txn_ids         user_id, device_id, txn_id → event_id
//   receipts        room_id, receipt type, user_id → {event_id, ts, pos}
//   relations       room_id, parent event id, rel_type, pos → {event_id, type, sender, ts} of the
//                   child (relation_rows.h)
//   threads         room_id, pos of the latest m.thread child, root event id → ""
//   stream          "position" → last stream position (u64)
//   refresh_tokens  SHA-256 of a refresh token (raw) → {user_id, device_id}; the device record's
//                   `refresh_digest` (current) or `old_refresh_digest` (the one a refresh
//                   replaced, valid until the new tokens are used) names it
//   login_tokens    SHA-256 of an m.login.token (raw) → {user_id, expires_ts}; single use
//   openid_tokens   SHA-256 of an OpenID access token (raw) → {user_id, expires_ts}
//
// Thread-safe (the maps are). Must not outlive the database module's Database.
#ifndef CONCLAVE_SERVICE_STORAGE_STORE_H_
#define CONCLAVE_SERVICE_STORAGE_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "conclave/database/database.h"

namespace conclave::service {

struct Store {
  database::Database* db = nullptr;
  database::Map* users = nullptr;
  database::Map* devices = nullptr;
  database::Map* access_tokens = nullptr;
  database::Map* filters = nullptr;
  database::Map* account_data = nullptr;
  database::Map* presence = nullptr;
  database::Map* rooms = nullptr;
  database::Map* events = nullptr;
  database::Map* timeline = nullptr;
  database::Map* message_index = nullptr;
  database::Map* room_state = nullptr;
  database::Map* room_members = nullptr;
  database::Map* user_rooms = nullptr;
  database::Map* aliases = nullptr;
  database::Map* room_aliases = nullptr;
  database::Map* public_rooms = nullptr;
  database::Map* txn_ids = nullptr;
  database::Map* receipts = nullptr;
  database::Map* relations = nullptr;
  database::Map* threads = nullptr;
  database::Map* stream = nullptr;
  database::Map* refresh_tokens = nullptr;
  database::Map* login_tokens = nullptr;
  database::Map* openid_tokens = nullptr;

  // Opens (creating if needed) every map above.
  static absl::StatusOr<std::unique_ptr<Store>> Open(database::Database& db);

  // Get() that maps kNotFound to nullopt; other errors pass through.
  absl::StatusOr<std::optional<std::string>> Find(const database::Map& map,
                                                  std::string_view key) const;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_STORAGE_STORE_H_
