#include "conclave/matrix_http/authenticate.h"

#include "conclave/service/protocol/errors.h"

namespace conclave::matrix_http {

absl::StatusOr<service::Session> Authenticate(service::Homeserver& hs, const core::Request& request,
                                              Auth auth) {
  if (auth == Auth::kNone) return service::Session{};
  std::optional<std::string> token = core::AccessTokenOf(request);
  if (!token) {
    if (auth == Auth::kRequired) return service::MissingToken("Missing access token");
    return service::Session{};
  }
  return hs.accounts().Authenticate(*token);
}

}  // namespace conclave::matrix_http
