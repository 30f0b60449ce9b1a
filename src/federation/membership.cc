// Server-Server API, "Joining Rooms" (joins-v1.yaml GET /v1/make_join, joins-v2.yaml PUT
// /v2/send_join), "Leaving Rooms" (leaving-v1.yaml GET /v1/make_leave, leaving-v2.yaml PUT
// /v2/send_leave) and "Inviting to a room" (invites-v2.yaml PUT /v2/invite), X-Matrix
// authenticated. The room logic is service's (Rooms::MakeMembership, CommitRemoteMembership,
// StoreRemoteInvite: room_federation.cc); this file checks the requests and shapes the answers.
#include "membership.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>
#include <string>
#include <utility>

#include "auth.h"
#include "conclave/core/percent.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/federation/remote_keys.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/pdu_checks.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/protocol/signing.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stored_json.h"
#include "events.h"

namespace conclave::federation {
namespace {

using boost::json::array;
using boost::json::object;
using core::StrCat;
using service::Rooms;
using service::RoomVersion;
using service::StoredEvent;
using service::StringField;

// Every value of the query parameter `name` (`ver` repeats: ver=1&ver=2), decoded.
std::vector<std::string> QueryValues(const core::Request& request, std::string_view name) {
  std::vector<std::string> values;
  std::string_view query = request.query;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (core::PercentDecode(pair.substr(0, eq), true) != name) continue;
    values.push_back(eq == std::string_view::npos ? std::string()
                                                  : core::PercentDecode(pair.substr(eq + 1), true));
  }
  return values;
}

// M_FORBIDDEN unless `user_id` is a user of `origin` (the requesting server).
absl::Status CheckUserOfOrigin(std::string_view user_id, std::string_view origin) {
  absl::StatusOr<service::UserId> user = service::ParseUserId(user_id);
  if (!user.ok()) return service::InvalidParam(StrCat("'", user_id, "' is not a user id"));
  if (user->server_name != origin) {
    return service::Forbidden(StrCat(user_id, " is not a user of ", origin));
  }
  return absl::OkStatus();
}

// Keys for the signatures of events: the key cache, which fetches missing keys (blocking).
service::EventKeyLookup EventKeys(service::Homeserver& hs) {
  return [&keys = hs.remote_keys()](std::string_view server, std::string_view key_id, int64_t ts) {
    return keys.KeyAt(server, key_id, ts);
  };
}

absl::StatusOr<object> ParseBody(const core::Request& request) {
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(request.body, ec);
  if (ec) return service::NotJson("The body is not JSON");
  if (!body.is_object()) return service::BadJson("The body must be a JSON object");
  return std::move(body.get_object());
}

// The room version whose name the M_INCOMPATIBLE_ROOM_VERSION answer must carry
// (joins-v1.yaml, invites-v2.yaml: "Required if the errcode is M_INCOMPATIBLE_ROOM_VERSION").
struct Incompatible {
  std::string room_version;
};

absl::Status IncompatibleVersion(Incompatible& out, std::string_view room_version) {
  out.room_version = room_version;
  return service::MatrixStatus(
      service::Errcode::kIncompatibleRoomVersion,
      StrCat("Your homeserver does not support the features required to join this room (room "
             "version ",
             room_version, ")"));
}

// RunAuthenticated, then the room_version field added to an M_INCOMPATIBLE_ROOM_VERSION answer.
core::Response RunWithVersion(
    core::Request& request,
    const std::function<absl::StatusOr<object>(core::Request&, service::Homeserver&,
                                               std::string_view, Incompatible&)>& handler) {
  Incompatible incompatible;
  core::Response response = RunAuthenticated(
      request, [&](core::Request& r, service::Homeserver& hs, std::string_view origin) {
        return handler(r, hs, origin, incompatible);
      });
  if (!incompatible.room_version.empty() && response.status == 400) {
    boost::system::error_code ec;
    boost::json::value body = boost::json::parse(response.body, ec);
    if (!ec && body.is_object()) {
      body.get_object()["room_version"] = incompatible.room_version;
      response.body = boost::json::serialize(body);
    }
  }
  return response;
}

// GET /v1/make_join/{roomId}/{userId}?ver= and /v1/make_leave/{roomId}/{userId}.
absl::StatusOr<object> MakeMembership(core::Request& request, service::Homeserver& hs,
                                      std::string_view origin, Incompatible& incompatible,
                                      std::string_view membership) {
  const std::string room_id = PathParam(request, "roomId");
  const std::string user_id = PathParam(request, "userId");
  CONCLAVE_RETURN_IF_ERROR(CheckUserOfOrigin(user_id, origin));
  CONCLAVE_ASSIGN_OR_RETURN(const RoomVersion* version, VersionOfRoom(hs.rooms(), room_id));
  if (membership == "join") {
    // joins-v1.yaml, `ver`: "Defaults to [1]".
    std::vector<std::string> supported = QueryValues(request, "ver");
    if (supported.empty()) supported.push_back("1");
    if (std::find(supported.begin(), supported.end(), version->id) == supported.end()) {
      return IncompatibleVersion(incompatible, version->id);
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(Rooms::MembershipTemplate made,
                            hs.rooms().MakeMembership(room_id, user_id, membership));
  return object{{"room_version", made.room_version}, {"event", std::move(made.event)}};
}

// PUT /v2/send_join/{roomId}/{eventId}[?omit_members=true] and /v2/send_leave/....
absl::StatusOr<object> SendMembership(core::Request& request, service::Homeserver& hs,
                                      std::string_view origin, std::string_view membership) {
  const std::string room_id = PathParam(request, "roomId");
  const std::string event_id = PathParam(request, "eventId");
  CONCLAVE_ASSIGN_OR_RETURN(object pdu, ParseBody(request));
  Rooms& rooms = hs.rooms();
  CONCLAVE_ASSIGN_OR_RETURN(const RoomVersion* version, VersionOfRoom(rooms, room_id));
  CONCLAVE_ASSIGN_OR_RETURN(
      Rooms::RemoteMembershipResult result,
      rooms.CommitRemoteMembership(room_id, event_id, origin, membership, pdu, EventKeys(hs)));
  if (membership == "leave") return object{};  // leaving-v2.yaml: an empty object

  // joins-v2.yaml: the state before the join and its auth chain; with omit_members=true the
  // m.room.member events are left out of `state` (members_omitted, servers_in_room), except
  // those of the heroes when the room has no name nor canonical alias, and the events in
  // `state` out of `auth_chain`.
  const bool omit_members = request.QueryParam("omit_members") == "true";
  std::set<std::string> servers_in_room;
  bool named = false;
  for (const object& event : result.state_before) {
    std::string_view type = StringField(event, "type");
    named = named || type == "m.room.name" || type == "m.room.canonical_alias";
    if (type != "m.room.member") continue;
    const auto* content = event.if_contains("content");
    if (content != nullptr && content->is_object() &&
        StringField(content->get_object(), "membership") == "join") {
      if (auto user = service::ParseUserId(StringField(event, "state_key")); user.ok()) {
        servers_in_room.insert(user->server_name);
      }
    }
  }
  std::set<std::string> heroes;
  if (omit_members && !named) {
    CONCLAVE_ASSIGN_OR_RETURN(Rooms::MemberSummary summary,
                              rooms.Members(room_id, StringField(pdu, "sender"), 5));
    heroes.insert(summary.heroes.begin(), summary.heroes.end());
  }
  std::vector<const object*> kept;
  std::set<std::string> kept_ids;
  for (const object& event : result.state_before) {
    if (omit_members && StringField(event, "type") == "m.room.member" &&
        !heroes.contains(std::string(StringField(event, "state_key")))) {
      continue;
    }
    kept.push_back(&event);
    kept_ids.emplace(StringField(event, "event_id"));
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<StoredEvent> chain, AuthChain(rooms, *version, kept));
  array state;
  for (const object* event : kept) state.emplace_back(AsSent(*event, *version));
  array auth_chain;
  for (StoredEvent& event : chain) {
    if (omit_members && kept_ids.contains(std::string(StringField(event.pdu, "event_id")))) {
      continue;
    }
    auth_chain.emplace_back(AsSent(std::move(event.pdu), *version));
  }
  object answer{{"origin", hs.server_name()},
                {"state", std::move(state)},
                {"auth_chain", std::move(auth_chain)},
                {"event", AsSent(std::move(result.event.pdu), *version)},
                {"members_omitted", omit_members}};
  if (omit_members) {
    array servers;
    for (const std::string& server : servers_in_room) servers.emplace_back(server);
    answer["servers_in_room"] = std::move(servers);
  }
  return answer;
}

// PUT /v2/invite/{roomId}/{eventId}: a user of `origin` invites a local user to a room of
// theirs. The event is checked (format, the sender's signatures, the id), signed by this server
// and kept for the invitee's /sync (Rooms::StoreRemoteInvite).
absl::StatusOr<object> Invite(core::Request& request, service::Homeserver& hs,
                              std::string_view origin, Incompatible& incompatible) {
  const std::string room_id = PathParam(request, "roomId");
  const std::string event_id = PathParam(request, "eventId");
  CONCLAVE_ASSIGN_OR_RETURN(object body, ParseBody(request));
  const auto* room_version = body.if_contains("room_version");
  const auto* event_value = body.if_contains("event");
  if (room_version == nullptr || event_value == nullptr) {
    return service::MissingParam("room_version and event are required");
  }
  if (!room_version->is_string() || !event_value->is_object()) {
    return service::BadJson("room_version must be a string and event an object");
  }
  const RoomVersion* version = service::FindRoomVersion(room_version->get_string());
  if (version == nullptr) return IncompatibleVersion(incompatible, room_version->get_string());
  array invite_room_state;
  if (const auto* state = body.if_contains("invite_room_state")) {
    if (!state->is_array()) return service::BadJson("invite_room_state must be an array");
    invite_room_state = state->get_array();
  }
  object event = event_value->get_object();
  event.erase("unsigned");
  CONCLAVE_RETURN_IF_ERROR(service::CheckPduFormat(event, *version));
  const auto* content = event.if_contains("content");
  if (StringField(event, "type") != "m.room.member" || content == nullptr ||
      !content->is_object() || StringField(content->get_object(), "membership") != "invite") {
    return service::BadJson("The event must be an m.room.member invite");
  }
  if (StringField(event, "room_id") != room_id) {
    return service::BadJson(StrCat("The event is not of room ", room_id));
  }
  CONCLAVE_RETURN_IF_ERROR(CheckUserOfOrigin(StringField(event, "sender"), origin));
  const std::string invitee(StringField(event, "state_key"));
  absl::StatusOr<service::UserId> user = service::ParseUserId(invitee);
  if (!user.ok() || user->server_name != hs.server_name()) {
    return service::Forbidden(StrCat(invitee, " is not a user of ", hs.server_name()));
  }
  if (!hs.accounts().UserExists(invitee)) {
    return service::Forbidden(StrCat("Unknown user ", invitee));
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::string id, service::EventId(event, *version));
  if (id != event_id) {
    return service::InvalidParam(StrCat("The event's id is ", id, ", not ", event_id));
  }
  if (!service::PduContentHashMatches(event)) {
    return service::Forbidden("The event's content hash does not match");
  }
  absl::Status signatures = service::CheckPduSignatures(event, *version, EventKeys(hs));
  if (!signatures.ok()) {
    return service::Forbidden(StrCat("The event's signatures: ", signatures.message()));
  }
  CONCLAVE_RETURN_IF_ERROR(service::SignEvent(event, *version, hs.server_name(), hs.signing_key()));
  object stored = event;
  stored["event_id"] = id;
  CONCLAVE_RETURN_IF_ERROR(
      hs.rooms().StoreRemoteInvite(invitee, room_id, stored, invite_room_state));
  return object{{"event", std::move(event)}};
}

}  // namespace

absl::Status RegisterMembershipRoutes(core::Router& router, std::string_view module,
                                      std::vector<core::RouteHandle>& handles) {
  const core::RouteOptions blocking{.blocking = true};
  struct Route {
    const char* method;
    const char* path;
    core::Handler handler;
  };
  Route routes[] = {
      {"GET", "/_matrix/federation/v1/make_join/{roomId}/{userId}",
       [](core::Request& request) {
         return RunWithVersion(request, [](core::Request& r, service::Homeserver& hs,
                                           std::string_view origin, Incompatible& incompatible) {
           return MakeMembership(r, hs, origin, incompatible, "join");
         });
       }},
      {"GET", "/_matrix/federation/v1/make_leave/{roomId}/{userId}",
       [](core::Request& request) {
         return RunWithVersion(request, [](core::Request& r, service::Homeserver& hs,
                                           std::string_view origin, Incompatible& incompatible) {
           return MakeMembership(r, hs, origin, incompatible, "leave");
         });
       }},
      {"PUT", "/_matrix/federation/v2/send_join/{roomId}/{eventId}",
       [](core::Request& request) {
         return RunAuthenticated(
             request, [](core::Request& r, service::Homeserver& hs, std::string_view origin) {
               return SendMembership(r, hs, origin, "join");
             });
       }},
      {"PUT", "/_matrix/federation/v2/send_leave/{roomId}/{eventId}",
       [](core::Request& request) {
         return RunAuthenticated(
             request, [](core::Request& r, service::Homeserver& hs, std::string_view origin) {
               return SendMembership(r, hs, origin, "leave");
             });
       }},
      {"PUT", "/_matrix/federation/v2/invite/{roomId}/{eventId}",
       [](core::Request& request) { return RunWithVersion(request, &Invite); }},
  };
  for (Route& route : routes) {
    CONCLAVE_ASSIGN_OR_RETURN(
        core::RouteHandle handle,
        router.Add(module, route.method, route.path, std::move(route.handler), blocking));
    handles.push_back(std::move(handle));
  }
  return absl::OkStatus();
}

}  // namespace conclave::federation
