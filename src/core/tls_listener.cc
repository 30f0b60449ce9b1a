#include "tls_listener.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "conclave/core/config.h"
#include "conclave/core/http_server.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace internal {
namespace {

// OpenSSL's queued errors as text (then cleared), or `fallback` when there is none.
std::string OpenSslErrors(std::string_view fallback) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof(text));
    if (!out.empty()) out.append("; ");
    out.append(text);
  }
  return out.empty() ? std::string(fallback) : out;
}

// kNotFound / kPermissionDenied / kFailedPrecondition when `path` cannot be opened for reading.
absl::Status Readable(std::string_view key, const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return absl::OkStatus();
  }
  const int error = errno;
  const std::string message =
      StrCat("config: ", key, ": cannot read '", path, "': ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  return absl::FailedPreconditionError(message);
}

}  // namespace

absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const std::string& certificate_path, const std::string& private_key_path) {
  namespace ssl = boost::asio::ssl;
  if (auto s = Readable("tls_certificate_path", certificate_path); !s.ok()) return s;
  if (auto s = Readable("tls_private_key_path", private_key_path); !s.ok()) return s;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use);
  // No renegotiation (a TLS 1.2 client could make the server redo handshakes at will), and the
  // server's cipher order.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // No client certificates: federation requests authenticate with X-Matrix signatures
  // (Server-Server API, "Request Authentication").
  context->set_verify_mode(ssl::verify_none);
  if (SSL_CTX_use_certificate_chain_file(native, certificate_path.c_str()) != 1) {
    return absl::InvalidArgumentError(
        StrCat("config: tls_certificate_path: '", certificate_path,
               "' is not a PEM certificate chain: ", OpenSslErrors("no certificate")));
  }
  // Read first, then installed: a key that does not parse and one of another certificate get
  // their own messages.
  EVP_PKEY* key = nullptr;
  if (FILE* file = fopen(private_key_path.c_str(), "re"); file != nullptr) {
    key = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
    fclose(file);
  }
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        StrCat("config: tls_private_key_path: '", private_key_path,
               "' is not an unencrypted PEM private key: ", OpenSslErrors("no key")));
  }
  const bool installed = SSL_CTX_use_PrivateKey(native, key) == 1;
  EVP_PKEY_free(key);
  if (!installed || SSL_CTX_check_private_key(native) != 1) {
    return absl::InvalidArgumentError(StrCat("config: tls_private_key_path: '", private_key_path,
                                             "' does not match the certificate of '",
                                             certificate_path,
                                             "': ", OpenSslErrors("key mismatch")));
  }
  return context;
}

}  // namespace internal

absl::Status CheckTlsListener(const Config& config) {
  if (config.tls_certificate_path.empty()) return absl::OkStatus();
  return internal::MakeServerTlsContext(config.tls_certificate_path, config.tls_private_key_path)
      .status();
}

}  // namespace conclave::core
