#include "conclave/matrix_http/error_response.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "conclave/core/log.h"

namespace conclave::matrix_http {
namespace {

using service::Errcode;

// The HTTP status the spec gives `errcode`; 0 for M_UNKNOWN, whose status code decides.
int HttpStatusOfErrcode(Errcode errcode) {
  switch (errcode) {
    case Errcode::kUnknown:
      return 0;
    case Errcode::kMissingToken:
    case Errcode::kUnknownToken:
    case Errcode::kUnauthorized:
    case Errcode::kUserLocked:
      return 401;
    case Errcode::kForbidden:
    case Errcode::kUserDeactivated:
    case Errcode::kUserSuspended:
    case Errcode::kGuestAccessForbidden:
    case Errcode::kResourceLimitExceeded:
    case Errcode::kThreepidDenied:
    case Errcode::kWrongRoomKeysVersion:
      return 403;
    case Errcode::kNotFound:
    case Errcode::kUnrecognized:
      return 404;
    case Errcode::kCannotOverwriteMedia:
      return 409;
    case Errcode::kTooLarge:
      return 413;
    case Errcode::kLimitExceeded:
      return 429;
    case Errcode::kNotYetUploaded:
      return 504;
    default:
      return 400;
  }
}

core::Response Json(const boost::json::object& body, int http_status) {
  core::Response response;
  response.status = http_status;
  response.body = boost::json::serialize(body);
  return response;
}

}  // namespace

int HttpStatusOf(const absl::Status& status) {
  if (int http_status = HttpStatusOfErrcode(service::ErrcodeOf(status)); http_status != 0) {
    return http_status;
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

core::Response ErrorResponse(const absl::Status& status) {
  const int http_status = HttpStatusOf(status);
  boost::json::object body;
  body["errcode"] = service::ErrcodeName(service::ErrcodeOf(status));
  if (http_status >= 500 && http_status != 504) {
    CONCLAVE_LOG(kError, "http", "internal error: {}", status.ToString());
    body["error"] = "Internal server error";
  } else {
    body["error"] = std::string(status.message());
  }
  if (auto retry = service::RetryAfterMs(status)) body["retry_after_ms"] = *retry;
  if (auto version = service::CurrentRoomKeysVersion(status)) body["current_version"] = *version;
  if (service::IsSoftLogout(status)) body["soft_logout"] = true;
  return Json(body, http_status);
}

core::Response ErrorResponse(int http_status, Errcode errcode, std::string_view message) {
  return Json(boost::json::object{{"errcode", service::ErrcodeName(errcode)}, {"error", message}},
              http_status);
}

}  // namespace conclave::matrix_http
