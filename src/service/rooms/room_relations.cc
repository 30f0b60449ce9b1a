// Rooms: the relation index's upkeep at commit, GET /relations and GET /threads.
// Client-Server API "Forming relationships between events", threading.md; relations.yaml,
// threads_list.yaml. Bundled aggregations are in room_bundles.cc.
#include <algorithm>
#include <set>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/event_writer.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

namespace rooms_internal {

absl::Status ReadChildren(database::Iterator& it, std::string_view prefix,
                          std::vector<RelationRow>& out) {
  for (it.Seek(prefix); it.Valid() && it.key().starts_with(prefix); it.Next()) {
    CONCLAVE_ASSIGN_OR_RETURN(RelationRow row, ParseRelationRow(it.key(), it.value()));
    out.push_back(std::move(row));
  }
  return it.status();
}

absl::StatusOr<std::vector<RelationRow>> Children(const Store& store, std::string_view room_id,
                                                  std::string_view parent_id,
                                                  std::optional<std::string_view> rel_type) {
  auto it = store.db->NewIterator(*store.relations, RoomIteration(room_id));
  std::vector<RelationRow> out;
  CONCLAVE_RETURN_IF_ERROR(
      ReadChildren(*it, schema::RelationPrefix(room_id, parent_id, rel_type), out));
  return out;
}

absl::StatusOr<bool> MatchesRelatedFilter(const Store& store, std::string_view room_id,
                                          const boost::json::object& pdu,
                                          const RoomEventFilter& filter) {
  if (!filter.related_by_rel_types && !filter.related_by_senders) return true;
  CONCLAVE_ASSIGN_OR_RETURN(auto children,
                            Children(store, room_id, StringField(pdu, "event_id"), std::nullopt));
  auto any = [&](const FilterList& list, auto field) {
    if (!list) return true;
    return std::any_of(children.begin(), children.end(), [&](const RelationRow& row) {
      return std::find(list->begin(), list->end(), row.*field) != list->end();
    });
  };
  return any(filter.related_by_rel_types, &RelationRow::rel_type) &&
         any(filter.related_by_senders, &RelationRow::sender);
}

absl::StatusOr<StoredEvent> ReadEventAt(const Store& store, std::string_view room_id,
                                        uint64_t position) {
  CONCLAVE_ASSIGN_OR_RETURN(auto json, store.Find(*store.timeline, TimelineKey(room_id, position)));
  if (!json) return NotFound(core::StrCat("No event at position ", position, " in ", room_id));
  CONCLAVE_ASSIGN_OR_RETURN(auto pdu, ParseObject(*json));
  return StoredEvent{std::move(pdu), position};
}

}  // namespace rooms_internal

namespace {

// The positions of `root`'s m.thread children, in stream order.
absl::StatusOr<std::vector<uint64_t>> ThreadChildPositions(const Store& store,
                                                           std::string_view room_id,
                                                           std::string_view root) {
  CONCLAVE_ASSIGN_OR_RETURN(auto rows, Children(store, room_id, root, "m.thread"));
  std::vector<uint64_t> out;
  for (const RelationRow& row : rows) out.push_back(row.position);
  return out;
}

}  // namespace

absl::Status Rooms::PrepareRelationRows(RoomData& room, const boost::json::object& pdu,
                                        const Draft& draft, EventRows& rows) {
  const Store& store = deps_.store;
  if (draft.redact_target) {
    rows.redacted_relation = RelationOf(draft.redact_target->pdu);
    if (!rows.redacted_relation || rows.redacted_relation->rel_type != "m.thread") {
      return absl::OkStatus();
    }
    // A redacted reply that was its thread's latest: the thread's row moves back to the reply
    // before it, or goes with the last reply.
    const std::string_view root = rows.redacted_relation->parent_id;
    CONCLAVE_ASSIGN_OR_RETURN(auto positions, ThreadChildPositions(store, room.room_id, root));
    const uint64_t redacted = draft.redact_target->position;
    if (positions.empty() || positions.back() != redacted) return absl::OkStatus();
    rows.thread_root = root;
    rows.thread_from = redacted;
    if (positions.size() > 1) rows.thread_to = positions[positions.size() - 2];
    return absl::OkStatus();
  }
  rows.relation = RelationOf(pdu);
  if (!rows.relation || rows.relation->rel_type != "m.thread") return absl::OkStatus();
  const std::string_view root = rows.relation->parent_id;
  // threading.md, "Validation of m.thread relationships": a thread cannot start from an event
  // that relates to another; 400 M_UNKNOWN, as the spec has no better code.
  if (auto parent = ReadEvent(root); parent.ok() &&
                                     StringField(parent->pdu, "room_id") == room.room_id &&
                                     RelationOf(parent->pdu)) {
    return MatrixStatus(absl::StatusCode::kInvalidArgument, Errcode::kUnknown,
                        "Cannot start a thread from an event that has a relation itself");
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto positions, ThreadChildPositions(store, room.room_id, root));
  rows.thread_root = root;
  if (!positions.empty()) rows.thread_from = positions.back();
  rows.thread_to_self = true;
  return absl::OkStatus();
}

