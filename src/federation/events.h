// The federation module's event and state read routes (events.yaml, event_auth.yaml): GET
// /_matrix/federation/v1/event/{eventId}, /state/{roomId}, /state_ids/{roomId} and
// /event_auth/{roomId}/{eventId}, X-Matrix authenticated (auth.h), for events of this server's
// rooms. Private to the federation module.
#ifndef CONCLAVE_FEDERATION_EVENTS_H_
#define CONCLAVE_FEDERATION_EVENTS_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "conclave/core/http.h"

namespace conclave::federation {

// Registers the routes into `router` as `module` (blocking routes: authentication may fetch the
// origin's keys, and the state at an event walks the room's later events), appending their
// handles to `handles`. Router::Add's errors.
absl::Status RegisterEventRoutes(core::Router& router, std::string_view module,
                                 std::vector<core::RouteHandle>& handles);

}  // namespace conclave::federation

#endif  // CONCLAVE_FEDERATION_EVENTS_H_
