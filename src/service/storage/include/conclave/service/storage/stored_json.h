// Internal to the service module: reading the JSON records the homeserver keeps in its maps.
#ifndef CONCLAVE_SERVICE_STORAGE_STORED_JSON_H_
#define CONCLAVE_SERVICE_STORAGE_STORED_JSON_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "conclave/database/database.h"

namespace conclave::service {

// Parses a stored record that must be a JSON object; kDataLoss "corrupt <what> record" if not.
absl::StatusOr<boost::json::object> ParseStored(std::string_view text, std::string_view what);

// ParseStored for an event ("corrupt stored event record").
absl::StatusOr<boost::json::object> ParseObject(std::string_view json);
// The string field `key` of `object`; empty when absent or not a string.
std::string_view StringField(const boost::json::object& object, std::string_view key);

// An integer field whether Boost.JSON read it as signed or unsigned; nullopt if absent or not an
// integer.
std::optional<int64_t> IntField(const boost::json::object& object, std::string_view key);
// A stream position field (0 if absent or not a non-negative integer).
uint64_t PositionField(const boost::json::object& object, std::string_view key = "pos");

// Calls `callback` for each entry of `map` under `prefix` whose key is `key_parts` strings
// (KeyBuilder::AppendString) — or, with `key_parts` 0, a raw key passed as the one element of
// `key` — and whose value is a JSON object, in key order, until it returns false. kDataLoss naming
// `what` for an entry that does not decode; other read errors as Database::ForEachWithPrefix.
absl::Status ForEachRecord(
    const database::Database& db, const database::Map& map, std::string_view prefix,
    size_t key_parts, std::string_view what,
    absl::FunctionRef<bool(std::vector<std::string>& key, boost::json::object& value)> callback);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_STORAGE_STORED_JSON_H_
