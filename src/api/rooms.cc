// Room routes: creation, membership, joined rooms and members, aliases, the room directory.
// Client-Server API: create_room.yaml, joining.yaml, inviting.yaml, leaving.yaml, kicking.yaml,
// banning.yaml, list_joined_rooms.yaml, rooms.yaml (members), directory.yaml,
// list_public_rooms.yaml.
#include "conclave/service/rooms/rooms.h"

#include "client_event.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/storage/stream.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::object;
using service::Rooms;

// rooms.yaml, GET /members: `membership` and `not_membership` are one of the spec's enum
// (join, invite, knock, leave, ban); M_INVALID_PARAM naming `param` otherwise.
absl::Status CheckMembershipParam(std::string_view param, std::string_view value) {
  if (value.empty() || value == "join" || value == "invite" || value == "knock" ||
      value == "leave" || value == "ban") {
    return absl::OkStatus();
  }
  return service::InvalidParam(
      core::StrCat("'", param, "' must be one of join, invite, knock, leave, ban"));
}

absl::StatusOr<boost::json::value> Empty(absl::Status status) {
  if (!status.ok()) return status;
  return object();
}

// The POST routes that act on a target user: invite, kick, ban, unban.
using TargetAction = absl::Status (Rooms::*)(const service::Session&, std::string_view,
                                             std::string_view, std::optional<std::string>);

absl::Status AddTargetAction(Routes& routes, std::string_view verb, TargetAction action) {
  return routes.Add(
      "POST", core::StrCat("/v3/rooms/{roomId}/", verb), Auth::kRequired,
      [action](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
        CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, RequiredString(body, "user_id"));
        CONCLAVE_ASSIGN_OR_RETURN(auto reason, OptionalString(body, "reason"));
        return Empty(
            (call.hs.rooms().*action)(call.session, call.Param("roomId"), user_id, reason));
      });
}

// The createRoom body (create_room.yaml) with its fields' types and syntax checked: M_BAD_JSON
// for a wrong type, M_INVALID_PARAM for a bad visibility, preset or invitee id.
absl::StatusOr<service::CreateRoomRequest> ParseCreateRoom(const object& body) {
  using Preset = service::CreateRoomRequest::Preset;
  service::CreateRoomRequest request;
  CONCLAVE_ASSIGN_OR_RETURN(auto visibility, OptionalString(body, "visibility"));
  CONCLAVE_ASSIGN_OR_RETURN(auto preset, OptionalString(body, "preset"));
  CONCLAVE_ASSIGN_OR_RETURN(request.name, OptionalString(body, "name"));
  CONCLAVE_ASSIGN_OR_RETURN(request.topic, OptionalString(body, "topic"));
  CONCLAVE_ASSIGN_OR_RETURN(request.room_alias_name, OptionalString(body, "room_alias_name"));
  CONCLAVE_ASSIGN_OR_RETURN(request.room_version, OptionalString(body, "room_version"));
  if (visibility && *visibility != "public" && *visibility != "private") {
    return service::InvalidParam("'visibility' must be public or private");
  }
  request.published = visibility && *visibility == "public";
  if (preset == "private_chat") {
    request.preset = Preset::kPrivateChat;
  } else if (preset == "trusted_private_chat") {
    request.preset = Preset::kTrustedPrivateChat;
  } else if (preset == "public_chat") {
    request.preset = Preset::kPublicChat;
  } else if (preset) {
    return service::InvalidParam(core::StrCat(
        "Unknown preset '", *preset, "': use private_chat, public_chat or trusted_private_chat"));
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto is_direct, OptionalBool(body, "is_direct"));
  request.is_direct = is_direct.value_or(false);
  if (const auto* v = body.if_contains("invite"); v && !v->is_null()) {
    if (!v->is_array()) return service::BadJson("'invite' must be an array of user ids");
    for (const auto& u : v->get_array()) {
      if (!u.is_string() || !service::ParseUserId(u.get_string()).ok()) {
        return service::InvalidParam("'invite' must hold user ids");
      }
      request.invite.emplace_back(u.get_string());
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(const object* creation, OptionalObject(body, "creation_content"));
  if (creation != nullptr) request.creation_content = *creation;
  CONCLAVE_ASSIGN_OR_RETURN(const object* power,
                            OptionalObject(body, "power_level_content_override"));
  if (power != nullptr) request.power_level_content_override = *power;
  if (const auto* v = body.if_contains("initial_state"); v && !v->is_null()) {
    if (!v->is_array()) return service::BadJson("'initial_state' must be an array");
    for (const auto& e : v->get_array()) {
      const auto* o = e.if_object();
      const auto* type = o != nullptr ? o->if_contains("type") : nullptr;
      const auto* content = o != nullptr ? o->if_contains("content") : nullptr;
      if (type == nullptr || !type->is_string() || type->get_string().empty() ||
          content == nullptr || !content->is_object()) {
        return service::BadJson("each 'initial_state' entry needs a type and a content object");
      }
      const auto* state_key = o->if_contains("state_key");
      request.initial_state.push_back({.type = std::string(type->get_string()),
                                       .state_key = state_key != nullptr && state_key->is_string()
                                                        ? std::string(state_key->get_string())
                                                        : std::string(),
                                       .content = content->get_object()});
    }
  }
  return request;
}

absl::StatusOr<boost::json::value> JoinHandler(Call& call, const std::string& target) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(auto reason, OptionalString(body, "reason"));
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id,
                            call.hs.rooms().Join(call.session, target, reason));
  return object{{"room_id", room_id}};
}

