// The deprecated sync API (old_sync.yaml: GET /initialSync, GET /events, GET /events/{eventId}),
// room previews (room_initial_sync.yaml: GET /rooms/{roomId}/initialSync, also what a member of
// the room gets) and peeking (peeking_events.yaml: GET /events?room_id=). Clients from before r0
// and some bots still use them. They are built on the /sync engine (service/sync/sync.h) and the
// room reads, reshaped into the old formats: nothing here keeps state of its own.
#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "absl/time/clock.h"
#include "client_event.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/filter.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stream.h"
#include "conclave/service/sync/sync.h"
#include "routes.h"
#include "sync_json.h"

namespace conclave::api {
namespace {

using boost::json::array;
using boost::json::object;

// Longest long-poll of GET /events honoured, as for /sync.
constexpr absl::Duration kMaxTimeout = absl::Minutes(5);
// Messages per room when /initialSync gives no `limit`, and the most /events returns per room
// in one answer (the rest follow in the next one: its `end` resumes after what it returned).
constexpr int64_t kDefaultLimit = 10;
constexpr int64_t kMaxLimit = 100;

absl::StatusOr<service::Filter> FilterOf(const object& json) {
  return service::ParseFilter(boost::json::value(json));
}

// A sync of `user` from `since` (empty: initial) with `filter`; `set_presence` "offline" so that
// the old API's reads do not mark anyone online (sync.yaml: offline changes nothing).
absl::StatusOr<service::SyncResult> RunSync(Call& call, std::string since, service::Filter filter,
                                            bool may_wait) {
  service::SyncRequest request;
  request.since = std::move(since);
  request.filter = std::move(filter);
  request.set_presence = "offline";
  request.may_wait = may_wait;
  return call.hs.sync().Run(call.session, request);
}

array Events(const object& section) { return section.at("events").as_array(); }

// The old PaginationChunk of a sync timeline: oldest first, `start` to paginate back from.
object MessagesChunk(const service::SyncTimeline& timeline, const std::string& end,
                     const service::Session& viewer) {
  return object{{"chunk", ClientEvents(timeline.events, &viewer, true)},
                {"start", timeline.prev_batch},
                {"end", end}};
}

// The invitee's own m.room.member event among an invite's stripped state.
object InviteEvent(const service::InvitedRoomSync& room, std::string_view user_id) {
  for (const auto& e : room.invite_state) {
    const object& event = e.as_object();
    const auto* key = event.if_contains("state_key");
    if (event.at("type") == "m.room.member" && key != nullptr && key->is_string() &&
        key->get_string() == user_id) {
      object out = event;
      out["room_id"] = room.room_id;
      return out;
    }
  }
  return object();
}

absl::StatusOr<std::string> Visibility(Call& call, const std::string& room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(bool published, call.hs.rooms().IsPublished(room_id));
  return std::string(published ? "public" : "private");
}

// GET /v3/initialSync (`limit`, `archived`).
absl::StatusOr<boost::json::value> InitialSync(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(auto limit, QueryInt(call.request, "limit"));
  if (limit && *limit < 0) return service::InvalidParam("'limit' must not be negative");
  CONCLAVE_ASSIGN_OR_RETURN(auto archived, QueryBool(call.request, "archived"));
  object timeline;
  // A filter's limit is at least 1; `limit=0` asks for the rooms without their messages.
  const int64_t n = std::min(limit.value_or(kDefaultLimit), kMaxLimit);
  timeline["limit"] = std::max<int64_t>(n, 1);
  CONCLAVE_ASSIGN_OR_RETURN(
      service::Filter filter,
      FilterOf(object{{"room", object{{"timeline", std::move(timeline)},
                                      {"include_leave", archived.value_or(false)}}}}));
  CONCLAVE_ASSIGN_OR_RETURN(service::SyncResult result, RunSync(call, "", filter, false));
  const service::SyncResponse& sync = *result.response;
  const service::Session& me = call.session;
  array rooms;
  auto add = [&](const std::string& room_id, std::string_view membership,
                 const service::SyncTimeline* messages,
                 const std::vector<service::AccountDataEvent>* account_data) -> absl::Status {
    object room{{"room_id", room_id}, {"membership", membership}};
    CONCLAVE_ASSIGN_OR_RETURN(room["visibility"], Visibility(call, room_id));
    if (messages != nullptr) {
      object chunk = MessagesChunk(*messages, sync.next_batch, me);
      if (n == 0) chunk["chunk"] = array();
      room["messages"] = std::move(chunk);
      // Members get the current state, former members the state at their leave.
      CONCLAVE_ASSIGN_OR_RETURN(auto state, call.hs.rooms().State(me, room_id));
      room["state"] = ClientEvents(state, &me, true);
    }
    if (account_data != nullptr) room["account_data"] = Events(AccountDataJson(*account_data));
    rooms.push_back(std::move(room));
    return absl::OkStatus();
  };
  for (const auto& room : sync.join) {
    CONCLAVE_RETURN_IF_ERROR(add(room.room_id, "join", &room.timeline, &room.account_data));
  }
  for (const auto& room : sync.invite) {
    CONCLAVE_RETURN_IF_ERROR(add(room.room_id, "invite", nullptr, nullptr));
    rooms.back().as_object()["invite"] = InviteEvent(room, me.user_id);
  }
  for (const auto& room : sync.leave) {
    CONCLAVE_RETURN_IF_ERROR(add(room.room_id, "leave", &room.timeline, nullptr));
  }
  return object{{"end", sync.next_batch},
                {"rooms", std::move(rooms)},
                {"presence", Events(PresenceJson(sync.presence))},
                {"account_data", Events(AccountDataJson(sync.account_data))}};
}

// GET /v3/events?room_id=… for a room the caller is not joined to (peeking_events.yaml): the
// room's events after `from`, if its history is world-readable; answered at once.
absl::StatusOr<core::Response> PeekEvents(Call& call, const std::string& room_id,
                                          std::string from) {
  if (from.empty()) from = call.hs.sync().CurrentToken();
  CONCLAVE_ASSIGN_OR_RETURN(service::MessagesPage page,
                            call.hs.rooms().Messages(call.session, room_id, from, "", 'f',
                                                     kMaxLimit, service::RoomEventFilter()));
  return JsonResponse(object{{"start", from},
                             {"end", page.end.value_or(from)},
                             {"chunk", ClientEvents(page.chunk, &call.session, true)}});
}

// GET /v3/events (`from`, `timeout`, `room_id`): the events after `from` in the caller's rooms,
// long-polling like /sync when there are none.
absl::StatusOr<core::Response> EventStream(Call& call) {
  core::Request& request = call.request;
  std::string from = request.QueryParam("from").value_or("");
  CONCLAVE_ASSIGN_OR_RETURN(auto timeout_ms, QueryInt(request, "timeout"));
  if (timeout_ms && *timeout_ms < 0) return service::InvalidParam("'timeout' must be >= 0");
  std::optional<std::string> room_id = request.QueryParam("room_id");
  if (room_id && (room_id->empty() || (*room_id)[0] != '!')) {
    return service::InvalidParam("'room_id' must be a room id");
  }
  if (!from.empty()) {
    // "400: Bad pagination `from` parameter."
    if (auto parsed = service::ParsePositionToken(from); !parsed.ok()) return parsed.status();
  }
  if (room_id) {
    CONCLAVE_ASSIGN_OR_RETURN(auto joined, call.hs.rooms().JoinedRooms(call.session.user_id));
    if (std::find(joined.begin(), joined.end(), *room_id) == joined.end()) {
      return PeekEvents(call, *room_id, from);
    }
  }
  if (from.empty()) from = call.hs.sync().CurrentToken();
  object room_filter{{"timeline", object{{"limit", kMaxLimit}}}};
  if (room_id) room_filter["rooms"] = array{boost::json::value(*room_id)};
  CONCLAVE_ASSIGN_OR_RETURN(service::Filter filter,
                            FilterOf(object{{"room", std::move(room_filter)}}));

  const absl::Time now = absl::Now();
  absl::Time deadline = request.wait_deadline;
  if (request.wake_reason == core::WakeReason::kNone) {
    deadline = now + std::min(absl::Milliseconds(timeout_ms.value_or(0)), kMaxTimeout);
  }
  const bool may_wait = deadline > now && request.wake_reason != core::WakeReason::kTimeout &&
                        request.wake_reason != core::WakeReason::kInterrupted;
  CONCLAVE_ASSIGN_OR_RETURN(service::SyncResult result, RunSync(call, from, filter, may_wait));
  if (!result.response) {
    core::Response wait;
    absl::Time wake = result.wake_by ? std::min(deadline, *result.wake_by) : deadline;
    wait.wait = core::Wait{result.wait_key, result.wait_version, wake};
    return wait;
  }
  const service::SyncResponse& sync = *result.response;
  // Room events in stream order across rooms, then invites and presence.
  std::vector<service::StoredEvent> events;
  for (const auto& room : sync.join) {
    events.insert(events.end(), room.timeline.events.begin(), room.timeline.events.end());
  }
  for (const auto& room : sync.leave) {
    events.insert(events.end(), room.timeline.events.begin(), room.timeline.events.end());
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const auto& a, const auto& b) { return a.position < b.position; });
  array chunk = ClientEvents(events, &call.session, true);
  if (!room_id) {
    for (const auto& room : sync.invite) {
      if (object invite = InviteEvent(room, call.session.user_id); !invite.empty()) {
        chunk.push_back(std::move(invite));
      }
    }
    for (auto& presence : Events(PresenceJson(sync.presence))) chunk.push_back(presence);
  }
  return JsonResponse(
      object{{"start", from}, {"end", sync.next_batch}, {"chunk", std::move(chunk)}});
}

// GET /v3/events/{eventId}: one event the caller may see; 404 M_NOT_FOUND otherwise.
absl::StatusOr<boost::json::value> GetEvent(Call& call) {
  const std::string event_id = call.Param("eventId");
  auto found = call.hs.rooms().EventById(event_id);
  if (!found.ok()) {
    if (absl::IsNotFound(found.status())) return service::NotFound("Event not found");
    return found.status();
  }
  const std::string room_id(found->pdu.at("room_id").as_string());
  CONCLAVE_ASSIGN_OR_RETURN(auto event, call.hs.rooms().Event(call.session, room_id, event_id));
  return ClientEvent(event, &call.session, true);
}

// GET /v3/rooms/{roomId}/initialSync: the room's current state and latest messages, for members
// and, as a room preview, for anyone when its history is world-readable.
absl::StatusOr<boost::json::value> RoomInitialSync(Call& call) {
  const std::string room_id = call.Param("roomId");
  const service::Session& me = call.session;
  CONCLAVE_ASSIGN_OR_RETURN(service::MessagesPage page,
                            call.hs.rooms().Messages(me, room_id, "", "", 'b', kDefaultLimit,
                                                     service::RoomEventFilter()));
  std::reverse(page.chunk.begin(), page.chunk.end());
  CONCLAVE_ASSIGN_OR_RETURN(auto state, call.hs.rooms().State(me, room_id));
  object messages{{"chunk", ClientEvents(page.chunk, &me, true)}, {"end", page.start}};
  if (page.end) messages["start"] = *page.end;
  object out{{"room_id", room_id},
             {"messages", std::move(messages)},
             {"state", ClientEvents(state, &me, true)}};
  CONCLAVE_ASSIGN_OR_RETURN(out["visibility"], Visibility(call, room_id));
  CONCLAVE_ASSIGN_OR_RETURN(auto memberships, call.hs.rooms().UserRooms(me.user_id));
  for (const auto& m : memberships) {
    if (m.room_id == room_id && m.membership != "knock") out["membership"] = m.membership;
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto account_data, call.hs.accounts().AccountDataSince(me.user_id, 0));
  array room_data;
  for (const auto& entry : account_data) {
    if (entry.room_id == room_id) {
      room_data.push_back(object{{"type", entry.type}, {"content", entry.content}});
    }
  }
  out["account_data"] = std::move(room_data);
  return out;
}

}  // namespace

absl::Status RegisterOldSyncRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v3/initialSync", Auth::kRequired, &InitialSync));
  CONCLAVE_RETURN_IF_ERROR(routes.AddRaw("GET", "/v3/events", Auth::kRequired, &EventStream));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v3/events/{eventId}", Auth::kRequired, &GetEvent));
  return routes.Add("GET", "/v3/rooms/{roomId}/initialSync", Auth::kRequired, &RoomInitialSync);
}

}  // namespace conclave::api
