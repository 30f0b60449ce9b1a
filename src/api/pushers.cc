// Pushers: GET /pushers and POST /pushers/set (Client-Server API, "Push Notifications";
// pusher.yaml), over service/push/pushers.h.
#include "conclave/service/push/pushers.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "conclave/core/status_macros.h"
#include "routes.h"

namespace conclave::api {

absl::Status RegisterPusherRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/pushers", Auth::kRequired, [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(auto pushers, call.hs.pushers().List(call.session.user_id));
        boost::json::array out;
        for (auto& pusher : pushers) out.push_back(std::move(pusher));
        return boost::json::object{{"pushers", std::move(out)}};
      }));
  return routes.Add("POST", "/v3/pushers/set", Auth::kRequired,
                    [](Call& call) -> absl::StatusOr<boost::json::value> {
                      CONCLAVE_ASSIGN_OR_RETURN(boost::json::object body, call.JsonBody());
                      CONCLAVE_RETURN_IF_ERROR(call.hs.pushers().Set(call.session.user_id,
                                                                     call.session.device_id, body));
                      return boost::json::object();
                    });
}

}  // namespace conclave::api
