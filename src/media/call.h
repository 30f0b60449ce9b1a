// What every handler of the media module shares: the homeserver and media store of the request,
// access-token authentication, JSON bodies and Matrix error responses.
//
// The media module speaks HTTP as the api module does, with the same errcode -> HTTP status
// table and authentication (conclave/matrix_http). Private to the media module.
#ifndef CONCLAVE_MEDIA_CALL_H_
#define CONCLAVE_MEDIA_CALL_H_

#include <boost/json/value.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/core/http.h"
#include "conclave/matrix_http/authenticate.h"
#include "conclave/matrix_http/error_response.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/media/media_store.h"
#include "options.h"
#include "preview.h"

namespace conclave::media {

// The media module's state for one load; handlers read it, the module owns it.
struct MediaState {
  MediaOptions options;
  std::unique_ptr<service::MediaStore> store;
  core::Notifier* notifier = nullptr;  // the server's; wakes downloads waiting for an upload
  std::string thumbnail_directory;     // <media directory>/thumbnails
  std::unique_ptr<PreviewCache> previews = std::make_unique<PreviewCache>();
};

// One call of a handler: the request, the homeserver, the module state and who made it.
struct Call {
  core::Request& request;
  service::Homeserver& hs;
  MediaState& state;
  service::Session session;  // empty user_id on unauthenticated routes

  std::string Param(std::string_view name) const;
};

using Handler = std::function<absl::StatusOr<core::Response>(Call&)>;

using matrix_http::Auth;

// Registers the media module's routes for one load; the handles unregister them when destroyed.
class Routes {
 public:
  Routes(core::Router& router, std::string_view module, MediaState& state,
         std::vector<core::RouteHandle>& handles)
      : router_(router), module_(module), state_(state), handles_(handles) {}

  // Registers `method` `path` (the full path), running `auth` first; `handler` returns the
  // response or an error status that becomes the Matrix error response.
  absl::Status Add(std::string_view method, std::string_view path, Auth auth, Handler handler,
                   core::RouteOptions options = {});
  MediaState& state() { return state_; }

 private:
  core::Router& router_;
  std::string module_;
  MediaState& state_;
  std::vector<core::RouteHandle>& handles_;
};

// The route groups (upload.cc, download.cc, thumbnail.cc).
absl::Status RegisterUploadRoutes(Routes& routes);
absl::Status RegisterDownloadRoutes(Routes& routes);
absl::Status RegisterThumbnailRoutes(Routes& routes);
// Only when the media_url_preview option is on (preview.cc).
absl::Status RegisterPreviewRoutes(Routes& routes);

// "mxc://<server_name>/<media_id>".
std::string MxcUri(std::string_view server_name, std::string_view media_id);
// The Notifier key a download waiting for `media_id`'s upload waits on.
std::string UploadKey(std::string_view media_id);

using matrix_http::ErrorResponse;
using matrix_http::HttpStatusOf;
core::Response JsonResponse(const boost::json::value& body);

}  // namespace conclave::media

#endif  // CONCLAVE_MEDIA_CALL_H_
