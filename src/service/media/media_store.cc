#include "conclave/service/media/media_store.h"

#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/schema.h"
#include "content_files.h"
#include "media_json.h"

namespace conclave::service {
using internal::DecodeMediaRecord;
using internal::EncodeMediaRecord;

namespace {

constexpr size_t kMediaIdLength = 24;

// Removes a request body that was not committed.
void Discard(const std::string& body_file) {
  if (!body_file.empty()) unlink(body_file.c_str());
}

}  // namespace

bool ValidMediaId(std::string_view media_id) {
  if (media_id.empty() || media_id.size() > 255) return false;
  for (char c : media_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string MediaDirectoryFor(std::string_view configured, std::string_view database_path) {
  if (!configured.empty()) return std::string(configured);
  std::string base(database_path);
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return base + "-media";
}

std::string MediaDirectoryOf(const core::RawConfig& raw, std::string_view database_path) {
  std::string configured;
  if (const core::RawValue* value = raw.Find("media_directory")) {
    if (const auto* text = std::get_if<std::string>(&value->value)) configured = *text;
  }
  return MediaDirectoryFor(configured, database_path);
}

MediaStore::MediaStore(database::Database& db, MediaStoreOptions options)
    : db_(db),
      options_(std::move(options)),
      files_(std::make_unique<ContentFiles>(options_.directory)) {}

MediaStore::~MediaStore() = default;

absl::StatusOr<std::unique_ptr<MediaStore>> MediaStore::Open(database::Database& db,
                                                             MediaStoreOptions options) {
  if (options.directory.empty()) return absl::InvalidArgumentError("media directory is empty");
  std::unique_ptr<MediaStore> store(new MediaStore(db, std::move(options)));
  CONCLAVE_RETURN_IF_ERROR(store->files_->Prepare());
  CONCLAVE_ASSIGN_OR_RETURN(store->media_, db.OpenMap(schema::kMediaMap));
  CONCLAVE_ASSIGN_OR_RETURN(store->by_user_, db.OpenMap(schema::kMediaByUserMap));
  CONCLAVE_ASSIGN_OR_RETURN(store->content_, db.OpenMap(schema::kMediaContentMap));
  CONCLAVE_ASSIGN_OR_RETURN(store->usage_, db.OpenMap(schema::kMediaUsageMap));
  return store;
}

std::string MediaStore::upload_directory() const { return files_->tmp_dir(); }

std::string MediaStore::ContentPath(const MediaRecord& record) const {
  return files_->PathOf(record.sha256);
}

int64_t MediaStore::Now() const { return options_.now_ms ? options_.now_ms() : NowMs(); }

absl::StatusOr<OrphanStats> MediaStore::RemoveOrphans() {
  CONCLAVE_ASSIGN_OR_RETURN(ContentFiles::LockHandle lock, files_->Lock());
  absl::flat_hash_map<std::string, uint64_t> counts;
  absl::flat_hash_map<std::string, MediaUsage> usages;
  // A metadata row we cannot read may name a file: delete nothing rather than guess.
  CONCLAVE_RETURN_IF_ERROR(internal::ForEachMediaRecord(db_, *media_, [&](const MediaRecord& r) {
    if (r.pending()) return;
    ++counts[r.sha256];
    MediaUsage& usage = usages[r.uploader];
    usage.bytes += r.size;
    ++usage.items;
  }));
  // Counts and usages are written with their rows, so they can only be missing (a database from
  // before `media_content` and `media_usage`): write those; a wrong one is left for `database
  // verify` to report.
  database::WriteBatch batch;
  uint64_t repaired = 0;
  for (const auto& [sha256, count] : counts) {
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t stored, ContentCount(sha256));
    if (stored == 0) {
      batch.Put(*content_, sha256, schema::EncodePosition(count));
      ++repaired;
    }
  }
  for (const auto& [user_id, usage] : usages) {
    auto stored = db_.Get(*usage_, user_id);
    if (absl::IsNotFound(stored.status())) {
      batch.Put(*usage_, user_id, internal::EncodeMediaUsage(usage));
      ++repaired;
    } else if (!stored.ok()) {
      return stored.status();
    }
  }
  if (repaired > 0) CONCLAVE_RETURN_IF_ERROR(db_.Write(batch));
  absl::flat_hash_set<std::string> referenced;
  for (const auto& [sha256, count] : counts) referenced.insert(sha256);
  CONCLAVE_ASSIGN_OR_RETURN(OrphanStats stats, files_->RemoveOrphans(referenced));
  stats.counts_repaired = repaired;
  return stats;
}

absl::StatusOr<uint64_t> MediaStore::ContentCount(std::string_view sha256) const {
  auto stored = db_.Get(*content_, sha256);
  if (absl::IsNotFound(stored.status())) return 0;
  if (!stored.ok()) return stored.status();
  return schema::DecodePosition(*stored);
}

absl::StatusOr<MediaUsage> MediaStore::Usage(std::string_view user_id) const {
  return internal::ReadMediaUsage(db_, *usage_, user_id);
}

absl::Status MediaStore::CommitUpload(const std::string& body_file, MediaRecord& record) {
  auto content = files_->Hash(body_file);
  if (!content.ok()) {
    Discard(body_file);
    return content.status();
  }
  CONCLAVE_ASSIGN_OR_RETURN(ContentFiles::LockHandle lock, files_->Lock());
  // Checked under the lock: two uploads of one user cannot both pass on the same usage.
  auto usage = Usage(record.uploader);
  if (!usage.ok()) {
    Discard(body_file);
    return usage.status();
  }
  const MediaQuota quota = options_.quota ? options_.quota() : MediaQuota{};
  if ((quota.max_bytes > 0 && usage->bytes + content->size > quota.max_bytes) ||
      (quota.max_items > 0 && usage->items + 1 > quota.max_items)) {
    Discard(body_file);
    return Forbidden("The user has reached a quota for uploaded content");
  }
  if (absl::Status placed = files_->Place(body_file, *content); !placed.ok()) {
    Discard(body_file);
    return placed;
  }
  record.size = content->size;
  record.sha256 = content->sha256;
  usage->bytes += record.size;
  ++usage->items;
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t count, ContentCount(record.sha256));
  database::WriteBatch batch;
  batch.Put(*usage_, record.uploader, internal::EncodeMediaUsage(*usage));
  batch.Put(*media_, record.media_id, EncodeMediaRecord(record));
  batch.Put(*by_user_, schema::MediaByUserKey(record.uploader, record.created_ts, record.media_id),
            "");
  batch.Put(*content_, record.sha256, schema::EncodePosition(count + 1));
  return db_.Write(batch);
}

absl::Status MediaStore::Write(const MediaRecord& record) {
  database::WriteBatch batch;
  batch.Put(*media_, record.media_id, EncodeMediaRecord(record));
  batch.Put(*by_user_, schema::MediaByUserKey(record.uploader, record.created_ts, record.media_id),
            "");
  return db_.Write(batch);
}

absl::StatusOr<MediaRecord> MediaStore::Upload(std::string_view uploader,
                                               const std::string& body_file,
                                               std::string_view content_type,
                                               std::string_view filename) {
  MediaRecord record;
  record.media_id = RandomAlnum(kMediaIdLength);
  record.uploader = std::string(uploader);
  record.content_type = std::string(content_type);
  record.filename = std::string(filename);
  record.created_ts = Now();
  CONCLAVE_RETURN_IF_ERROR(CommitUpload(body_file, record));
  return record;
}

absl::StatusOr<MediaRecord> MediaStore::Create(std::string_view uploader) {
  const int64_t now = Now();
  absl::MutexLock lock(&mu_);
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<MediaRecord> mine, MediaOfUser(db_, uploader));
  const int pending = static_cast<int>(std::count_if(mine.begin(), mine.end(), [&](const auto& r) {
    return r.pending() && r.unused_expires_ts > now;
  }));
  if (pending >= options_.max_pending_per_user) {
    return LimitExceeded("Too many media ids are waiting for their upload", 60 * 1000);
  }
  MediaRecord record;
  record.media_id = RandomAlnum(kMediaIdLength);
  record.uploader = std::string(uploader);
  record.created_ts = now;
  record.unused_expires_ts = now + absl::ToInt64Milliseconds(options_.unused_expiry);
  CONCLAVE_RETURN_IF_ERROR(Write(record));
  return record;
}

