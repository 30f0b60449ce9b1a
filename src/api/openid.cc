// POST /v3/user/{userId}/openid/request_token (Client-Server API "OpenID", openid.yaml): a token
// the user hands to a third party, which checks it with this server's federation userinfo
// endpoint (federation_openid.cc) to learn the user's id.
#include "openid.h"

#include <boost/json/object.hpp>

#include "absl/time/time.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::api {
namespace {

// openid.yaml's example, and Synapse's default: an hour.
constexpr absl::Duration kOpenIdTokenLifetime = absl::Hours(1);

absl::StatusOr<boost::json::value> RequestToken(Call& call) {
  if (call.Param("userId") != call.session.user_id) {
    return service::Forbidden("Cannot request an OpenID token for another user");
  }
  // "An empty object. Reserved for future expansion": only its being an object is checked.
  CONCLAVE_RETURN_IF_ERROR(call.JsonBody().status());
  CONCLAVE_RETURN_IF_ERROR(
      call.hs.limiter().Take(core::StrCat("openid/", call.session.user_id), call.hs.login_limit()));
  CONCLAVE_ASSIGN_OR_RETURN(std::string token, call.hs.accounts().CreateOpenIdToken(
                                                   call.session.user_id, kOpenIdTokenLifetime));
  return boost::json::object{{"access_token", token},
                             {"token_type", "Bearer"},
                             {"matrix_server_name", call.hs.server_name()},
                             {"expires_in", absl::ToInt64Seconds(kOpenIdTokenLifetime)}};
}

}  // namespace

absl::Status RegisterOpenIdRoutes(Routes& routes) {
  return routes.Add("POST", "/v3/user/{userId}/openid/request_token", Auth::kRequired,
                    &RequestToken);
}

}  // namespace conclave::api
