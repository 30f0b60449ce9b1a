#include "conclave/service/rooms.h"

#include "conclave/service/homeserver.h"

namespace conclave::service {

struct Rooms::RoomData {};

Rooms::Rooms(Homeserver& hs) : hs_(hs) {}
Rooms::~Rooms() = default;

}  // namespace conclave::service
