#include "routes.h"

namespace conclave::api {

absl::Status RegisterRoomRoutes(Routes& routes) { return absl::OkStatus(); }

}  // namespace conclave::api
