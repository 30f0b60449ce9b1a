// Verify: the consistency check of the homeserver's database, behind the admin command
// `database verify` and the durability tests.
//
// Every write of the homeserver puts a primary record and all the indexes that point at it (or
// that it points at) into one WriteBatch (store.h lists the maps), so after any crash of the
// process the maps must agree with one another. VerifyDatabase() walks every map of the Store
// through one snapshot and checks that they do:
//   - stream: the stored position is at least every position stored anywhere else;
//   - timeline: each event decodes, names its room, is indexed by `events` under its own key,
//     follows the previous event of its room (prev_events and depth: no event is missing from
//     the middle of a room), starts with m.room.create, has a unique stream position, has its
//     `message_index` entry exactly when it is a countable message, and a send with a
//     transaction id has its `txn_ids` entry;
//   - events: each entry points at a timeline entry holding that event;
//   - room_state: one entry per (room, type, state_key), naming the latest state event of that
//     key in the room's timeline;
//   - room_members / user_rooms: one member entry per m.room.member state, with its membership
//     and position; user_rooms mirrors room_members (or is absent after a forget, only for leave
//     and ban);
//   - rooms ↔ timeline, aliases ↔ room_aliases, public_rooms and banned_rooms → rooms;
//   - txn_ids → an event of that sender carrying that transaction; receipts → an event of the
//     room at the position they record;
//   - devices ↔ access_tokens (both directions, through the token digest), and users for
//     devices, tokens, filters, account data and presence;
//   - the e2ee maps (verify_e2ee.cc): device keys, one-time and fallback keys and pending
//     to-device messages of existing devices only, key changes and to-device transactions of
//     known users at positions on the stream.
//   - the key backup maps (verify_backup.cc): versions of known users, keys of live versions
//     only and of the KeyBackupData shape, each live version's count equal to its keys.
// Records that do not decode are problems too, not errors. Read-only; safe to run while the
// server serves (the snapshot hides concurrent writes).
#ifndef CONCLAVE_SERVICE_STORAGE_VERIFY_H_
#define CONCLAVE_SERVICE_STORAGE_VERIFY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/service/storage/store.h"

namespace conclave::service {

struct VerifyOptions {
  // How many problems the report lists; further ones are only counted. Default: 100.
  size_t max_problems = 100;
  // This server's name: rows of other servers' users where they belong (the key changes and
  // to-device deduplication rows that federation writes) are then not "a user with no users
  // record". Empty: every user must have a record.
  std::string server_name{};
};

// One inconsistency: which record, and what is wrong with it.
struct VerifyProblem {
  std::string map{};  // the map holding the record, e.g. "room_state"
  // Its key, decoded: components joined by " | ", an empty one as "", control bytes as \xNN.
  std::string key{};
  std::string problem{};  // e.g. "points to $x, but the latest m.room.name event is $y"
};

struct VerifyReport {
  // The stream position stored in the snapshot (0 on a new database).
  uint64_t stream_position = 0;
  // Records read per map, in the order the maps were checked.
  std::vector<std::pair<std::string, uint64_t>> records{};
  // The first VerifyOptions::max_problems problems, in the order found.
  std::vector<VerifyProblem> problems{};
  // Every problem found, listed or not.
  uint64_t problem_count = 0;

  bool ok() const { return problem_count == 0; }
};

// Checks that every map of `store` agrees with the others (see the file comment), reading all of
// them through one snapshot taken at the start. Inconsistencies are reported in the result, not
// as errors. Returns a read error of the database (kDataLoss for corruption RocksDB detects,
// kInternal for I/O errors). Thread-safe; does not write (it opens `banned_rooms` only if the
// database has that map). Takes time and memory in proportion to the database: one pass over each
// map, a point read per index entry, and 8 bytes per event.
absl::StatusOr<VerifyReport> VerifyDatabase(const Store& store, const VerifyOptions& options = {});

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_STORAGE_VERIFY_H_