absl::StatusOr<MediaRecord> MediaStore::UploadTo(std::string_view media_id,
                                                 std::string_view uploader,
                                                 const std::string& body_file,
                                                 std::string_view content_type,
                                                 std::string_view filename) {
  // Checked before the content is committed (no hashing for a refused upload) and again under
  // the lock (two uploads to one id: the second is refused).
  auto check = [&]() -> absl::StatusOr<MediaRecord> {
    CONCLAVE_ASSIGN_OR_RETURN(MediaRecord record, Get(media_id));
    if (record.uploader != uploader) {
      return Forbidden("This media id was created by another user");
    }
    if (!record.pending()) {
      return MatrixStatus(Errcode::kCannotOverwriteMedia, "Media already uploaded");
    }
    return record;
  };
  if (auto first = check(); !first.ok()) {
    Discard(body_file);
    return first.status();
  }
  absl::MutexLock lock(&mu_);
  auto second = check();
  if (!second.ok()) {
    Discard(body_file);
    return second.status();
  }
  MediaRecord record = *std::move(second);
  record.content_type = std::string(content_type);
  record.filename = std::string(filename);
  record.unused_expires_ts = 0;
  CONCLAVE_RETURN_IF_ERROR(CommitUpload(body_file, record));
  return record;
}

absl::StatusOr<MediaRecord> MediaStore::Get(std::string_view media_id) const {
  if (!ValidMediaId(media_id)) return NotFound("Media not found");
  auto stored = db_.Get(*media_, media_id);
  if (absl::IsNotFound(stored.status())) return NotFound("Media not found");
  if (!stored.ok()) return stored.status();
  CONCLAVE_ASSIGN_OR_RETURN(MediaRecord record, DecodeMediaRecord(media_id, *stored));
  if (record.pending() && record.unused_expires_ts <= Now()) return NotFound("Media not found");
  return record;
}

}  // namespace conclave::service
