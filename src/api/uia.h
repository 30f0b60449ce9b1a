// User-interactive authentication stages the api's handlers share (Client-Server API
// "User-interactive authentication API", single-stage flows). Private to the api module;
// implemented in account.cc.
#ifndef CONCLAVE_API_UIA_H_
#define CONCLAVE_API_UIA_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "conclave/core/http.h"
#include "handler.h"

namespace conclave::api {

// The outcome of the UIA stage of one request: either the response to send instead of going on
// (the 401 with the flows, possibly with the error of a failed attempt), or the user that the
// stage authenticated (empty for registration stages).
struct UiaOutcome {
  std::optional<core::Response> reply;
  std::string user_id;
};

// The m.login.password stage over `body`'s `auth` dict (see account.cc). Errors: M_BAD_JSON and
// M_MISSING_PARAM for a malformed dict, M_LIMIT_EXCEEDED past the user's login rate limit.
absl::StatusOr<UiaOutcome> PasswordStage(Call& call, const boost::json::object& body);

}  // namespace conclave::api

#endif  // CONCLAVE_API_UIA_H_