absl::StatusOr<RelationsPage> Rooms::Relations(const Session& session, std::string_view room_id,
                                               const RelationsRequest& request) {
  if (request.dir != 'b' && request.dir != 'f') return InvalidParam("'dir' must be b or f");
  std::optional<uint64_t> from, to;
  if (!request.from.empty()) {
    CONCLAVE_ASSIGN_OR_RETURN(from, ParsePositionToken(request.from));
  }
  if (!request.to.empty()) {
    CONCLAVE_ASSIGN_OR_RETURN(to, ParsePositionToken(request.to));
  }
  // relations.yaml, 404: "not found or the user does not have permission to read this event".
  CONCLAVE_RETURN_IF_ERROR(VisibleEvent(session.user_id, room_id, request.event_id).status());
  const size_t limit = std::clamp<size_t>(request.limit, 1, 100);
  const int depth = request.recurse.value_or(false) ? kMaxRelationDepth : 1;

  // Breadth first, through matching children only ("Relationships API": an event whose only
  // link to the parent is a non-matching one is left out); `seen` guards against loops.
  std::vector<RelationRow> found;
  std::set<std::string, std::less<>> seen{request.event_id};
  std::vector<std::string> level{request.event_id};
  auto it = deps_.store.db->NewIterator(*deps_.store.relations, RoomIteration(room_id));
  for (int d = 0; d < depth && !level.empty(); ++d) {
    std::vector<std::string> next_level;
    for (const std::string& parent : level) {
      std::vector<RelationRow> rows;
      std::optional<std::string_view> rel_type;
      if (request.rel_type) rel_type = *request.rel_type;
      CONCLAVE_RETURN_IF_ERROR(
          ReadChildren(*it, schema::RelationPrefix(room_id, parent, rel_type), rows));
      for (RelationRow& row : rows) {
        if (request.event_type && row.type != *request.event_type) continue;
        if (!seen.insert(row.event_id).second) continue;
        next_level.push_back(row.event_id);
        found.push_back(std::move(row));
      }
    }
    level = std::move(next_level);
  }

  const bool backward = request.dir == 'b';
  std::sort(found.begin(), found.end(), [&](const RelationRow& a, const RelationRow& b) {
    return backward ? a.position > b.position : a.position < b.position;
  });
  RelationsPage page;
  if (request.recurse) page.recursion_depth = depth;
  if (!request.from.empty()) page.prev_batch = request.from;
  for (const RelationRow& row : found) {
    // `from` is where the page starts (inclusive going back, exclusive going forward, as the
    // tokens /messages gives); `to` where it stops.
    if (backward ? (from && row.position > *from) : (from && row.position <= *from)) continue;
    if (backward ? (to && row.position <= *to) : (to && row.position > *to)) break;
    if (page.chunk.size() == limit) {
      const uint64_t last = page.chunk.back().position;
      page.next_batch = PositionToken(backward ? last - 1 : last);
      break;
    }
    CONCLAVE_ASSIGN_OR_RETURN(StoredEvent event, ReadEventAt(deps_.store, room_id, row.position));
    page.chunk.push_back(std::move(event));
  }
  CONCLAVE_RETURN_IF_ERROR(KeepVisible(session.user_id, room_id, page.chunk));
  CONCLAVE_RETURN_IF_ERROR(Bundle(session.user_id, room_id, page.chunk));
  return page;
}

absl::StatusOr<ThreadsPage> Rooms::Threads(const Session& session, std::string_view room_id,
                                           bool participated_only, std::string_view from,
                                           size_t limit) {
  CONCLAVE_RETURN_IF_ERROR(LoadReadable(session.user_id, room_id).status());
  uint64_t start = UINT64_MAX - 1;
  if (!from.empty()) {
    CONCLAVE_ASSIGN_OR_RETURN(start, ParsePositionToken(from));
  }
  limit = std::clamp<size_t>(limit, 1, 100);
  const Store& store = deps_.store;
  ThreadsPage page;
  auto it = store.db->NewIterator(*store.threads, RoomIteration(room_id));
  // The smallest key after every row at `start`: roots are never empty.
  for (it->SeekForPrev(schema::ThreadKey(room_id, start + 1, "")); it->Valid(); it->Prev()) {
    database::KeyReader reader(it->key());
    auto key_room = reader.ReadString();
    auto position = reader.ReadU64();
    auto root_id = reader.ReadString();
    if (!key_room.ok() || !position.ok() || !root_id.ok()) {
      return absl::DataLossError("threads key is not (room, position, root)");
    }
    if (page.chunk.size() == limit) {
      page.next_batch = PositionToken(*position);
      break;
    }
    auto root = ReadEvent(*root_id);
    // A thread off an event of another room (or an unknown one) is no thread of this room.
    if (!root.ok() || StringField(root->pdu, "room_id") != room_id) continue;
    if (participated_only && StringField(root->pdu, "sender") != session.user_id) {
      CONCLAVE_ASSIGN_OR_RETURN(auto replies, Children(store, room_id, *root_id, "m.thread"));
      if (std::none_of(replies.begin(), replies.end(),
                       [&](const RelationRow& r) { return r.sender == session.user_id; })) {
        continue;
      }
    }
    page.chunk.push_back(*std::move(root));
  }
  CONCLAVE_RETURN_IF_ERROR(it->status());
  CONCLAVE_RETURN_IF_ERROR(KeepVisible(session.user_id, room_id, page.chunk));
  CONCLAVE_RETURN_IF_ERROR(Bundle(session.user_id, room_id, page.chunk));
  return page;
}

}  // namespace conclave::service
