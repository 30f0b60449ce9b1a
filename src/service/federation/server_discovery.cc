// Server-Server API, "Resolving server names"; RFC 2782 (SRV); RFC 9111 §5.2.2 (Cache-Control),
// §5.3 (Expires); libresolv (res_query, ns_initparse, ns_parserr, dn_expand).
#include "conclave/service/federation/server_discovery.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cctype>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "conclave/core/str_cat.h"

namespace conclave::service {
namespace {

using core::StrCat;

bool IsIpv4(std::string_view text) {
  in_addr addr;
  return inet_pton(AF_INET, std::string(text).c_str(), &addr) == 1;
}

bool IsIpv6(std::string_view text) {
  in6_addr addr;
  return inet_pton(AF_INET6, std::string(text).c_str(), &addr) == 1;
}

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

// A host for a URL: an IPv6 literal in brackets.
std::string UrlHost(std::string_view host) {
  return host.find(':') != std::string_view::npos ? StrCat("[", host, "]") : std::string(host);
}

constexpr absl::Duration kDefaultCacheTime = absl::Hours(24);
constexpr absl::Duration kMaxCacheTime = absl::Hours(48);
constexpr absl::Duration kMaxErrorCacheTime = absl::Hours(1);

}  // namespace

absl::StatusOr<ServerNameParts> ParseServerName(std::string_view server_name) {
  ServerNameParts parts;
  std::string_view host = server_name;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(StrCat("server name ", server_name, ": unclosed '['"));
    }
    std::string_view rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!IsIpv6(host)) {
      return absl::InvalidArgumentError(StrCat("server name ", server_name, ": bad IPv6 literal"));
    }
    parts.ip_literal = true;
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError(StrCat("server name ", server_name, ": junk after ']'"));
      }
      port = rest.substr(1);
      if (port.empty()) {
        return absl::InvalidArgumentError(StrCat("server name ", server_name, ": empty port"));
      }
    }
  } else {
    const size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
      if (port.empty()) {
        return absl::InvalidArgumentError(StrCat("server name ", server_name, ": empty port"));
      }
    }
    if (!IsDnsName(host)) {
      return absl::InvalidArgumentError(
          StrCat("server name ", server_name, ": not a hostname or IP literal"));
    }
    parts.ip_literal = IsIpv4(host);
  }
  if (!port.empty()) {
    int value = 0;
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        !absl::SimpleAtoi(std::string(port), &value) || value < 1 || value > 65535) {
      return absl::InvalidArgumentError(StrCat("server name ", server_name, ": bad port"));
    }
    parts.port = value;
  }
  parts.host = std::string(host);
  return parts;
}

absl::StatusOr<std::vector<SrvRecord>> ParseSrvAnswer(const unsigned char* answer, int length) {
  ns_msg message;
  if (ns_initparse(answer, length, &message) != 0) {
    return absl::InvalidArgumentError("SRV: malformed DNS answer");
  }
  std::vector<SrvRecord> records;
  const int count = ns_msg_count(message, ns_s_an);
  for (int i = 0; i < count; ++i) {
    ns_rr rr;
    if (ns_parserr(&message, ns_s_an, i, &rr) != 0) {
      return absl::InvalidArgumentError("SRV: malformed answer record");
    }
    if (ns_rr_type(rr) != ns_t_srv) continue;
    const unsigned char* data = ns_rr_rdata(rr);
    if (ns_rr_rdlen(rr) < 7) return absl::InvalidArgumentError("SRV: short record");
    SrvRecord record;
    record.priority = ns_get16(data);
    record.weight = ns_get16(data + 2);
    record.port = ns_get16(data + 4);
    char target[NS_MAXDNAME];
    if (dn_expand(ns_msg_base(message), ns_msg_end(message), data + 6, target, sizeof(target)) <
        0) {
      return absl::InvalidArgumentError("SRV: malformed target name");
    }
    record.target = target;
    while (!record.target.empty() && record.target.back() == '.') record.target.pop_back();
    if (record.target.empty()) continue;  // "." : no service at this name
    records.push_back(std::move(record));
  }
  std::stable_sort(records.begin(), records.end(), [](const SrvRecord& a, const SrvRecord& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.weight > b.weight;
  });
  return records;
}