// PublishedRoomsChunk entries (list_public_rooms.yaml); unset optional fields are left out.
object PublicRoomsJson(const service::PublicRoomsPage& page) {
  boost::json::array chunk;
  for (const service::PublicRoom& room : page.chunk) {
    object entry{{"room_id", room.room_id}, {"num_joined_members", room.num_joined_members}};
    for (const auto& [key, value] :
         {std::pair{"name", &room.name}, std::pair{"topic", &room.topic},
          std::pair{"canonical_alias", &room.canonical_alias},
          std::pair{"avatar_url", &room.avatar_url}, std::pair{"join_rule", &room.join_rule}}) {
      if (*value) entry[key] = **value;
    }
    entry["world_readable"] = room.world_readable;
    entry["guest_can_join"] = room.guest_can_join;
    if (room.room_type) entry["room_type"] = *room.room_type;
    chunk.push_back(std::move(entry));
  }
  object out;
  if (page.next_batch) out["next_batch"] = *page.next_batch;
  if (page.prev_batch) out["prev_batch"] = *page.prev_batch;
  out["chunk"] = std::move(chunk);
  out["total_room_count_estimate"] = page.total_room_count_estimate;
  return out;
}

absl::StatusOr<boost::json::value> PublicRoomsHandler(Call& call, bool post) {
  size_t limit = 0;
  std::string since, term;
  if (post) {
    CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
    CONCLAVE_ASSIGN_OR_RETURN(auto l, OptionalInt(body, "limit"));
    CONCLAVE_ASSIGN_OR_RETURN(auto s, OptionalString(body, "since"));
    CONCLAVE_ASSIGN_OR_RETURN(const object* filter, OptionalObject(body, "filter"));
    if (l) limit = *l < 0 ? 0 : static_cast<size_t>(*l);
    if (s) since = *s;
    if (filter != nullptr) {
      CONCLAVE_ASSIGN_OR_RETURN(auto t, OptionalString(*filter, "generic_search_term"));
      if (t) term = *t;
    }
  } else {
    CONCLAVE_ASSIGN_OR_RETURN(auto l, QueryInt(call.request, "limit"));
    if (l) limit = *l < 0 ? 0 : static_cast<size_t>(*l);
    since = call.request.QueryParam("since").value_or("");
  }
  CONCLAVE_ASSIGN_OR_RETURN(service::PublicRoomsPage page,
                            call.hs.rooms().PublicRooms(limit, since, term));
  return PublicRoomsJson(page);
}

}  // namespace

