// The federation module's membership routes: GET /_matrix/federation/v1/make_join/{roomId}/
// {userId}, PUT /v2/send_join/{roomId}/{eventId}, GET /v1/make_leave/{roomId}/{userId}, PUT
// /v2/send_leave/{roomId}/{eventId} (this server as the room's resident server) and PUT
// /v2/invite/{roomId}/{eventId} (a local user invited to another server's room); X-Matrix
// authenticated (auth.h). Private to the federation module.
#ifndef CONCLAVE_FEDERATION_MEMBERSHIP_H_
#define CONCLAVE_FEDERATION_MEMBERSHIP_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "conclave/core/http.h"

namespace conclave::federation {

// Registers the routes into `router` as `module` (blocking routes: authentication and the
// event's signature check may fetch keys), appending their handles to `handles`. Router::Add's
// errors.
absl::Status RegisterMembershipRoutes(core::Router& router, std::string_view module,
                                      std::vector<core::RouteHandle>& handles);

}  // namespace conclave::federation

#endif  // CONCLAVE_FEDERATION_MEMBERSHIP_H_
