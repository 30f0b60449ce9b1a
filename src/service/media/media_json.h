// The stored form of a MediaRecord (the `media` map's JSON values, storage/schema.h) and the
// scans of the media maps. Private to service/media. Stateless functions; thread-safe.
#ifndef CONCLAVE_SERVICE_MEDIA_MEDIA_JSON_H_
#define CONCLAVE_SERVICE_MEDIA_MEDIA_JSON_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "conclave/database/database.h"
#include "conclave/service/media/media_store.h"

namespace conclave::service::internal {

// The JSON value of `record` (its media_id is the key, not in the value).
std::string EncodeMediaRecord(const MediaRecord& record);
// The record stored under `media_id` as `json`. kDataLoss when `json` is not a JSON object.
absl::StatusOr<MediaRecord> DecodeMediaRecord(std::string_view media_id, std::string_view json);

// The `media_usage` value of `usage`: bytes then items, each a big-endian u64; and back
// (kDataLoss when `value` is not 16 bytes).
std::string EncodeMediaUsage(const MediaUsage& usage);
absl::StatusOr<MediaUsage> DecodeMediaUsage(std::string_view value);

// The usage of `user_id` in `usage_map` (`media_usage`); zeros when it has no row.
absl::StatusOr<MediaUsage> ReadMediaUsage(const database::Database& db,
                                          const database::Map& usage_map, std::string_view user_id);

// Calls `visit` with every record of `media` (the `media` map). kDataLoss (and no further
// visits) when a row is not JSON; errors of the database.
absl::Status ForEachMediaRecord(const database::Database& db, const database::Map& media,
                                absl::FunctionRef<void(const MediaRecord&)> visit);

// The media ids of `user_id` in `by_user` (the `media_by_user` map), oldest first.
absl::StatusOr<std::vector<std::string>> MediaIdsOfUser(const database::Database& db,
                                                        const database::Map& by_user,
                                                        std::string_view user_id);

}  // namespace conclave::service::internal

#endif  // CONCLAVE_SERVICE_MEDIA_MEDIA_JSON_H_
