// Device keys, one-time keys, cross-signing keys and device-list changes: POST /keys/upload,
// /keys/query, /keys/claim, /keys/device_signing/upload, /keys/signatures/upload and GET
// /keys/changes (Client-Server API
// "End-to-End Encryption", keys.yaml, cross_signing.yaml). The checks and storage are service's
// E2ee.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stream.h"
#include "routes.h"
#include "uia.h"

namespace conclave::api {
namespace {

using boost::json::array;
using boost::json::object;

absl::StatusOr<boost::json::value> Upload(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(service::KeyCounts counts, call.hs.e2ee().Upload(call.session, body));
  object json;
  for (const auto& [algorithm, count] : counts) json[algorithm] = count;
  return object{{"one_time_key_counts", std::move(json)}};
}

absl::StatusOr<boost::json::value> Query(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(object result, call.hs.e2ee().Query(call.session, body));
  return result;
}

absl::StatusOr<boost::json::value> Claim(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(object result, call.hs.e2ee().Claim(body));
  return result;
}

// POST /keys/device_signing/upload (cross_signing.yaml): user-interactive auth (m.login.password)
// only when it would replace keys the user already has.
absl::StatusOr<core::Response> UploadCrossSigning(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(bool needs_auth,
                            call.hs.e2ee().CrossSigningNeedsAuth(call.session, body));
  if (needs_auth) {
    CONCLAVE_ASSIGN_OR_RETURN(UiaOutcome uia, PasswordStage(call, body));
    if (uia.reply) return *std::move(uia.reply);
  }
  CONCLAVE_RETURN_IF_ERROR(call.hs.e2ee().UploadCrossSigning(call.session, body));
  return JsonResponse(object());
}

absl::StatusOr<boost::json::value> UploadSignatures(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(object result, call.hs.e2ee().UploadSignatures(call.session, body));
  return result;
}

// GET /keys/changes?from=&to=: tokens of /sync (or /messages) bound the window.
absl::StatusOr<boost::json::value> Changes(Call& call) {
  std::optional<std::string> from = call.request.QueryParam("from");
  std::optional<std::string> to = call.request.QueryParam("to");
  if (!from || !to) return service::MissingParam("'from' and 'to' are required");
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t after, service::ParsePositionToken(*from));
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t upto, service::ParsePositionToken(*to));
  CONCLAVE_ASSIGN_OR_RETURN(auto memberships, call.hs.rooms().UserRooms(call.session.user_id));
  CONCLAVE_ASSIGN_OR_RETURN(service::DeviceListChanges changes,
                            call.hs.e2ee().Changes(call.session.user_id, after, upto, memberships));
  array changed(changes.changed.begin(), changes.changed.end());
  array left(changes.left.begin(), changes.left.end());
  return object{{"changed", std::move(changed)}, {"left", std::move(left)}};
}

}  // namespace

absl::Status RegisterKeyRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", "/v3/keys/upload", Auth::kRequired, &Upload));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", "/v3/keys/query", Auth::kRequired, &Query));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", "/v3/keys/claim", Auth::kRequired, &Claim));
  // Blocking: the password stage hashes with argon2 (core::RouteOptions).
  CONCLAVE_RETURN_IF_ERROR(routes.AddRaw("POST", "/v3/keys/device_signing/upload", Auth::kRequired,
                                         &UploadCrossSigning,
                                         core::RouteOptions{.blocking = true}));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("POST", "/v3/keys/signatures/upload", Auth::kRequired, &UploadSignatures));
  return routes.Add("GET", "/v3/keys/changes", Auth::kRequired, &Changes);
}

}  // namespace conclave::api
