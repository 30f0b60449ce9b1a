// Server-Server API, "Retrieving events" (events.yaml: GET /event/{eventId}, /state/{roomId},
// /state_ids/{roomId}) and "Retrieving the auth chain of an event" (event_auth.yaml: GET
// /event_auth/{roomId}/{eventId}), for the events of this server's rooms.
//
// Who may read: the spec's history visibility for servers (Client-Server API "History
// visibility", as Synapse applies it to servers): the origin server may read an event when one
// of its users is joined at that event, when the room's m.room.history_visibility at the event
// is `world_readable`, when it is `invited` and one of its users is invited at the event, or
// when it is `shared` (the default) and one of its users is joined now. Otherwise 403
// M_FORBIDDEN.
#include "events.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "auth.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::federation {
namespace {

using boost::json::array;
using boost::json::object;
using core::StrCat;
using service::Rooms;
using service::RoomVersion;
using service::StoredEvent;
using service::StringField;

}  // namespace

std::string PathParam(const core::Request& request, std::string_view name) {
  auto it = request.path_params.find(name);
  return it == request.path_params.end() ? std::string() : it->second;
}

// The version of `room_id`, from its m.room.create. M_NOT_FOUND for an unknown room.
absl::StatusOr<const RoomVersion*> VersionOfRoom(Rooms& rooms, std::string_view room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(std::optional<StoredEvent> create,
                            rooms.CurrentStateEvent(room_id, "m.room.create", ""));
  const RoomVersion* version = create.has_value() ? service::VersionOf(create->pdu) : nullptr;
  if (version == nullptr) return service::NotFound(StrCat("Unknown room ", room_id));
  return version;
}

// `pdu` as it travels over federation (docs/matrix.md, "Events"): without `unsigned`, v3+
// without `event_id` (the reference hash stands for it), a v12 m.room.create without `room_id`.
object AsSent(object pdu, const RoomVersion& version) {
  pdu.erase("unsigned");
  if (version.event_id_format != service::EventIdFormat::kOpaque) pdu.erase("event_id");
  if (version.room_id_from_create_event && StringField(pdu, "type") == "m.room.create") {
    pdu.erase("room_id");
  }
  return pdu;
}

namespace {

// The event `event_id`, which must be in `room_id` when that is not empty. M_NOT_FOUND
// otherwise (the spec's example: "Could not find event $...").
absl::StatusOr<StoredEvent> FindEvent(Rooms& rooms, std::string_view event_id,
                                      std::string_view room_id) {
  absl::StatusOr<StoredEvent> event = rooms.EventById(event_id);
  if (!event.ok() && absl::IsNotFound(event.status())) {
    return service::NotFound(StrCat("Could not find event ", event_id));
  }
  CONCLAVE_RETURN_IF_ERROR(event.status());
  if (!room_id.empty() && StringField(event->pdu, "room_id") != room_id) {
    return service::NotFound(StrCat("Could not find event ", event_id, " in room ", room_id));
  }
  return event;
}

bool OnServer(std::string_view user_id, std::string_view server) {
  absl::StatusOr<service::UserId> user = service::ParseUserId(user_id);
  return user.ok() && user->server_name == server;
}

// The rule in this file's comment: whether `origin` may read `event`. M_FORBIDDEN when not.
absl::Status CheckServerMayRead(Rooms& rooms, const StoredEvent& event, std::string_view origin) {
  const std::string room_id(StringField(event.pdu, "room_id"));
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<StoredEvent> state, rooms.StateAt(room_id, event.position));
  std::string visibility = "shared";
  bool joined = false;
  bool invited = false;
  for (const StoredEvent& state_event : state) {
    const object& pdu = state_event.pdu;
    const boost::json::value* content_value = pdu.if_contains("content");
    const object* content = content_value == nullptr ? nullptr : content_value->if_object();
    if (content == nullptr) continue;
    std::string_view type = StringField(pdu, "type");
    if (type == "m.room.history_visibility" && StringField(pdu, "state_key").empty()) {
      std::string_view value = StringField(*content, "history_visibility");
      if (value == "world_readable" || value == "shared" || value == "invited" ||
          value == "joined") {
        visibility = value;
      }
    } else if (type == "m.room.member" && OnServer(StringField(pdu, "state_key"), origin)) {
      std::string_view membership = StringField(*content, "membership");
      joined = joined || membership == "join";
      invited = invited || membership == "invite";
    }
  }
  if (joined || visibility == "world_readable" || (visibility == "invited" && invited)) {
    return absl::OkStatus();
  }
  if (visibility == "shared") {
    CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> members, rooms.JoinedUserIds(room_id));
    for (const std::string& member : members) {
      if (OnServer(member, origin)) return absl::OkStatus();
    }
  }
  return service::Forbidden(
      StrCat("You do not have permission to access ", StringField(event.pdu, "event_id"), ": ",
             origin, " has no user in the room there (history visibility ", visibility, ")"));
}

