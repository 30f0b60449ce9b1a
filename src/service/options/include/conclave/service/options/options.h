// The service module's options: registration, the rc_* rate limits and the default room version.
// Read by the service module itself from core's raw config table (conclave/core/options.h), so
// adding one changes no type core shares with modules. Each option's default, unit, doc and whether
// SIGHUP changes it are given where it is read (options.cc); docs/configuration.md is checked
// against them.
//
// Every option here is runtime: SIGHUP applies a changed value at once. A reload of the service
// module re-reads them all from the table of the last config read (start-up or SIGHUP).
#ifndef CONCLAVE_SERVICE_OPTIONS_OPTIONS_H_
#define CONCLAVE_SERVICE_OPTIONS_OPTIONS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/config_sections.h"
#include "conclave/core/options.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/rate_limit/rate_limiter.h"

namespace conclave::service {

// How the push sender (service/push/push_sender.h) talks to Push Gateways. A value type.
struct PushGatewayOptions {
  // CIDR ranges a gateway may be at although core's deny list has them (loopback, private
  // networks; core/http_client.h AddressFilter), like Synapse's ip_range_whitelist. Default none.
  std::vector<std::string> allowed_ranges;
  // Time limit of one request to a gateway. Default 10 s.
  absl::Duration timeout = absl::Seconds(10);
  // The wait after a first failed attempt; it doubles with each further failure up to
  // `retry_max` (Push Gateway API: "retry for a reasonable amount of time using exponential
  // backoff"). Default 1 s.
  absl::Duration retry_initial = absl::Seconds(1);
  // The longest wait between two attempts. Default 1 h.
  absl::Duration retry_max = absl::Hours(1);
  // Attempts after which a notification is dropped (logged). Default 20.
  int retry_attempts = 20;
};

// A value type; thread-compatible.
struct ServiceOptions {
  // Whether POST /register creates accounts; off answers M_FORBIDDEN.
  bool allow_registration = true;
  // When not empty, registration needs this token (m.login.registration_token). A secret.
  std::string registration_token;
  // How long an access token of a refreshable session (`refresh_token: true` on /login or
  // /register, "Refreshing access tokens") lives before the client must refresh it. Default 5
  // minutes; zero makes refreshable sessions non-expiring, without a refresh token. Tokens of
  // other sessions never expire. Runtime: SIGHUP applies it to tokens issued afterwards.
  absl::Duration access_token_lifetime = absl::Minutes(5);
  // Whether POST /register?kind=guest creates guest accounts ("Guest access"); off answers
  // M_GUEST_ACCESS_FORBIDDEN. Default false.
  bool allow_guest_access = false;
  // Token buckets per client IP address and per user logging in.
  RateLimit login;
  // Per client IP address.
  RateLimit registration;
  // Sending events (send, state, redact), per user.
  RateLimit message;
  // The room version createRoom uses when the request names none ("1" … "12"). Default
  // kDefaultRoomVersion, "10" (room_versions.h says why not the spec's recommended 12).
  // Runtime: SIGHUP applies it to the next room created; existing rooms keep theirs.
  std::string default_room_version{kDefaultRoomVersion};
  // The server's signing key file (federation/server_key.h); "" = `<database_path>-signing.key`.
  // Read at each load of service (not at SIGHUP).
  std::string signing_key_path;

  // --- outbound federation (service/federation/federation_client.h) ---------------------------
  // Server name → "host:port" to connect to instead of discovering it (server_discovery.h), for
  // tests and private deployments: entries "name=host:port" (TOML has no maps of strings in
  // core's raw table; ParseFederationHosts, checked at each load). The Host header stays the
  // server name, the certificate name its hostname. Default none. Runtime: SIGHUP applies it to
  // the next request.
  std::vector<std::string> federation_hosts;
  // Verify the certificates of other servers (Server-Server API, "TLS"). Default true; false is
  // for tests only and logs a warning at every load. Runtime.
  bool federation_verify_certificates = true;
  // A PEM file of the CAs trusted for federation instead of the system's; "" = the system's.
  // Runtime.
  std::string federation_ca_file;
  // CIDR ranges outbound federation may reach although they are loopback, private, link-local
  // (core::AddressFilter). Default none. Runtime.
  std::vector<std::string> federation_allowed_ranges;
  // Time limit of one outbound federation request. Default 30 s. Runtime.
  absl::Duration federation_timeout = absl::Seconds(30);
  // The wait after a destination's first failed transaction (an error status, no answer); it
  // doubles with each further failure up to `federation_retry_max` (transaction_queue.h).
  // Default 5 s. Runtime: SIGHUP applies it to the next failure.
  absl::Duration federation_retry_initial = absl::Seconds(5);
  // The longest wait between two transactions to a destination that keeps failing. Default 1 h.
  // Runtime.
  absl::Duration federation_retry_max = absl::Hours(1);
  // Push Gateway requests. Runtime: SIGHUP applies them to the next attempt.
  PushGatewayOptions push;
};

// Reads the options (defaults for absent keys); invalid values end up in `reader.status()`.
ServiceOptions ReadServiceOptions(core::OptionReader& reader);

// The options in force, registered with core's ConfigSections so that SIGHUP updates them.
using ServiceSettings = core::TypedOptionSection<ServiceOptions>;

// The settings read from `raw`; kInvalidArgument naming the key when a value is invalid.
absl::StatusOr<std::unique_ptr<ServiceSettings>> OpenServiceSettings(const core::RawConfig& raw);

// The descriptor's check_options hook (conclave/core/module.h): validates `raw` as a load would
// and appends the keys read to `keys`.
absl::Status CheckServiceOptions(const core::RawConfig& raw,
                                 std::vector<std::string>* keys) noexcept;

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_OPTIONS_OPTIONS_H_
