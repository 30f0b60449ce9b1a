// Discovery handlers (private to the api module).
#ifndef CONCLAVE_API_DISCOVERY_H_
#define CONCLAVE_API_DISCOVERY_H_

#include <vector>

#include "absl/status/statusor.h"
#include "conclave/core/http.h"

namespace conclave::api {

// Registers the discovery routes; the handles unregister them.
absl::StatusOr<std::vector<core::RouteHandle>> RegisterDiscovery(core::Router& router,
                                                                 std::string_view module);

}  // namespace conclave::api

#endif  // CONCLAVE_API_DISCOVERY_H_
