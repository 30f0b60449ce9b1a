// Matrix errors as absl::Status: the spec's `errcode` (an Errcode) rides along as a status
// payload, so a service can say "this username is taken" (Errcode::kUserInUse) and the api turns
// it into the right JSON body and HTTP status (src/api/matrix_error.h owns that mapping).
//
// Client-Server API, "Standard error response", "Common error codes" and "Other error codes";
// the endpoint-specific codes of the key backup, media and sliding sync sections. Stateless,
// thread-safe.
#ifndef CONCLAVE_SERVICE_PROTOCOL_ERRORS_H_
#define CONCLAVE_SERVICE_PROTOCOL_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace conclave::service {

// A Matrix `errcode`. ErrcodeName gives its wire name ("M_FORBIDDEN"); each has a default
// absl::StatusCode that MatrixStatus(Errcode, ...) uses.
enum class Errcode {
  // Common error codes (any endpoint).
  kBadJson,                // M_BAD_JSON: valid JSON, wrong shape or values
  kForbidden,              // M_FORBIDDEN
  kLimitExceeded,          // M_LIMIT_EXCEEDED: rate limited (with retry_after_ms)
  kMissingToken,           // M_MISSING_TOKEN
  kNotFound,               // M_NOT_FOUND
  kNotJson,                // M_NOT_JSON
  kResourceLimitExceeded,  // M_RESOURCE_LIMIT_EXCEEDED
  kUnknown,                // M_UNKNOWN: the status code then decides the HTTP status
  kUnknownDevice,          // M_UNKNOWN_DEVICE
  kUnknownToken,           // M_UNKNOWN_TOKEN
  kUnrecognized,           // M_UNRECOGNIZED: endpoint or method not implemented
  kUserLimitExceeded,      // M_USER_LIMIT_EXCEEDED
  kUserLocked,             // M_USER_LOCKED
  kUserSuspended,          // M_USER_SUSPENDED
  // Other error codes (specific endpoints).
  kBadAlias,                     // M_BAD_ALIAS: canonical alias not pointing at the room
  kBadState,                     // M_BAD_STATE
  kCannotLeaveServerNoticeRoom,  // M_CANNOT_LEAVE_SERVER_NOTICE_ROOM
  kCannotOverwriteMedia,         // M_CANNOT_OVERWRITE_MEDIA (media upload)
  kCaptchaInvalid,               // M_CAPTCHA_INVALID
  kCaptchaNeeded,                // M_CAPTCHA_NEEDED
  kDuplicateAnnotation,          // M_DUPLICATE_ANNOTATION (relations)
  kExclusive,                    // M_EXCLUSIVE (application services)
  kGuestAccessForbidden,         // M_GUEST_ACCESS_FORBIDDEN
  kIncompatibleRoomVersion,      // M_INCOMPATIBLE_ROOM_VERSION
  kInvalidParam,                 // M_INVALID_PARAM
  kInvalidRoomState,             // M_INVALID_ROOM_STATE (createRoom initial_state)
  kInvalidSignature,             // M_INVALID_SIGNATURE (E2EE key upload)
  kInvalidUsername,              // M_INVALID_USERNAME
  kKeyTooLarge,                  // M_KEY_TOO_LARGE (profile key)
  kMissingParam,                 // M_MISSING_PARAM
  kNotYetUploaded,               // M_NOT_YET_UPLOADED (async media upload)
  kRoomInUse,                    // M_ROOM_IN_USE (createRoom alias taken)
  kServerNotTrusted,             // M_SERVER_NOT_TRUSTED
  kThreepidAuthFailed,           // M_THREEPID_AUTH_FAILED
  kThreepidDenied,               // M_THREEPID_DENIED
  kThreepidInUse,                // M_THREEPID_IN_USE
  kThreepidMediumNotSupported,   // M_THREEPID_MEDIUM_NOT_SUPPORTED
  kThreepidNotFound,             // M_THREEPID_NOT_FOUND
  kTooLarge,                     // M_TOO_LARGE
  kUnauthorized,                 // M_UNAUTHORIZED
  kUnknownPos,                   // M_UNKNOWN_POS (sliding sync: expired `pos`)
  kUnsupportedRoomVersion,       // M_UNSUPPORTED_ROOM_VERSION
  kUserDeactivated,              // M_USER_DEACTIVATED
  kUserInUse,                    // M_USER_IN_USE
  kWeakPassword,                 // M_WEAK_PASSWORD
  kWrongRoomKeysVersion,         // M_WRONG_ROOM_KEYS_VERSION (key backup)
};

