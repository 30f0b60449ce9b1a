#include "routes.h"

namespace conclave::api {

absl::Status RegisterProfileRoutes(Routes& routes) { return absl::OkStatus(); }

}  // namespace conclave::api
