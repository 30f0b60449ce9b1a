#include "conclave/service/storage/stored_json.h"

#include <boost/json/parse.hpp>

#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"

namespace conclave::service {

absl::StatusOr<boost::json::object> ParseStored(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    return absl::DataLossError(core::StrCat("corrupt ", what, " record"));
  }
  return std::move(value.get_object());
}

std::optional<int64_t> IntField(const boost::json::object& object, std::string_view key) {
  const boost::json::value* v =
      object.if_contains(boost::json::string_view(key.data(), key.size()));
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return std::nullopt;
}

uint64_t PositionField(const boost::json::object& object, std::string_view key) {
  const boost::json::value* v =
      object.if_contains(boost::json::string_view(key.data(), key.size()));
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() > 0) return static_cast<uint64_t>(v->get_int64());
  return 0;
}

absl::Status ForEachRecord(
    const database::Database& db, const database::Map& map, std::string_view prefix,
    size_t key_parts, std::string_view what,
    absl::FunctionRef<bool(std::vector<std::string>& key, boost::json::object& value)> callback) {
  absl::Status corrupt;
  std::vector<std::string> parts;
  absl::Status read =
      db.ForEachWithPrefix(map, prefix, [&](std::string_view key, std::string_view value) {
        database::KeyReader reader(key);
        parts.clear();
        if (key_parts == 0) parts.emplace_back(key);
        for (size_t i = 0; i < key_parts; ++i) {
          auto part = reader.ReadString();
          if (!part.ok()) {
            corrupt = absl::DataLossError(core::StrCat("corrupt ", what, " key"));
            return false;
          }
          parts.push_back(*std::move(part));
        }
        auto record = ParseStored(value, what);
        if (!record.ok()) {
          corrupt = record.status();
          return false;
        }
        return callback(parts, *record);
      });
  if (!read.ok()) return read;
  return corrupt;
}

absl::StatusOr<boost::json::object> ParseObject(std::string_view json) {
  return ParseStored(json, "stored event");
}

std::string_view StringField(const boost::json::object& object, std::string_view key) {
  const boost::json::value* v =
      object.if_contains(boost::json::string_view(key.data(), key.size()));
  if (v == nullptr || !v->is_string()) return {};
  return v->get_string();
}

}  // namespace conclave::service
