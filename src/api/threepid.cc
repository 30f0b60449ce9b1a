// Third-party identifiers (Client-Server API "Adding Account Administrative Contact
// Information", administrative_contact.yaml; registration's and password reset's requestToken).
// conclave sends no e-mail or SMS and talks to no identity server, so no account has a 3PID:
// the list is empty, every attempt to validate or add one is refused with the spec's
// M_THREEPID_DENIED (403), and removing one (there is none) answers `no-support`, the spec's
// answer when no identity server was asked to unbind.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/errors.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::object;

absl::Status Denied() {
  return service::MatrixStatus(absl::StatusCode::kPermissionDenied,
                               service::Errcode::kThreepidDenied,
                               "This server does not support third-party identifiers (e-mail "
                               "addresses, phone numbers): it sends no e-mail or SMS and uses no "
                               "identity server");
}

absl::StatusOr<boost::json::value> List(Call&) {
  return object{{"threepids", boost::json::array()}};
}

// Parses the body (a malformed one is still M_NOT_JSON/M_BAD_JSON), then refuses.
absl::StatusOr<boost::json::value> Refuse(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(call.JsonBody().status());
  return Denied();
}

// POST /account/3pid/delete and /unbind: `medium` and `address` are required strings.
absl::StatusOr<boost::json::value> Remove(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_RETURN_IF_ERROR(RequiredString(body, "medium").status());
  CONCLAVE_RETURN_IF_ERROR(RequiredString(body, "address").status());
  return object{{"id_server_unbind_result", "no-support"}};
}

}  // namespace

absl::Status RegisterThreepidRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v3/account/3pid", Auth::kRequired, &List));
  for (const char* path :
       {"/v3/account/3pid", "/v3/account/3pid/add", "/v3/account/3pid/bind",
        "/v3/account/3pid/email/requestToken", "/v3/account/3pid/msisdn/requestToken"}) {
    CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", path, Auth::kRequired, &Refuse));
  }
  for (const char* path :
       {"/v3/register/email/requestToken", "/v3/register/msisdn/requestToken",
        "/v3/account/password/email/requestToken", "/v3/account/password/msisdn/requestToken"}) {
    CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", path, Auth::kNone, &Refuse));
  }
  for (const char* path : {"/v3/account/3pid/delete", "/v3/account/3pid/unbind"}) {
    CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", path, Auth::kRequired, &Remove));
  }
  return absl::OkStatus();
}

}  // namespace conclave::api
