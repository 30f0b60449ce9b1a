#include "call.h"

#include <boost/json/serialize.hpp>

#include "conclave/matrix_http/guest_access.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::media {
namespace {

// A guest session reaches only the download and thumbnail routes ("Guest access": `guests`).
core::Response Run(core::Request& request, MediaState& state, Auth auth,
                   matrix_http::GuestAccess guests, const Handler& handler) {
  service::Homeserver* hs = service::Instance();
  if (hs == nullptr) {
    return ErrorResponse(503, service::Errcode::kUnknown, "The homeserver is not loaded");
  }
  auto session = matrix_http::Authenticate(*hs, request, auth);
  if (!session.ok()) return ErrorResponse(session.status());
  if (absl::Status allowed = matrix_http::CheckGuestAccess(*session, guests, request);
      !allowed.ok()) {
    return ErrorResponse(allowed);
  }
  Call call{request, *hs, state, *std::move(session)};
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
  const matrix_http::GuestAccess guests = matrix_http::GuestAccessOf(method, path);
  auto handle = router_.Add(
      module_, method, path,
      [&state = state_, auth, guests, handler = std::move(handler)](core::Request& request) {
        return Run(request, state, auth, guests, handler);
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

core::Response JsonResponse(const boost::json::value& body) {
  return core::Response{200, "application/json", boost::json::serialize(body), {}, {}, {}};
}

}  // namespace conclave::media
