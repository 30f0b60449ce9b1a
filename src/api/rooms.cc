// Room routes: creation, membership, joined rooms and members, aliases, the room directory.
// Client-Server API: create_room.yaml, joining.yaml, inviting.yaml, leaving.yaml, kicking.yaml,
// banning.yaml, list_joined_rooms.yaml, rooms.yaml (members), directory.yaml,
// list_public_rooms.yaml.
#include "conclave/service/rooms/rooms.h"

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::object;
using service::Rooms;

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

absl::StatusOr<boost::json::value> JoinHandler(Call& call, const std::string& target) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(auto reason, OptionalString(body, "reason"));
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id,
                            call.hs.rooms().Join(call.session, target, reason));
  return object{{"room_id", room_id}};
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
  CONCLAVE_ASSIGN_OR_RETURN(object out, call.hs.rooms().PublicRooms(limit, since, term));
  return out;
}

}  // namespace

absl::Status RegisterRoomRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "POST", "/v3/createRoom", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
        CONCLAVE_ASSIGN_OR_RETURN(auto result, call.hs.rooms().CreateRoom(call.session, body));
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
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v3/rooms/{roomId}/joined_members", Auth::kRequired,
                                      [](Call& call) -> absl::StatusOr<boost::json::value> {
                                        CONCLAVE_ASSIGN_OR_RETURN(
                                            object out, call.hs.rooms().JoinedMembers(
                                                            call.session, call.Param("roomId")));
                                        return out;
                                      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/rooms/{roomId}/members", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        std::string membership = call.request.QueryParam("membership").value_or("");
        std::string not_membership = call.request.QueryParam("not_membership").value_or("");
        CONCLAVE_ASSIGN_OR_RETURN(
            auto events, call.hs.rooms().Members(call.session, call.Param("roomId"), membership,
                                                 not_membership));
        boost::json::array chunk;
        for (const auto& e : events) chunk.push_back(Rooms::ClientEvent(e, &call.session, true));
        return object{{"chunk", std::move(chunk)}};
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
  return absl::OkStatus();
}

}  // namespace conclave::api
