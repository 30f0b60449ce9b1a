// The authorization rules of room version 10: whether an event may enter a room given the room
// state before it, which state an event's auth_events must reference, and when a redaction may
// be applied.
//
// Room Versions, "Room version 10" → "Authorization rules" (built on v8's restricted joins and
// v7's knocking; power level values must be integers); Server-Server API, "Auth events
// selection"; "Handling redactions" (v3). Stateless functions, thread-safe.
//
// conclave is a single server without federation, so:
//   - signatures are not checked (every event is created here);
//   - m.room.member invites carrying `third_party_invite` are refused ("not supported"), because
//     checking them needs the identity server's signatures;
//   - a restricted join (`restricted`, `knock_restricted`) is accepted when
//     `join_authorised_via_users_server` names a user on the joining user's server (the only
//     server) who is joined and has the invite level; whether the joiner really is in one of the
//     `allow` rooms is for the caller to decide before it picks that user.
#ifndef CONCLAVE_SERVICE_PROTOCOL_AUTH_RULES_H_
#define CONCLAVE_SERVICE_PROTOCOL_AUTH_RULES_H_

#include <boost/json/object.hpp>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/protocol/state_map.h"

namespace conclave::service {

// Checks `event` (PDU shape: type, sender, room_id, content, state_key if a state event,
// prev_events) against `auth_state`, the room state just before it: the full state, or just the
// entries named by AuthStateKeys, which are all that is read — except by rule 4.3.1 (the
// creator's own first join), which asks whether the state holds nothing but m.room.create and so
// needs the full state (tests/fuzz/event_json found the difference). Nothing is kept after the
// call.
//
// Returns OK when the rules allow the event, else M_FORBIDDEN (kPermissionDenied) whose message
// names the rule that refused it, e.g. "rule 4.3.3: @bob:x is banned from the room" or
// "rule 9.5.2: cannot set ban to 60, above your level (50)". Malformed events (no type, no
// sender, a membership without state_key) and a room whose current m.room.power_levels does not
// parse are refused the same way.
//
// m.room.create must come with an empty `auth_state`, no prev_events, the sender's server in its
// room_id, a `creator`, and `room_version` "10" (an absent room_version means "1" and is refused
// too, since only version 10's rules are implemented).
//
// m.room.redaction is held to the ordinary "required power level" rule only, as the spec says;
// whether the redaction may take effect on its target is CheckRedactionAuth.
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

// Returns the state entries `event`'s auth_events must reference ("Auth events selection"),
// whether or not they exist in the room: none for m.room.create; otherwise m.room.create,
// m.room.power_levels and the sender's m.room.member; for m.room.member also the target's
// member event, m.room.join_rules when the membership is join, invite or knock (knock too,
// because rule 4.7 reads the join rule), the m.room.third_party_invite named by
// `content.third_party_invite.signed.token`, and the member event of
// `content.join_authorised_via_users_server`. No duplicates; order as listed.
std::vector<StateKey> AuthStateKeys(const boost::json::object& event);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_AUTH_RULES_H_
