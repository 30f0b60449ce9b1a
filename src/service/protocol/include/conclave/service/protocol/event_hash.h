// Content hashes, reference hashes, event ids of PDUs in every room version, and v12 room ids.
//
// Server-Server API, "Calculating the content hash for an event" and "Calculating the
// reference hash for an event"; room versions 1, 3 and 4, "Event IDs"; room version 12, "Event
// format" (room ids). Stateless functions; thread-safe.
#ifndef CONCLAVE_SERVICE_PROTOCOL_EVENT_HASH_H_
#define CONCLAVE_SERVICE_PROTOCOL_EVENT_HASH_H_

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/service/protocol/redaction.h"

namespace conclave::service {

// Returns the content hash of `event` in unpadded base64: SHA-256 of the canonical JSON of the
// whole (unredacted) event without `unsigned`, `signatures` and `hashes`. This is the value of
// `hashes.sha256`. Returns kInvalidArgument if the event has no canonical JSON encoding (see
// CanonicalJson).
absl::StatusOr<std::string> ContentHash(const boost::json::object& event);

// Computes ContentHash(`event`) and stores it as `event.hashes.sha256`, keeping any other
// entries of an existing `hashes` object (a non-object `hashes` is replaced). Returns
// ContentHash's errors, leaving `event` unchanged.
absl::Status AddContentHash(boost::json::object& event);

// Returns the reference hash of `event`: SHA-256 (32 raw bytes) of the canonical JSON of the
// event redacted under `room_version`'s rules (RedactEvent) without `signatures` and
// `unsigned`. Returns kInvalidArgument if the redacted event has no canonical JSON encoding.
absl::StatusOr<std::string> ReferenceHash(const boost::json::object& event,
                                          std::string_view room_version = kDefaultRoomVersion);

// Returns the event id of `event` in room versions 4 and later: "$" followed by the URL-safe
// unpadded base64 of ReferenceHash(`event`, `room_version`), 44 characters in all. Any
// `event_id` inside `event` is covered by the hash like every other kept key, so compute the id
// of a PDU as sent (without one). Returns ReferenceHash's errors.
absl::StatusOr<std::string> EventIdV4(const boost::json::object& event,
                                      std::string_view room_version = kDefaultRoomVersion);

// Returns the reference hash of `event` under `version`'s redaction rules, as above. In a
// room_id_from_create_event version (v12) the m.room.create event is sent without a room_id
// (its id is the room id), so a `room_id` it carries, as stored here, is left out of the hash.
absl::StatusOr<std::string> ReferenceHash(const boost::json::object& event,
                                          const RoomVersion& version);

// Returns the event id of `event` in `version`'s format (`event_id_format`): for kOpaque
// (v1-v2) the `event_id` the event carries (kInvalidArgument if it has none: such ids are
// chosen by the sender, see NewOpaqueEventId); for kBase64 (v3) "$" + standard unpadded base64
// of ReferenceHash; for kUrlSafeBase64 (v4+) "$" + URL-safe unpadded base64. Returns
// ReferenceHash's errors.
absl::StatusOr<std::string> EventId(const boost::json::object& event, const RoomVersion& version);

// Returns a new v1/v2 event id: "$" + 18 random [A-Za-z0-9] + ":" + `server_name`.
std::string NewOpaqueEventId(std::string_view server_name);

// Returns the room id a room_id_from_create_event version (v12) derives from its m.room.create
// event `create`: "!" + URL-safe unpadded base64 of ReferenceHash(`create`, `version`), i.e.
// the create event's id with "!" for "$". Returns ReferenceHash's errors.
absl::StatusOr<std::string> RoomIdFromCreateEvent(const boost::json::object& create,
                                                  const RoomVersion& version);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_EVENT_HASH_H_
