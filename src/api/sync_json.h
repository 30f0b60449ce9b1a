// The JSON body of GET /_matrix/client/v3/sync (Client-Server API "Syncing", sync.yaml) built
// from service's typed SyncResponse: one builder per section, as service has one per section
// (service/sync/sections.h). Private to the api module; stateless, thread-safe.
#ifndef CONCLAVE_API_SYNC_JSON_H_
#define CONCLAVE_API_SYNC_JSON_H_

#include <boost/json/object.hpp>

#include "conclave/service/accounts/accounts.h"
#include "conclave/service/sync/sync.h"

namespace conclave::api {

// The whole body; events are shaped as ClientEventWithoutRoomID for `viewer` (who sees the
// transaction ids of their own device's events).
boost::json::object SyncJson(const service::SyncResponse& response, const service::Session& viewer);

// The sections, each as sync.yaml names it.
boost::json::object JoinedRoomJson(const service::JoinedRoomSync& room,
                                   const service::Session& viewer);
boost::json::object InvitedRoomJson(const service::InvitedRoomSync& room);
boost::json::object LeftRoomJson(const service::LeftRoomSync& room, const service::Session& viewer);
boost::json::object AccountDataJson(const std::vector<service::AccountDataEvent>& events);
boost::json::object PresenceJson(const std::vector<service::PresenceEvent>& events);
// Adds to_device, device_lists, device_one_time_keys_count and device_unused_fallback_key_types.
void AddE2eeJson(const service::SyncResponse& response, boost::json::object& body);

}  // namespace conclave::api

#endif  // CONCLAVE_API_SYNC_JSON_H_
