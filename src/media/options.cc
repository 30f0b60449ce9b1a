#include "options.h"

#include "conclave/core/exceptions.h"

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
  return o;
}

std::string MediaDirectory(const MediaOptions& options, const std::string& database_path) {
  if (!options.media_directory.empty()) return options.media_directory;
  std::string base = database_path;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return base + "-media";
}

absl::StatusOr<std::unique_ptr<MediaSettings>> OpenMediaSettings(const core::RawConfig& raw) {
  return MediaSettings::Create(kModule, &ReadMediaOptions, raw);
}

absl::Status CheckMediaOptions(const core::RawConfig& raw,
                               std::vector<std::string>* keys) noexcept {
  return core::CatchAll(kModule, "media: check_options hook", [&] {
    core::OptionReader reader(kModule, raw);
    (void)ReadMediaOptions(reader);
    for (const core::OptionRead& r : reader.read()) keys->push_back(r.key);
    return reader.status();
  });
}

}  // namespace conclave::media
