// The authorization rules of room versions 1 to 12: whether an event may enter a room given the
// room state before it, which state an event's auth_events must reference, and when a redaction
// may be applied. The room's version (its m.room.create `room_version`) picks the rules through
// the switches of its RoomVersion (room_versions.h): v1's m.room.aliases and redaction rules,
// v6's notifications levels, v7's knocking, v8's restricted joins, v10's knock_restricted and
// integer power levels, v11's creator from the sender, v12's room id from the create event,
// additional_creators and creators' infinite power.
//
// Room Versions, "Authorization rules" of each version; Server-Server API, "Auth events
// selection"; "Handling redactions" (v3). Stateless functions, thread-safe.
//
// Signatures are not checked here: CheckReceivedPdu (pdu_checks.h) checks them on events from
// other servers, including rule 4.2's signature by the server of
// `join_authorised_via_users_server` (events made here are signed by this server). So:
//   - m.room.member invites carrying `third_party_invite` are refused ("not supported"), because
//     checking them needs the identity server's signatures;
//   - a restricted join (`restricted`, `knock_restricted`) is accepted when
//     `join_authorised_via_users_server` names a user id who is joined and has the invite level;
//     whether the joiner really is in one of the `allow` rooms is for the caller (the authorising
//     server) to decide before it picks that user.
#ifndef CONCLAVE_SERVICE_PROTOCOL_AUTH_RULES_H_
#define CONCLAVE_SERVICE_PROTOCOL_AUTH_RULES_H_

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/service/protocol/power_levels.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/protocol/state_map.h"

namespace conclave::service {

// Checks `event` (PDU shape: type, sender, room_id, content, state_key if a state event,
// prev_events) against `auth_state`, the room state just before it: the full state, or just the
// entries named by AuthStateKeys plus m.room.create (v12 does not select it, its room id
// standing for it, but the rules read it in every version), which are all that is read —
// except by rule 4.3.1 (the creator's own first join), which asks whether the state holds nothing
// but m.room.create and so needs the full state (tests/fuzz/event_json found the difference).
// Nothing is kept after the call.
//
// Returns OK when the rules allow the event, else M_FORBIDDEN (kPermissionDenied) whose message
// names the rule that refused it, e.g. "rule 4.3.3: @bob:x is banned from the room" or
// "rule 9.5.2: cannot set ban to 60, above your level (50)". Malformed events (no type, no
// sender, a membership without state_key) and a room whose current m.room.power_levels does not
// parse are refused the same way.
//
// m.room.create must come with an empty `auth_state`, no prev_events, a known `room_version`
// (absent means "1"), the sender's server in its room_id (v1-v11) or no room_id at all (v12), a
// `creator` (v1-v10), and valid `additional_creators` (v12). Every other event is judged by the
// rules of the version its room's m.room.create names; v12 also wants its room_id to be the
// create event's id (with "!"), when the stored create event carries its `event_id`.
//
// m.room.redaction is held to the ordinary "required power level" rule only from v3, as the spec
// says; in v1-v2 also to rule 11 (redact level, or the redacted event id's domain is the
// redaction's, read from its `event_id`). Whether the redaction may take effect on its target
// is CheckRedactionAuth.
absl::Status CheckEventAuth(const boost::json::object& event, const StateMap& auth_state);

// Checks whether `redaction` (an m.room.redaction already accepted by CheckEventAuth) may be
// applied to `redacted`, given `auth_state` at the redaction. Allowed when the redaction's sender
// has at least the `redact` level, or sent `redacted` themself. The spec's v3 rule compares the
// servers of the two senders instead; on a single server every sender shares one server, so that
// rule would let anyone redact anyone and the same-user rule of the Client-Server API
// ("m.room.power_levels": redacting another user's event needs `redact`) is used instead.
//
// Returns M_FORBIDDEN naming the reason (another room, too low a level, unknown power levels).
absl::Status CheckRedactionAuth(const boost::json::object& redaction,
                                const boost::json::object& redacted, const StateMap& auth_state);

// Returns the table entry of the room version `create` (an m.room.create event) names: its
// content.room_version, "1" when absent, nullptr when not a known version.
const RoomVersion* VersionOf(const boost::json::object& create);

// Returns the creators of the room whose m.room.create is `create`: content.creator (v1-v10) or
// the sender (v11+), then v12's content.additional_creators (strings only), in that order.
std::vector<std::string> RoomCreators(const boost::json::object& create);

// Returns the power levels in force in `state` (a room's state), as the auth rules read them
// (the room's version and creators). M_FORBIDDEN without m.room.create or for an unknown
// version; M_BAD_JSON when its m.room.power_levels does not parse.
absl::StatusOr<PowerLevels> CurrentPowerLevels(const StateMap& state);

// Returns the state entries `event`'s auth_events must reference ("Auth events selection"),
// whether or not they exist in the room: none for m.room.create; otherwise m.room.create,
// m.room.power_levels and the sender's m.room.member; for m.room.member also the target's
// member event, m.room.join_rules when the membership is join, invite or knock (knock too,
// because rule 4.7 reads the join rule), the m.room.third_party_invite named by
// `content.third_party_invite.signed.token`, and the member event of
// `content.join_authorised_via_users_server`. No duplicates; order as listed.
// `version` (the room's) drops m.room.create in v12 (room_id_from_create_event), the join rules
// of a knock before v7 and the authorising user before v8.
std::vector<StateKey> AuthStateKeys(const boost::json::object& event, const RoomVersion& version);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_AUTH_RULES_H_
