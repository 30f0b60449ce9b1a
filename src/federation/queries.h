// The federation module's query routes (query.yaml): GET /_matrix/federation/v1/query/profile
// and /query/directory, both X-Matrix authenticated (auth.h). Private to the federation module.
#ifndef CONCLAVE_FEDERATION_QUERIES_H_
#define CONCLAVE_FEDERATION_QUERIES_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "conclave/core/http.h"

namespace conclave::federation {

// Registers the routes into `router` as `module` (blocking routes: authentication may fetch the
// origin's keys), appending their handles to `handles`. Router::Add's errors.
absl::Status RegisterQueryRoutes(core::Router& router, std::string_view module,
                                 std::vector<core::RouteHandle>& handles);

}  // namespace conclave::federation

#endif  // CONCLAVE_FEDERATION_QUERIES_H_
