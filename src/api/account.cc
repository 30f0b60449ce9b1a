#include "routes.h"

namespace conclave::api {

absl::Status RegisterAccountRoutes(Routes& routes) { return absl::OkStatus(); }

}  // namespace conclave::api
