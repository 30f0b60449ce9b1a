// The media repository's storage (Client-Server API, "Content repository"): local uploads,
// their metadata in RocksDB (`media`, `media_by_user`, `media_content` in storage/schema.h) and
// their content on disk (content_files.h), media ids created ahead of their upload (POST
// /v1/create), and their deletion (admin commands).
//
// Several media ids share one content file (identical uploads); `media_content` counts the ids
// of each content, and a file goes only when its last id goes.
//
// Ordering for crash safety: an upload makes its content durable first (fsync, rename,
// directory fsync), then writes its metadata and the content's count in one WriteBatch; a
// deletion writes its batch first (metadata gone, count down) and removes the file after. A
// kill -9 at any point leaves either both, or a file no metadata names, which RemoveOrphans()
// deletes at the next start; never metadata without its file. The file step and the batch run
// under one lock on the content files (ContentFiles::Lock), so an upload that finds the content
// stored already cannot lose it to a deletion of its last other id.
//
// Owned by the media module (created at its load); used by its HTTP handlers. Service speaks no
// HTTP: errors are Errcode statuses (protocol/errors.h).
#ifndef CONCLAVE_SERVICE_MEDIA_MEDIA_STORE_H_
#define CONCLAVE_SERVICE_MEDIA_MEDIA_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "conclave/core/options.h"
#include "conclave/database/database.h"
#include "conclave/service/storage/verify.h"

namespace conclave::service {

class ContentFiles;

// What MediaStore::RemoveOrphans() deleted.
struct OrphanStats {
  uint64_t temporaries = 0;   // unfinished uploads
  uint64_t unreferenced = 0;  // content files no metadata names
  uint64_t thumbnails = 0;    // thumbnails of such content, and unfinished thumbnails
  uint64_t bytes = 0;
  // `media_content` and `media_usage` rows written (databases from before them).
  uint64_t counts_repaired = 0;
};

// What a deletion removed.
struct DeletedMedia {
  uint64_t items = 0;  // media ids (pending ones included)
  uint64_t files = 0;  // content files (the last id of their content went)
  uint64_t bytes = 0;  // freed on disk: content files and their thumbnails
};

// One local media item. A value type.
struct MediaRecord {
  std::string media_id;      // [A-Za-z0-9]{24}
  std::string uploader;      // user id
  std::string content_type;  // as the uploader said; empty if it said nothing
  std::string filename;      // as the uploader said; empty if none
  uint64_t size = 0;         // bytes
  std::string sha256;        // hex of the content; empty while pending
  int64_t created_ts = 0;    // ms since the Unix epoch
  // Pending only (created by Create(), not uploaded yet): when the id stops being usable, ms.
  int64_t unused_expires_ts = 0;

  bool pending() const { return sha256.empty(); }
};

// Upload quotas per user (optional): 0 means no limit. Counted over uploaded media (pending ids
// have their own limit, max_pending_per_user), in `media_usage`, in the batch of the metadata.
struct MediaQuota {
  uint64_t max_bytes = 0;  // bytes of a user's media in all (each id counted, shared or not)
  uint64_t max_items = 0;  // media items of a user
};

// What a user's media take (`media_usage`).
struct MediaUsage {
  uint64_t bytes = 0;
  uint64_t items = 0;
};

struct MediaStoreOptions {
  // The media directory (content/ and tmp/ below it); created if missing. Required.
  std::string directory;
  // How long a media id from Create() waits for its upload (the spec recommends 24 hours).
  absl::Duration unused_expiry = absl::Hours(24);
  // Media ids from Create() a user may have waiting at once; one more is kResourceExhausted
  // (M_LIMIT_EXCEEDED, content-repo.yaml createContent).
  int max_pending_per_user = 32;
  // The quotas in force, asked at every upload (so a SIGHUP that changes them applies at once);
  // null: none.
  std::function<MediaQuota()> quota;
  // The clock, ms since the Unix epoch (injected by tests).
  std::function<int64_t()> now_ms;
  // Tests only: called after a deletion's batch and before its files go; returning true stops
  // the deletion there, as a kill -9 would (the crash-safety tests).
  std::function<bool()> test_stop_after_delete_batch;
};

// Thread-safe. Must not outlive `db`.
class MediaStore {
 public:
  // Opens the maps and prepares the directory. kInternal when the directory cannot be made.
  static absl::StatusOr<std::unique_ptr<MediaStore>> Open(database::Database& db,
                                                          MediaStoreOptions options);
  ~MediaStore();
  MediaStore(const MediaStore&) = delete;
  MediaStore& operator=(const MediaStore&) = delete;

