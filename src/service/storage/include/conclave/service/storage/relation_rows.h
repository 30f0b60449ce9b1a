// The rows of the `relations` and `threads` maps (schema.h): what an event's `m.relates_to`
// (Client-Server API "Forming relationships between events") adds to them, read back for the
// relations API, threads and bundled aggregations. EventWriter writes them for each new event;
// the schema migration 2 (globals.cc) and `database verify` derive them from the timeline with
// RelationRowsBuilder, so the three cannot disagree. Pure functions; thread-compatible types.
#ifndef CONCLAVE_SERVICE_STORAGE_RELATION_ROWS_H_
#define CONCLAVE_SERVICE_STORAGE_RELATION_ROWS_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace conclave::service {

// The relation an event declares: `content.m.relates_to` with a string `rel_type` and a string
// `event_id` (the parent). Replies (`m.in_reply_to` without a rel_type) are not relations here,
// as the spec's relations API leaves them out. Views into the event, valid while it lives.
struct Relation {
  std::string_view parent_id{};
  std::string_view rel_type{};
};
// The relation of `pdu`, or nullopt when it declares none (or a malformed one, which the spec
// says to ignore). A redacted event has none: redaction strips `m.relates_to` in every room
// version (Client-Server API "Redactions"; rooms/v11.md keeps no content key of it).
std::optional<Relation> RelationOf(const boost::json::object& pdu);

// One `relations` row: a child of a parent event.
struct RelationRow {
  std::string room_id;
  std::string parent_id;
  std::string rel_type;
  uint64_t position = 0;  // the child's stream position
  std::string event_id;   // the child's
  std::string type;
  std::string sender;
  int64_t origin_server_ts = 0;
};
// The value of a `relations` row: {event_id, type, sender, ts} of the child.
std::string EncodeRelationValue(std::string_view event_id, std::string_view type,
                                std::string_view sender, int64_t origin_server_ts);
// A row from its key and value; kDataLoss when either does not decode.
absl::StatusOr<RelationRow> ParseRelationRow(std::string_view key, std::string_view value);

// Collects the `relations` and `threads` rows a room's timeline implies, fed its events in
// stream order. Thread-compatible.
class RelationRowsBuilder {
 public:
  // Adds the rows of `pdu` of `room_id`, stored at stream `position`.
  void Add(std::string_view room_id, uint64_t position, const boost::json::object& pdu);
  // key → value of every `relations` row, in key order.
  const std::map<std::string, std::string>& relations() const { return relations_; }
  // key → value ("") of every `threads` row: one per thread root, at its latest m.thread child.
  std::map<std::string, std::string> Threads() const;

 private:
  std::map<std::string, std::string> relations_;
  // (room_id, root) → position of the root's latest m.thread child.
  std::map<std::pair<std::string, std::string>, uint64_t> latest_thread_child_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_STORAGE_RELATION_ROWS_H_