absl::StatusOr<std::vector<SrvRecord>> LookupSrv(const std::string& name) {
  std::vector<unsigned char> answer(NS_PACKETSZ * 4);
  struct __res_state state {};
  if (res_ninit(&state) != 0) return absl::UnavailableError("SRV: cannot initialise the resolver");
  const int length = res_nquery(&state, name.c_str(), ns_c_in, ns_t_srv, answer.data(),
                                static_cast<int>(answer.size()));
  const int error = state.res_h_errno;
  res_nclose(&state);
  if (length < 0) {
    if (error == HOST_NOT_FOUND || error == NO_DATA) return std::vector<SrvRecord>();
    return absl::UnavailableError(StrCat("SRV lookup of ", name, " failed (h_errno ", error, ")"));
  }
  return ParseSrvAnswer(answer.data(), std::min(length, static_cast<int>(answer.size())));
}

absl::StatusOr<std::string> ParseWellKnown(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(body, ec);
  if (ec) return absl::InvalidArgumentError("/.well-known/matrix/server: not JSON");
  if (!json.is_object())
    return absl::InvalidArgumentError("/.well-known/matrix/server: not an object");
  const boost::json::value* server = json.get_object().if_contains("m.server");
  if (server == nullptr || !server->is_string()) {
    return absl::InvalidArgumentError("/.well-known/matrix/server: no m.server string");
  }
  std::string name(server->get_string());
  if (absl::StatusOr<ServerNameParts> parts = ParseServerName(name); !parts.ok()) {
    return absl::InvalidArgumentError(
        StrCat("/.well-known/matrix/server: m.server: ", parts.status().message()));
  }
  return name;
}

absl::Duration WellKnownCacheTime(std::string_view cache_control, std::string_view expires,
                                  absl::Time now, bool valid) {
  std::optional<absl::Duration> time;
  const std::vector<std::string> directives =
      absl::StrSplit(std::string(cache_control), ',', absl::SkipEmpty());
  for (const std::string& directive : directives) {
    const std::string lower =
        absl::AsciiStrToLower(std::string(absl::StripAsciiWhitespace(directive)));
    if (lower == "no-store" || lower == "no-cache") {
      time = absl::ZeroDuration();
      break;
    }
    if (lower.rfind("max-age=", 0) == 0) {
      std::string_view value = std::string_view(lower).substr(8);
      if (!value.empty() && value.front() == '"' && value.back() == '"' && value.size() >= 2) {
        value = value.substr(1, value.size() - 2);
      }
      int64_t seconds = 0;
      if (absl::SimpleAtoi(std::string(value), &seconds) && seconds >= 0) {
        time = absl::Seconds(seconds);
      }
    }
  }
  if (!time.has_value() && !expires.empty()) {
    std::tm tm{};
    const std::string text(absl::StripAsciiWhitespace(std::string(expires)));
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    // RFC 9111 §5.3: an invalid date means "already expired".
    time = end != nullptr && *end == '\0'
               ? std::max(absl::FromTimeT(timegm(&tm)) - now, absl::ZeroDuration())
               : absl::ZeroDuration();
  }
  absl::Duration result = std::min(time.value_or(kDefaultCacheTime), kMaxCacheTime);
  if (!valid) result = std::min(result, kMaxErrorCacheTime);
  return result;
}

