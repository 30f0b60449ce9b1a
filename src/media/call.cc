#include "call.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "conclave/core/log.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::media {
namespace {

using service::Errcode;

core::Response Run(core::Request& request, MediaState& state, Auth auth, const Handler& handler) {
  service::Homeserver* hs = service::Instance();
  if (hs == nullptr) {
    return core::MatrixError(503, "M_UNKNOWN", "The homeserver is not loaded");
  }
  Call call{request, *hs, state, {}};
  if (auth == Auth::kRequired) {
    std::optional<std::string> token = core::AccessTokenOf(request);
    if (!token) return ErrorResponse(service::MissingToken("Missing access token"));
    auto session = hs->accounts().Authenticate(*token);
    if (!session.ok()) return ErrorResponse(session.status());
    call.session = *std::move(session);
  }
  absl::StatusOr<core::Response> response = handler(call);
  if (!response.ok()) return ErrorResponse(response.status());
  return *std::move(response);
}

}  // namespace

std::string Call::Param(std::string_view name) const {
  auto it = request.path_params.find(name);
  return it == request.path_params.end() ? std::string() : it->second;
}

absl::Status Routes::Add(std::string_view method, std::string_view path, Auth auth, Handler handler,
                         core::RouteOptions options) {
  auto handle = router_.Add(
      module_, method, path,
      [&state = state_, auth, handler = std::move(handler)](core::Request& request) {
        return Run(request, state, auth, handler);
      },
      std::move(options));
  if (!handle.ok()) return handle.status();
  handles_.push_back(*std::move(handle));
  return absl::OkStatus();
}

std::string MxcUri(std::string_view server_name, std::string_view media_id) {
  return "mxc://" + std::string(server_name) + "/" + std::string(media_id);
}

std::string UploadKey(std::string_view media_id) { return "media-upload:" + std::string(media_id); }

int HttpStatusOf(const absl::Status& status) {
  switch (service::ErrcodeOf(status)) {
    case Errcode::kUnknown:
      return status.code() == absl::StatusCode::kUnavailable ? 503 : 500;
    case Errcode::kMissingToken:
    case Errcode::kUnknownToken:
    case Errcode::kUserLocked:
      return 401;
    case Errcode::kForbidden:
    case Errcode::kUserDeactivated:
    case Errcode::kUserSuspended:
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

core::Response ErrorResponse(const absl::Status& status) {
  const int http_status = HttpStatusOf(status);
  boost::json::object body;
  body["errcode"] = service::ErrcodeName(service::ErrcodeOf(status));
  if (http_status >= 500 && http_status != 504) {
    CONCLAVE_LOG(kError, "media", "internal error: {}", status.ToString());
    body["error"] = "Internal server error";
  } else {
    body["error"] = std::string(status.message());
  }
  if (auto retry = service::RetryAfterMs(status)) body["retry_after_ms"] = *retry;
  return core::Response{http_status, "application/json", boost::json::serialize(body), {}, {}, {}};
}

core::Response JsonResponse(const boost::json::value& body) {
  return core::Response{200, "application/json", boost::json::serialize(body), {}, {}, {}};
}

}  // namespace conclave::media
