#include "sync_json.h"

#include <boost/json/array.hpp>
#include <utility>

#include "client_event.h"
#include "conclave/service/rooms/rooms.h"

namespace conclave::api {
namespace {

using boost::json::array;
using boost::json::object;

// `{"events": events}`.
object Events(array events) { return object{{"events", std::move(events)}}; }

object TimelineJson(const service::SyncTimeline& timeline, const service::Session& viewer) {
  return object{{"events", ClientEvents(timeline.events, &viewer, false)},
                {"limited", timeline.limited},
                {"prev_batch", timeline.prev_batch}};
}

// ephemeral.events: m.typing, then m.receipt.
array EphemeralEvents(const service::JoinedRoomSync& room) {
  array ephemeral;
  if (room.typing) {
    array ids(room.typing->begin(), room.typing->end());
    ephemeral.push_back(
        object{{"type", "m.typing"}, {"content", object{{"user_ids", std::move(ids)}}}});
  }
  if (!room.receipts.empty()) {
    ephemeral.push_back(object{{"type", "m.receipt"}, {"content", room.receipts}});
  }
  return ephemeral;
}

template <typename Room, typename Build>
object ByRoomId(const std::vector<Room>& rooms, Build build) {
  object out;
  for (const Room& room : rooms) out[room.room_id] = build(room);
  return out;
}

}  // namespace

object JoinedRoomJson(const service::JoinedRoomSync& room, const service::Session& viewer) {
  array heroes(room.heroes.begin(), room.heroes.end());
  object out{{"timeline", TimelineJson(room.timeline, viewer)},
             {"state", Events(ClientEvents(room.state, &viewer, false))},
             {"ephemeral", Events(EphemeralEvents(room))},
             {"account_data", AccountDataJson(room.account_data)},
             {"unread_notifications", object{{"notification_count", room.notification_count},
                                             {"highlight_count", room.highlight_count}}},
             {"summary", object{{"m.joined_member_count", room.joined_member_count},
                                {"m.invited_member_count", room.invited_member_count},
                                {"m.heroes", std::move(heroes)}}}};
  if (room.thread_counts) {
    object threads;
    for (const auto& [root, counts] : *room.thread_counts) {
      threads[root] = object{{"notification_count", counts.notification_count},
                             {"highlight_count", counts.highlight_count}};
    }
    out["unread_thread_notifications"] = std::move(threads);
  }
  return out;
}

object InvitedRoomJson(const service::InvitedRoomSync& room) {
  return object{{"invite_state", Events(room.invite_state)}};
}

object LeftRoomJson(const service::LeftRoomSync& room, const service::Session& viewer) {
  return object{{"timeline", TimelineJson(room.timeline, viewer)},
                {"state", Events(ClientEvents(room.state, &viewer, false))},
                {"account_data", Events({})}};
}

object AccountDataJson(const std::vector<service::AccountDataEvent>& events) {
  array out;
  for (const auto& e : events) out.push_back(object{{"type", e.type}, {"content", e.content}});
  return Events(std::move(out));
}

object PresenceJson(const std::vector<service::PresenceEvent>& events) {
  array out;
  for (const auto& e : events) {
    object content{{"presence", e.presence}, {"last_active_ago", e.last_active_ago}};
    if (e.status_msg) content["status_msg"] = *e.status_msg;
    out.push_back(
        object{{"type", "m.presence"}, {"sender", e.user_id}, {"content", std::move(content)}});
  }
  return Events(std::move(out));
}

void AddE2eeJson(const service::SyncResponse& response, object& body) {
  array to_device;
  for (const service::ToDeviceEvent& e : response.to_device) {
    to_device.push_back(object{{"sender", e.sender}, {"type", e.type}, {"content", e.content}});
  }
  body["to_device"] = Events(std::move(to_device));
  body["device_lists"] =
      object{{"changed",
              array(response.device_lists.changed.begin(), response.device_lists.changed.end())},
             {"left", array(response.device_lists.left.begin(), response.device_lists.left.end())}};
  object counts;
  for (const auto& [algorithm, count] : response.one_time_key_counts) counts[algorithm] = count;
  body["device_one_time_keys_count"] = std::move(counts);
  body["device_unused_fallback_key_types"] =
      array(response.unused_fallback_key_types.begin(), response.unused_fallback_key_types.end());
}

object SyncJson(const service::SyncResponse& response, const service::Session& viewer) {
  object body;
  body["next_batch"] = response.next_batch;
  body["rooms"] = object{
      {"join", ByRoomId(response.join, [&](const auto& r) { return JoinedRoomJson(r, viewer); })},
      {"invite", ByRoomId(response.invite, [](const auto& r) { return InvitedRoomJson(r); })},
      {"leave", ByRoomId(response.leave, [&](const auto& r) { return LeftRoomJson(r, viewer); })},
      {"knock", ByRoomId(response.knock, [](const auto& r) {
         return object{{"knock_state", Events(r.invite_state)}};
       })}};
  body["account_data"] = AccountDataJson(response.account_data);
  body["presence"] = PresenceJson(response.presence);
  AddE2eeJson(response, body);
  return body;
}

}  // namespace conclave::api
