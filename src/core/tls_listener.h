// The federation listener's TLS server context (OpenSSL through Asio): built from the PEM files
// named by the config, and rebuilt by HttpServer::ReloadTlsCertificate(). Asio's SSL headers
// inside: include only from the HTTP engine's .cc files.
#ifndef CONCLAVE_CORE_TLS_LISTENER_H_
#define CONCLAVE_CORE_TLS_LISTENER_H_

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace conclave::core::internal {

// Returns a TLS server context (TLS 1.2 and later) holding the certificate chain of
// `certificate_path` (PEM: the server's certificate first, then its intermediates) and the
// private key of `private_key_path` (PEM). kNotFound / kPermissionDenied naming the config key
// and the path when a file cannot be read, kInvalidArgument when one does not parse or the key
// does not match the certificate. The context is immutable once returned: connections keep a
// reference to it (a reload makes a new one).
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const std::string& certificate_path, const std::string& private_key_path);

}  // namespace conclave::core::internal

#endif  // CONCLAVE_CORE_TLS_LISTENER_H_
