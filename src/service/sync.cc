#include "conclave/service/sync.h"

#include "conclave/service/homeserver.h"

namespace conclave::service {

Sync::Sync(Homeserver& hs) : hs_(hs) {}

}  // namespace conclave::service
