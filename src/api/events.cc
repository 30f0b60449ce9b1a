#include "routes.h"

namespace conclave::api {

absl::Status RegisterEventRoutes(Routes& routes) { return absl::OkStatus(); }

}  // namespace conclave::api
