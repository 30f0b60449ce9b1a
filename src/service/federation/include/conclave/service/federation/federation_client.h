// FederationClient: outbound Server-Server requests. Resolves the destination (server
// discovery), signs the request with the server's key (`Authorization: X-Matrix` with
// `destination`, Server-Server API "Request Authentication") and sends it over HTTPS with core's
// HTTP client (certificates verified unless `federation_verify_certificates` is false, the
// address deny list of core::AddressFilter with `federation_allowed_ranges`, redirects not
// followed).
//
// One connection per request (Connection: close): no per-destination keep-alive pool yet.
// Owned by the Homeserver; thread-safe. Every call blocks for up to `federation_timeout`: call it
// from a blocking route (core::RouteOptions::blocking, run on core's blocking pool) or the admin
// worker, never from an I/O thread.
#ifndef CONCLAVE_SERVICE_FEDERATION_FEDERATION_CLIENT_H_
#define CONCLAVE_SERVICE_FEDERATION_FEDERATION_CLIENT_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/http_client.h"
#include "conclave/service/federation/server_discovery.h"
#include "conclave/service/options/options.h"
#include "conclave/service/protocol/signing.h"

namespace conclave::service {

class FederationClient {
 public:
  // `key`, `settings` and `resolver` must outlive the client.
  FederationClient(std::string server_name, const ServerSigningKey& key,
                   const ServiceSettings& settings, ServerResolver& resolver);

  // Sends `method` `uri` (the path and query as sent, from "/_matrix/") to `destination` with
  // `body` (JSON, null for none) and returns the answer of any status. Signed (X-Matrix) when
  // `sign`; within `timeout` when given, else `federation_timeout`. Errors: kInvalidArgument for a
  // malformed destination or federation_hosts entry, a body that is not canonical JSON, or a
  // destination that is this server; HttpFetch's (kPermissionDenied for a denied address,
  // kUnavailable, kDeadlineExceeded...), their message naming the destination.
  absl::StatusOr<core::HttpClientResponse> Send(std::string_view destination,
                                                std::string_view method, std::string_view uri,
                                                const boost::json::value* body, bool sign = true,
                                                std::optional<absl::Duration> timeout = {});

  // Send, then the answer's JSON object when its status is 200. Another status gives the Matrix
  // error of its body (MatrixStatus with the remote errcode, or M_UNKNOWN, and a message naming
  // the destination and status); a 200 that is not a JSON object gives kUnavailable.
  absl::StatusOr<boost::json::object> SendJson(std::string_view destination,
                                               std::string_view method, std::string_view uri,
                                               const boost::json::value* body, bool sign = true,
                                               std::optional<absl::Duration> timeout = {});

  // The HTTP client options of the settings in force (timeout, certificates, allowed ranges; no
  // redirects).
  core::HttpClientOptions HttpOptions() const;

 private:
  const std::string server_name_;
  const ServerSigningKey& key_;
  const ServiceSettings& settings_;
  ServerResolver& resolver_;
};

// A ServerResolver over the real world: /.well-known over HTTPS with the options `settings`
// gives at each call (redirects followed, at most 5; a 64 KiB body at most), SRV with
// LookupSrv. `settings` must outlive it.
ServerResolver::Deps RealResolverDeps(const ServiceSettings& settings);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_FEDERATION_FEDERATION_CLIENT_H_
