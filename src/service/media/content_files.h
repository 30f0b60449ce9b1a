// The media repository's content on disk: one file per distinct content, named by the SHA-256
// of its bytes, so identical uploads are stored once.
//
//   <root>/content/<first two hex digits>/<sha256 hex>   committed content, never modified
//   <root>/tmp/.upload-*                                  request bodies as they arrive (core)
//
// A body becomes content only durably: fsynced, renamed into place, its directory fsynced;
// metadata is written after that (MediaStore). Whatever a crash leaves behind is a temporary or
// a content file no metadata names, and RemoveOrphans() deletes those at the next start.
//
// Private to service/media. Thread-safe: every method works on the filesystem only, and a
// commit of the same content by two threads ends with one file either way.
#ifndef CONCLAVE_SERVICE_MEDIA_CONTENT_FILES_H_
#define CONCLAVE_SERVICE_MEDIA_CONTENT_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>

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
  // The path of the content with hex digest `sha256`.
  std::string PathOf(std::string_view sha256) const;

  // Hashes `tmp_path` (a file in tmp_dir()), fsyncs it and renames it to PathOf(its hash),
  // fsyncing the directories it changed; when that content exists already, removes `tmp_path`
  // instead. kInternal naming the file on an I/O error (the temporary is then left to the
  // caller, or to RemoveOrphans).
  absl::StatusOr<CommittedContent> Commit(const std::string& tmp_path) const;

  // Deletes every temporary, and every content file whose hash `referenced` does not hold. Run
  // once per process, before uploads are accepted: a temporary then belongs to no request.
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
