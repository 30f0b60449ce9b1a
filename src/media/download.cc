// Downloads: the authenticated GET /_matrix/client/v1/media/download/{serverName}/{mediaId}
// [/{fileName}] (MSC3916, spec v1.11, authed-content-repo.yaml) and the deprecated
// unauthenticated GET /_matrix/media/v3/download/... (content-repo.yaml), which serves only
// media created before the freeze (media_freeze_ts) and only while media_legacy_download is on.
//
// The content is a file response (core::ResponseFile): core sends it with sendfile and applies
// ETag/If-None-Match and Range. A media id created but not uploaded yet waits up to `timeout_ms`
// for its upload (parked on the Notifier, no thread held), then answers 504 M_NOT_YET_UPLOADED.
#include <charconv>

#include "call.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "headers.h"

namespace conclave::media {
namespace {

// content-repo.yaml's timeout_ms: default 20 seconds; we cap what a client may ask for.
constexpr absl::Duration kDefaultWait = absl::Seconds(20);
constexpr absl::Duration kMaxWait = absl::Minutes(2);

absl::Duration WaitOf(const core::Request& request) {
  std::optional<std::string> text = request.QueryParam("timeout_ms");
  int64_t ms = 0;
  if (!text || std::from_chars(text->data(), text->data() + text->size(), ms).ec != std::errc()) {
    return kDefaultWait;
  }
  return std::clamp(absl::Milliseconds(ms), absl::ZeroDuration(), kMaxWait);
}

// The answer for a media id still waiting for its upload: wait (again), or 504 when the wait is
// over.
absl::StatusOr<core::Response> NotYetUploaded(Call& call, uint64_t seen_version) {
  const core::Request& request = call.request;
  const absl::Time deadline = request.wake_reason == core::WakeReason::kNone
                                  ? absl::Now() + WaitOf(request)
                                  : request.wait_deadline;
  const bool over = request.wake_reason == core::WakeReason::kTimeout ||
                    request.wake_reason == core::WakeReason::kInterrupted ||
                    deadline <= absl::Now();
  if (over) {
    return service::MatrixStatus(service::Errcode::kNotYetUploaded,
                                 "Content has not yet been uploaded");
  }
  core::Response response;
  response.wait = core::Wait{UploadKey(call.Param("mediaId")), seen_version, deadline};
  return response;
}

absl::StatusOr<core::Response> Download(Call& call, bool authenticated) {
  if (call.Param("serverName") != call.hs.server_name()) {
    // No federation yet: remote media cannot be fetched.
    return service::NotFound("Remote media is not available on this server");
  }
  const std::string media_id = call.Param("mediaId");
  // Read before looking, so that an upload finishing in between wakes the wait.
  const uint64_t seen = call.state.notifier->Version(UploadKey(media_id));
  CONCLAVE_ASSIGN_OR_RETURN(service::MediaRecord record, call.state.store->Get(media_id));
  if (!authenticated && (!call.state.options.legacy_download ||
                         absl::FromUnixMillis(record.created_ts) >= call.state.options.freeze)) {
    // Client-Server API, "Content repository": frozen media only through the new endpoints.
    return service::NotFound("Media not found");
  }
  if (record.pending()) return NotYetUploaded(call, seen);
  auto file = core::ResponseFile::Open(call.state.store->ContentPath(record));
  if (!file.ok()) {
    // Metadata is written only after its file is durable: this is a broken invariant (or the
    // media directory was tampered with), not a missing media.
    return absl::InternalError(
        core::StrCat("media ", media_id, ": content file missing: ", file.status().message()));
  }
  core::Response response;
  SetDownloadHeaders(record, call.Param("fileName"), authenticated, response);
  response.file = *std::move(file);
  return response;
}

absl::StatusOr<core::Response> AuthenticatedDownload(Call& call) { return Download(call, true); }
absl::StatusOr<core::Response> LegacyDownload(Call& call) { return Download(call, false); }

}  // namespace

absl::Status RegisterDownloadRoutes(Routes& routes) {
  for (std::string_view suffix : {"", "/{fileName}"}) {
    const std::string tail = core::StrCat("/download/{serverName}/{mediaId}", suffix);
    CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/_matrix/client/v1/media" + tail, Auth::kRequired,
                                        &AuthenticatedDownload));
    for (std::string_view prefix : {"/_matrix/media/v3", "/_matrix/media/r0"}) {
      CONCLAVE_RETURN_IF_ERROR(
          routes.Add("GET", std::string(prefix) + tail, Auth::kNone, &LegacyDownload));
    }
  }
  return absl::OkStatus();
}

}  // namespace conclave::media
