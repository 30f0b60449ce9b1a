// The media module's options: upload size, where content lives, the legacy unauthenticated
// download endpoints and their freeze, the expiry of created media ids. Read by the module from
// core's raw config table (conclave/core/options.h); each option's default, unit, doc and
// whether SIGHUP changes it are given where it is read (options.cc), and docs/configuration.md
// is checked against them.
//
// The quotas are runtime (SIGHUP applies them at once); every other option applies at the
// module's next load (a reload of media, or a restart). Private to the media module. Value types;
// thread-compatible.
#ifndef CONCLAVE_MEDIA_OPTIONS_H_
#define CONCLAVE_MEDIA_OPTIONS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/config_sections.h"
#include "conclave/core/options.h"
#include "thumbnailer.h"

namespace conclave::media {

struct MediaOptions {
  // Largest upload, bytes; over it 413 M_TOO_LARGE. Default 50 MiB.
  uint64_t max_upload_size = uint64_t{50} << 20;
  // The media directory; "" = `<database_path>-media` (MediaDirectory()).
  std::string media_directory;
  // Whether the deprecated unauthenticated GET /_matrix/media/v3/download serves media at all.
  bool legacy_download = true;
  // Media created at or after this instant are not served by the legacy endpoints (the spec's
  // "freeze"); InfiniteFuture() when `media_freeze_ts` is 0 (no freeze).
  absl::Time freeze = absl::InfiniteFuture();
  // How long a media id from POST /v1/create waits for its upload.
  absl::Duration unused_expiry = absl::Hours(24);
  // The thumbnail sizes generated (requests are snapped to them), as configured and parsed.
  std::vector<std::string> thumbnail_size_texts;
  std::vector<ThumbnailSize> thumbnail_sizes;
  // Images with more pixels (all frames of an animation) are not thumbnailed: 413 M_TOO_LARGE.
  uint64_t max_image_pixels = 32'000'000;
  // GET /_matrix/client/v1/media/preview_url (and the legacy v3/r0 ones): registered only when
  // true. Default false: it fetches URLs users give.
  bool url_preview = false;
  // Address ranges (CIDR) previews may fetch although denied by default (loopback, private...).
  std::vector<std::string> url_preview_allowed_ranges;
  // Largest page or image fetched for a preview, bytes. Default 10 MiB.
  uint64_t url_preview_max_bytes = uint64_t{10} << 20;
  // Time limit of each fetch of a preview (the page, its image). Default 10 s.
  absl::Duration url_preview_timeout = absl::Seconds(10);
  // Per-user upload quotas; 0 = none (the default). Over one: 403 M_FORBIDDEN. Runtime.
  uint64_t quota_bytes = 0;  // bytes of a user's uploads in all
  uint64_t quota_items = 0;  // media items a user may have
};

// Reads the options (defaults for absent keys); invalid values end up in `reader.status()`.
MediaOptions ReadMediaOptions(core::OptionReader& reader);

// kInvalidArgument naming media_thumbnail_sizes when one of them is malformed.
absl::Status CheckSizes(const MediaOptions& options);

// The media directory `options` name, given the database's path.
std::string MediaDirectory(const MediaOptions& options, const std::string& database_path);

using MediaSettings = core::TypedOptionSection<MediaOptions>;

// The settings read from `raw`; kInvalidArgument naming the key when a value is invalid.
absl::StatusOr<std::unique_ptr<MediaSettings>> OpenMediaSettings(const core::RawConfig& raw);

// The descriptor's check_options hook (conclave/core/module.h): validates `raw` as a load would
// and appends the keys read to `keys`.
absl::Status CheckMediaOptions(const core::RawConfig& raw, std::vector<std::string>* keys) noexcept;

}  // namespace conclave::media

#endif  // CONCLAVE_MEDIA_OPTIONS_H_
