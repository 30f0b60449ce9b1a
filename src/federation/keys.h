// The federation module's routes for one load: GET /_matrix/federation/v1/version and the key
// exchange (GET /_matrix/key/v2/server, GET /_matrix/key/v2/query/{serverName}, POST
// /_matrix/key/v2/query). Private to the federation module.
#ifndef CONCLAVE_FEDERATION_KEYS_H_
#define CONCLAVE_FEDERATION_KEYS_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "conclave/core/http.h"
#include "options.h"

namespace conclave::federation {

// Registers the routes into `router` as `module`, appending their handles to `handles`.
// `settings` (key_valid_for at each request) must outlive the handles. Router::Add's errors.
absl::Status RegisterKeyRoutes(core::Router& router, std::string_view module,
                               const FederationSettings& settings,
                               std::vector<core::RouteHandle>& handles);

}  // namespace conclave::federation

#endif  // CONCLAVE_FEDERATION_KEYS_H_
