#include "verify_checker.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_join.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service::verify_internal {

// `raw` as readable text: control bytes and 0x7f as \xNN, everything else as is.
std::string Printable(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : raw) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

// Decodes `raw` as `strings` strings followed, if `position`, by a U64, and nothing else.
std::optional<Key> DecodeKey(std::string_view raw, size_t strings, bool position) {
  database::KeyReader reader(raw);
  Key key;
  for (size_t i = 0; i < strings; ++i) {
    auto part = reader.ReadString();
    if (!part.ok()) return std::nullopt;
    key.parts.push_back(*std::move(part));
  }
  if (position) {
    auto value = reader.ReadU64();
    if (!value.ok()) return std::nullopt;
    key.position = *value;
  }
  if (!reader.AtEnd()) return std::nullopt;
  return key;
}

std::string KeyText(const Key& key, bool position) {
  std::vector<std::string> parts;
  for (const std::string& part : key.parts) {
    parts.push_back(part.empty() ? std::string("\"\"") : Printable(part));  // empty state_key
  }
  if (position) parts.push_back(core::StrCat(key.position));
  return absl::StrJoin(parts, " | ");
}

// The key for a report: decoded if it has the expected shape, else its raw bytes.
std::string RawKeyText(std::string_view raw, size_t strings, bool position) {
  if (auto key = DecodeKey(raw, strings, position)) return KeyText(*key, position);
  return core::StrCat("(undecodable) ", Printable(raw));
}

uint64_t Fingerprint(std::string_view event_id) { return std::hash<std::string_view>{}(event_id); }

// The membership a stored {membership, pos} record names, and its position.

std::optional<MemberRecord> ParseMemberRecord(std::string_view value) {
  auto json = ParseStored(value, "membership");
  if (!json.ok()) return std::nullopt;
  return MemberRecord{std::string(StringField(*json, "membership")), PositionField(*json)};
}

void Checker::Problem(std::string_view map, std::string key, std::string text) {
  ++report_.problem_count;
  if (report_.problems.size() < options_.max_problems) {
    report_.problems.push_back({std::string(map), std::move(key), std::move(text)});
  }
}

void Checker::Count(std::string_view map, uint64_t records) {
  for (auto& [name, count] : report_.records) {
    if (name == map) {
      count += records;
      return;
    }
  }
  report_.records.emplace_back(std::string(map), records);
}

void Checker::Fail(absl::Status status) {
  if (error_.ok()) error_ = std::move(status);
}

// Calls `visit` for each entry of `map` in key order and counts them. Stops at a read error
// (kept in error_).
void Checker::Walk(const database::Map& map, std::string_view name,
                   absl::FunctionRef<void(std::string_view key, std::string_view value)> visit) {
  if (!error_.ok()) return;
  uint64_t records = 0;
  absl::Status read = db_.ForEachWithPrefix(
      map, "",
      [&](std::string_view key, std::string_view value) {
        ++records;
        visit(key, value);
        return error_.ok();
      },
      snapshot_.get());
  if (!read.ok()) Fail(read);
  Count(name, records);
}

std::optional<std::string> Checker::Find(const database::Map& map, std::string_view key) {
  auto value = db_.Get(map, key, snapshot_.get());
  if (value.ok()) return *std::move(value);
  if (!absl::IsNotFound(value.status())) Fail(value.status());
  return std::nullopt;
}

// The event `event_id` read through `events` and `timeline`, with its position; nullopt and
// `why` if it cannot be.
std::optional<object> Checker::LookupEvent(std::string_view event_id, uint64_t* position,
                                           std::string* why) {
  auto where = Find(*store_.events, event_id);
  if (!where) {
    *why = core::StrCat(event_id, " is not stored (no events entry)");
    return std::nullopt;
  }
  auto json = Find(*store_.timeline, *where);
  if (!json) {
    *why = core::StrCat(event_id, " is indexed but missing from the timeline");
    return std::nullopt;
  }
  auto pdu = ParseStored(*json, "event");
  auto key = DecodeKey(*where, 1, true);
  if (!pdu.ok() || !key || StringField(*pdu, "event_id") != event_id) {
    *why = core::StrCat(event_id, "'s events entry points to a timeline entry that is not it");
    return std::nullopt;
  }
  *position = key->position;
  return *std::move(pdu);
}

void Checker::CheckPosition(std::string_view map, const std::string& key, uint64_t position) {
  if (position > report_.stream_position) {
    Problem(map, key,
            core::StrCat("position ", position, " is beyond the stream position ",
                         report_.stream_position));
  }
}

bool Checker::KnownUser(std::string_view map, const std::string& key, const std::string& user_id) {
  if (users_.contains(user_id)) return true;
  Problem(map, key, core::StrCat("belongs to ", user_id, ", who has no users record"));
  return false;
}

bool Checker::KnownOrRemoteUser(std::string_view map, const std::string& key,
                                const std::string& user_id) {
  const size_t colon = user_id.find(':');
  if (!options_.server_name.empty() && colon != std::string::npos &&
      std::string_view(user_id).substr(colon + 1) != options_.server_name) {
    return true;
  }
  return KnownUser(map, key, user_id);
}

database::Map* Checker::MapIfPresent(std::string_view name) {
  const std::vector<std::string> names = db_.MapNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) return nullptr;
  auto map = db_.OpenMap(name);
  if (!map.ok()) {
    Fail(map.status());
    return nullptr;
  }
  return *map;
}

}  // namespace conclave::service::verify_internal
