#include "conclave/service/protocol/room_versions.h"

#include <array>
#include <charconv>

namespace conclave::service {
namespace {

// Each entry is the one before it plus what the spec's "Room version N" page changes.
constexpr RoomVersion V1() {
  RoomVersion v;
  v.id = "1";
  v.event_id_format = EventIdFormat::kOpaque;
  v.event_refs_with_hashes = true;
  v.top_level_origin = true;
  v.creator_in_content = true;
  v.redaction_in_auth_rules = true;
  v.enforce_key_validity = false;
  v.special_case_aliases = true;
  v.notifications_power_levels = false;
  v.strict_canonical_json = false;
  v.knock = false;
  v.restricted_join = false;
  v.knock_restricted = false;
  v.integer_power_levels = false;
  v.redaction_keeps_aliases = true;
  v.redaction_keeps_allow = false;
  v.redaction_keeps_authorised = false;
  v.redaction_v11 = false;
  v.state_resolution = StateResolution::kV1;
  return v;
}
constexpr RoomVersion V2() {
  RoomVersion v = V1();
  v.id = "2";
  v.state_resolution = StateResolution::kV2;
  return v;
}
constexpr RoomVersion V3() {
  RoomVersion v = V2();
  v.id = "3";
  v.event_id_format = EventIdFormat::kBase64;
  v.event_refs_with_hashes = false;
  v.redaction_in_auth_rules = false;
  return v;
}
constexpr RoomVersion V4() {
  RoomVersion v = V3();
  v.id = "4";
  v.event_id_format = EventIdFormat::kUrlSafeBase64;
  return v;
}
constexpr RoomVersion V5() {
  RoomVersion v = V4();
  v.id = "5";
  v.enforce_key_validity = true;
  return v;
}
constexpr RoomVersion V6() {
  RoomVersion v = V5();
  v.id = "6";
  v.special_case_aliases = false;
  v.notifications_power_levels = true;
  v.strict_canonical_json = true;
  v.redaction_keeps_aliases = false;
  return v;
}
constexpr RoomVersion V7() {
  RoomVersion v = V6();
  v.id = "7";
  v.knock = true;
  return v;
}
constexpr RoomVersion V8() {
  RoomVersion v = V7();
  v.id = "8";
  v.restricted_join = true;
  v.redaction_keeps_allow = true;
  return v;
}
constexpr RoomVersion V9() {
  RoomVersion v = V8();
  v.id = "9";
  v.redaction_keeps_authorised = true;
  return v;
}
constexpr RoomVersion V10() {
  RoomVersion v = V9();
  v.id = "10";
  v.knock_restricted = true;
  v.integer_power_levels = true;
  return v;
}
constexpr RoomVersion V11() {
  RoomVersion v = V10();
  v.id = "11";
  v.top_level_origin = false;
  v.creator_in_content = false;
  v.redaction_v11 = true;
  return v;
}
constexpr RoomVersion V12() {
  RoomVersion v = V11();
  v.id = "12";
  v.room_id_from_create_event = true;
  v.additional_creators = true;
  v.creators_have_infinite_power = true;
  v.state_resolution = StateResolution::kV21;
  return v;
}

constexpr std::array<RoomVersion, 12> kRoomVersions = {V1(), V2(), V3(), V4(),  V5(),  V6(),
                                                       V7(), V8(), V9(), V10(), V11(), V12()};

}  // namespace

std::span<const RoomVersion> AllRoomVersions() { return kRoomVersions; }

const RoomVersion* FindRoomVersion(std::string_view id) {
  for (const RoomVersion& version : kRoomVersions) {
    if (version.id == id) return &version;
  }
  return nullptr;
}

const RoomVersion& RoomVersionOrDefault(std::string_view id) {
  const RoomVersion* version = FindRoomVersion(id);
  return version != nullptr ? *version : *FindRoomVersion(kDefaultRoomVersion);
}

std::optional<int> RoomVersionNumber(std::string_view room_version) {
  if (FindRoomVersion(room_version) == nullptr) return std::nullopt;
  int number = 0;
  std::from_chars(room_version.data(), room_version.data() + room_version.size(), number);
  return number;
}

}  // namespace conclave::service
