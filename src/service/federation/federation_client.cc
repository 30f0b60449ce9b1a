// Server-Server API, "API standards" (HTTPS, JSON), "Request Authentication", "TLS".
#include "conclave/service/federation/federation_client.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "conclave/core/build_info.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/federation/request_auth.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::service {
namespace {

using core::StrCat;

core::HttpClientOptions OptionsOf(const ServiceOptions& o) {
  core::HttpClientOptions options;
  options.timeout = o.federation_timeout;
  options.verify_certificates = o.federation_verify_certificates;
  options.ca_file = o.federation_ca_file;
  options.allowed_ranges = o.federation_allowed_ranges;
  options.max_redirects = 0;
  options.user_agent = StrCat("conclave/", core::Version());
  return options;
}

}  // namespace

FederationClient::FederationClient(std::string server_name, const ServerSigningKey& key,
                                   const ServiceSettings& settings, ServerResolver& resolver)
    : server_name_(std::move(server_name)), key_(key), settings_(settings), resolver_(resolver) {}

core::HttpClientOptions FederationClient::HttpOptions() const { return OptionsOf(settings_.Get()); }

absl::StatusOr<core::HttpClientResponse> FederationClient::Send(
    std::string_view destination, std::string_view method, std::string_view uri,
    const boost::json::value* body, bool sign, std::optional<absl::Duration> timeout) {
  if (destination == server_name_) {
    return absl::InvalidArgumentError(StrCat("federation: ", destination, " is this server"));
  }
  const ServiceOptions options = settings_.Get();
  CONCLAVE_ASSIGN_OR_RETURN(auto hosts, ParseFederationHosts(options.federation_hosts));
  CONCLAVE_ASSIGN_OR_RETURN(ResolvedServer server, resolver_.Resolve(destination, hosts));
  core::HttpClientRequest request;
  request.method = std::string(method);
  FederationRequestFor(server, uri, request);
  if (body != nullptr) {
    request.body = boost::json::serialize(*body);
    request.headers.emplace_back("Content-Type", "application/json");
  }
  if (sign) {
    CONCLAVE_ASSIGN_OR_RETURN(std::string authorization,
                              SignRequest(key_, server_name_, destination, method, uri, body));
    request.headers.emplace_back("Authorization", std::move(authorization));
  }
  core::HttpClientOptions client = OptionsOf(options);
  if (timeout.has_value()) client.timeout = *timeout;
  absl::StatusOr<core::HttpClientResponse> response = core::HttpFetch(request, client);
  if (!response.ok()) {
    return absl::Status(response.status().code(), StrCat("federation: ", method, " ", destination,
                                                         uri, ": ", response.status().message()));
  }
  return response;
}

absl::StatusOr<boost::json::object> FederationClient::SendJson(
    std::string_view destination, std::string_view method, std::string_view uri,
    const boost::json::value* body, bool sign, std::optional<absl::Duration> timeout) {
  CONCLAVE_ASSIGN_OR_RETURN(core::HttpClientResponse response,
                            Send(destination, method, uri, body, sign, timeout));
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(response.body, ec);
  if (response.status != 200) {
    Errcode errcode = Errcode::kUnknown;
    std::string error;
    if (!ec && json.is_object()) {
      if (const auto* code = json.get_object().if_contains("errcode"); code && code->is_string()) {
        errcode = ErrcodeFromName(code->get_string()).value_or(Errcode::kUnknown);
      }
      if (const auto* text = json.get_object().if_contains("error"); text && text->is_string()) {
        error = std::string(text->get_string());
      }
    }
    return MatrixStatus(absl::StatusCode::kUnavailable, errcode,
                        StrCat(destination, " answered ", response.status, " to ", method, " ", uri,
                               error.empty() ? "" : ": ", error));
  }
  if (ec || !json.is_object()) {
    return absl::UnavailableError(
        StrCat(destination, " answered ", method, " ", uri, " with something not a JSON object"));
  }
  return std::move(json.get_object());
}

ServerResolver::Deps RealResolverDeps(const ServiceSettings& settings) {
  ServerResolver::Deps deps;
  deps.fetch_well_known = [&settings](const std::string& hostname) {
    core::HttpClientOptions options = OptionsOf(settings.Get());
    options.max_redirects = 5;  // "30x redirects should be followed", loops bounded
    options.max_response_bytes = 64 << 10;
    core::HttpClientRequest request;
    const bool v6 = hostname.find(':') != std::string::npos;
    request.url =
        StrCat("https://", v6 ? "[" : "", hostname, v6 ? "]" : "", "/.well-known/matrix/server");
    return core::HttpFetch(request, options);
  };
  deps.lookup_srv = &LookupSrv;
  return deps;
}

}  // namespace conclave::service
