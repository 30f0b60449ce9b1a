// The media repository's content on disk: one file per distinct content, named by the SHA-256
// of its bytes, so identical uploads are stored once.
//
//   <root>/content/<first two hex digits>/<sha256 hex>   committed content, never modified
//   <root>/tmp/.upload-*                                  request bodies as they arrive (core)
//   <root>/thumbnails/<sha256 hex>-<size>...              thumbnails (media module), cached
//   <root>/.lock                                          flock()ed by Lock()
//
// A body becomes content only durably: fsynced, renamed into place, its directory fsynced;
// metadata is written after that (MediaStore). Whatever a crash leaves behind is a temporary or
// a content file no metadata names, and RemoveOrphans() deletes those at the next start.
//
// Private to service/media. Thread-safe: every method works on the filesystem only. Place() and
// Remove() of one content race (an upload finding the file that a deletion is about to remove):
// MediaStore runs each, with its metadata batch, under Lock().
#ifndef CONCLAVE_SERVICE_MEDIA_CONTENT_FILES_H_
#define CONCLAVE_SERVICE_MEDIA_CONTENT_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/service/media/media_store.h"

namespace conclave::service {

// What Commit() stored.
struct CommittedContent {
  std::string sha256;         // lower-case hex, 64 characters
  uint64_t size = 0;          // bytes
  bool deduplicated = false;  // the same content was stored already; the temporary was removed
};

class ContentFiles {
 public:
  explicit ContentFiles(std::string root);

  // Creates the root, content and tmp directories if missing. kInternal naming the directory
  // when that fails.
  absl::Status Prepare() const;

  const std::string& root() const { return root_; }
  // Where request bodies are written as they arrive (RouteOptions::body_to_file's directory).
  std::string tmp_dir() const;
  // Where the media module caches thumbnails.
  std::string thumbnail_dir() const;
  // The path of the content with hex digest `sha256`.
  std::string PathOf(std::string_view sha256) const;

  // Hashes `tmp_path` (a file in tmp_dir()) and fsyncs it: the slow part of a commit, done
  // without Lock(). `deduplicated` is not set yet. kInternal naming the file on an I/O error.
  absl::StatusOr<CommittedContent> Hash(const std::string& tmp_path) const;
  // Renames `tmp_path`, hashed as `content`, to PathOf(content.sha256), fsyncing the
  // directories it changed; when that content exists already, removes `tmp_path` instead and
  // sets `content.deduplicated`. Call under Lock(). kInternal on an I/O error (the temporary is
  // then left to the caller, or to RemoveOrphans).
  absl::Status Place(const std::string& tmp_path, CommittedContent& content) const;

  // Removes the content `sha256` and its cached thumbnails; missing files are not an error.
  // Returns the bytes freed. Call under Lock(), after the metadata naming it is gone.
  uint64_t Remove(std::string_view sha256) const;

  // An exclusive lock on the content files: an flock() on <root>/.lock through a descriptor of
  // its own, so it excludes other threads and other MediaStores of this process alike. Blocks.
  // kInternal when the lock file cannot be opened.
  class LockHandle {
   public:
    explicit LockHandle(int fd) : fd_(fd) {}
    LockHandle(LockHandle&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    LockHandle& operator=(LockHandle&&) = delete;
    ~LockHandle();

   private:
    int fd_;
  };
  absl::StatusOr<LockHandle> Lock() const;

  // The names (sha256 hex) of the content files present (files in their shard directory).
  std::vector<std::string> ContentNames() const;

  // Deletes every temporary, and every content file and thumbnail whose hash `referenced` does
  // not hold. Run once per process, before uploads are accepted: a temporary then belongs to no
  // request.
  absl::StatusOr<OrphanStats> RemoveOrphans(
      const absl::flat_hash_set<std::string>& referenced) const;

 private:
  std::string root_;
};

// Returns the SHA-256 of the file at `path` in lower-case hex, reading it in blocks (never whole
// into memory), and its size in bytes through `size`. kInternal naming the path on an I/O error.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path, uint64_t* size);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_MEDIA_CONTENT_FILES_H_
