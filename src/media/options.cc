#include "options.h"

#include "conclave/core/exceptions.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/media/media_store.h"

namespace conclave::media {
namespace {

constexpr char kModule[] = "media";
constexpr int64_t kMaxUpload = int64_t{1} << 40;

}  // namespace

MediaOptions ReadMediaOptions(core::OptionReader& r) {
  MediaOptions o;
  o.max_upload_size = static_cast<uint64_t>(
      r.Integer("max_upload_size", int64_t{50} << 20, 1, kMaxUpload,
                {.unit = "bytes", .doc = "Largest upload; over it 413 M_TOO_LARGE"}));
  o.media_directory =
      r.String("media_directory", "",
               {.unit = "directory",
                .doc = "Where uploaded content is stored; empty: <database_path>-media"});
  o.legacy_download =
      r.Bool("media_legacy_download", true,
             {.doc = "Whether the unauthenticated /_matrix/media/v3/download serves media"});
  const int64_t freeze_ms = r.Integer(
      "media_freeze_ts", 0, 0, int64_t{1} << 50,
      {.unit = "ms since the Unix epoch",
       .doc = "Media uploaded at or after it only through the authenticated endpoints; 0: never"});
  if (freeze_ms > 0) o.freeze = absl::FromUnixMillis(freeze_ms);
  o.unused_expiry = r.Duration("media_unused_expiry", absl::Hours(24),
                               {.doc = "How long a media id from POST /_matrix/media/v1/create "
                                       "waits for its upload"});
  o.thumbnail_size_texts =
      r.StringList("media_thumbnail_sizes",
                   {"32x32-crop", "96x96-crop", "320x240-scale", "640x480-scale", "800x600-scale"},
                   {.unit = "WIDTHxHEIGHT-crop or -scale",
                    .doc = "The thumbnail sizes generated; a request gets the nearest one"});
  for (const std::string& text : o.thumbnail_size_texts) {
    // A malformed size is refused by CheckSizes (load and --check-config) and skipped here.
    if (auto size = ThumbnailSize::Parse(text); size.ok()) o.thumbnail_sizes.push_back(*size);
  }
  o.max_image_pixels = static_cast<uint64_t>(
      r.Integer("media_max_image_pixels", 32'000'000, 1, int64_t{1} << 40,
                {.unit = "pixels", .doc = "Images with more pixels are not thumbnailed"}));
  o.url_preview = r.Bool("media_url_preview", false,
                         {.doc = "Whether GET /_matrix/client/v1/media/preview_url is served"});
  o.url_preview_allowed_ranges = r.StringList(
      "media_url_preview_allowed_ranges", {},
      {.unit = "CIDR ranges",
       .doc = "Addresses previews may fetch although denied (loopback, private, ...)"});
  o.url_preview_max_bytes = static_cast<uint64_t>(
      r.Integer("media_url_preview_max_bytes", int64_t{10} << 20, 1, kMaxUpload,
                {.unit = "bytes", .doc = "Largest page or image fetched for a preview"}));
  o.url_preview_timeout = r.Duration("media_url_preview_timeout", absl::Seconds(10),
                                     {.doc = "Time limit of each fetch of a preview"});
  o.quota_bytes = static_cast<uint64_t>(r.Integer(
      "media_quota_bytes", 0, 0, int64_t{1} << 50,
      {.unit = "bytes", .runtime = true, .doc = "Bytes of uploads a user may have; 0: no quota"}));
  o.quota_items = static_cast<uint64_t>(
      r.Integer("media_quota_items", 0, 0, int64_t{1} << 40,
                {.runtime = true, .doc = "Media items a user may have uploaded; 0: no quota"}));
  return o;
}

absl::Status CheckSizes(const MediaOptions& options) {
  for (const std::string& text : options.thumbnail_size_texts) {
    if (auto size = ThumbnailSize::Parse(text); !size.ok()) {
      return absl::InvalidArgumentError(
          core::StrCat("config: media_thumbnail_sizes: ", size.status().message()));
    }
  }
  return absl::OkStatus();
}

std::string MediaDirectory(const MediaOptions& options, const std::string& database_path) {
  return service::MediaDirectoryFor(options.media_directory, database_path);
}

absl::StatusOr<std::unique_ptr<MediaSettings>> OpenMediaSettings(const core::RawConfig& raw) {
  return MediaSettings::Create(kModule, &ReadMediaOptions, raw);
}

absl::Status CheckMediaOptions(const core::RawConfig& raw,
                               std::vector<std::string>* keys) noexcept {
  return core::CatchAll(kModule, "media: check_options hook", [&] {
    core::OptionReader reader(kModule, raw);
    const MediaOptions options = ReadMediaOptions(reader);
    for (const core::OptionRead& r : reader.read()) keys->push_back(r.key);
    if (!reader.status().ok()) return reader.status();
    return CheckSizes(options);
  });
}

}  // namespace conclave::media
