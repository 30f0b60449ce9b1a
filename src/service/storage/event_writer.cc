#include "conclave/service/storage/event_writer.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "conclave/service/storage/schema.h"

namespace conclave::service {
namespace {

boost::json::string_view J(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

bool IsCountableMessage(std::string_view type) {
  return type == "m.room.message" || type == "m.room.encrypted";
}

void EventWriter::Put(const EventRows& event, uint64_t position,
                      database::WriteBatch& batch) const {
  const std::string timeline_key = schema::TimelineKey(event.room_id, position);
  batch.Put(*store_.timeline, timeline_key, event.json);
  batch.Put(*store_.events, event.event_id, timeline_key);
  if (IsCountableMessage(event.type)) {
    batch.Put(*store_.message_index, timeline_key, event.sender);
  }
  if (event.state_key) {
    batch.Put(*store_.room_state, schema::StateKeyOf(event.room_id, event.type, *event.state_key),
              event.event_id);
  }
  if (!event.membership.empty() && event.state_key) {
    std::string value = boost::json::serialize(
        boost::json::object{{"membership", J(event.membership)}, {"pos", position}});
    batch.Put(*store_.room_members, schema::PairKey(event.room_id, *event.state_key), value);
    batch.Put(*store_.user_rooms, schema::PairKey(*event.state_key, event.room_id), value);
  }
  if (!event.txn_id.empty()) {
    batch.Put(*store_.txn_ids, schema::TxnKey(event.sender, event.device_id, event.txn_id),
              event.event_id);
  }
  if (event.type == "m.room.create") {
    batch.Put(*store_.rooms, event.room_id,
              boost::json::serialize(boost::json::object{{"room_version", J(event.room_version)},
                                                         {"creator", J(event.sender)},
                                                         {"created_ts", event.origin_server_ts}}));
  }
  if (event.redacted_position) {
    batch.Put(*store_.timeline, schema::TimelineKey(event.room_id, *event.redacted_position),
              event.redacted_json);
    if (event.redacted_relation) {
      batch.Delete(
          *store_.relations,
          schema::RelationKey(event.room_id, event.redacted_relation->parent_id,
                              event.redacted_relation->rel_type, *event.redacted_position));
    }
  }
  if (event.relation) {
    batch.Put(
        *store_.relations,
        schema::RelationKey(event.room_id, event.relation->parent_id, event.relation->rel_type,
                            position),
        EncodeRelationValue(event.event_id, event.type, event.sender, event.origin_server_ts));
  }
  if (!event.thread_root.empty()) {
    if (event.thread_from) {
      batch.Delete(*store_.threads,
                   schema::ThreadKey(event.room_id, *event.thread_from, event.thread_root));
    }
    std::optional<uint64_t> to = event.thread_to_self ? position : event.thread_to;
    if (to)
      batch.Put(*store_.threads, schema::ThreadKey(event.room_id, *to, event.thread_root), "");
  }
}

}  // namespace conclave::service