  // Where request bodies are streamed before Upload/UploadTo take them (on the same filesystem
  // as the content, so that taking one is a rename).
  std::string upload_directory() const;

  // Deletes temporaries and content files no metadata names. Call once per process, before
  // uploads are accepted.
  absl::StatusOr<OrphanStats> RemoveOrphans();

  // Stores the body in `body_file` (a file in upload_directory(), taken: renamed or removed) as
  // new media of `uploader`. M_FORBIDDEN when it would take the uploader over a quota
  // (content-repo.yaml: 403 "The user has reached a quota for uploaded content"). kInternal on
  // an I/O error.
  absl::StatusOr<MediaRecord> Upload(std::string_view uploader, const std::string& body_file,
                                     std::string_view content_type, std::string_view filename);

  // Creates a pending media id for `uploader` (POST /_matrix/media/v1/create). M_LIMIT_EXCEEDED
  // (kResourceExhausted) when the user has max_pending_per_user waiting.
  absl::StatusOr<MediaRecord> Create(std::string_view uploader);

  // Uploads the content of a pending media id (PUT /_matrix/media/v3/upload/{server}/{id}).
  // M_NOT_FOUND when `media_id` is unknown or expired, M_FORBIDDEN when `uploader` did not
  // create it or is over a quota, M_CANNOT_OVERWRITE_MEDIA when it has content already. `body_file`
  // is taken in every case.
  absl::StatusOr<MediaRecord> UploadTo(std::string_view media_id, std::string_view uploader,
                                       const std::string& body_file, std::string_view content_type,
                                       std::string_view filename);

  // The media `media_id`: pending ones too (the caller answers M_NOT_YET_UPLOADED). M_NOT_FOUND
  // when unknown, expired, or not a valid media id.
  absl::StatusOr<MediaRecord> Get(std::string_view media_id) const;

  // The path of `record`'s content (not pending).
  std::string ContentPath(const MediaRecord& record) const;

  // Deletes the media `media_id` (pending or not, expired too): its rows in one batch, then its
  // content file and thumbnails when no other id names that content. M_NOT_FOUND when unknown.
  // kInternal on I/O errors.
  absl::StatusOr<DeletedMedia> Delete(std::string_view media_id);
  // Deletes each of `media_ids` as Delete() does; unknown ids are skipped (not counted).
  absl::StatusOr<DeletedMedia> DeleteMany(const std::vector<std::string>& media_ids);
  // Deletes every media of `user_id` (`media_by_user`).
  absl::StatusOr<DeletedMedia> DeleteOfUser(std::string_view user_id);
  // Deletes every media created before `before_ms` (ms since the Unix epoch; created_ts).
  absl::StatusOr<DeletedMedia> DeleteCreatedBefore(int64_t before_ms);

 private:
  MediaStore(database::Database& db, MediaStoreOptions options);
  // Places the hashed `body_file` and writes `record` (whose size and sha256 it sets) with its
  // `media_by_user` row and its content's count, in one batch under the content lock. `previous`:
  // the pending record being uploaded to, whose row is replaced.
  absl::Status CommitUpload(const std::string& body_file, MediaRecord& record);
  // Writes `record` and its `media_by_user` row in one batch (pending ids: no content).
  absl::Status Write(const MediaRecord& record);
  // What `user_id`'s media take (zeros when nothing is stored).
  absl::StatusOr<MediaUsage> Usage(std::string_view user_id) const;
  // The stored count of ids of content `sha256` (0 when none).
  absl::StatusOr<uint64_t> ContentCount(std::string_view sha256) const;
  // Delete() of one id, the content lock held.
  absl::StatusOr<DeletedMedia> DeleteLocked(std::string_view media_id);
  int64_t Now() const;

