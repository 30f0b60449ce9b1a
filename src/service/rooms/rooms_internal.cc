#include "rooms_internal.h"

#include <charconv>
#include <chrono>

#include "absl/time/clock.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/errors.h"
#include "stored_json.h"

namespace conclave::service::rooms_internal {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

std::string RoomPrefix(std::string_view room_id) {
  return database::KeyBuilder().AppendString(room_id).Build();
}

database::IteratorOptions RoomIteration(std::string_view room_id) {
  database::IteratorOptions options;
  options.prefix = RoomPrefix(room_id);
  return options;
}

std::string TimelineKey(std::string_view room_id, uint64_t position) {
  return database::KeyBuilder().AppendString(room_id).AppendU64(position).Build();
}

std::string StateKeyOf(std::string_view room_id, std::string_view type,
                       std::string_view state_key) {
  return database::KeyBuilder()
      .AppendString(room_id)
      .AppendString(type)
      .AppendString(state_key)
      .Build();
}

std::string PairKey(std::string_view a, std::string_view b) {
  return database::KeyBuilder().AppendString(a).AppendString(b).Build();
}

absl::StatusOr<boost::json::object> ParseObject(std::string_view json) {
  return ParseStored(json, "stored event");
}

absl::StatusOr<uint64_t> PositionOfTimelineKey(std::string_view key) {
  database::KeyReader reader(key);
  auto room = reader.ReadString();
  if (!room.ok()) return room.status();
  return reader.ReadU64();
}

absl::StatusOr<uint64_t> ParsePositionToken(std::string_view token) {
  if (token.size() < 2 || (token[0] != 't' && token[0] != 's')) {
    return InvalidParam(core::StrCat("Unknown pagination token '", token, "'"));
  }
  std::string_view digits = token.substr(
      1, token.find('_') == std::string_view::npos ? std::string_view::npos : token.find('_') - 1);
  uint64_t position = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), position);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) {
    return InvalidParam(core::StrCat("Unknown pagination token '", token, "'"));
  }
  return position;
}

std::string PositionToken(uint64_t position) { return core::StrCat("t", position); }

std::string_view StringField(const boost::json::object& object, std::string_view key) {
  const boost::json::value* v =
      object.if_contains(boost::json::string_view(key.data(), key.size()));
  if (v == nullptr || !v->is_string()) return {};
  return v->get_string();
}

bool HasFloat(const boost::json::value& value) {
  if (value.is_double()) return true;
  if (const auto* object = value.if_object()) {
    for (const auto& [key, child] : *object) {
      if (HasFloat(child)) return true;
    }
  } else if (const auto* array = value.if_array()) {
    for (const auto& child : *array) {
      if (HasFloat(child)) return true;
    }
  }
  return false;
}

}  // namespace conclave::service::rooms_internal
