// What every Client-Server handler of the api module shares: route registration under both
// path prefixes, access-token authentication, JSON bodies, and Matrix error responses (through
// matrix_error.h).
//
// Private to the api module.
#ifndef CONCLAVE_API_HANDLER_H_
#define CONCLAVE_API_HANDLER_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/core/http.h"
#include "conclave/matrix_http/authenticate.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/homeserver.h"
#include "matrix_error.h"

namespace conclave::api {

// One call of a handler: the request, the homeserver, and (for authenticated routes) who made it.
struct Call {
  core::Request& request;
  service::Homeserver& hs;
  service::Session session;  // empty user_id on unauthenticated routes

  // Percent-decoded value of a `{name}` segment of the route ("" if absent).
  std::string Param(std::string_view name) const;
  // The request body as a JSON object: M_NOT_JSON if it is not JSON, M_BAD_JSON if it is not an
  // object. An empty body counts as `{}`.
  absl::StatusOr<boost::json::object> JsonBody() const;
  // The client's IP address (for rate limits).
  const std::string& remote_ip() const { return request.remote_address; }
};

using matrix_http::Auth;

// A handler returns the JSON body of a 200 response, or an error status (service/protocol/
// errors.h; matrix_error.h turns it into the HTTP answer).
using JsonHandler = std::function<absl::StatusOr<boost::json::value>(Call&)>;
// A handler that shapes the whole response itself (status, headers, long-poll wait).
using RawHandler = std::function<absl::StatusOr<core::Response>(Call&)>;

// Registers routes for one module load; the handles unregister them when destroyed.
class Routes {
 public:
  Routes(core::Router& router, std::string_view module, std::vector<core::RouteHandle>& handles)
      : router_(router), module_(module), handles_(handles) {}

  // Registers `path` (after "/_matrix/client", e.g. "/v3/rooms/{roomId}/join") for `method`. A
  // path starting with "/v3/" is also registered under "/r0/" (clients such as matrix-nio 0.20
  // still use it). `options.blocking` for handlers that hash passwords (core::RouteOptions).
  absl::Status Add(std::string_view method, std::string_view path, Auth auth, JsonHandler handler,
                   core::RouteOptions options = {});
  absl::Status AddRaw(std::string_view method, std::string_view path, Auth auth, RawHandler handler,
                      core::RouteOptions options = {});

 private:
  core::Router& router_;
  std::string module_;
  std::vector<core::RouteHandle>& handles_;
};

// The access token of a request: `Authorization: Bearer <token>` or the `access_token` query
// parameter (deprecated but still used). nullopt if neither.
std::optional<std::string> AccessToken(const core::Request& request);

// 200 with `body` serialized.
core::Response JsonResponse(const boost::json::value& body, int status = 200);

// Helpers for request bodies. Each returns M_BAD_JSON naming `key` when the field has the
// wrong type; Required* return M_MISSING_PARAM when absent.
absl::StatusOr<std::string> RequiredString(const boost::json::object& body, std::string_view key);
absl::StatusOr<std::optional<std::string>> OptionalString(const boost::json::object& body,
                                                          std::string_view key);
absl::StatusOr<std::optional<bool>> OptionalBool(const boost::json::object& body,
                                                 std::string_view key);
absl::StatusOr<std::optional<int64_t>> OptionalInt(const boost::json::object& body,
                                                   std::string_view key);
absl::StatusOr<const boost::json::object*> OptionalObject(const boost::json::object& body,
                                                          std::string_view key);

// Query parameter helpers: M_INVALID_PARAM naming the parameter when malformed.
absl::StatusOr<std::optional<int64_t>> QueryInt(const core::Request& request,
                                                std::string_view name);
absl::StatusOr<std::optional<bool>> QueryBool(const core::Request& request, std::string_view name);

}  // namespace conclave::api

#endif  // CONCLAVE_API_HANDLER_H_
