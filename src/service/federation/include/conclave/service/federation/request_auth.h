// Request authentication between servers: the `Authorization: X-Matrix ...` header, the JSON a
// request's signature covers, signing an outbound request and verifying an inbound one.
//
// Server-Server API, "Request Authentication"; RFC 9110 §11.4 (credentials), §5.6.2 (tokens),
// §5.6.4 (quoted strings); Appendices, "Signing JSON". Inbound verification takes the origin's
// key through a lookup function, so that fetching remote keys (later) stays outside. Stateless
// functions; thread-safe as long as the lookup is.
#ifndef CONCLAVE_SERVICE_FEDERATION_REQUEST_AUTH_H_
#define CONCLAVE_SERVICE_FEDERATION_REQUEST_AUTH_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/service/protocol/signing.h"

namespace conclave::service {

// The parameters of one X-Matrix credential. A value type; thread-compatible.
struct XMatrixAuth {
  std::string origin;  // the sending server's name
  // The receiving server's name; absent from servers older than v1.3 (the spec says accept).
  std::optional<std::string> destination;
  std::string key;  // the key id, e.g. "ed25519:a_AbCd"
  std::string sig;  // the signature, unpadded base64
};

// Parses an `Authorization` header's value as an X-Matrix credential: the scheme `X-Matrix`
// (case-insensitive), one or more spaces, then `name=value` parameters separated by commas with
// optional spaces and tabs around them (empty list elements are skipped). Names are
// case-insensitive; a value is a quoted string whose backslash escapes are undone, or unquoted:
// a token (RFC 9110 §5.6.2) and, leniently, any other visible ASCII character but `,` `"` `\`
// (older servers send colons and base64 unquoted; Synapse accepts them). Unknown parameters are
// ignored. M_UNAUTHORIZED (401) naming the problem for another scheme, a syntax error, a
// parameter given twice, or a missing or empty `origin`, `key` or `sig`. Never reads past
// `header`; linear in its length.
absl::StatusOr<XMatrixAuth> ParseXMatrix(std::string_view header);

// The header value a sender writes for `auth`, in the spec's compatible form: one space after
// `X-Matrix`, lower-case names, every value quoted (`"` and `\` escaped), no spaces around the
// commas; `destination` when set.
std::string FormatXMatrix(const XMatrixAuth& auth);

// The object a request's signature covers (step 1): `method`, `uri` (the path with its query,
// as sent, from `/_matrix/`), `origin`, `destination`, and `content` when `content` is not null.
boost::json::object RequestJson(std::string_view method, std::string_view uri,
                                std::string_view origin, std::string_view destination,
                                const boost::json::value* content);

// Signs an outbound request of `origin` (this server, with `key`) to `destination` and returns
// its `Authorization` header value (FormatXMatrix). `content` is the JSON body, null when the
// request has none. kInvalidArgument when `content` cannot be canonical JSON (floats...).
absl::StatusOr<std::string> SignRequest(const ServerSigningKey& key, std::string_view origin,
                                        std::string_view destination, std::string_view method,
                                        std::string_view uri, const boost::json::value* content);

// Returns the public key (unpadded base64) of `server_name`'s key `key_id`, or an error status
// when it is unknown (its message ends up in the 401's). Must be thread-safe if the verifier is
// called concurrently.
using ServerKeyLookup = std::function<absl::StatusOr<std::string>(std::string_view server_name,
                                                                  std::string_view key_id)>;

// Verifies an inbound request to `our_server_name` and returns its origin: `authorization` (the
// header value; nullopt when the request had none) is parsed (ParseXMatrix), its destination,
// when given, must be `our_server_name`, `lookup` gives the origin's key, and the signature must
// cover RequestJson(`method`, `uri`, origin, `our_server_name`, body) where body is `body`
// parsed as JSON, absent when `body` is empty. Errors: M_UNAUTHORIZED (401) for a missing or
// malformed header, another destination, an unknown key (the lookup's message) or a wrong
// signature; M_NOT_JSON (400) for a body that is not JSON.
absl::StatusOr<std::string> VerifyRequest(std::string_view our_server_name, std::string_view method,
                                          std::string_view uri,
                                          std::optional<std::string_view> authorization,
                                          std::string_view body, const ServerKeyLookup& lookup);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_FEDERATION_REQUEST_AUTH_H_
