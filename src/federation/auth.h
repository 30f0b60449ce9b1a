// Inbound request authentication for the federation module's routes: the X-Matrix check every
// authenticated Server-Server route calls first (Server-Server API, "Request Authentication").
// Private to the federation module.
#ifndef CONCLAVE_FEDERATION_AUTH_H_
#define CONCLAVE_FEDERATION_AUTH_H_

#include <boost/json/object.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "conclave/core/http.h"
#include "conclave/service/homeserver.h"

namespace conclave::federation {

// Verifies `request`'s `Authorization: X-Matrix` header and returns the origin server's name:
// the destination (when given) must be this server, the key is the origin's, through the
// Homeserver's RemoteKeys (fetched when not cached: this blocks, so authenticated routes are
// blocking routes), and the signature must cover the method, the request target as sent, the
// origin, this server and the JSON body. M_UNAUTHORIZED (401) naming the problem otherwise;
// M_NOT_JSON for a body that is not JSON. Thread-safe.
absl::StatusOr<std::string> Authenticate(const core::Request& request, service::Homeserver& hs);

// An authenticated route's work: the JSON answer to `request` from `origin` (the authenticated
// server), or a Matrix error.
using AuthenticatedHandler = std::function<absl::StatusOr<boost::json::object>(
    core::Request& request, service::Homeserver& hs, std::string_view origin)>;

// Authenticates `request` (Authenticate), runs `handler` and answers 200 with its JSON; the
// authentication's and the handler's errors as Matrix error responses, 503 M_UNKNOWN when the
// service module is not loaded. An authenticated request proves the origin is up, so it also
// ends the origin's backoff in the outbound transaction queue (TransactionQueue::MarkReachable).
// For blocking routes.
core::Response RunAuthenticated(core::Request& request, const AuthenticatedHandler& handler);

}  // namespace conclave::federation

#endif  // CONCLAVE_FEDERATION_AUTH_H_
