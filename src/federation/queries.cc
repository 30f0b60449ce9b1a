// Server-Server API, "Querying for information" (query.yaml): the profile and directory queries.
#include "queries.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "auth.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/rooms/rooms.h"

namespace conclave::federation {
namespace {

using Query =
    std::function<absl::StatusOr<boost::json::object>(core::Request&, service::Homeserver&)>;

// GET /query/profile?user_id=&field=: the local user's public profile, or one field of it.
absl::StatusOr<boost::json::object> Profile(core::Request& request, service::Homeserver& hs) {
  std::optional<std::string> user_id = request.QueryParam("user_id");
  if (!user_id.has_value()) return service::MissingParam("user_id is required");
  CONCLAVE_ASSIGN_OR_RETURN(service::UserId user, service::ParseUserId(*user_id));
  if (user.server_name != hs.server_name()) {
    return service::InvalidParam(core::StrCat(*user_id, " is not a user of ", hs.server_name()));
  }
  CONCLAVE_ASSIGN_OR_RETURN(service::Profile profile, hs.accounts().GetProfile(*user_id));
  std::optional<std::string> field = request.QueryParam("field");
  boost::json::object body;
  if (profile.displayname && (!field || *field == "displayname")) {
    body["displayname"] = *profile.displayname;
  }
  if (profile.avatar_url && (!field || *field == "avatar_url")) {
    body["avatar_url"] = *profile.avatar_url;
  }
  // "404: ... or the queried field does not exist."
  if (field.has_value() && body.empty()) {
    return service::NotFound(core::StrCat("The profile of ", *user_id, " has no ", *field));
  }
  return body;
}

// GET /query/directory?room_alias=: the room of a local alias and the servers in it.
absl::StatusOr<boost::json::object> Directory(core::Request& request, service::Homeserver& hs) {
  std::optional<std::string> alias = request.QueryParam("room_alias");
  if (!alias.has_value()) return service::MissingParam("room_alias is required");
  CONCLAVE_ASSIGN_OR_RETURN(service::RoomAlias parsed, service::ParseRoomAlias(*alias));
  if (parsed.server_name != hs.server_name()) {
    return service::InvalidParam(core::StrCat(*alias, " is not an alias of ", hs.server_name()));
  }
  absl::StatusOr<std::string> room_id = hs.rooms().ResolveAlias(*alias);
  if (!room_id.ok()) {
    if (absl::IsNotFound(room_id.status())) return service::NotFound("Room alias not found.");
    return room_id.status();
  }
  // This server first, then the servers of the other joined members.
  boost::json::array servers{boost::json::value(hs.server_name())};
  std::set<std::string> seen{hs.server_name()};
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> members, hs.rooms().JoinedUserIds(*room_id));
  for (const std::string& member : members) {
    absl::StatusOr<service::UserId> user = service::ParseUserId(member);
    if (user.ok() && seen.insert(user->server_name).second) {
      servers.emplace_back(user->server_name);
    }
  }
  return boost::json::object{{"room_id", *room_id}, {"servers", std::move(servers)}};
}

}  // namespace

absl::Status RegisterQueryRoutes(core::Router& router, std::string_view module,
                                 std::vector<core::RouteHandle>& handles) {
  const core::RouteOptions blocking{.blocking = true};
  for (const auto& [path, query] :
       {std::pair<const char*, Query>{"/_matrix/federation/v1/query/profile", &Profile},
        std::pair<const char*, Query>{"/_matrix/federation/v1/query/directory", &Directory}}) {
    CONCLAVE_ASSIGN_OR_RETURN(
        core::RouteHandle handle,
        router.Add(
            module, "GET", path,
            [query = query](core::Request& request) {
              return RunAuthenticated(request, [&query](core::Request& r, service::Homeserver& hs,
                                                        std::string_view) { return query(r, hs); });
            },
            blocking));
    handles.push_back(std::move(handle));
  }
  return absl::OkStatus();
}

}  // namespace conclave::federation
