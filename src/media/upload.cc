// Uploads (Client-Server API, "Content repository"): POST /_matrix/media/v3/upload, the
// asynchronous POST /_matrix/media/v1/create plus PUT /_matrix/media/v3/upload/{serverName}/
// {mediaId}, and the upload limit GET /_matrix/client/v1/media/config (content-repo.yaml,
// authed-content-repo.yaml). Bodies arrive as files (RouteOptions::body_to_file).
#include <boost/json/object.hpp>

#include "call.h"
#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::media {
namespace {

std::string ContentTypeOf(const core::Request& request) {
  return std::string(request.Header("Content-Type").value_or("application/octet-stream"));
}

absl::StatusOr<core::Response> Upload(Call& call) {
  auto record = call.state.store->Upload(call.session.user_id, call.request.body_file,
                                         ContentTypeOf(call.request),
                                         call.request.QueryParam("filename").value_or(""));
  call.request.body_file.clear();  // the store took it (kept or removed)
  CONCLAVE_RETURN_IF_ERROR(record.status());
  boost::json::object body;
  body["content_uri"] = MxcUri(call.hs.server_name(), record->media_id);
  return JsonResponse(body);
}

absl::StatusOr<core::Response> Create(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(service::MediaRecord record,
                            call.state.store->Create(call.session.user_id));
  boost::json::object body;
  body["content_uri"] = MxcUri(call.hs.server_name(), record.media_id);
  body["unused_expires_at"] = record.unused_expires_ts;
  return JsonResponse(body);
}

absl::StatusOr<core::Response> UploadTo(Call& call) {
  if (call.Param("serverName") != call.hs.server_name()) {
    return service::NotFound("Media ids of other servers cannot be uploaded to");
  }
  const std::string media_id = call.Param("mediaId");
  auto record = call.state.store->UploadTo(media_id, call.session.user_id, call.request.body_file,
                                           ContentTypeOf(call.request),
                                           call.request.QueryParam("filename").value_or(""));
  call.request.body_file.clear();
  CONCLAVE_RETURN_IF_ERROR(record.status());
  // Downloads waiting for this upload (timeout_ms) answer now.
  call.state.notifier->Notify(UploadKey(media_id));
  return JsonResponse(boost::json::object());
}

absl::StatusOr<core::Response> Config(Call& call) {
  boost::json::object body;
  body["m.upload.size"] = call.state.options.max_upload_size;
  return JsonResponse(body);
}

}  // namespace

absl::Status RegisterUploadRoutes(Routes& routes) {
  // Bodies stream to the store's upload directory (the content's filesystem: taking one is a
  // rename); hashing and fsync block, so the handlers run on the blocking pool.
  core::RouteOptions upload;
  upload.blocking = true;
  upload.body_to_file = core::RouteOptions::BodyToFile{routes.state().store->upload_directory(),
                                                       routes.state().options.max_upload_size};
  for (std::string_view prefix : {"/_matrix/media/v3", "/_matrix/media/r0"}) {
    CONCLAVE_RETURN_IF_ERROR(
        routes.Add("POST", std::string(prefix) + "/upload", Auth::kRequired, &Upload, upload));
  }
  CONCLAVE_RETURN_IF_ERROR(routes.Add("PUT", "/_matrix/media/v3/upload/{serverName}/{mediaId}",
                                      Auth::kRequired, &UploadTo, upload));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("POST", "/_matrix/media/v1/create", Auth::kRequired, &Create));
  for (std::string_view path : {"/_matrix/client/v1/media/config", "/_matrix/media/v3/config",
                                "/_matrix/media/r0/config"}) {
    CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", path, Auth::kRequired, &Config));
  }
  return absl::OkStatus();
}

}  // namespace conclave::media
