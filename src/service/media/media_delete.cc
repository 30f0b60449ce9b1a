// MediaStore's deletions (admin commands): one id, a user's, the old ones. Each id's rows and its
// content's count go in one batch; its files after, when that count reached zero (see
// media_store.h for why this order is crash-safe).
#include <algorithm>
#include <vector>

#include "conclave/core/status_macros.h"
#include "conclave/database/key.h"
#include "conclave/service/media/media_store.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/schema.h"
#include "content_files.h"
#include "media_json.h"

namespace conclave::service {
namespace {

void Add(DeletedMedia& total, const DeletedMedia& one) {
  total.items += one.items;
  total.files += one.files;
  total.bytes += one.bytes;
}

}  // namespace

absl::StatusOr<DeletedMedia> MediaStore::Delete(std::string_view media_id) {
  absl::MutexLock lock(&mu_);
  CONCLAVE_ASSIGN_OR_RETURN(ContentFiles::LockHandle files_lock, files_->Lock());
  return DeleteLocked(media_id);
}

absl::StatusOr<DeletedMedia> MediaStore::DeleteLocked(std::string_view media_id) {
  if (!ValidMediaId(media_id)) return NotFound("Media not found");
  auto stored = db_.Get(*media_, media_id);
  if (absl::IsNotFound(stored.status())) return NotFound("Media not found");
  if (!stored.ok()) return stored.status();
  // Expired pending ids too: Get() hides them, a deletion removes them.
  CONCLAVE_ASSIGN_OR_RETURN(MediaRecord record, internal::DecodeMediaRecord(media_id, *stored));
  database::WriteBatch batch;
  batch.Delete(*media_, record.media_id);
  batch.Delete(*by_user_,
               schema::MediaByUserKey(record.uploader, record.created_ts, record.media_id));
  uint64_t left = 0;
  if (!record.pending()) {
    CONCLAVE_ASSIGN_OR_RETURN(MediaUsage usage, Usage(record.uploader));
    usage.bytes -= std::min(usage.bytes, record.size);
    usage.items -= std::min<uint64_t>(usage.items, 1);
    if (usage.items == 0) {
      batch.Delete(*usage_, record.uploader);
    } else {
      batch.Put(*usage_, record.uploader, internal::EncodeMediaUsage(usage));
    }
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t count, ContentCount(record.sha256));
    left = count > 0 ? count - 1 : 0;
    if (left == 0) {
      batch.Delete(*content_, record.sha256);
    } else {
      batch.Put(*content_, record.sha256, schema::EncodePosition(left));
    }
  }
  CONCLAVE_RETURN_IF_ERROR(db_.Write(batch));
  DeletedMedia out;
  out.items = 1;
  if (options_.test_stop_after_delete_batch && options_.test_stop_after_delete_batch()) {
    return out;
  }
  if (!record.pending() && left == 0) {
    out.files = 1;
    out.bytes = files_->Remove(record.sha256);
  }
  return out;
}

absl::StatusOr<DeletedMedia> MediaStore::DeleteMany(const std::vector<std::string>& media_ids) {
  DeletedMedia total;
  for (const std::string& id : media_ids) {
    auto one = Delete(id);
    if (ErrcodeOf(one.status()) == Errcode::kNotFound) continue;
    if (!one.ok()) return one.status();
    Add(total, *one);
  }
  return total;
}

absl::StatusOr<DeletedMedia> MediaStore::DeleteOfUser(std::string_view user_id) {
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                            internal::MediaIdsOfUser(db_, *by_user_, user_id));
  return DeleteMany(ids);
}

absl::StatusOr<DeletedMedia> MediaStore::DeleteCreatedBefore(int64_t before_ms) {
  std::vector<std::string> ids;
  CONCLAVE_RETURN_IF_ERROR(internal::ForEachMediaRecord(db_, *media_, [&](const MediaRecord& r) {
    if (r.created_ts < before_ms) ids.push_back(r.media_id);
  }));
  return DeleteMany(ids);
}

}  // namespace conclave::service
