// Thumbnails of image media (Client-Server API, "Content repository", "Thumbnails"), made with
// libvips. The only file of conclave that includes libvips headers (thumbnailer.cc).
//
// Sizes are snapped to a configured list, so at most that many thumbnails exist per content;
// each is generated once and cached on disk beside the content, named by the content's hash
// (identical uploads share their thumbnails), written to a temporary file and renamed.
//
// Thread-safe (libvips is). Generating blocks for tens of ms: call it from the blocking pool.
#ifndef CONCLAVE_MEDIA_THUMBNAILER_H_
#define CONCLAVE_MEDIA_THUMBNAILER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace conclave::media {

// One size of the configured list: "WIDTHxHEIGHT-METHOD", METHOD `crop` or `scale`.
struct ThumbnailSize {
  int width = 0;
  int height = 0;
  bool crop = false;

  // "32x32-crop". kInvalidArgument naming `text` when it is malformed.
  static absl::StatusOr<ThumbnailSize> Parse(std::string_view text);
  std::string ToString() const;
  bool operator==(const ThumbnailSize&) const = default;
};

// The size of `sizes` to generate for a request of `width` x `height` with `crop`: the smallest
// of the same method at least as large in both dimensions, else the largest of that method, else
// (no size of that method) the same among all sizes. nullopt when `sizes` is empty.
std::optional<ThumbnailSize> SnapSize(const std::vector<ThumbnailSize>& sizes, int width,
                                      int height, bool crop);

// A generated thumbnail.
struct Thumbnail {
  std::string path;          // the cached file
  std::string content_type;  // image/jpeg, image/png, image/gif or image/webp
};

// Once per process: initializes libvips and pins it (it cannot be unloaded safely: its GObject
// types and worker threads outlive a dlclose), so reloads of the media module keep using the one
// copy. kInternal when libvips cannot start.
absl::Status StartThumbnailer();
// At process end.
void StopThumbnailer();

// Returns the thumbnail of `size` of the content at `source` (hex `sha256`, `content_type` as
// uploaded) from the cache directory `cache_dir`, generating and caching it first if needed.
// `animated`: keep the animation of an animated GIF or WebP (as a GIF, scaled into the box even
// for a crop size: libvips cannot crop the frames of an animation), else the first frame.
// M_NOT_FOUND when the content is not an image libvips can read (the spec's answer for
// non-images), M_TOO_LARGE when its pixel count (all frames when `animated`) is over
// `max_pixels` (decompression bombs: checked from the header, before decoding), kInternal on
// I/O errors.
absl::StatusOr<Thumbnail> MakeThumbnail(const std::string& source, std::string_view sha256,
                                        std::string_view content_type, const std::string& cache_dir,
                                        const ThumbnailSize& size, bool animated,
                                        uint64_t max_pixels);

}  // namespace conclave::media

#endif  // CONCLAVE_MEDIA_THUMBNAILER_H_
