// An outbound HTTP/1.1 client (GET, POST with a body) over http and https, for the features that
// fetch from other hosts: URL previews now, federation and push gateways later. It is meant for
// URLs that untrusted users give, so every safety is on by default: certificates verified
// (system store, host name checked), a time limit, a response size limit, a bounded number of
// redirects, and a deny list of addresses (loopback, private, link-local, CGNAT, ULA,
// multicast, reserved; their ::ffff: mapped and NAT64/6to4/Teredo forms) checked on the resolved
// addresses, connecting only to an address that passed, so a DNS answer that changes between a
// check and the connect (DNS rebinding) cannot reach a denied one.
//
// Beast, Asio and OpenSSL stay in http_client.cc. Stateless functions and value types;
// HttpFetch blocks its caller (run it on the blocking pool, never on an I/O thread) and is
// thread-safe: each call has its own io_context and sockets.
#ifndef CONCLAVE_CORE_HTTP_CLIENT_H_
#define CONCLAVE_CORE_HTTP_CLIENT_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace conclave::core {

// Which addresses an outbound request may connect to: anything but the denied ranges
// (DeniedByDefault), except what `allowed_ranges` lets through. A value type; thread-safe.
class AddressFilter {
 public:
  // `allowed_ranges`: CIDR ranges ("127.0.0.1/32", "10.0.0.0/8", "::1/128") allowed although
  // denied by default. kInvalidArgument naming a malformed one.
  static absl::StatusOr<AddressFilter> Create(const std::vector<std::string>& allowed_ranges);

  // Whether `address` (an IPv4 or IPv6 literal) may be connected to. A malformed one may not.
  bool Allows(std::string_view address) const;

 private:
  struct Range {
    std::array<uint8_t, 16> bytes{};  // IPv4 as ::ffff:a.b.c.d
    int prefix = 0;                   // bits of `bytes` that count, 0..128
  };
  std::vector<Range> allowed_;
};

// Whether `address` is in a range outbound requests must not reach unless allowed: 0.0.0.0/8,
// 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.168/16,
// 198.18/15, 198.51.100/24, 203.0.113/24, 224/4, 240/4 (and those as ::ffff:, ::/96, 64:ff9b::/96
// NAT64, 2002::/16 6to4); ::1, ::, 100::/64, 2001::/32 (Teredo), 2001:db8::/32, fc00::/7,
// fe80::/10, fec0::/10, ff00::/8. A malformed address counts as denied.
bool DeniedByDefault(std::string_view address);

struct HttpClientOptions {
  // Time limit of one exchange (resolve, connect, TLS handshake, request, response); each
  // redirect gets its own. Default 10 s.
  absl::Duration timeout = absl::Seconds(10);
  // Largest response body, bytes; over it kResourceExhausted. Default 10 MiB. Headers are
  // limited to 16 KiB.
  uint64_t max_response_bytes = uint64_t{10} << 20;
  // Redirects (301, 302, 303, 307, 308) followed; one more is kResourceExhausted. Default 5.
  // 0: a redirect is returned as the response.
  int max_redirects = 5;
  // https: verify the server's certificate chain and host name. Default true.
  bool verify_certificates = true;
  // https: a PEM file of trusted CAs instead of the system's (tests). Default "".
  std::string ca_file;
  // CIDR ranges allowed although denied by default (AddressFilter). Default none.
  std::vector<std::string> allowed_ranges;
  std::string user_agent = "conclave";
};

struct HttpClientRequest {
  std::string method = "GET";  // GET, POST, PUT, HEAD...
  std::string url;             // http://host[:port]/path?query or https://...
  std::vector<std::pair<std::string, std::string>> headers;  // besides Host, User-Agent
  std::string body;  // sent with Content-Length when not empty (POST, PUT)
  // When not empty, "host:port" (an IPv6 host in brackets) to resolve and connect to instead of
  // the URL's host and port, as curl's --connect-to: the URL still gives the certificate name
  // and SNI (none for an IP literal, RFC 6066 §3) and the default Host header (a `Host` in
  // `headers` replaces it). Used for the first hop only: a redirect connects where it points.
  // Federation's server discovery (SRV targets, delegation) needs it.
  std::string connect_to;
};

struct HttpClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string url;  // the URL that answered, after redirects

  // The value of header `name` (case-insensitive); "" when absent.
  std::string_view Header(std::string_view name) const;
};

// `reference` (a Location header, a link in a page) resolved against the absolute http(s) URL
// `base` (RFC 3986 section 5, for the forms pages use: absolute, "//host/...", "/path",
// "relative"). `base` itself when it is not an http(s) URL with a host and `reference` is not
// absolute.
std::string ResolveUrl(std::string_view base, std::string_view reference);

// Sends `request` and returns the response (any status, 4xx and 5xx included). Follows
// redirects as `options` says: 303 (and 301/302 of a POST) become a GET without body. Errors:
// kInvalidArgument for a URL that is not http(s) with a host (or that has user info);
// kPermissionDenied when every address of the host is denied; kDeadlineExceeded after
// `options.timeout`; kResourceExhausted for a body over the limit or too many redirects;
// kUnavailable when the host does not resolve, refuses, or fails TLS (a certificate that does
// not verify included). Blocks; thread-safe.
absl::StatusOr<HttpClientResponse> HttpFetch(const HttpClientRequest& request,
                                             const HttpClientOptions& options = {});

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_HTTP_CLIENT_H_
