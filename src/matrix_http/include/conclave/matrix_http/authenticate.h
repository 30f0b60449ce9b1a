// Access-token authentication of a Client-Server request (Client-Server API, "Client
// Authentication", "Using access tokens"), shared by the api and media modules. Stateless,
// thread-safe.
#ifndef CONCLAVE_MATRIX_HTTP_AUTHENTICATE_H_
#define CONCLAVE_MATRIX_HTTP_AUTHENTICATE_H_

#include "absl/status/statusor.h"
#include "conclave/core/http.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/homeserver.h"

namespace conclave::matrix_http {

enum class Auth {
  kNone,      // no access token needed (and none looked at)
  kRequired,  // M_MISSING_TOKEN without one, M_UNKNOWN_TOKEN for a bad one
  kOptional,  // used when present; a bad one is M_UNKNOWN_TOKEN as for kRequired
};

// Authenticates `request` as `auth` asks (the token from core::AccessTokenOf): the session of
// its token, an empty Session (empty
// user_id) for kNone or for kOptional without a token. M_MISSING_TOKEN when kRequired and there
// is none; the errors of Accounts::Authenticate (M_UNKNOWN_TOKEN, M_USER_LOCKED, ...).
absl::StatusOr<service::Session> Authenticate(service::Homeserver& hs, const core::Request& request,
                                              Auth auth);

}  // namespace conclave::matrix_http

#endif  // CONCLAVE_MATRIX_HTTP_AUTHENTICATE_H_