  database::Database& db_;
  const MediaStoreOptions options_;
  std::unique_ptr<ContentFiles> files_;
  database::Map* media_ = nullptr;
  database::Map* by_user_ = nullptr;
  database::Map* content_ = nullptr;  // `media_content`: sha256 -> how many ids name it
  database::Map* usage_ = nullptr;    // `media_usage`: user_id -> MediaUsage
  // Serializes the read-check-write of UploadTo and Create for one store.
  absl::Mutex mu_;
};

// What the `media` maps hold, for `media stats`. Pending ids are counted apart and not in the
// byte totals.
struct MediaTotals {
  uint64_t media = 0;              // uploaded media items
  uint64_t pending = 0;            // ids from /create not uploaded yet (expired ones included)
  uint64_t bytes = 0;              // sum of the items' sizes
  uint64_t distinct_contents = 0;  // content files (identical uploads share one)
  uint64_t distinct_bytes = 0;     // their sizes: the disk the content takes
};

// Reads the totals through one pass over `media` (admin commands; no media directory needed).
// kDataLoss when a stored row is not JSON.
absl::StatusOr<MediaTotals> MediaStatistics(database::Database& db);

// What `user_id`'s uploaded media take (`media_usage`); zeros when nothing. Errors of the
// database; kDataLoss when the row is malformed.
absl::StatusOr<MediaUsage> MediaUsageOf(database::Database& db, std::string_view user_id);

// The media `user_id` uploaded or created, oldest first (`media_by_user`). kDataLoss as above.
absl::StatusOr<std::vector<MediaRecord>> MediaOfUser(database::Database& db,
                                                     std::string_view user_id);

// The media ids of this server (`server_name`) that the events of `room_id` refer to: every
// "mxc://<server_name>/<id>" in the stored event JSON (content.url, info.thumbnail_url,
// avatar_url, an encrypted file's url...), found by a scan of the room's timeline (no index is
// written with each event: this is for admin commands, rare, and it also finds media of events
// stored before it existed). Sorted, without duplicates. Errors of the database.
absl::StatusOr<std::vector<std::string>> MediaOfRoom(database::Database& db,
                                                     std::string_view room_id,
                                                     std::string_view server_name);

// Checks the media maps against each other and the files (`database verify`): every `media`
// row decodes, has its `media_by_user` row, and (uploaded) a content file of its size under
// `directory`; every `media_by_user` row names a `media` row of that uploader; every
// `media_content` count is the number of `media` rows naming that content, and every such
// content has one; every `media_usage` row sums its user's uploaded media, and every uploader
// has one; every content file is named by a `media` row (else an orphan, removed at the
// next start). Appends to `report` (records per map under "media", "media_by_user",
// "media_content", "media_usage", "media files"; at most `max_problems` problems listed, all
// counted). Errors of the database; file problems are problems, not errors. Thread-safe; writes
// nothing.
absl::Status VerifyMedia(database::Database& db, const std::string& directory, size_t max_problems,
                         VerifyReport& report);

// The media directory: `configured` (the `media_directory` option) when not empty, else
// `<database_path>-media`.
std::string MediaDirectoryFor(std::string_view configured, std::string_view database_path);
// The same, `configured` read from `raw`'s `media_directory` (the media module's option; for
// readers outside it: admin commands).
std::string MediaDirectoryOf(const core::RawConfig& raw, std::string_view database_path);

// Whether `media_id` has the shape the spec allows: [A-Za-z0-9_-]+ (Content repository,
// "Matrix Content (mxc://) URIs").
bool ValidMediaId(std::string_view media_id);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_MEDIA_MEDIA_STORE_H_
