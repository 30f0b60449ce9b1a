// Private to storage/: the parts shared by the checkers of `database verify` (verify.cc), one per
// domain: accounts (verify_accounts.cc), rooms and their indexes (verify_rooms.cc), the timeline
// walk with the indexes merged beside it (verify_timeline.cc).
#ifndef CONCLAVE_SERVICE_STORAGE_VERIFY_CHECKER_H_
#define CONCLAVE_SERVICE_STORAGE_VERIFY_CHECKER_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "conclave/database/database.h"
#include "conclave/service/storage/event_writer.h"
#include "conclave/service/storage/relation_rows.h"
#include "conclave/service/storage/store.h"
#include "conclave/service/storage/verify.h"

namespace conclave::service::verify_internal {

using boost::json::object;

// `raw` as readable text: control bytes and 0x7f as \xNN, everything else as is.
std::string Printable(std::string_view raw);
// A decoded KeyBuilder key: strings, then an optional trailing position.
struct Key {
  std::vector<std::string> parts;
  uint64_t position = 0;
};
// `raw` as `strings` strings and, with `position`, a u64; nullopt when it is not exactly that.
std::optional<Key> DecodeKey(std::string_view raw, size_t strings, bool position);
// A key for a problem line: its parts joined, "" for an empty part.
std::string KeyText(const Key& key, bool position);
// The same for a raw key, or its Printable bytes when it does not decode.
std::string RawKeyText(std::string_view raw, size_t strings, bool position);
// A short stand-in for an event id in the sorted set of indexed events.
uint64_t Fingerprint(std::string_view event_id);
// A room_members or user_rooms record.
struct MemberRecord {
  std::string membership;
  uint64_t position = 0;
};
std::optional<MemberRecord> ParseMemberRecord(std::string_view value);

// One run of VerifyDatabase: the snapshot, what the walks collect for later ones, and the
// report. Used once, from one thread. A read error stops every later walk and is the result.
struct VerifyRun {
  VerifyRun(const Store& store, const VerifyOptions& options)
      : store(store), db(*store.db), options(options), snapshot(db.GetSnapshot()) {}

  const Store& store;
  database::Database& db;
  const VerifyOptions options;
  const std::shared_ptr<const database::Snapshot> snapshot;
  absl::Status error;
  VerifyReport report;

  std::set<std::string, std::less<>> users;
  std::set<std::string, std::less<>> rooms;
  std::set<std::string, std::less<>> rooms_with_events;
  // Stream positions of the timeline's events; fingerprints of the events whose events entry
  // points back at them (sorted after the walk).
  std::vector<uint64_t> positions;
  std::vector<uint64_t> indexed_events;
  // The relations and threads rows the timeline implies (fed by the timeline walk).
  RelationRowsBuilder relation_rows;
};

// Base of the per-domain checkers: the run's state under the names the checks use, and the
// helpers that record problems and read through the snapshot.
class Checker {
 protected:
  explicit Checker(VerifyRun& run)
      : store_(run.store),
        db_(run.db),
        options_(run.options),
        snapshot_(run.snapshot),
        error_(run.error),
        report_(run.report),
        users_(run.users),
        rooms_(run.rooms),
        rooms_with_events_(run.rooms_with_events),
        positions_(run.positions),
        indexed_events_(run.indexed_events),
        relation_rows_(run.relation_rows) {}

  // Records a problem of `map` at `key` (kept up to options_.max_problems, all counted).
  void Problem(std::string_view map, std::string key, std::string text);
  // Adds `records` to the count of `map` in the report.
  void Count(std::string_view map, uint64_t records);
  // Keeps the first read error; every later walk then stops.
  void Fail(absl::Status status);
  // Calls `visit` for each entry of `map` in key order and counts them. Stops at a read error
  // (kept in error_).
  void Walk(const database::Map& map, std::string_view name,
            absl::FunctionRef<void(std::string_view key, std::string_view value)> visit);
  // The value at `key` in the snapshot; nullopt when absent or on a read error (kept).
  std::optional<std::string> Find(const database::Map& map, std::string_view key);
  // The event `event_id` read through `events` and `timeline`, with its position; nullopt and
  // `why` if it cannot be.
  std::optional<object> LookupEvent(std::string_view event_id, uint64_t* position,
                                    std::string* why);
  // A problem when `position` is beyond the stream position.
  void CheckPosition(std::string_view map, const std::string& key, uint64_t position);
  // True when `user_id` has a users record; a problem otherwise.
  bool KnownUser(std::string_view map, const std::string& key, const std::string& user_id);
  // The same, but a user of another server (options_.server_name set and not the user id's)
  // needs no record: true.
  bool KnownOrRemoteUser(std::string_view map, const std::string& key, const std::string& user_id);
  // The map `name` when the database has it (maps a module creates at its first load, such as
  // the e2ee ones), else nullptr; opening an existing map never creates one. An open error is
  // kept (Fail) and gives nullptr.
  database::Map* MapIfPresent(std::string_view name);

  const Store& store_;
  database::Database& db_;
  const VerifyOptions& options_;
  const std::shared_ptr<const database::Snapshot>& snapshot_;
  absl::Status& error_;
  VerifyReport& report_;
  std::set<std::string, std::less<>>& users_;
  std::set<std::string, std::less<>>& rooms_;
  std::set<std::string, std::less<>>& rooms_with_events_;
  std::vector<uint64_t>& positions_;
  std::vector<uint64_t>& indexed_events_;
  RelationRowsBuilder& relation_rows_;
};

// The domains, in the order VerifyDatabase runs them (later ones use what earlier ones
// collected: users, rooms, the indexed events).
void CheckStream(VerifyRun& run);          // verify.cc
void CollectUsers(VerifyRun& run);         // verify_accounts.cc
void CollectRooms(VerifyRun& run);         // verify_rooms.cc
void CheckTimeline(VerifyRun& run);        // verify_timeline.cc
void CheckRoomIndexes(VerifyRun& run);     // verify_rooms.cc
void CheckRelations(VerifyRun& run);       // verify_relations.cc
void CheckAccountIndexes(VerifyRun& run);  // verify_accounts.cc
void CheckE2ee(VerifyRun& run);            // verify_e2ee.cc
void CheckKeyBackups(VerifyRun& run);      // verify_backup.cc

}  // namespace conclave::service::verify_internal

#endif  // CONCLAVE_SERVICE_STORAGE_VERIFY_CHECKER_H_
