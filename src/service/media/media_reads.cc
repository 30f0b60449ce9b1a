// The read functions of the media maps for admin commands: totals, the media of a user, the
// media a room's events refer to.
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/media/media_store.h"
#include "conclave/service/storage/schema.h"
#include "media_json.h"

namespace conclave::service {

using internal::DecodeMediaRecord;

absl::StatusOr<MediaTotals> MediaStatistics(database::Database& db) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * media, db.OpenMap(schema::kMediaMap));
  MediaTotals totals;
  absl::flat_hash_set<std::string> contents;
  CONCLAVE_RETURN_IF_ERROR(internal::ForEachMediaRecord(db, *media, [&](const MediaRecord& r) {
    if (r.pending()) {
      ++totals.pending;
      return;
    }
    ++totals.media;
    totals.bytes += r.size;
    if (contents.insert(r.sha256).second) totals.distinct_bytes += r.size;
  }));
  totals.distinct_contents = contents.size();
  return totals;
}

absl::StatusOr<std::vector<MediaRecord>> MediaOfUser(database::Database& db,
                                                     std::string_view user_id) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * media, db.OpenMap(schema::kMediaMap));
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * by_user, db.OpenMap(schema::kMediaByUserMap));
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                            internal::MediaIdsOfUser(db, *by_user, user_id));
  std::vector<MediaRecord> out;
  for (const std::string& id : ids) {
    auto stored = db.Get(*media, id);
    if (absl::IsNotFound(stored.status())) continue;
    if (!stored.ok()) return stored.status();
    CONCLAVE_ASSIGN_OR_RETURN(MediaRecord record, DecodeMediaRecord(id, *stored));
    out.push_back(std::move(record));
  }
  return out;
}

absl::StatusOr<MediaUsage> MediaUsageOf(database::Database& db, std::string_view user_id) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * usage, db.OpenMap(schema::kMediaUsageMap));
  return internal::ReadMediaUsage(db, *usage, user_id);
}

absl::StatusOr<std::vector<std::string>> MediaOfRoom(database::Database& db,
                                                     std::string_view room_id,
                                                     std::string_view server_name) {
  // The map Store (storage/store.h) keeps the events in: room_id, position → the event JSON.
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * timeline, db.OpenMap("timeline"));
  const std::string needle = core::StrCat("mxc://", server_name, "/");
  absl::flat_hash_set<std::string> found;
  CONCLAVE_RETURN_IF_ERROR(db.ForEachWithPrefix(
      *timeline, schema::RoomPrefix(room_id), [&](std::string_view, std::string_view json) {
        for (size_t at = json.find(needle); at != std::string_view::npos;
             at = json.find(needle, at + 1)) {
          size_t end = at + needle.size();
          while (end < json.size() && ValidMediaId(json.substr(end, 1))) ++end;
          if (end > at + needle.size()) {
            found.insert(std::string(json.substr(at + needle.size(), end - at - needle.size())));
          }
        }
        return true;
      }));
  std::vector<std::string> out(found.begin(), found.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace conclave::service
