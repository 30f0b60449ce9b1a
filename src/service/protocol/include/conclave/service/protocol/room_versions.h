// The room versions this server knows, in one place (Matrix spec, "Room versions"). Redaction
// follows the rules of versions 1 to 12; the authorization rules (auth_rules.h), event ids and
// hashes implement version 10 only, which is also the version rooms are created with and the one
// GET /capabilities advertises. Pure; thread-safe.
#ifndef CONCLAVE_SERVICE_PROTOCOL_ROOM_VERSIONS_H_
#define CONCLAVE_SERVICE_PROTOCOL_ROOM_VERSIONS_H_

#include <optional>
#include <string_view>

namespace conclave::service {

// The version rooms are created with, and the one whose rules apply when none is given or the
// given one is not known.
inline constexpr std::string_view kDefaultRoomVersion = "10";
// The one room version whose authorization rules CheckEventAuth implements.
inline constexpr std::string_view kAuthRulesRoomVersion = kDefaultRoomVersion;
// The newest room version whose redaction rules RedactEvent follows.
inline constexpr int kNewestKnownRoomVersion = 12;

// Returns the number of `room_version` ("1" … "12"), nullopt for anything else.
std::optional<int> RoomVersionNumber(std::string_view room_version);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_ROOM_VERSIONS_H_
