// Server-Server API, "Request Authentication" (the receiving side).
#include "auth.h"

#include <optional>
#include <string_view>

#include "conclave/service/federation/remote_keys.h"
#include "conclave/service/federation/request_auth.h"

namespace conclave::federation {

absl::StatusOr<std::string> Authenticate(const core::Request& request, service::Homeserver& hs) {
  std::optional<std::string_view> authorization = request.Header("Authorization");
  // The `uri` the origin signed is the request target as it sent it (path and query).
  return service::VerifyRequest(hs.server_name(), request.method, request.target, authorization,
                                request.body, hs.remote_keys().RequestKeyLookup());
}

}  // namespace conclave::federation
