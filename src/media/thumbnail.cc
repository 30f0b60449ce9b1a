// Thumbnails: the authenticated GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}
// (authed-content-repo.yaml) and the deprecated GET /_matrix/media/v3/thumbnail/... (frozen like
// the legacy download). `width` and `height` are snapped to media_thumbnail_sizes, `method`
// crop or scale (default scale), `animated=true` keeps an animation. Made by thumbnailer.h on
// the blocking pool, cached on disk, sent as a file response.
#include <charconv>

#include "call.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "headers.h"
#include "thumbnailer.h"

namespace conclave::media {
namespace {

absl::StatusOr<int> Dimension(const core::Request& request, std::string_view name) {
  std::optional<std::string> text = request.QueryParam(name);
  if (!text) return service::MissingParam(core::StrCat("Missing '", name, "'"));
  int value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || ptr != text->data() + text->size() || value <= 0) {
    return service::InvalidParam(core::StrCat("'", name, "' must be a positive integer"));
  }
  return value;
}

absl::StatusOr<core::Response> Thumbnail(Call& call, bool authenticated) {
  CONCLAVE_ASSIGN_OR_RETURN(int width, Dimension(call.request, "width"));
  CONCLAVE_ASSIGN_OR_RETURN(int height, Dimension(call.request, "height"));
  const std::string method = call.request.QueryParam("method").value_or("scale");
  if (method != "crop" && method != "scale") {
    return service::InvalidParam("'method' must be crop or scale");
  }
  const bool animated = call.request.QueryParam("animated").value_or("false") == "true";
  if (call.Param("serverName") != call.hs.server_name()) {
    return service::NotFound("Remote media is not available on this server");
  }
  CONCLAVE_ASSIGN_OR_RETURN(service::MediaRecord record,
                            call.state.store->Get(call.Param("mediaId")));
  const MediaOptions& options = call.state.options;
  if (!authenticated &&
      (!options.legacy_download || absl::FromUnixMillis(record.created_ts) >= options.freeze)) {
    return service::NotFound("Media not found");
  }
  if (record.pending()) {
    return service::MatrixStatus(service::Errcode::kNotYetUploaded,
                                 "Content has not yet been uploaded");
  }
  std::optional<ThumbnailSize> size =
      SnapSize(options.thumbnail_sizes, width, height, method == "crop");
  if (!size) return service::NotFound("Thumbnails are disabled on this server");
  CONCLAVE_ASSIGN_OR_RETURN(
      media::Thumbnail made,
      MakeThumbnail(call.state.store->ContentPath(record), record.sha256, record.content_type,
                    call.state.thumbnail_directory, *size, animated, options.max_image_pixels));
  CONCLAVE_ASSIGN_OR_RETURN(core::ResponseFile file, core::ResponseFile::Open(made.path));
  service::MediaRecord shown = record;
  shown.content_type = made.content_type;
  shown.filename.clear();
  shown.sha256 = core::StrCat(record.sha256, "-", size->ToString(), animated ? "-animated" : "");
  core::Response response;
  SetDownloadHeaders(shown, "", authenticated, response);
  response.file = std::move(file);
  return response;
}

absl::StatusOr<core::Response> AuthenticatedThumbnail(Call& call) { return Thumbnail(call, true); }
absl::StatusOr<core::Response> LegacyThumbnail(Call& call) { return Thumbnail(call, false); }

}  // namespace

absl::Status RegisterThumbnailRoutes(Routes& routes) {
  const core::RouteOptions blocking{.blocking = true};
  const std::string tail = "/thumbnail/{serverName}/{mediaId}";
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/_matrix/client/v1/media" + tail, Auth::kRequired,
                                      &AuthenticatedThumbnail, blocking));
  for (std::string_view prefix : {"/_matrix/media/v3", "/_matrix/media/r0"}) {
    CONCLAVE_RETURN_IF_ERROR(
        routes.Add("GET", std::string(prefix) + tail, Auth::kNone, &LegacyThumbnail, blocking));
  }
  return absl::OkStatus();
}

}  // namespace conclave::media
