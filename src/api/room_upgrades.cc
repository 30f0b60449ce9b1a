// Room upgrade and knock routes: POST /rooms/{roomId}/upgrade (room_upgrades.yaml) and
// POST /knock/{roomIdOrAlias} (knocking.yaml). Registered by RegisterRoomRoutes.
#include <string>
#include <vector>

#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/rooms/rooms.h"
#include "routes.h"

namespace conclave::api {

using boost::json::object;

absl::Status RegisterRoomUpgradeRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "POST", "/v3/rooms/{roomId}/upgrade", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
        CONCLAVE_ASSIGN_OR_RETURN(std::string new_version, RequiredString(body, "new_version"));
        std::vector<std::string> additional_creators;
        if (const auto* v = body.if_contains("additional_creators"); v && !v->is_null()) {
          if (!v->is_array()) return service::BadJson("'additional_creators' must be an array");
          for (const auto& user : v->get_array()) {
            if (!user.is_string()) {
              return service::BadJson("'additional_creators' must hold user ids");
            }
            additional_creators.emplace_back(user.get_string());
          }
        }
        CONCLAVE_ASSIGN_OR_RETURN(std::string replacement,
                                  call.hs.rooms().UpgradeRoom(call.session, call.Param("roomId"),
                                                              new_version, additional_creators));
        return object{{"replacement_room", replacement}};
      }));
  // `server_name` (servers to knock through) means nothing without federation: ignored.
  return routes.Add("POST", "/v3/knock/{roomIdOrAlias}", Auth::kRequired,
                    [](Call& call) -> absl::StatusOr<boost::json::value> {
                      CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
                      CONCLAVE_ASSIGN_OR_RETURN(auto reason, OptionalString(body, "reason"));
                      CONCLAVE_ASSIGN_OR_RETURN(
                          std::string room_id,
                          call.hs.rooms().Knock(call.session, call.Param("roomIdOrAlias"), reason));
                      return object{{"room_id", room_id}};
                    });
}

}  // namespace conclave::api
