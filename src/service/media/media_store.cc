#include "conclave/service/media/media_store.h"

#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "absl/container/flat_hash_set.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/schema.h"
#include "content_files.h"

namespace conclave::service {
namespace {

constexpr size_t kMediaIdLength = 24;

std::string Encode(const MediaRecord& r) {
  boost::json::object o;
  o["uploader"] = r.uploader;
  o["content_type"] = r.content_type;
  o["filename"] = r.filename;
  o["size"] = r.size;
  o["sha256"] = r.sha256;
  o["created_ts"] = r.created_ts;
  if (r.pending()) o["unused_expires_ts"] = r.unused_expires_ts;
  return boost::json::serialize(o);
}

absl::StatusOr<MediaRecord> Decode(std::string_view media_id, std::string_view json) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) {
    return absl::DataLossError(core::StrCat("media ", media_id, ": stored metadata is not JSON"));
  }
  const boost::json::object& o = v.get_object();
  auto str = [&](const char* key) -> std::string {
    const boost::json::value* f = o.if_contains(key);
    return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  auto num = [&](const char* key) -> int64_t {
    const boost::json::value* f = o.if_contains(key);
    if (f == nullptr) return 0;
    if (f->is_int64()) return f->get_int64();
    if (f->is_uint64()) return static_cast<int64_t>(f->get_uint64());
    return 0;
  };
  MediaRecord r;
  r.media_id = std::string(media_id);
  r.uploader = str("uploader");
  r.content_type = str("content_type");
  r.filename = str("filename");
  r.size = static_cast<uint64_t>(num("size"));
  r.sha256 = str("sha256");
  r.created_ts = num("created_ts");
  r.unused_expires_ts = num("unused_expires_ts");
  return r;
}

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
  return store;
}

std::string MediaStore::upload_directory() const { return files_->tmp_dir(); }

std::string MediaStore::ContentPath(const MediaRecord& record) const {
  return files_->PathOf(record.sha256);
}

int64_t MediaStore::Now() const { return options_.now_ms ? options_.now_ms() : NowMs(); }

absl::StatusOr<OrphanStats> MediaStore::RemoveOrphans() {
  absl::flat_hash_set<std::string> referenced;
  absl::Status decoded = absl::OkStatus();
  CONCLAVE_RETURN_IF_ERROR(
      db_.ForEachWithPrefix(*media_, "", [&](std::string_view key, std::string_view value) {
        auto record = Decode(key, value);
        if (!record.ok()) {
          decoded = record.status();
          return false;
        }
        if (!record->pending()) referenced.insert(record->sha256);
        return true;
      }));
  // A metadata row we cannot read may name a file: delete nothing rather than guess.
  CONCLAVE_RETURN_IF_ERROR(decoded);
  return files_->RemoveOrphans(referenced);
}

absl::Status MediaStore::Write(const MediaRecord& record) {
  database::WriteBatch batch;
  batch.Put(*media_, record.media_id, Encode(record));
  batch.Put(*by_user_, schema::MediaByUserKey(record.uploader, record.created_ts, record.media_id),
            "");
  return db_.Write(batch);
}

absl::StatusOr<MediaRecord> MediaStore::Upload(std::string_view uploader,
                                               const std::string& body_file,
                                               std::string_view content_type,
                                               std::string_view filename) {
  auto content = files_->Commit(body_file);
  if (!content.ok()) {
    Discard(body_file);
    return content.status();
  }
  MediaRecord record;
  record.media_id = RandomAlnum(kMediaIdLength);
  record.uploader = std::string(uploader);
  record.content_type = std::string(content_type);
  record.filename = std::string(filename);
  record.size = content->size;
  record.sha256 = content->sha256;
  record.created_ts = Now();
  CONCLAVE_RETURN_IF_ERROR(Write(record));
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
  auto content = files_->Commit(body_file);
  if (!content.ok()) {
    Discard(body_file);
    return content.status();
  }
  absl::MutexLock lock(&mu_);
  CONCLAVE_ASSIGN_OR_RETURN(MediaRecord record, check());
  record.content_type = std::string(content_type);
  record.filename = std::string(filename);
  record.size = content->size;
  record.sha256 = content->sha256;
  record.unused_expires_ts = 0;
  CONCLAVE_RETURN_IF_ERROR(Write(record));
  return record;
}

absl::StatusOr<MediaRecord> MediaStore::Get(std::string_view media_id) const {
  if (!ValidMediaId(media_id)) return NotFound("Media not found");
  auto stored = db_.Get(*media_, media_id);
  if (absl::IsNotFound(stored.status())) return NotFound("Media not found");
  if (!stored.ok()) return stored.status();
  CONCLAVE_ASSIGN_OR_RETURN(MediaRecord record, Decode(media_id, *stored));
  if (record.pending() && record.unused_expires_ts <= Now()) return NotFound("Media not found");
  return record;
}

absl::StatusOr<MediaTotals> MediaStatistics(database::Database& db) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * media, db.OpenMap(schema::kMediaMap));
  MediaTotals totals;
  absl::flat_hash_set<std::string> contents;
  absl::Status decoded = absl::OkStatus();
  CONCLAVE_RETURN_IF_ERROR(
      db.ForEachWithPrefix(*media, "", [&](std::string_view key, std::string_view value) {
        auto record = Decode(key, value);
        if (!record.ok()) {
          decoded = record.status();
          return false;
        }
        if (record->pending()) {
          ++totals.pending;
          return true;
        }
        ++totals.media;
        totals.bytes += record->size;
        if (contents.insert(record->sha256).second) totals.distinct_bytes += record->size;
        return true;
      }));
  CONCLAVE_RETURN_IF_ERROR(decoded);
  totals.distinct_contents = contents.size();
  return totals;
}

absl::StatusOr<std::vector<MediaRecord>> MediaOfUser(database::Database& db,
                                                     std::string_view user_id) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * media, db.OpenMap(schema::kMediaMap));
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * by_user, db.OpenMap(schema::kMediaByUserMap));
  std::vector<std::string> ids;
  CONCLAVE_RETURN_IF_ERROR(
      db.ForEachWithPrefix(*by_user, database::KeyBuilder().AppendString(user_id).Build(),
                           [&](std::string_view key, std::string_view) {
                             database::KeyReader reader(key);
                             (void)reader.ReadString();
                             (void)reader.ReadU64();
                             if (auto id = reader.ReadString(); id.ok())
                               ids.push_back(*std::move(id));
                             return true;
                           }));
  std::vector<MediaRecord> out;
  for (const std::string& id : ids) {
    auto stored = db.Get(*media, id);
    if (absl::IsNotFound(stored.status())) continue;
    if (!stored.ok()) return stored.status();
    CONCLAVE_ASSIGN_OR_RETURN(MediaRecord record, Decode(id, *stored));
    out.push_back(std::move(record));
  }
  return out;
}

}  // namespace conclave::service
