// The federation module's transaction and end-to-end encryption routes, all X-Matrix
// authenticated (auth.h): PUT /_matrix/federation/v1/send/{txnId} (transactions.yaml),
// POST /user/keys/query, POST /user/keys/claim (user_keys.yaml) and GET /user/devices/{userId}
// (user_devices.yaml). Private to the federation module.
#ifndef CONCLAVE_FEDERATION_TRANSACTIONS_H_
#define CONCLAVE_FEDERATION_TRANSACTIONS_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "conclave/core/http.h"

namespace conclave::federation {

// Registers the routes into `router` as `module` (blocking routes: authentication may fetch the
// origin's keys), appending their handles to `handles`. Router::Add's errors.
absl::Status RegisterTransactionRoutes(core::Router& router, std::string_view module,
                                       std::vector<core::RouteHandle>& handles);

}  // namespace conclave::federation

#endif  // CONCLAVE_FEDERATION_TRANSACTIONS_H_
