// Content hashes, reference hashes and event ids of PDUs (room versions 4 and later).
//
// Server-Server API, "Calculating the content hash for an event" and "Calculating the
// reference hash for an event"; room version 4, "Event IDs". Stateless functions; thread-safe.
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

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_EVENT_HASH_H_
