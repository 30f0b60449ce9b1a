#include "preview.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <optional>

#include "absl/time/time.h"
#include "call.h"
#include "conclave/core/http_client.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "headers.h"
#include "opengraph.h"

namespace conclave::media {
namespace {

constexpr absl::Duration kCacheFor = absl::Hours(1);

core::HttpClientOptions FetchOptions(const MediaOptions& options) {
  core::HttpClientOptions out;
  out.timeout = options.url_preview_timeout;
  out.max_response_bytes = options.url_preview_max_bytes;
  out.allowed_ranges = options.url_preview_allowed_ranges;
  out.user_agent = "conclave URL preview";
  return out;
}

// A fetch that failed: denied addresses are the requester's fault (403), the rest the remote
// side's (Synapse answers 502 there; our status table makes kUnavailable a 503).
absl::Status FetchFailed(const absl::Status& status) {
  if (absl::IsPermissionDenied(status) || absl::IsInvalidArgument(status)) {
    return service::Forbidden(core::StrCat("Cannot preview this URL: ", status.message()));
  }
  return service::MatrixStatus(absl::StatusCode::kUnavailable, service::Errcode::kUnknown,
                               core::StrCat("Cannot fetch the URL: ", status.message()));
}

// Stores `body` as media of `user_id` (the spec: "og:image" is an mxc URI of this server).
absl::StatusOr<service::MediaRecord> StoreImage(Call& call, const std::string& body,
                                                const std::string& content_type) {
  const std::string path = core::StrCat(call.state.store->upload_directory(), "/.upload-preview-",
                                        service::RandomAlnum(16));
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return absl::InternalError(core::StrCat("cannot create ", path));
  const bool written = write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  close(fd);
  if (!written) {
    unlink(path.c_str());
    return absl::InternalError(core::StrCat("cannot write ", path));
  }
  return call.state.store->Upload(call.session.user_id, path, content_type, "");
}

// Adds og:image (an mxc URI), og:image:type and matrix:image:size for the image `response`.
absl::Status AddImage(Call& call, const core::HttpClientResponse& response,
                      boost::json::object& og) {
  const std::string type = BaseType(response.Header("Content-Type"));
  CONCLAVE_ASSIGN_OR_RETURN(service::MediaRecord record, StoreImage(call, response.body, type));
  og["og:image"] = MxcUri(call.hs.server_name(), record.media_id);
  og["og:image:type"] = type;
  og["matrix:image:size"] = record.size;
  return absl::OkStatus();
}

absl::StatusOr<boost::json::object> MakePreview(Call& call, const std::string& url) {
  const MediaOptions& options = call.state.options;
  auto page = core::HttpFetch({.url = url}, FetchOptions(options));
  if (!page.ok()) return FetchFailed(page.status());
  if (page->status != 200) {
    return FetchFailed(absl::UnavailableError(core::StrCat("HTTP status ", page->status)));
  }
  const std::string type = BaseType(page->Header("Content-Type"));
  boost::json::object og;
  if (type.rfind("image/", 0) == 0) {
    CONCLAVE_RETURN_IF_ERROR(AddImage(call, *page, og));
    return og;
  }
  if (type != "text/html" && type != "application/xhtml+xml") return og;  // nothing to show
  og = OpenGraphOf(page->body, page->url);
  const boost::json::value* image = og.if_contains("og:image");
  if (image == nullptr || !image->is_string()) return og;
  auto fetched = core::HttpFetch({.url = std::string(image->get_string())}, FetchOptions(options));
  if (fetched.ok() && fetched->status == 200 &&
      BaseType(fetched->Header("Content-Type")).rfind("image/", 0) == 0) {
    CONCLAVE_RETURN_IF_ERROR(AddImage(call, *fetched, og));
  } else {
    // An image we could not fetch is not shown: og:image must be an mxc URI.
    og.erase("og:image");
  }
  return og;
}

absl::StatusOr<core::Response> PreviewUrl(Call& call) {
  auto url = call.request.QueryParam("url");
  if (!url || url->empty()) return service::MissingParam("The url parameter is required");
  if (auto ts = call.request.QueryParam("ts"); ts && !ts->empty()) {
    // The spec lets a server answer with a newer version than `ts` asks: we keep one, the
    // latest, so `ts` only has to be a number.
    for (char c : *ts) {
      if (c < '0' || c > '9') return service::InvalidParam("ts must be an integer (ms)");
    }
  }
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  if (std::optional<std::string> cached = call.state.previews->Find(*url, now_ms)) {
    return core::Response{200, "application/json", *std::move(cached), {}, {}, {}};
  }
  CONCLAVE_ASSIGN_OR_RETURN(boost::json::object og, MakePreview(call, *url));
  std::string body = boost::json::serialize(og);
  call.state.previews->Put(*url, body, now_ms + absl::ToInt64Milliseconds(kCacheFor));
  return core::Response{200, "application/json", std::move(body), {}, {}, {}};
}

}  // namespace

std::optional<std::string> PreviewCache::Find(const std::string& url, int64_t now_ms) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(url);
  if (it == entries_.end() || it->second.expires_ms <= now_ms) return std::nullopt;
  return it->second.body;
}

void PreviewCache::Put(const std::string& url, std::string body, int64_t expires_ms) {
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= kMaxEntries) {
    const int64_t now_ms = absl::ToUnixMillis(absl::Now());
    absl::erase_if(entries_,
                   [now_ms](const auto& entry) { return entry.second.expires_ms <= now_ms; });
    if (entries_.size() >= kMaxEntries) entries_.clear();
  }
  entries_[url] = Entry{std::move(body), expires_ms};
}

absl::Status RegisterPreviewRoutes(Routes& routes) {
  if (!routes.state().options.url_preview) return absl::OkStatus();
  const core::RouteOptions blocking{.blocking = true};
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/_matrix/client/v1/media/preview_url",
                                      Auth::kRequired, &PreviewUrl, blocking));
  for (std::string_view prefix : {"/_matrix/media/v3", "/_matrix/media/r0"}) {
    CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", std::string(prefix) + "/preview_url",
                                        Auth::kRequired, &PreviewUrl, blocking));
  }
  return absl::OkStatus();
}

}  // namespace conclave::media
