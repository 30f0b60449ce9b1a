// Server-Server API, "Request Authentication" (the receiving side).
#include "auth.h"

#include <boost/json/serialize.hpp>
#include <optional>
#include <string_view>

#include "conclave/matrix_http/error_response.h"
#include "conclave/service/federation/remote_keys.h"
#include "conclave/service/federation/request_auth.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::federation {

absl::StatusOr<std::string> Authenticate(const core::Request& request, service::Homeserver& hs) {
  std::optional<std::string_view> authorization = request.Header("Authorization");
  // The `uri` the origin signed is the request target as it sent it (path and query).
  return service::VerifyRequest(hs.server_name(), request.method, request.target, authorization,
                                request.body, hs.remote_keys().RequestKeyLookup());
}

core::Response RunAuthenticated(core::Request& request, const AuthenticatedHandler& handler) {
  service::Homeserver* hs = service::Instance();
  if (hs == nullptr) {
    return matrix_http::ErrorResponse(503, service::Errcode::kUnknown,
                                      "The homeserver is not loaded");
  }
  absl::StatusOr<std::string> origin = Authenticate(request, *hs);
  if (!origin.ok()) return matrix_http::ErrorResponse(origin.status());
  absl::StatusOr<boost::json::object> body = handler(request, *hs, *origin);
  if (!body.ok()) return matrix_http::ErrorResponse(body.status());
  return core::Response{200, "application/json", boost::json::serialize(*body), {}, {}, {}};
}

}  // namespace conclave::federation
