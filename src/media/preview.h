// URL previews (Client-Server API, "Content repository", GET /_matrix/client/v1/media/
// preview_url): the page fetched with core's HTTP client (deny list, size and time limits), its
// OpenGraph data (opengraph.h), its og:image downloaded into the media store as the spec asks
// (og:image becomes an mxc:// URI, with matrix:image:size), results cached for an hour.
//
// Private to the media module.
#ifndef CONCLAVE_MEDIA_PREVIEW_H_
#define CONCLAVE_MEDIA_PREVIEW_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace conclave::media {

// Previews already made, by URL: the JSON body and until when it is served (ms). Thread-safe.
// Owned by the module's state; a reload starts it empty.
class PreviewCache {
 public:
  // The body cached for `url` if it has not expired at `now_ms`.
  std::optional<std::string> Find(const std::string& url, int64_t now_ms) const;
  // Caches `body` for `url` until `expires_ms`; at kMaxEntries, expired entries go first, then
  // everything (a cache, not a store).
  void Put(const std::string& url, std::string body, int64_t expires_ms);

  static constexpr size_t kMaxEntries = 1000;

 private:
  struct Entry {
    std::string body;
    int64_t expires_ms = 0;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conclave::media

#endif  // CONCLAVE_MEDIA_PREVIEW_H_
