// Server discovery: where to connect for a server name, with which `Host` header and which
// certificate name (Server-Server API, "Resolving server names", steps 1 to 6, and "TLS" for
// SNI), the /.well-known/matrix/server answer and its cache time (wellknown.yaml, RFC 9111),
// SRV records (RFC 2782) through libresolv, and a configured override map (`federation_hosts`).
//
// Parsing functions are stateless and thread-safe. ServerResolver is thread-safe; it blocks
// (HTTPS and DNS), so it runs where blocking is allowed: a blocking route (RouteOptions), the
// admin worker, never an I/O thread.
#ifndef CONCLAVE_SERVICE_FEDERATION_SERVER_DISCOVERY_H_
#define CONCLAVE_SERVICE_FEDERATION_SERVER_DISCOVERY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "conclave/core/http_client.h"

namespace conclave::service {

// The port of a server name without one (Server-Server API, "Resolving server names").
inline constexpr int kDefaultFederationPort = 8448;

// A server name split as the Appendices' grammar ("Server Name") says: `host` is a DNS name, an
// IPv4 literal, or an IPv6 literal without its brackets; `port` when one was given.
struct ServerNameParts {
  std::string host;
  std::optional<int> port;
  bool ip_literal = false;
};

// Splits `server_name` (`hostname [ ":" port ]`, the hostname an IPv4 literal, `[` IPv6 `]` or
// a DNS name of [A-Za-z0-9.-], 1 to 255 characters; port 1..65535). kInvalidArgument naming
// the problem otherwise.
absl::StatusOr<ServerNameParts> ParseServerName(std::string_view server_name);

// One SRV record (RFC 2782): the target host (without the final dot) and port.
struct SrvRecord {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  std::string target;
};

// Reads the SRV records of a DNS answer `answer` (`length` bytes, as res_query returns it) with
// libresolv's ns_initparse/ns_parserr; records of other types are skipped; a target of "." (the
// service is decidedly not available, RFC 2782) is dropped. Sorted by priority, then by weight,
// heaviest first (RFC 2782's weighted random choice made deterministic). kInvalidArgument for a
// malformed answer.
absl::StatusOr<std::vector<SrvRecord>> ParseSrvAnswer(const unsigned char* answer, int length);

// Looks up the SRV records of `name` (e.g. "_matrix-fed._tcp.example.org") with res_query and
// ParseSrvAnswer. An empty vector when the name has none (NXDOMAIN, no data); kUnavailable when
// the resolver fails otherwise. Blocks; thread-safe (res_query keeps its state per thread).
absl::StatusOr<std::vector<SrvRecord>> LookupSrv(const std::string& name);

// The `m.server` of a /.well-known/matrix/server body (wellknown.yaml):
// `<delegated_hostname>[:<delegated_port>]`, checked with ParseServerName. kInvalidArgument
// for bad JSON, a body that is not an object, or a missing or invalid `m.server`.
absl::StatusOr<std::string> ParseWellKnown(std::string_view body);

// How long a /.well-known answer is cached (step 3): Cache-Control's `max-age` (`s-maxage` is
// for shared caches; `no-store`/`no-cache` give zero), else `Expires` (an IMF-fixdate, RFC 9110
// §5.6.7) minus `now`, else 24 hours; at most 48 hours. An error answer (`valid` false) is
// cached for the same, at most 1 hour.
absl::Duration WellKnownCacheTime(std::string_view cache_control, std::string_view expires,
                                  absl::Time now, bool valid);

// The `federation_hosts` option's entries "server_name=host:port" as a map. kInvalidArgument
// naming an entry without '=', with an empty side, or whose target is not host:port.
absl::StatusOr<std::map<std::string, std::string>> ParseFederationHosts(
    const std::vector<std::string>& entries);

// Where to send requests for a server name.
struct ResolvedServer {
  std::string connect_host;  // what to connect to: an IP literal or a name for AAAA/A records
  int port = kDefaultFederationPort;
  std::string host_header;  // the `Host` header
  std::string tls_name;     // the name the certificate must be valid for (SNI unless an IP)

  // The https URL of `path_and_query` (from "/_matrix/...") on this server: its host the
  // certificate name and its port `port`; HttpClientRequest::connect_to and the Host header do
  // the rest (FederationRequestFor).
  std::string Url(std::string_view path_and_query) const;
};

// Fills `request`'s URL, `connect_to` and `Host` header for `server`.
void FederationRequestFor(const ResolvedServer& server, std::string_view path_and_query,
                          core::HttpClientRequest& request);

// Resolves server names, caching the /.well-known answers. Thread-safe.
class ServerResolver {
 public:
  // What the resolver uses of the outside world; tests give their own.
  struct Deps {
    // GET https://<hostname>/.well-known/matrix/server, redirects followed. The answer of any
    // status, or an error status when there was none.
    std::function<absl::StatusOr<core::HttpClientResponse>(const std::string& hostname)>
        fetch_well_known;
    // LookupSrv's contract.
    std::function<absl::StatusOr<std::vector<SrvRecord>>(const std::string& name)> lookup_srv;
    std::function<absl::Time()> clock = &absl::Now;
  };
  explicit ServerResolver(Deps deps);

  // Resolves `server_name` by the spec's steps, unless `hosts` (the `federation_hosts` option:
  // server name → "host:port") names it: then that host and port, with the server name as the
  // Host header and its hostname as the certificate name. kInvalidArgument for a malformed
  // server name or override. DNS failures are not errors here: step 6 leaves the A/AAAA
  // resolution to the connection, which fails with kUnavailable.
  absl::StatusOr<ResolvedServer> Resolve(std::string_view server_name,
                                         const std::map<std::string, std::string>& hosts = {});

  // Forgets the cached /.well-known answers (tests, an operator's retry).
  void ClearCache();

 private:
  struct WellKnown {
    std::optional<std::string> server;  // the delegated name; nullopt for an error answer
    absl::Time expires;
  };
  // The delegated server name of `hostname`'s /.well-known, cached; nullopt for an error.
  std::optional<std::string> DelegatedName(const std::string& hostname);
  // Steps 3.3 to 3.5 and 4 to 6: SRV `_matrix-fed._tcp`, then `_matrix._tcp`, then port 8448;
  // `name` is the Host header and certificate name.
  ResolvedServer BySrv(const std::string& name);

  Deps deps_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, WellKnown> well_known_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_FEDERATION_SERVER_DISCOVERY_H_
