// EventWriter: the one place that writes an event and every index of it — `timeline`, `events`,
// `message_index`, `room_state`, `room_members`, `user_rooms`, `txn_ids`, the `rooms` record of a
// create event, `relations` and `threads` (relation_rows.h), and a redacted target's rewrite —
// into one WriteBatch (store.h lists the maps).
// Local sends (Rooms::Commit) go through it; federation and imports will too; `database verify`
// (verify.h) checks exactly these rows.
//
// Thread-compatible and stateless beyond the Store it writes to; the caller serializes the
// events of one room and takes the stream position from Stream::Commit.
#ifndef CONCLAVE_SERVICE_STORAGE_EVENT_WRITER_H_
#define CONCLAVE_SERVICE_STORAGE_EVENT_WRITER_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "conclave/database/write_batch.h"
#include "conclave/service/storage/relation_rows.h"
#include "conclave/service/storage/store.h"

namespace conclave::service {

// Whether events of `type` are indexed in `message_index` (they count as unread messages):
// m.room.message and m.room.encrypted.
bool IsCountableMessage(std::string_view type);

// What EventWriter stores of one event. Views into the caller's data, valid for the call.
struct EventRows {
  std::string_view room_id{};
  std::string_view event_id{};
  std::string_view type{};
  std::string_view sender{};
  std::optional<std::string_view> state_key{};  // state events only
  std::string_view membership{};                // m.room.member: content.membership
  std::string_view json{};                      // the PDU as stored (with `unsigned`)
  // m.room.create: the `rooms` record's fields.
  std::string_view room_version{};
  int64_t origin_server_ts = 0;
  // A client's transaction, for idempotent sends ("" when none).
  std::string_view device_id{};
  std::string_view txn_id{};
  // m.room.redaction: the target's stream position and its redacted JSON, rewritten in place.
  std::optional<uint64_t> redacted_position{};
  std::string_view redacted_json{};
  // A child event (content.m.relates_to): its `relations` row.
  std::optional<Relation> relation{};
  // m.redaction of a child: the target's relation and type; its `relations` row goes.
  std::optional<Relation> redacted_relation{};
  // The `threads` row of `thread_root` moves: off the old latest child's position (unset: the
  // root had no row), onto the new one (unset: the thread has no child left). The caller reads
  // both under the room's lock; the new one is this event's own position when `thread_to_self`.
  std::string_view thread_root{};
  std::optional<uint64_t> thread_from{};
  std::optional<uint64_t> thread_to{};
  bool thread_to_self = false;
};

class EventWriter {
 public:
  // `store` must outlive the writer.
  explicit EventWriter(const Store& store) : store_(store) {}

  // Adds every row of `event`, stored at stream `position`, to `batch`. Writes nothing itself.
  void Put(const EventRows& event, uint64_t position, database::WriteBatch& batch) const;

 private:
  const Store& store_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_STORAGE_EVENT_WRITER_H_
