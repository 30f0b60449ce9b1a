// The federation module's event and state read routes (events.yaml, event_auth.yaml): GET
// /_matrix/federation/v1/event/{eventId}, /state/{roomId}, /state_ids/{roomId} and
// /event_auth/{roomId}/{eventId}, X-Matrix authenticated (auth.h), for events of this server's
// rooms. Private to the federation module.
#ifndef CONCLAVE_FEDERATION_EVENTS_H_
#define CONCLAVE_FEDERATION_EVENTS_H_

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/core/http.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/rooms/rooms.h"

namespace conclave::federation {

// Registers the routes into `router` as `module` (blocking routes: authentication may fetch the
// origin's keys, and the state at an event walks the room's later events), appending their
// handles to `handles`. Router::Add's errors.
// Returns the path parameter `name` of `request`, "" when absent.
std::string PathParam(const core::Request& request, std::string_view name);

// Returns the version of `room_id`, from its m.room.create. M_NOT_FOUND for an unknown room.
absl::StatusOr<const service::RoomVersion*> VersionOfRoom(service::Rooms& rooms,
                                                          std::string_view room_id);

// Returns `pdu` as it travels over federation (docs/matrix.md, "Events"): without `unsigned`,
// v3+ without `event_id`, a v12 m.room.create without `room_id`.
boost::json::object AsSent(boost::json::object pdu, const service::RoomVersion& version);

// Returns the auth events of `from` (PDUs as stored, not kept after the call), and theirs,
// recursively, without `from` themselves (unless one is another's auth event), oldest first;
// v12: with the room's m.room.create. An auth event this server does not have is left out.
// Database errors.
absl::StatusOr<std::vector<service::StoredEvent>> AuthChain(
    service::Rooms& rooms, const service::RoomVersion& version,
    const std::vector<const boost::json::object*>& from);

absl::Status RegisterEventRoutes(core::Router& router, std::string_view module,
                                 std::vector<core::RouteHandle>& handles);

}  // namespace conclave::federation

#endif  // CONCLAVE_FEDERATION_EVENTS_H_
