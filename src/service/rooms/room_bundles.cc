// Rooms::Bundle: bundled aggregations (Client-Server API "Aggregations of child events") in
// `unsigned.m.relations` of the events clients receive:
//   m.replace   the most recent valid edit (event_replacements.md "Server-side aggregation of
//               m.replace relationships"), as stored; the original's content stays as it is
//               (since v1.7). None for a redacted original.
//   m.thread    {latest_event (with its own aggregations), count, current_user_participated}
//               (threading.md "Server-side aggregation of m.thread relationships").
//   m.reference {chunk: [{event_id}]} (reference_relations.md).
// Annotations (reactions) are not aggregated: the spec defines no server-side aggregation of
// m.annotation since v1.7; /relations lists them.
//
// Cost: one seek per event on one iterator over the `relations` map (events without children,
// most of them, cost that seek and nothing else), plus a read of each candidate edit and of each
// latest thread reply.
#include <algorithm>
#include <tuple>

#include "conclave/core/status_macros.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

namespace {

bool IsRedacted(const boost::json::object& pdu) {
  const auto* u = pdu.if_contains("unsigned");
  return u != nullptr && u->is_object() && u->get_object().contains("redacted_because");
}

bool HasNewContent(const boost::json::object& edit) {
  const auto* content = edit.if_contains("content");
  if (content == nullptr || !content->is_object()) return false;
  const auto* new_content = content->get_object().if_contains("m.new_content");
  return new_content != nullptr && new_content->is_object();
}

// The most recent valid edit of `original` among `rows` (its m.replace children): same sender,
// same type, the original neither a state event nor an edit itself, the edit with
// m.new_content; most recent by origin_server_ts, then the larger event id.
absl::StatusOr<std::optional<StoredEvent>> LatestEdit(const Store& store,
                                                      const boost::json::object& original,
                                                      std::vector<const RelationRow*> rows) {
  if (original.contains("state_key") || IsRedacted(original)) return std::nullopt;
  if (auto relation = RelationOf(original); relation && relation->rel_type == "m.replace") {
    return std::nullopt;
  }
  const std::string_view sender = StringField(original, "sender");
  const std::string_view type = StringField(original, "type");
  std::erase_if(rows, [&](const RelationRow* r) { return r->sender != sender || r->type != type; });
  std::sort(rows.begin(), rows.end(), [](const RelationRow* a, const RelationRow* b) {
    return std::tie(a->origin_server_ts, a->event_id) > std::tie(b->origin_server_ts, b->event_id);
  });
  for (const RelationRow* row : rows) {
    CONCLAVE_ASSIGN_OR_RETURN(StoredEvent edit, ReadEventAt(store, row->room_id, row->position));
    if (!edit.pdu.contains("state_key") && HasNewContent(edit.pdu)) return edit;
  }
  return std::nullopt;
}

}  // namespace

absl::Status Rooms::Bundle(std::string_view user_id, std::string_view room_id,
                           std::vector<StoredEvent>& events) {
  if (events.empty()) return absl::OkStatus();
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  // Children the user may not read (after their leave) stay out of the aggregations.
  absl::StatusOr<uint64_t> visible = VisibleUpTo(user_id, *room);
  if (!visible.ok()) return absl::OkStatus();
  const Store& store = deps_.store;
  auto it = store.db->NewIterator(*store.relations, RoomIteration(room_id));
  std::vector<RelationRow> rows;
  for (StoredEvent& event : events) {
    // "State events do not currently receive bundled aggregations."
    if (event.pdu.contains("state_key")) continue;
    const std::string_view event_id = StringField(event.pdu, "event_id");
    rows.clear();
    CONCLAVE_RETURN_IF_ERROR(ReadChildren(*it, schema::RelationPrefix(room_id, event_id), rows));
    if (rows.empty()) continue;
    std::vector<const RelationRow*> edits, replies, references;
    for (const RelationRow& row : rows) {
      if (row.position > *visible) continue;
      if (row.rel_type == "m.replace") edits.push_back(&row);
      if (row.rel_type == "m.thread") replies.push_back(&row);
      if (row.rel_type == "m.reference") references.push_back(&row);
    }
    boost::json::object relations;
    if (!edits.empty()) {
      CONCLAVE_ASSIGN_OR_RETURN(auto edit, LatestEdit(store, event.pdu, std::move(edits)));
      if (edit) relations["m.replace"] = std::move(edit->pdu);
    }
    if (!replies.empty()) {
      bool participated = StringField(event.pdu, "sender") == user_id;
      for (const RelationRow* r : replies) participated = participated || r->sender == user_id;
      // Rows are in stream order: the last is the latest reply ("topologically" here, where
      // every room is one chain).
      CONCLAVE_ASSIGN_OR_RETURN(StoredEvent reply,
                                ReadEventAt(store, room_id, replies.back()->position));
      std::vector<StoredEvent> latest;
      latest.push_back(std::move(reply));
      // The reply's own aggregations (its edits); replies cannot start threads, so this
      // recursion ends after one level.
      CONCLAVE_RETURN_IF_ERROR(Bundle(user_id, room_id, latest));
      relations["m.thread"] = boost::json::object{{"latest_event", std::move(latest.front().pdu)},
                                                  {"count", static_cast<int64_t>(replies.size())},
                                                  {"current_user_participated", participated}};
    }
    if (!references.empty()) {
      boost::json::array chunk;
      for (const RelationRow* r : references) {
        chunk.push_back(boost::json::object{{"event_id", r->event_id}});
      }
      relations["m.reference"] = boost::json::object{{"chunk", std::move(chunk)}};
    }
    if (relations.empty()) continue;
    boost::json::value& unsigned_data = event.pdu["unsigned"];
    if (!unsigned_data.is_object()) unsigned_data = boost::json::object();
    unsigned_data.get_object()["m.relations"] = std::move(relations);
  }
  return absl::OkStatus();
}

}  // namespace conclave::service
