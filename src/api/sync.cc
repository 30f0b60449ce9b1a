#include "routes.h"

namespace conclave::api {

absl::Status RegisterSyncRoutes(Routes& routes) { return absl::OkStatus(); }

}  // namespace conclave::api
