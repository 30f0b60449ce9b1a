// The redaction algorithm: which parts of an event survive a redaction. Its output is also what
// event ids (reference hashes) and event signatures cover.
//
// Room versions, "Redactions" in v1 (versions 1–5), v6 (6–7), v8, v9 (9–10) and v11 (11–12).
// Stateless functions; thread-safe.
#ifndef CONCLAVE_SERVICE_PROTOCOL_REDACTION_H_
#define CONCLAVE_SERVICE_PROTOCOL_REDACTION_H_

#include <boost/json/object.hpp>
#include <string_view>

#include "conclave/service/protocol/room_versions.h"

namespace conclave::service {

// Returns a copy of `event` (a PDU) redacted under the rules of `room_version` ("1" … "12";
// anything else is treated as kDefaultRoomVersion):
//  - top level: only event_id, type, room_id, sender, state_key, content, hashes, signatures,
//    depth, prev_events, auth_events and origin_server_ts are kept, plus origin, prev_state
//    and membership before version 11. `unsigned` is dropped.
//  - content: only the keys protected for the event's `type` are kept (m.room.member,
//    m.room.create, m.room.join_rules, m.room.power_levels, m.room.history_visibility,
//    m.room.aliases before v6, m.room.redaction from v11). The result always has a `content`
//    object, empty if `event` had none or a non-object one (as Synapse does).
// Values that are kept are copied unchanged; nothing is validated.
boost::json::object RedactEvent(const boost::json::object& event,
                                std::string_view room_version = kDefaultRoomVersion);
// The same for a table entry: the switches `redaction_keeps_aliases`, `redaction_keeps_allow`,
// `redaction_keeps_authorised` and `redaction_v11` of `version` pick what is kept.
boost::json::object RedactEvent(const boost::json::object& event, const RoomVersion& version);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_REDACTION_H_
