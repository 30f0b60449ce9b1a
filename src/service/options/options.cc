#include "conclave/service/options/options.h"

#include <string>

#include "conclave/core/exceptions.h"
#include "conclave/core/http_client.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/room_versions.h"

namespace conclave::service {
namespace {

constexpr char kModule[] = "service";
constexpr double kMaxRate = 1e9;
constexpr int64_t kMaxBurst = 1000000;

// `<prefix>_per_second` and `<prefix>_burst`: a token bucket (rate_limiter.h). Exceeding it
// answers 429 M_LIMIT_EXCEEDED with retry_after_ms; a rate of 0 disables the limit.
RateLimit ReadLimit(core::OptionReader& r, std::string_view prefix, double rate, int burst,
                    std::string_view what) {
  const std::string rate_key = std::string(prefix) + "_per_second";
  const std::string burst_key = std::string(prefix) + "_burst";
  const std::string rate_doc =
      std::string("Token refill rate for ") + std::string(what) + "; 0 disables the limit";
  const std::string burst_doc = std::string("Requests allowed at once for ") + std::string(what);
  RateLimit limit;
  limit.per_second = r.Number(rate_key, rate, 0, kMaxRate,
                              {.unit = "requests per second", .runtime = true, .doc = rate_doc});
  limit.burst = static_cast<int>(r.Integer(
      burst_key, burst, 1, kMaxBurst, {.unit = "requests", .runtime = true, .doc = burst_doc}));
  return limit;
}

}  // namespace

ServiceOptions ReadServiceOptions(core::OptionReader& r) {
  ServiceOptions o;
  o.allow_registration =
      r.Bool("allow_registration", true,
             {.runtime = true, .doc = "Whether POST /register creates accounts (M_FORBIDDEN)"});
  o.registration_token =
      r.String("registration_token", "",
               {.runtime = true,
                .secret = true,
                .doc = "When set, registration needs this token (m.login.registration_token)"});
  o.access_token_lifetime = r.Duration(
      "access_token_lifetime", absl::Minutes(5),
      {.runtime = true,
       .doc = "Lifetime of the access tokens of refreshable sessions (refresh_token: true); 0s: "
              "they never expire and get no refresh token"});
  o.allow_guest_access = r.Bool(
      "allow_guest_access", false,
      {.runtime = true,
       .doc =
           "Whether POST /register?kind=guest creates guest accounts (M_GUEST_ACCESS_FORBIDDEN)"});
  o.login = ReadLimit(r, "rc_login", 1, 10, "logins, per client IP address and per user");
  o.registration = ReadLimit(r, "rc_registration", 0.5, 20, "registration, per client IP address");
  o.message = ReadLimit(r, "rc_message", 50, 200, "sending events, per user");
  // An integer in the file, because the reader can range-check one (a string it cannot); the
  // version ids of the spec's stable versions are exactly these numbers.
  const auto newest = static_cast<int64_t>(AllRoomVersions().size());
  o.default_room_version = std::to_string(
      r.Integer("default_room_version", *RoomVersionNumber(kDefaultRoomVersion), 1, newest,
                {.unit = "room version",
                 .runtime = true,
                 .doc = "Room version POST /createRoom uses when the request names none"}));
  o.signing_key_path = r.String(
      "signing_key_path", "",
      {.unit = "file",
       .doc = "The server's ed25519 signing key (Synapse's format), generated when absent; empty: "
              "<database_path>-signing.key"});
  o.federation_hosts = r.StringList(
      "federation_hosts", {},
      {.runtime = true,
       .doc = "Entries \"server_name=host:port\": where to reach these servers instead of "
              "discovering it"});
  o.federation_verify_certificates = r.Bool(
      "federation_verify_certificates", true,
      {.runtime = true, .doc = "Verify other servers' TLS certificates (false: tests only)"});
  o.federation_ca_file =
      r.String("federation_ca_file", "",
               {.unit = "file",
                .runtime = true,
                .doc = "PEM file of the CAs trusted for federation; empty: the system's"});
  o.federation_allowed_ranges =
      r.StringList("federation_allowed_ranges", {},
                   {.unit = "CIDR ranges",
                    .runtime = true,
                    .doc = "Addresses outbound federation may reach although loopback, private or "
                           "link-local"});
  o.federation_timeout =
      r.Duration("federation_timeout", absl::Seconds(30),
                 {.runtime = true, .doc = "Time limit of one outbound federation request"});
  o.federation_retry_initial =
      r.Duration("federation_retry_initial", absl::Seconds(5),
                 {.runtime = true,
                  .doc = "Wait after a failed transaction to a server; doubles with each failure"});
  o.federation_retry_max =
      r.Duration("federation_retry_max", absl::Hours(1),
                 {.runtime = true, .doc = "Longest wait between two transactions to a server"});
  o.push.allowed_ranges =
      r.StringList("push_gateway_allowed_ranges", {},
                   {.unit = "CIDR ranges",
                    .runtime = true,
                    .doc = "Addresses Push Gateways may be at although the deny list has them"});
  o.push.timeout = r.Duration("push_gateway_timeout", absl::Seconds(10),
                              {.runtime = true, .doc = "Time limit of one Push Gateway request"});
  o.push.retry_initial =
      r.Duration("push_retry_initial", absl::Seconds(1),
                 {.runtime = true, .doc = "Wait after a failed push; doubles with each failure"});
  o.push.retry_max = r.Duration("push_retry_max", absl::Hours(1),
                                {.runtime = true, .doc = "Longest wait between two push attempts"});
  o.push.retry_attempts =
      static_cast<int>(r.Integer("push_retry_attempts", 20, 1, 1000,
                                 {.unit = "attempts",
                                  .runtime = true,
                                  .doc = "Attempts after which a push notification is dropped"}));
  return o;
}

namespace {

// kInvalidArgument naming push_gateway_allowed_ranges when one of its ranges is malformed.
absl::Status CheckPushRanges(const ServiceOptions& o) {
  if (auto filter = core::AddressFilter::Create(o.push.allowed_ranges); !filter.ok()) {
    return absl::InvalidArgumentError(
        core::StrCat("config: push_gateway_allowed_ranges: ", filter.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServiceSettings>> OpenServiceSettings(const core::RawConfig& raw) {
  CONCLAVE_ASSIGN_OR_RETURN(auto settings,
                            ServiceSettings::Create(kModule, &ReadServiceOptions, raw));
  CONCLAVE_RETURN_IF_ERROR(CheckPushRanges(settings->Get()));
  return settings;
}

absl::Status CheckServiceOptions(const core::RawConfig& raw,
                                 std::vector<std::string>* keys) noexcept {
  // A noexcept hook of the descriptor: nothing may escape it (core/exceptions.h).
  return core::CatchAll(kModule, "service: check_options hook", [&] {
    core::OptionReader reader(kModule, raw);
    const ServiceOptions options = ReadServiceOptions(reader);
    for (const core::OptionRead& r : reader.read()) keys->push_back(r.key);
    CONCLAVE_RETURN_IF_ERROR(reader.status());
    return CheckPushRanges(options);
  });
}

}  // namespace conclave::service
