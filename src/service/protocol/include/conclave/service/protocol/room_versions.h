// The room versions this server knows, in one table (Matrix spec, "Room versions", v1 … v12).
// Every difference between versions that the code acts on is a field of RoomVersion; the auth
// rules (auth_rules.h), redaction (redaction.h), event ids (event_hash.h), power levels
// (power_levels.h) and the room code read those fields, never a version string. Pure; the table
// is immutable (constexpr), so everything here is thread-safe.
#ifndef CONCLAVE_SERVICE_PROTOCOL_ROOM_VERSIONS_H_
#define CONCLAVE_SERVICE_PROTOCOL_ROOM_VERSIONS_H_

#include <optional>
#include <span>
#include <string_view>

namespace conclave::service {

// How an event's id is made ("Event IDs" of v1, v3 and v4).
enum class EventIdFormat {
  kOpaque,         // v1-v2: "$opaque:server", carried in the event as `event_id`
  kBase64,         // v3: "$" + unpadded standard base64 of the reference hash
  kUrlSafeBase64,  // v4+: "$" + unpadded URL-safe base64 of the reference hash
};

// The state resolution algorithm a version uses; ResolveState (state_res.h) picks it from here.
enum class StateResolution {
  kV1,   // room version 1
  kV2,   // room versions 2-11
  kV21,  // room version 12: v2 from an empty state map, with the conflicted state subgraph
};

// What one room version changes. Field comments name the version that introduced the behaviour.
struct RoomVersion {
  std::string_view id;  // "1" … "12"
  bool stable = true;   // GET /capabilities: "stable" or "unstable"

  // --- event format ---------------------------------------------------------------------------
  EventIdFormat event_id_format = EventIdFormat::kUrlSafeBase64;
  // v1-v2: prev_events and auth_events are [event_id, {"sha256": reference hash}] pairs; v3+ ids.
  bool event_refs_with_hashes = false;
  // v1-v10: the PDU has a top-level `origin` (v11 dropped it, and redaction stopped keeping
  // origin, membership and prev_state).
  bool top_level_origin = false;
  // v1-v10: m.room.create needs `content.creator`; v11+ the creator is the create's sender.
  bool creator_in_content = false;
  // v12: the room id is "!" + the create event's reference hash (URL-safe base64); the create
  // event has no room_id and is not selected into auth_events.
  bool room_id_from_create_event = false;
  // v12: m.room.create `content.additional_creators` (user ids) are creators too.
  bool additional_creators = false;
  // v12: creators have infinite power and may not appear in m.room.power_levels `users`.
  bool creators_have_infinite_power = false;

  // --- authorization rules --------------------------------------------------------------------
  // v1-v2: rule 11 authorizes m.room.redaction (redact level, or same domain of event ids); v3+
  // accept every redaction and decide at "Handling redactions".
  bool redaction_in_auth_rules = false;
  // v5: signing keys must be valid at the event's origin_server_ts (checked with federation).
  bool enforce_key_validity = true;
  // v1-v5: rule 4, m.room.aliases needs a state_key equal to the sender's domain.
  bool special_case_aliases = false;
  // v6+: rules 10.4/10.5 also compare `notifications` of m.room.power_levels.
  bool notifications_power_levels = true;
  // v6+: events must be canonical JSON (no floats, integers in [-(2**53)+1, (2**53)-1]);
  // before, power level values may be floats (truncated).
  bool strict_canonical_json = true;
  // v7+: the `knock` membership and join rule.
  bool knock = true;
  // v8+: the `restricted` join rule and `join_authorised_via_users_server`.
  bool restricted_join = true;
  // v10+: the `knock_restricted` join rule.
  bool knock_restricted = true;
  // v10+: power level values must be JSON integers; before, strings holding integers count.
  bool integer_power_levels = true;

  // --- redaction algorithm --------------------------------------------------------------------
  bool redaction_keeps_aliases = false;    // v1-v5: m.room.aliases `aliases`
  bool redaction_keeps_allow = true;       // v8+: m.room.join_rules `allow`
  bool redaction_keeps_authorised = true;  // v9+: m.room.member join_authorised_via_users_server
  bool redaction_v11 = true;               // v11+: create content whole, power levels `invite`,
                                           // redaction `redacts`, member third_party_invite.signed

  StateResolution state_resolution = StateResolution::kV2;
};

// Every room version, oldest first.
std::span<const RoomVersion> AllRoomVersions();

// Returns the table entry for `id` ("1" … "12"), nullptr for any other string.
const RoomVersion* FindRoomVersion(std::string_view id);

// Returns FindRoomVersion(`id`), or kDefaultRoomVersion's entry when `id` is unknown. For readers
// of stored rooms (which always carry a known version) and for tolerant tools.
const RoomVersion& RoomVersionOrDefault(std::string_view id);

// The default of the `default_room_version` option, and the version whose rules apply where a
// caller names none. "Room versions" → "Complete list of room versions" says "Servers SHOULD
// use room version 12 as the default room version when creating new rooms"; this server
// defaults to 10 all the same (as Synapse does), because the clients it serves do not all read
// v11+ rooms yet: matrix-nio 0.20 refuses an m.room.create without `creator` (gone in v11) and
// knows nothing of v12 creators' infinite power (it shows them at level 0). Operators whose
// clients are ready set the option to 12.
inline constexpr std::string_view kDefaultRoomVersion = "10";

// Returns the number of `room_version` ("1" … "12"), nullopt for anything else.
std::optional<int> RoomVersionNumber(std::string_view room_version);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_ROOM_VERSIONS_H_