// The ids `pdu.auth_events` names: ids (v3+) or the first elements of [id, hashes] (v1, v2).
// In v12 (room_id_from_create_event) the room's m.room.create too, which no auth_events lists
// but the room id names (auth rule 2): it belongs to every auth chain, as Synapse serves it.
std::vector<std::string> AuthEventIds(const object& pdu, const RoomVersion& version) {
  std::vector<std::string> ids;
  std::string_view room_id = StringField(pdu, "room_id");
  if (version.room_id_from_create_event && StringField(pdu, "type") != "m.room.create" &&
      room_id.size() > 1) {
    ids.push_back(StrCat("$", room_id.substr(1)));
  }
  const boost::json::value* refs = pdu.if_contains("auth_events");
  if (refs == nullptr || !refs->is_array()) return ids;
  for (const boost::json::value& ref : refs->get_array()) {
    if (ref.is_string()) {
      ids.emplace_back(ref.get_string());
    } else if (const array* pair = ref.if_array();
               pair != nullptr && !pair->empty() && (*pair)[0].is_string()) {
      ids.emplace_back((*pair)[0].get_string());
    }
  }
  return ids;
}

}  // namespace

// The auth events of `from`, and theirs, recursively, without `from` themselves (unless one is
// another's auth event), oldest first. An auth event this server does not have is left out.
absl::StatusOr<std::vector<StoredEvent>> AuthChain(Rooms& rooms, const RoomVersion& version,
                                                   const std::vector<const object*>& from) {
  std::deque<std::string> todo;
  for (const object* pdu : from) {
    for (std::string& id : AuthEventIds(*pdu, version)) todo.push_back(std::move(id));
  }
  std::set<std::string> seen;
  std::vector<StoredEvent> chain;
  while (!todo.empty()) {
    std::string id = std::move(todo.front());
    todo.pop_front();
    if (!seen.insert(id).second) continue;
    absl::StatusOr<StoredEvent> event = rooms.EventById(id);
    if (!event.ok() && absl::IsNotFound(event.status())) continue;
    CONCLAVE_RETURN_IF_ERROR(event.status());
    for (std::string& next : AuthEventIds(event->pdu, version)) todo.push_back(std::move(next));
    chain.push_back(*std::move(event));
  }
  std::sort(chain.begin(), chain.end(),
            [](const StoredEvent& a, const StoredEvent& b) { return a.position < b.position; });
  return chain;
}

