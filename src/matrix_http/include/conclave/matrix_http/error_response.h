// How a failed absl::Status becomes an HTTP answer of the Client-Server API: its HTTP status and
// the standard error body (`errcode`, `error`, `retry_after_ms`, `current_version`). Service
// says what went wrong (an Errcode, service/protocol/errors.h); the HTTP modules (api, media)
// map it to HTTP here, in one table.
//
// Client-Server API, "Standard error response", "Common error codes", "Rate limiting";
// content-repo.yaml and authed-content-repo.yaml for the media statuses. Stateless,
// thread-safe.
#ifndef CONCLAVE_MATRIX_HTTP_ERROR_RESPONSE_H_
#define CONCLAVE_MATRIX_HTTP_ERROR_RESPONSE_H_

#include <string_view>

#include "absl/status/status.h"
#include "conclave/core/http.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::matrix_http {

// The HTTP status for the failed `status`: from its errcode where the spec fixes one
// (M_UNKNOWN_TOKEN, M_MISSING_TOKEN, M_UNAUTHORIZED, M_USER_LOCKED 401; M_FORBIDDEN,
// M_USER_DEACTIVATED and the other refusals 403; M_NOT_FOUND, M_UNRECOGNIZED 404;
// M_CANNOT_OVERWRITE_MEDIA 409; M_TOO_LARGE 413; M_LIMIT_EXCEEDED 429; M_NOT_YET_UPLOADED 504;
// every other errcode 400), and for M_UNKNOWN from the status code (kInvalidArgument,
// kFailedPrecondition, kOutOfRange 400; kAlreadyExists 409; kUnavailable 503; else 500).
int HttpStatusOf(const absl::Status& status);

// The Matrix error response for the failed `status`: HttpStatusOf, `errcode`, the message as
// `error`, `retry_after_ms` of a LimitExceeded status and `current_version` of a
// WrongRoomKeysVersion one. A 5xx other than M_NOT_YET_UPLOADED's 504 is logged and answered
// "Internal server error" without the details.
core::Response ErrorResponse(const absl::Status& status);

// An error response whose HTTP status the errcode does not imply (account-data.yaml's 405
// M_BAD_JSON, a 503 while the homeserver is not loaded).
core::Response ErrorResponse(int http_status, service::Errcode errcode, std::string_view message);

}  // namespace conclave::matrix_http

#endif  // CONCLAVE_MATRIX_HTTP_ERROR_RESPONSE_H_
