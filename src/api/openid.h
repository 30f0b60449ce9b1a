// OpenID routes (private to the api module): the Client-Server API's token request and, until
// there is a federation module, the Server-Server API's userinfo endpoint that consumes it.
#ifndef CONCLAVE_API_OPENID_H_
#define CONCLAVE_API_OPENID_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "conclave/core/http.h"
#include "handler.h"

namespace conclave::api {

// openid.cc: POST /v3/user/{userId}/openid/request_token (Client-Server API "OpenID").
absl::Status RegisterOpenIdRoutes(Routes& routes);

// federation_openid.cc: GET /_matrix/federation/v1/openid/userinfo (Server-Server API
// "OpenID"), registered into `router` for `module`; the handles go to `handles`.
absl::Status RegisterFederationOpenIdRoutes(core::Router& router, std::string_view module,
                                            std::vector<core::RouteHandle>& handles);

}  // namespace conclave::api

#endif  // CONCLAVE_API_OPENID_H_