namespace {

// The PDUs of `events` as sent, or their ids.
array Pdus(const std::vector<StoredEvent>& events, const RoomVersion& version, bool ids) {
  array out;
  for (const StoredEvent& event : events) {
    if (ids) {
      out.emplace_back(StringField(event.pdu, "event_id"));
    } else {
      out.emplace_back(AsSent(event.pdu, version));
    }
  }
  return out;
}

// GET /event/{eventId}: a transaction with the one PDU (single_pdu_transaction.yaml).
absl::StatusOr<object> GetEvent(core::Request& request, service::Homeserver& hs,
                                std::string_view origin) {
  Rooms& rooms = hs.rooms();
  CONCLAVE_ASSIGN_OR_RETURN(StoredEvent event, FindEvent(rooms, PathParam(request, "eventId"), ""));
  CONCLAVE_ASSIGN_OR_RETURN(const RoomVersion* version,
                            VersionOfRoom(rooms, StringField(event.pdu, "room_id")));
  CONCLAVE_RETURN_IF_ERROR(CheckServerMayRead(rooms, event, origin));
  return object{{"origin", hs.server_name()},
                {"origin_server_ts", service::NowMs()},
                {"pdus", array{AsSent(std::move(event.pdu), *version)}}};
}

// GET /state/{roomId}?event_id= and /state_ids: the state before the event ("prior to
// considering any state changes induced by the requested event") and its auth chain.
absl::StatusOr<object> GetState(core::Request& request, service::Homeserver& hs,
                                std::string_view origin, bool ids) {
  Rooms& rooms = hs.rooms();
  const std::string room_id = PathParam(request, "roomId");
  std::optional<std::string> event_id = request.QueryParam("event_id");
  if (!event_id.has_value()) return service::MissingParam("event_id is required");
  CONCLAVE_ASSIGN_OR_RETURN(const RoomVersion* version, VersionOfRoom(rooms, room_id));
  CONCLAVE_ASSIGN_OR_RETURN(StoredEvent event, FindEvent(rooms, *event_id, room_id));
  CONCLAVE_RETURN_IF_ERROR(CheckServerMayRead(rooms, event, origin));
  std::vector<StoredEvent> state;
  if (event.position > 0) {
    CONCLAVE_ASSIGN_OR_RETURN(state, rooms.StateAt(room_id, event.position - 1));
  }
  std::vector<const object*> state_pdus;
  for (const StoredEvent& state_event : state) state_pdus.push_back(&state_event.pdu);
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<StoredEvent> chain, AuthChain(rooms, *version, state_pdus));
  if (ids) {
    return object{{"auth_chain_ids", Pdus(chain, *version, true)},
                  {"pdu_ids", Pdus(state, *version, true)}};
  }
  return object{{"auth_chain", Pdus(chain, *version, false)},
                {"pdus", Pdus(state, *version, false)}};
}

// GET /event_auth/{roomId}/{eventId}: the event's auth chain.
absl::StatusOr<object> GetEventAuth(core::Request& request, service::Homeserver& hs,
                                    std::string_view origin) {
  Rooms& rooms = hs.rooms();
  const std::string room_id = PathParam(request, "roomId");
  CONCLAVE_ASSIGN_OR_RETURN(const RoomVersion* version, VersionOfRoom(rooms, room_id));
  CONCLAVE_ASSIGN_OR_RETURN(StoredEvent event,
                            FindEvent(rooms, PathParam(request, "eventId"), room_id));
  CONCLAVE_RETURN_IF_ERROR(CheckServerMayRead(rooms, event, origin));
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<StoredEvent> chain,
                            AuthChain(rooms, *version, {&event.pdu}));
  return object{{"auth_chain", Pdus(chain, *version, false)}};
}

}  // namespace

absl::Status RegisterEventRoutes(core::Router& router, std::string_view module,
                                 std::vector<core::RouteHandle>& handles) {
  const core::RouteOptions blocking{.blocking = true};
  const std::pair<const char*, AuthenticatedHandler> routes[] = {
      {"/_matrix/federation/v1/event/{eventId}", &GetEvent},
      {"/_matrix/federation/v1/state/{roomId}",
       [](core::Request& request, service::Homeserver& hs, std::string_view origin) {
         return GetState(request, hs, origin, false);
       }},
      {"/_matrix/federation/v1/state_ids/{roomId}",
       [](core::Request& request, service::Homeserver& hs, std::string_view origin) {
         return GetState(request, hs, origin, true);
       }},
      {"/_matrix/federation/v1/event_auth/{roomId}/{eventId}", &GetEventAuth},
  };
  for (const auto& [path, handler] : routes) {
    CONCLAVE_ASSIGN_OR_RETURN(core::RouteHandle handle,
                              router.Add(
                                  module, "GET", path,
                                  [handler = handler](core::Request& request) {
                                    return RunAuthenticated(request, handler);
                                  },
                                  blocking));
    handles.push_back(std::move(handle));
  }
  return absl::OkStatus();
}

}  // namespace conclave::federation
