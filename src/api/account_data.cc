#include "routes.h"

namespace conclave::api {

absl::Status RegisterAccountDataRoutes(Routes& routes) { return absl::OkStatus(); }

}  // namespace conclave::api
