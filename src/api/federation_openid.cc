// GET /_matrix/federation/v1/openid/userinfo (Server-Server API "OpenID", server-server
// openid.yaml): a third party exchanges an OpenID token (openid.cc) for the id of the user who
// requested it.
//
// This is a Server-Server endpoint served by the api module only because there is no federation
// module yet; it moves to the federation module when that exists. It needs no request signature
// (the token is the credential), so nothing of federation's machinery is missing here.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/errors.h"
#include "matrix_error.h"
#include "openid.h"

namespace conclave::api {
namespace {

constexpr char kUserInfoPath[] = "/_matrix/federation/v1/openid/userinfo";

core::Response UserInfo(core::Request& request) {
  service::Homeserver* hs = service::Instance();
  if (hs == nullptr) {
    return ErrorResponse(503, service::Errcode::kUnknown, "The homeserver is not loaded");
  }
  std::optional<std::string> token = request.QueryParam("access_token");
  if (!token) return ErrorResponse(service::MissingToken("Missing access_token"));
  absl::StatusOr<std::string> user_id = hs->accounts().OpenIdUser(*token);
  if (!user_id.ok()) return ErrorResponse(user_id.status());
  return JsonResponse(boost::json::object{{"sub", *user_id}});
}

}  // namespace

absl::Status RegisterFederationOpenIdRoutes(core::Router& router, std::string_view module,
                                            std::vector<core::RouteHandle>& handles) {
  CONCLAVE_ASSIGN_OR_RETURN(auto handle, router.Add(module, "GET", kUserInfoPath, &UserInfo));
  handles.push_back(std::move(handle));
  return absl::OkStatus();
}

}  // namespace conclave::api
