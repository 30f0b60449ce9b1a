// Matrix errors as absl::Status: the spec's `errcode` rides along as a status payload, so a
// service can say "M_USER_IN_USE" and the api turns it into the right JSON and HTTP status.
//
// Client-Server API, "Standard error response" and "Common error codes". Stateless, thread-safe.
#ifndef CONCLAVE_SERVICE_PROTOCOL_ERRORS_H_
#define CONCLAVE_SERVICE_PROTOCOL_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace conclave::service {

// Returns a non-OK status with `code`, `message` and the Matrix `errcode` attached.
absl::Status MatrixStatus(absl::StatusCode code, std::string_view errcode,
                          std::string_view message);

// The common ones. HTTP status in brackets (see HttpStatusOf).
absl::Status Forbidden(std::string_view message);     // M_FORBIDDEN [403]
absl::Status NotFound(std::string_view message);      // M_NOT_FOUND [404]
absl::Status BadJson(std::string_view message);       // M_BAD_JSON [400]
absl::Status NotJson(std::string_view message);       // M_NOT_JSON [400]
absl::Status MissingParam(std::string_view message);  // M_MISSING_PARAM [400]
absl::Status InvalidParam(std::string_view message);  // M_INVALID_PARAM [400]
absl::Status UnknownToken(std::string_view message);  // M_UNKNOWN_TOKEN [401]
absl::Status MissingToken(std::string_view message);  // M_MISSING_TOKEN [401]
absl::Status TooLarge(std::string_view message);      // M_TOO_LARGE [413]
// M_LIMIT_EXCEEDED [429] with `retry_after_ms` for the response body.
absl::Status LimitExceeded(std::string_view message, int64_t retry_after_ms);

// The errcode attached by MatrixStatus, else one derived from the status code (kNotFound →
// M_NOT_FOUND, kPermissionDenied → M_FORBIDDEN, kInvalidArgument → M_INVALID_PARAM,
// kUnauthenticated → M_UNKNOWN_TOKEN, kResourceExhausted → M_LIMIT_EXCEEDED, else M_UNKNOWN).
std::string ErrcodeOf(const absl::Status& status);

// The HTTP status for `status`: from its errcode where the spec fixes one (M_UNKNOWN_TOKEN and
// M_MISSING_TOKEN 401, M_FORBIDDEN 403, M_NOT_FOUND 404, M_TOO_LARGE 413, M_LIMIT_EXCEEDED 429,
// M_UNRECOGNIZED 404, M_USER_IN_USE/M_INVALID_USERNAME/M_ROOM_IN_USE/M_BAD_JSON/... 400),
// else from the status code (kUnavailable 503, kInternal and others 500).
int HttpStatusOf(const absl::Status& status);

// `retry_after_ms` of a LimitExceeded status.
std::optional<int64_t> RetryAfterMs(const absl::Status& status);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_ERRORS_H_