absl::StatusOr<std::map<std::string, std::string>> ParseFederationHosts(
    const std::vector<std::string>& entries) {
  std::map<std::string, std::string> hosts;
  for (const std::string& entry : entries) {
    const size_t eq = entry.find('=');
    absl::StatusOr<ServerNameParts> target =
        eq == std::string::npos ? absl::InvalidArgumentError("no '='")
                                : ParseServerName(std::string_view(entry).substr(eq + 1));
    if (eq == 0 || !target.ok() || !target->port.has_value()) {
      return absl::InvalidArgumentError(
          StrCat("config: federation_hosts: \"", entry, "\" is not \"server_name=host:port\""));
    }
    hosts[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return hosts;
}

std::string ResolvedServer::Url(std::string_view path_and_query) const {
  return StrCat("https://", UrlHost(tls_name), ":", port, path_and_query);
}

void FederationRequestFor(const ResolvedServer& server, std::string_view path_and_query,
                          core::HttpClientRequest& request) {
  request.url = server.Url(path_and_query);
  request.connect_to = StrCat(UrlHost(server.connect_host), ":", server.port);
  request.headers.emplace_back("Host", server.host_header);
}

ServerResolver::ServerResolver(Deps deps) : deps_(std::move(deps)) {}

void ServerResolver::ClearCache() {
  absl::MutexLock lock(&mu_);
  well_known_.clear();
}

std::optional<std::string> ServerResolver::DelegatedName(const std::string& hostname) {
  const absl::Time now = deps_.clock();
  {
    absl::MutexLock lock(&mu_);
    auto it = well_known_.find(hostname);
    if (it != well_known_.end() && it->second.expires > now) return it->second.server;
  }
  WellKnown entry;
  absl::StatusOr<core::HttpClientResponse> response = deps_.fetch_well_known(hostname);
  if (!response.ok()) {
    // No answer at all (refused, timeout, TLS): an error, cached the longest errors are.
    entry.expires = now + kMaxErrorCacheTime;
  } else {
    if (response->status == 200) {
      if (absl::StatusOr<std::string> name = ParseWellKnown(response->body); name.ok()) {
        entry.server = *std::move(name);
      }
    }
    entry.expires =
        now + WellKnownCacheTime(response->Header("Cache-Control"), response->Header("Expires"),
                                 now, entry.server.has_value());
  }
  absl::MutexLock lock(&mu_);
  well_known_[hostname] = entry;
  return entry.server;
}

ResolvedServer ServerResolver::BySrv(const std::string& name) {
  for (const char* service : {"_matrix-fed._tcp.", "_matrix._tcp."}) {
    absl::StatusOr<std::vector<SrvRecord>> records = deps_.lookup_srv(StrCat(service, name));
    if (records.ok() && !records->empty()) {
      const SrvRecord& first = records->front();
      return ResolvedServer{
          .connect_host = first.target, .port = first.port, .host_header = name, .tls_name = name};
    }
  }
  return ResolvedServer{
      .connect_host = name, .port = kDefaultFederationPort, .host_header = name, .tls_name = name};
}

absl::StatusOr<ResolvedServer> ServerResolver::Resolve(
    std::string_view server_name, const std::map<std::string, std::string>& hosts) {
  absl::StatusOr<ServerNameParts> parts = ParseServerName(server_name);
  if (!parts.ok()) return parts.status();
  if (auto it = hosts.find(std::string(server_name)); it != hosts.end()) {
    absl::StatusOr<ServerNameParts> target = ParseServerName(it->second);
    if (!target.ok() || !target->port.has_value()) {
      return absl::InvalidArgumentError(
          StrCat("federation_hosts: ", server_name, " = \"", it->second, "\" is not host:port"));
    }
    return ResolvedServer{.connect_host = target->host,
                          .port = *target->port,
                          .host_header = std::string(server_name),
                          .tls_name = parts->host};
  }
  // Step 1: an IP literal, its port or 8448; Host is the server name as given.
  // Step 2: a hostname with a port: its A/AAAA records, Host the server name (with port).
  if (parts->ip_literal || parts->port.has_value()) {
    return ResolvedServer{.connect_host = parts->host,
                          .port = parts->port.value_or(kDefaultFederationPort),
                          .host_header = std::string(server_name),
                          .tls_name = parts->host};
  }
  // Step 3: /.well-known/matrix/server.
  if (std::optional<std::string> delegated = DelegatedName(parts->host)) {
    absl::StatusOr<ServerNameParts> d = ParseServerName(*delegated);
    if (!d.ok()) return d.status();  // ParseWellKnown checked it already
    // 3.1 and 3.2: an IP literal, or a delegated port: Host is the delegated name as given.
    if (d->ip_literal || d->port.has_value()) {
      return ResolvedServer{.connect_host = d->host,
                            .port = d->port.value_or(kDefaultFederationPort),
                            .host_header = *delegated,
                            .tls_name = d->host};
    }
    // 3.3 to 3.5.
    return BySrv(d->host);
  }
  // Steps 4 to 6.
  return BySrv(parts->host);
}

}  // namespace conclave::service
