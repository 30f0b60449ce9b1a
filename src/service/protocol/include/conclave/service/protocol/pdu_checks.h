// The checks a server performs on a PDU received from another server, before it stores it:
// format, signatures, content hash, and the authorization rules against the event's own
// auth_events, the state before it and the current state.
//
// Server-Server API, "Checks performed on receipt of a PDU" (steps 1 to 6; step 7, policy
// servers, is not done), "Validating hashes and signatures on received events", "Auth events
// selection", "Rejection", "Soft failure"; room versions, "Event format", "Event IDs" and rule 2
// ("Considering the event's auth_events", v12's rules 2 and 3) of the authorization rules;
// v5's "Signing key validity period"; Client-Server API, "Size limits".
//
// Pure logic: keys, auth events and room state come from the caller through the inputs below
// (RemoteKeys::KeyAt fits EventKeyLookup), so room code can feed the state at any point of the
// room graph. Stateless functions; thread-safe when the callbacks are.
#ifndef CONCLAVE_SERVICE_PROTOCOL_PDU_CHECKS_H_
#define CONCLAVE_SERVICE_PROTOCOL_PDU_CHECKS_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/protocol/state_map.h"

namespace conclave::service {

// The largest PDU, in bytes of canonical JSON with its signatures (Client-Server API, "Size
// limits").
inline constexpr size_t kMaxPduBytes = 65536;
// The largest `type` and `state_key`, in bytes (same section).
inline constexpr size_t kMaxEventTypeBytes = 255;

// Answers the public key (unpadded base64) of `server_name`'s `key_id` valid at `ts` (ms since
// the Unix epoch; 0 means "any time": room versions before v5 do not enforce validity), or an
// error when the key is unknown or not valid then. RemoteKeys::KeyAt has this shape.
using EventKeyLookup = std::function<absl::StatusOr<std::string>(
    std::string_view server_name, std::string_view key_id, int64_t ts)>;

// Answers the event `event_id` of the room (PDU shape, with its `event_id` for lookups of v3+
// events too, as this server stores them) when this server has it and did not reject it;
// nullopt when it is unknown or was rejected (auth rule 2.3: both are refused).
using AuthEventLookup =
    std::function<std::optional<boost::json::object>(std::string_view event_id)>;

// What became of a received PDU (Server-Server API, "Checks performed on receipt of a PDU").
enum class PduVerdict {
  kAccepted,    // passed every check that was run
  kRejected,    // steps 1, 2 (dropped), 4 or 5 (rejected): not stored as part of the room
  kSoftFailed,  // step 6: passed the state before it but not the current state
};

// Returns "accepted", "rejected" or "soft_failed".
std::string_view PduVerdictName(PduVerdict verdict);

// The outcome of CheckReceivedPdu. A value type.
struct PduCheckResult {
  PduVerdict verdict = PduVerdict::kRejected;
  // Why it was rejected or soft-failed: the step, then the error (e.g. "signatures: Invalid
  // signature by b.example with ed25519:1", "auth events: rule 2.1: two m.room.member of
  // @a:b"); empty when accepted.
  std::string reason;
  // Step 3 found a content hash mismatch: `pdu` is the event redacted under the room version's
  // rules, which is what must be stored and served from now on.
  bool redacted = false;
  // The event id: carried by the event (v1, v2), or its reference hash (v3+). Empty when step 1
  // refused the event before an id could be known.
  std::string event_id;
  // The event to store: the PDU as received without `unsigned` (or redacted, above); in v3+
  // without `event_id`, as it travels over federation.
  boost::json::object pdu;
};

// What CheckReceivedPdu checks the PDU against. Pointers are not kept after the call.
struct PduCheckInputs {
  // The room's version (its m.room.create's `room_version`; for an m.room.create, the one its
  // content names). Must not be null.
  const RoomVersion* version = nullptr;
  // The room the PDU arrived for (e.g. the path of /send_join, or the room asked about); empty:
  // not checked. In v12 an m.room.create has no room_id, and its id with "!" is compared.
  std::string_view room_id;
  // The id the PDU must have (e.g. the one asked for with GET /event/{eventId}); empty: any.
  std::string_view expected_event_id;
  // Keys for step 2. Must not be empty.
  EventKeyLookup keys;
  // The PDU's auth_events (and in v12 its m.room.create, named by its room_id), step 4. Empty:
  // every auth event counts as unknown, so only an m.room.create can pass.
  AuthEventLookup auth_events;
  // The room state before the event (resolved over its prev_events), step 5; null: skipped.
  const StateMap* state_before = nullptr;
  // The room's current state (resolved over its forward extremities), step 6; null: skipped.
  const StateMap* current_state = nullptr;
};

// Step 1: checks that `pdu` has the event format of `version` (room versions, "Event format";
// pdu_v1 … pdu_v12.yaml): the required keys with their JSON types (`sender` a user id,
// `origin_server_ts` and `depth` integers with depth in [0, 2^53-1], `type` and `state_key`
// strings of at most 255 bytes, `content` and `hashes` objects with `hashes.sha256` a string,
// `signatures` an object of objects of strings, `room_id` a room id (v12: absent from
// m.room.create, otherwise "!" + 43 base64 characters), `event_id` (v1, v2 only) and the ids of
// `prev_events` and `auth_events` event ids (v1, v2: [id, {"sha256": hash}] pairs), `unsigned`
// an object when present), no floats from v6, and the whole at most 65536 bytes of canonical
// JSON. Returns M_BAD_JSON (kInvalidArgument) naming the first problem; M_TOO_LARGE for size.
absl::Status CheckPduFormat(const boost::json::object& pdu, const RoomVersion& version);

// Returns the servers whose signatures `pdu` must carry ("Validating hashes and signatures on
// received events"): the sender's; in v1 and v2 also the server of the event id; for an
// m.room.member join with `content.join_authorised_via_users_server` in a version with
// restricted joins (v8+), that user's server too (auth rule 4.2). No duplicates, sender first.
// Assumes CheckPduFormat passed.
std::vector<std::string> RequiredSigningServers(const boost::json::object& pdu,
                                                const RoomVersion& version);

// Step 2: checks the signatures of every RequiredSigningServers server over the redacted event.
// Each ed25519 signature whose key `keys` knows (at the event's origin_server_ts from v5, at any
// time before: `enforce_key_validity`) must verify, and each server needs at least one such
// signature; signatures by unknown or expired keys are skipped, as the spec says. Returns
// M_INVALID_SIGNATURE (kInvalidArgument) naming the server and key, or M_UNAUTHORIZED
// ("no valid key") when none of a server's signatures could be checked.
absl::Status CheckPduSignatures(const boost::json::object& pdu, const RoomVersion& version,
                                const EventKeyLookup& keys);

// Step 3: whether `pdu.hashes.sha256` is its content hash (event_hash.h's ContentHash).
bool PduContentHashMatches(const boost::json::object& pdu);

// Step 4's rule 2 (v12: rules 2 and 3): checks `auth_events`, the events `pdu`'s auth_events
// name (in order, with v12's m.room.create appended), against `pdu`: no two for one (type,
// state_key) (2.1), each one the auth events selection asks for (2.2, AuthStateKeys), in the
// same room (2.5), an m.room.create among them (2.4, before v12). Returns M_FORBIDDEN naming the
// rule.
absl::Status CheckAuthEventsSelection(const boost::json::object& pdu, const RoomVersion& version,
                                      const std::vector<boost::json::object>& auth_events);

// Runs steps 1 to 6 on `pdu`, a PDU as received (v3+ without `event_id`; one carried anyway must
// equal the reference hash). Steps 1 and 2 failing, or a v3+ event id that is not the expected
// one, give kRejected ("dropped"); step 3 failing sets `redacted` and goes on with the redacted
// event (whose signatures must still hold: a redacted event keeps what they cover); step 4
// (auth_events missing, unknown or rejected: rule 2.3, then the authorization rules over the
// auth events as a state map, auth_rules.h) and step 5 (`state_before`) give kRejected; step 6
// (`current_state`) gives kSoftFailed. Third-party invites are refused by the auth rules (not
// supported). Never fails as a call: every problem with the PDU is a verdict.
PduCheckResult CheckReceivedPdu(const boost::json::object& pdu, const PduCheckInputs& inputs);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_PDU_CHECKS_H_