absl::Status RegisterRoomRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "POST", "/v3/createRoom", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
        CONCLAVE_ASSIGN_OR_RETURN(service::CreateRoomRequest request, ParseCreateRoom(body));
        CONCLAVE_ASSIGN_OR_RETURN(auto result, call.hs.rooms().CreateRoom(call.session, request));
        return object{{"room_id", result.room_id}};
      }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("POST", "/v3/join/{roomIdOrAlias}", Auth::kRequired,
                 [](Call& call) { return JoinHandler(call, call.Param("roomIdOrAlias")); }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("POST", "/v3/rooms/{roomId}/join", Auth::kRequired,
                 [](Call& call) { return JoinHandler(call, call.Param("roomId")); }));
  CONCLAVE_RETURN_IF_ERROR(AddTargetAction(routes, "invite", &Rooms::Invite));
  CONCLAVE_RETURN_IF_ERROR(AddTargetAction(routes, "kick", &Rooms::Kick));
  CONCLAVE_RETURN_IF_ERROR(AddTargetAction(routes, "ban", &Rooms::Ban));
  CONCLAVE_RETURN_IF_ERROR(AddTargetAction(routes, "unban", &Rooms::Unban));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("POST", "/v3/rooms/{roomId}/leave", Auth::kRequired,
                 [](Call& call) -> absl::StatusOr<boost::json::value> {
                   CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
                   CONCLAVE_ASSIGN_OR_RETURN(auto reason, OptionalString(body, "reason"));
                   return Empty(call.hs.rooms().Leave(call.session, call.Param("roomId"), reason));
                 }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("POST", "/v3/rooms/{roomId}/forget", Auth::kRequired, [](Call& call) {
        return Empty(call.hs.rooms().Forget(call.session, call.Param("roomId")));
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/joined_rooms", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(auto rooms, call.hs.rooms().JoinedRooms(call.session.user_id));
        boost::json::array ids;
        for (auto& r : rooms) ids.emplace_back(r);
        return object{{"joined_rooms", std::move(ids)}};
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/rooms/{roomId}/joined_members", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(
            auto members, call.hs.rooms().JoinedMembers(call.session, call.Param("roomId")));
        object joined;
        for (const service::JoinedMember& m : members) {
          // Both keys always present, null when unset, as Synapse answers: matrix-nio 0.20's
          // schema requires display_name and refuses the whole response without it.
          object member{{"display_name", nullptr}, {"avatar_url", nullptr}};
          if (m.display_name) member["display_name"] = *m.display_name;
          if (m.avatar_url) member["avatar_url"] = *m.avatar_url;
          joined[m.user_id] = std::move(member);
        }
        return object{{"joined", std::move(joined)}};
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/rooms/{roomId}/members", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        std::string membership = call.request.QueryParam("membership").value_or("");
        std::string not_membership = call.request.QueryParam("not_membership").value_or("");
        CONCLAVE_RETURN_IF_ERROR(CheckMembershipParam("membership", membership));
        CONCLAVE_RETURN_IF_ERROR(CheckMembershipParam("not_membership", not_membership));
        std::optional<uint64_t> at;
        if (auto token = call.request.QueryParam("at")) {
          CONCLAVE_ASSIGN_OR_RETURN(at, service::ParsePositionToken(*token));
        }
        CONCLAVE_ASSIGN_OR_RETURN(
            auto events, call.hs.rooms().Members(call.session, call.Param("roomId"), membership,
                                                 not_membership, at));
        return object{{"chunk", ClientEvents(events, &call.session, true)}};
      }));

  // Aliases.
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/directory/room/{roomAlias}", Auth::kNone,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(std::string room_id,
                                  call.hs.rooms().ResolveAlias(call.Param("roomAlias")));
        return object{{"room_id", room_id},
                      {"servers", boost::json::array{boost::json::value(call.hs.server_name())}}};
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "PUT", "/v3/directory/room/{roomAlias}", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
        CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, RequiredString(body, "room_id"));
        return Empty(call.hs.rooms().SetAlias(call.session, call.Param("roomAlias"), room_id));
      }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("DELETE", "/v3/directory/room/{roomAlias}", Auth::kRequired, [](Call& call) {
        return Empty(call.hs.rooms().DeleteAlias(call.session, call.Param("roomAlias")));
      }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/rooms/{roomId}/aliases", Auth::kRequired,
                 [](Call& call) -> absl::StatusOr<boost::json::value> {
                   CONCLAVE_ASSIGN_OR_RETURN(
                       auto aliases, call.hs.rooms().Aliases(call.session, call.Param("roomId")));
                   boost::json::array out;
                   for (auto& a : aliases) out.emplace_back(a);
                   return object{{"aliases", std::move(out)}};
                 }));

  // The public room directory.
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v3/publicRooms", Auth::kOptional,
                                      [](Call& call) { return PublicRoomsHandler(call, false); }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", "/v3/publicRooms", Auth::kRequired,
                                      [](Call& call) { return PublicRoomsHandler(call, true); }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/directory/list/room/{roomId}", Auth::kNone,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(bool published,
                                  call.hs.rooms().IsPublished(call.Param("roomId")));
        if (!published) {
          // Unknown rooms are 404 per the spec; known unpublished ones are "private".
          CONCLAVE_RETURN_IF_ERROR(call.hs.rooms().CurrentState(call.Param("roomId")).status());
        }
        return object{{"visibility", published ? "public" : "private"}};
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "PUT", "/v3/directory/list/room/{roomId}", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
        CONCLAVE_ASSIGN_OR_RETURN(auto visibility, OptionalString(body, "visibility"));
        if (visibility && *visibility != "public" && *visibility != "private") {
          return service::InvalidParam("'visibility' must be public or private");
        }
        return Empty(call.hs.rooms().SetVisibility(call.session, call.Param("roomId"),
                                                   visibility.value_or("public") == "public"));
      }));
  return RegisterRoomUpgradeRoutes(routes);
}

}  // namespace conclave::api
