// Matrix identifiers: user ids, room ids, room aliases, event ids and server names — parsing,
// validation and generation of new ones.
//
// Appendices, "Identifier Grammar" ("Server Name", "User Identifiers", "Room IDs", "Room
// Aliases", "Event IDs"). Stateless functions; thread-safe.
#ifndef CONCLAVE_SERVICE_PROTOCOL_IDENTIFIERS_H_
#define CONCLAVE_SERVICE_PROTOCOL_IDENTIFIERS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace conclave::service {

// The longest user id, room id, room alias or event id, sigil and server name included.
inline constexpr size_t kMaxIdentifierBytes = 255;

// `@localpart:server_name`.
struct UserId {
  std::string localpart;
  std::string server_name;

  std::string ToString() const;
  friend bool operator==(const UserId&, const UserId&) = default;
};

// `!opaque_id:server_name`.
struct RoomId {
  std::string opaque_id;
  std::string server_name;

  std::string ToString() const;
  friend bool operator==(const RoomId&, const RoomId&) = default;
};

// `#alias:server_name`.
struct RoomAlias {
  std::string alias;
  std::string server_name;

  std::string ToString() const;
  friend bool operator==(const RoomAlias&, const RoomAlias&) = default;
};

// Checks `localpart` against the grammar for new user ids: non-empty, only `a-z`, `0-9`, `.`,
// `_`, `=`, `-`, `/` and `+`. Returns kInvalidArgument with errcode M_INVALID_USERNAME
// otherwise. Does not check the length of the whole user id (see ParseUserId).
absl::Status ValidateLocalpartForRegistration(std::string_view localpart);

// Returns whether `server_name` is `hostname [":" port]`, hostname being a DNS name (labels of
// letters, digits and `-` separated by single dots, at most 255 characters), a dotted-quad IPv4
// literal (each number 0–255) or a bracketed IPv6 literal (RFC 3513 §2.2), and port 1 to 5
// digits with a value of at most 65535. A name of digits and dots only must be a valid IPv4
// literal.
bool IsValidServerName(std::string_view server_name);

// Parses `@localpart:server_name`, at most kMaxIdentifierBytes bytes. The localpart is split at
// the first `:` and may use the historical character set (printable ASCII 0x21–0x7E, so upper
// case too) but not be empty. Returns kInvalidArgument with errcode M_INVALID_PARAM if `user_id`
// is not of that form or its server name is not valid.
absl::StatusOr<UserId> ParseUserId(std::string_view user_id);

// Parses `!opaque_id:server_name`, at most kMaxIdentifierBytes bytes. The opaque id is split at
// the first `:`, is non-empty, valid UTF-8 and without NUL. Returns kInvalidArgument with
// errcode M_INVALID_PARAM otherwise. Room version 12's room ids, "!" followed by the 43
// characters of a URL-safe unpadded base64 SHA-256 and no server name, are accepted too, with
// an empty `server_name` (appendices, "Room IDs").
absl::StatusOr<RoomId> ParseRoomId(std::string_view room_id);

// Parses `#alias:server_name`, at most kMaxIdentifierBytes bytes. The alias is split at the
// first `:`, is non-empty, valid UTF-8, and has no ASCII whitespace or control characters.
// Returns kInvalidArgument with errcode M_INVALID_PARAM otherwise.
absl::StatusOr<RoomAlias> ParseRoomAlias(std::string_view room_alias);

// Returns whether `event_id` could be an event id of any room version: `$` followed by at least
// one character, at most kMaxIdentifierBytes bytes. Says nothing about whether it exists.
bool LooksLikeEventId(std::string_view event_id);

// Returns a new room id on `server_name`: "!" + 18 random [A-Za-z0-9] + ":" + `server_name`
// (about 107 bits of randomness).
std::string NewRoomId(std::string_view server_name);

// Returns a new device id: 10 random upper-case letters A–Z (about 47 bits).
std::string NewDeviceId();

// Returns a new access token: 40 random [A-Za-z0-9] (about 238 bits).
std::string NewAccessToken();

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_IDENTIFIERS_H_
