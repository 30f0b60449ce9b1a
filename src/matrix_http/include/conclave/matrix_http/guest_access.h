// Which Client-Server routes a guest account may call (Client-Server API, "Guest access",
// "Client behaviour"), shared by the api and media modules so that both answer guests from one
// list. Stateless, thread-safe.
#ifndef CONCLAVE_MATRIX_HTTP_GUEST_ACCESS_H_
#define CONCLAVE_MATRIX_HTTP_GUEST_ACCESS_H_

#include <string_view>

#include "absl/status/status.h"
#include "conclave/core/http.h"
#include "conclave/service/accounts/accounts.h"

namespace conclave::matrix_http {

// What a route lets a guest do.
enum class GuestAccess {
  kNo,               // not in the module's lists: M_GUEST_ACCESS_FORBIDDEN
  kYes,              // listed
  kDisplayNameOnly,  // PUT/DELETE /profile/{userId}/{keyName}: only keyName "displayname"
};

// Returns what the route `method` `route` lets a guest do. `route` is the route template as
// registered with the router, e.g. "/_matrix/client/v3/rooms/{roomId}/join" or
// "/_matrix/client/v1/media/download/{serverName}/{mediaId}"; "/r0/" counts as "/v3/". Meant to
// be called once per route at registration.
GuestAccess GuestAccessOf(std::string_view method, std::string_view route);

// Checks that `session` may make `request` on a route with `access`: OK for a non-guest (or
// unauthenticated) session and for a listed route; 403 M_GUEST_ACCESS_FORBIDDEN otherwise.
absl::Status CheckGuestAccess(const service::Session& session, GuestAccess access,
                              const core::Request& request);

}  // namespace conclave::matrix_http

#endif  // CONCLAVE_MATRIX_HTTP_GUEST_ACCESS_H_
