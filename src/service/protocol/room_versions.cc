#include "conclave/service/protocol/room_versions.h"

#include <charconv>

namespace conclave::service {

std::optional<int> RoomVersionNumber(std::string_view room_version) {
  int number = 0;
  auto [end, error] =
      std::from_chars(room_version.data(), room_version.data() + room_version.size(), number);
  if (error != std::errc() || end != room_version.data() + room_version.size() || number < 1 ||
      number > kNewestKnownRoomVersion) {
    return std::nullopt;
  }
  return number;
}

}  // namespace conclave::service
