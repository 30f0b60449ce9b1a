#include "client_event.h"

#include <algorithm>
#include <string_view>

#include "conclave/service/protocol/clock.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::api {
namespace {

using boost::json::object;
using service::StringField;

object Shape(const service::StoredEvent& event, const service::Session* viewer, bool with_room_id,
             bool nested);

// Bundled aggregations for clients ("Aggregations of child events"): the events they carry
// (m.replace, m.thread's latest_event) are shaped "as normal", like the event itself.
object ClientRelations(const object& relations, const service::Session* viewer, bool with_room_id) {
  object out = relations;
  if (auto* edit = out.if_contains("m.replace"); edit != nullptr && edit->is_object()) {
    *edit = Shape(service::StoredEvent{edit->get_object(), 0}, viewer, with_room_id, false);
  }
  if (auto* thread = out.if_contains("m.thread"); thread != nullptr && thread->is_object()) {
    if (auto* latest = thread->get_object().if_contains("latest_event");
        latest != nullptr && latest->is_object()) {
      *latest = Shape(service::StoredEvent{latest->get_object(), 0}, viewer, with_room_id, false);
    }
  }
  return out;
}

// `unsigned` for clients. `nested` for the event inside another's redacted_because, which is
// not shaped again.
object ClientUnsigned(const object& pdu, const service::Session* viewer, bool with_room_id,
                      bool nested) {
  object unsigned_data;
  if (const auto* u = pdu.if_contains("unsigned"); u && u->is_object()) {
    for (const auto& [key, value] : u->get_object()) {
      if (key == "io.conclave.txn") {
        const auto* txn = value.if_object();
        if (viewer != nullptr && txn != nullptr && !viewer->device_id.empty() &&
            StringField(*txn, "device_id") == viewer->device_id &&
            StringField(pdu, "sender") == viewer->user_id) {
          unsigned_data["transaction_id"] = StringField(*txn, "txn_id");
        }
        continue;
      }
      if (key == "m.relations" && value.is_object()) {
        unsigned_data[key] = ClientRelations(value.get_object(), viewer, with_room_id);
        continue;
      }
      if (key == "redacted_because" && !nested && value.is_object()) {
        // Stored as the redaction's PDU (rooms.cc); older rows hold it shaped already, which
        // shaping again leaves as it was but for a fresh `age`.
        unsigned_data[key] =
            Shape(service::StoredEvent{value.get_object(), 0}, nullptr, true, true);
        continue;
      }
      unsigned_data[key] = value;
    }
  }
  if (const auto* ts = pdu.if_contains("origin_server_ts"); ts && ts->is_int64()) {
    unsigned_data["age"] = std::max<int64_t>(0, service::NowMs() - ts->get_int64());
  }
  return unsigned_data;
}

object Shape(const service::StoredEvent& event, const service::Session* viewer, bool with_room_id,
             bool nested) {
  const object& pdu = event.pdu;
  object out;
  for (const char* key :
       {"content", "event_id", "origin_server_ts", "sender", "state_key", "type", "redacts"}) {
    if (const auto* v = pdu.if_contains(key)) out[key] = *v;
  }
  if (with_room_id) {
    if (const auto* v = pdu.if_contains("room_id")) out["room_id"] = *v;
  }
  if (!out.contains("content")) out["content"] = object();
  out["unsigned"] = ClientUnsigned(pdu, viewer, with_room_id, nested);
  return out;
}

}  // namespace

object ClientEvent(const service::StoredEvent& event, const service::Session* viewer,
                   bool with_room_id) {
  return Shape(event, viewer, with_room_id, /*nested=*/false);
}

boost::json::array ClientEvents(const std::vector<service::StoredEvent>& events,
                                const service::Session* viewer, bool with_room_id) {
  boost::json::array out;
  for (const auto& e : events) out.push_back(ClientEvent(e, viewer, with_room_id));
  return out;
}

}  // namespace conclave::api