// The wire name of `errcode`, e.g. "M_FORBIDDEN". The view points at static storage.
std::string_view ErrcodeName(Errcode errcode);
// The Errcode whose wire name is `name`; nullopt for a name this server does not know.
std::optional<Errcode> ErrcodeFromName(std::string_view name);

// Returns a non-OK status with `message` and `errcode` attached, and the absl code of `errcode`
// (kInvalidArgument for most; kPermissionDenied for M_FORBIDDEN and M_USER_DEACTIVATED,
// kNotFound for M_NOT_FOUND, kUnauthenticated for the token codes, kResourceExhausted for the
// limits, kAlreadyExists for M_USER_IN_USE, kUnimplemented for M_UNRECOGNIZED, kUnknown for
// M_UNKNOWN). Bytes of `message` that are not UTF-8 become U+FFFD (it quotes client input and is
// sent in JSON).
absl::Status MatrixStatus(Errcode errcode, std::string_view message);
// The same with an explicit absl `code`: for M_UNKNOWN, where the code tells the api what kind
// of failure it is (kAlreadyExists, kFailedPrecondition, ...).
absl::Status MatrixStatus(absl::StatusCode code, Errcode errcode, std::string_view message);

// Shorthands for the common ones.
absl::Status Forbidden(std::string_view message);     // M_FORBIDDEN
absl::Status NotFound(std::string_view message);      // M_NOT_FOUND
absl::Status BadJson(std::string_view message);       // M_BAD_JSON
absl::Status NotJson(std::string_view message);       // M_NOT_JSON
absl::Status MissingParam(std::string_view message);  // M_MISSING_PARAM
absl::Status InvalidParam(std::string_view message);  // M_INVALID_PARAM
absl::Status UnknownToken(std::string_view message);  // M_UNKNOWN_TOKEN
absl::Status MissingToken(std::string_view message);  // M_MISSING_TOKEN
absl::Status TooLarge(std::string_view message);      // M_TOO_LARGE
// M_LIMIT_EXCEEDED, with `retry_after_ms` (milliseconds; the spec's unit) for the response body.
absl::Status LimitExceeded(std::string_view message, int64_t retry_after_ms);

// M_WRONG_ROOM_KEYS_VERSION (key_backup.yaml, PUT /room_keys/keys): the version a key upload
// named is not the user's current backup; `current_version` rides along for the response body.
absl::Status WrongRoomKeysVersion(std::string_view message, std::string_view current_version);

// M_UNKNOWN_TOKEN with `soft_logout: true` (Client-Server API "Soft logout"): the access token
// expired (refresh tokens, "Refreshing access tokens"), the device and its data remain, and the
// client may refresh or log in again with the same device id.
absl::Status SoftLogout(std::string_view message);

// The errcode attached by MatrixStatus, else one derived from the status code (kNotFound →
// kNotFound, kPermissionDenied → kForbidden, kInvalidArgument → kInvalidParam,
// kUnauthenticated → kUnknownToken, kResourceExhausted → kLimitExceeded, else kUnknown). An OK
// status gives kUnknown: callers check ok() first.
Errcode ErrcodeOf(const absl::Status& status);

// `retry_after_ms` of a LimitExceeded status.
std::optional<int64_t> RetryAfterMs(const absl::Status& status);
// `current_version` of a WrongRoomKeysVersion status.
std::optional<std::string> CurrentRoomKeysVersion(const absl::Status& status);
// Whether `status` is a SoftLogout (the response body then has `soft_logout: true`).
bool IsSoftLogout(const absl::Status& status);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_ERRORS_H_
