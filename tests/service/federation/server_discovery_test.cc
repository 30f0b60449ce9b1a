// Server discovery (Server-Server API, "Resolving server names"): every step that needs no
// real DNS, with the /.well-known fetch and the SRV lookup given by the test.
#include "conclave/service/federation/server_discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace conclave::service {
namespace {

// A DNS answer for _matrix-fed._tcp.example.org SRV as a resolver returns it: three answer
// records, SRV 10 5 8448 b.example.org, an A record (skipped), SRV 5 0 443 a.example.org.
constexpr unsigned char kSrvAnswer[] = {
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x5f, 0x6d, 0x61,
    0x74, 0x72, 0x69, 0x78, 0x2d, 0x66, 0x65, 0x64, 0x04, 0x5f, 0x74, 0x63, 0x70, 0x07, 0x65, 0x78,
    0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x21, 0x00, 0x01, 0xc0, 0x0c,
    0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x15, 0x00, 0x0a, 0x00, 0x05, 0x21, 0x00,
    0x01, 0x62, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x6f, 0x72, 0x67, 0x00, 0xc0,
    0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04, 0xc0, 0x00, 0x02, 0x01, 0xc0,
    0x0c, 0x00, 0x21, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x15, 0x00, 0x05, 0x00, 0x00, 0x01,
    0xbb, 0x01, 0x61, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x6f, 0x72, 0x67, 0x00};

TEST(ParseServerName, SplitsHostAndPort) {
  auto parts = ParseServerName("example.org:8449");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->host, "example.org");
  EXPECT_EQ(parts->port, 8449);
  EXPECT_FALSE(parts->ip_literal);
  parts = ParseServerName("1.2.3.4");
  ASSERT_TRUE(parts.ok());
  EXPECT_TRUE(parts->ip_literal);
  EXPECT_EQ(parts->port, std::nullopt);
  parts = ParseServerName("[1234:5678::abcd]:443");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->host, "1234:5678::abcd");
  EXPECT_TRUE(parts->ip_literal);
  EXPECT_EQ(parts->port, 443);
}

TEST(ParseServerName, RejectsMalformedNames) {
  for (const char* bad : {"", "example.org:", "example.org:0", "example.org:65536", "exa mple.org",
                          "[::1", "[not-ip]:80", "[::1]x", "a:b:c", "example.org:12a"}) {
    EXPECT_EQ(ParseServerName(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParseSrvAnswer, ReadsCapturedAnswerInPriorityOrder) {
  auto records = ParseSrvAnswer(kSrvAnswer, sizeof(kSrvAnswer));
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].target, "a.example.org");
  EXPECT_EQ((*records)[0].port, 443);
  EXPECT_EQ((*records)[0].priority, 5);
  EXPECT_EQ((*records)[1].target, "b.example.org");
  EXPECT_EQ((*records)[1].port, 8448);
  EXPECT_EQ((*records)[1].weight, 5);
}

TEST(ParseSrvAnswer, RejectsTruncatedAnswer) {
  EXPECT_EQ(ParseSrvAnswer(kSrvAnswer, 60).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseWellKnown, ReadsMServer) {
  EXPECT_EQ(ParseWellKnown(R"({"m.server": "delegated.example.org:443"})").value(),
            "delegated.example.org:443");
  EXPECT_FALSE(ParseWellKnown("not json").ok());
  EXPECT_FALSE(ParseWellKnown(R"({"m.server": 5})").ok());
  EXPECT_FALSE(ParseWellKnown(R"({"m.server": "bad name:x"})").ok());
  EXPECT_FALSE(ParseWellKnown(R"([])").ok());
}

TEST(WellKnownCacheTime, FollowsCacheHeadersWithinLimits) {
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  EXPECT_EQ(WellKnownCacheTime("", "", now, true), absl::Hours(24));
  EXPECT_EQ(WellKnownCacheTime("public, max-age=600", "", now, true), absl::Seconds(600));
  EXPECT_EQ(WellKnownCacheTime("max-age=999999999", "", now, true), absl::Hours(48));
  EXPECT_EQ(WellKnownCacheTime("no-store", "", now, true), absl::ZeroDuration());
  // 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT.
  EXPECT_EQ(WellKnownCacheTime("", "Tue, 14 Nov 2023 23:13:20 GMT", now, true), absl::Hours(1));
  EXPECT_EQ(WellKnownCacheTime("", "garbage", now, true), absl::ZeroDuration());
  // max-age wins over Expires.
  EXPECT_EQ(WellKnownCacheTime("max-age=60", "Tue, 14 Nov 2023 23:13:20 GMT", now, true),
            absl::Seconds(60));
  // Errors: at most an hour.
  EXPECT_EQ(WellKnownCacheTime("", "", now, false), absl::Hours(1));
  EXPECT_EQ(WellKnownCacheTime("max-age=60", "", now, false), absl::Seconds(60));
}

TEST(ParseFederationHosts, ReadsEntries) {
  auto hosts = ParseFederationHosts({"a.example=127.0.0.2:8448", "b=[::1]:9"});
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(hosts->at("a.example"), "127.0.0.2:8448");
  EXPECT_EQ(hosts->at("b"), "[::1]:9");
  for (const char* bad : {"noequals", "=1.2.3.4:5", "a=host", "a="}) {
    EXPECT_EQ(ParseFederationHosts({bad}).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

// A resolver whose /.well-known answers and SRV records are the test's, counting fetches.
class ServerResolverTest : public ::testing::Test {
 protected:
  ServerResolverTest()
      : resolver_(ServerResolver::Deps{
            .fetch_well_known =
                [this](const std::string& host) -> absl::StatusOr<core::HttpClientResponse> {
              ++fetches_[host];
              auto it = well_known_.find(host);
              if (it == well_known_.end()) return absl::UnavailableError("connection refused");
              return it->second;
            },
            .lookup_srv =
                [this](const std::string& name) -> absl::StatusOr<std::vector<SrvRecord>> {
              srv_asked_.push_back(name);
              auto it = srv_.find(name);
              if (it == srv_.end()) return std::vector<SrvRecord>();
              return it->second;
            },
            .clock = [this] { return now_; }}) {}

  void WellKnown(const std::string& host, int status, const std::string& body,
                 const std::string& cache_control = "") {
    core::HttpClientResponse response;
    response.status = status;
    response.body = body;
    if (!cache_control.empty()) response.headers.emplace_back("Cache-Control", cache_control);
    well_known_[host] = response;
  }

  ResolvedServer Resolve(const std::string& name,
                         const std::map<std::string, std::string>& hosts = {}) {
    auto resolved = resolver_.Resolve(name, hosts);
    EXPECT_TRUE(resolved.ok()) << resolved.status();
    return resolved.ok() ? *resolved : ResolvedServer{};
  }

  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::map<std::string, core::HttpClientResponse> well_known_;
  std::map<std::string, std::vector<SrvRecord>> srv_;
  std::map<std::string, int> fetches_;
  std::vector<std::string> srv_asked_;
  ServerResolver resolver_;
};

void ExpectResolved(const ResolvedServer& r, const std::string& connect, int port,
                    const std::string& host_header, const std::string& tls_name) {
  EXPECT_EQ(r.connect_host, connect);
  EXPECT_EQ(r.port, port);
  EXPECT_EQ(r.host_header, host_header);
  EXPECT_EQ(r.tls_name, tls_name);
}

TEST_F(ServerResolverTest, Step1IpLiteral) {
  ExpectResolved(Resolve("127.0.0.2"), "127.0.0.2", 8448, "127.0.0.2", "127.0.0.2");
  ExpectResolved(Resolve("127.0.0.2:9000"), "127.0.0.2", 9000, "127.0.0.2:9000", "127.0.0.2");
  ExpectResolved(Resolve("[::1]:9000"), "::1", 9000, "[::1]:9000", "::1");
  EXPECT_TRUE(fetches_.empty());
  EXPECT_TRUE(srv_asked_.empty());
}

TEST_F(ServerResolverTest, Step2HostnameWithPort) {
  ExpectResolved(Resolve("example.org:8449"), "example.org", 8449, "example.org:8449",
                 "example.org");
  EXPECT_TRUE(fetches_.empty());
}

TEST_F(ServerResolverTest, Step3WellKnownDelegations) {
  WellKnown("ip.example", 200, R"({"m.server": "10.0.0.1"})");
  ExpectResolved(Resolve("ip.example"), "10.0.0.1", 8448, "10.0.0.1", "10.0.0.1");  // 3.1
  WellKnown("port.example", 200, R"({"m.server": "matrix.port.example:443"})");
  ExpectResolved(Resolve("port.example"), "matrix.port.example", 443, "matrix.port.example:443",
                 "matrix.port.example");  // 3.2
  WellKnown("srv.example", 200, R"({"m.server": "d.srv.example"})");
  srv_["_matrix-fed._tcp.d.srv.example"] = {
      {.priority = 1, .weight = 0, .port = 1234, .target = "target.example"}};
  ExpectResolved(Resolve("srv.example"), "target.example", 1234, "d.srv.example",
                 "d.srv.example");  // 3.3
  WellKnown("old.example", 200, R"({"m.server": "d.old.example"})");
  srv_["_matrix._tcp.d.old.example"] = {
      {.priority = 1, .weight = 0, .port = 99, .target = "legacy.example"}};
  ExpectResolved(Resolve("old.example"), "legacy.example", 99, "d.old.example",
                 "d.old.example");  // 3.4
  WellKnown("plain.example", 200, R"({"m.server": "d.plain.example"})");
  ExpectResolved(Resolve("plain.example"), "d.plain.example", 8448, "d.plain.example",
                 "d.plain.example");  // 3.5
  EXPECT_THAT(srv_asked_, ::testing::Contains("_matrix-fed._tcp.d.plain.example"));
  EXPECT_THAT(srv_asked_, ::testing::Contains("_matrix._tcp.d.plain.example"));
}

TEST_F(ServerResolverTest, Steps4To6WithoutWellKnown) {
  srv_["_matrix-fed._tcp.a.example"] = {
      {.priority = 1, .weight = 0, .port = 8000, .target = "fed.a.example"}};
  ExpectResolved(Resolve("a.example"), "fed.a.example", 8000, "a.example", "a.example");  // 4
  srv_["_matrix._tcp.b.example"] = {
      {.priority = 1, .weight = 0, .port = 8001, .target = "old.b.example"}};
  WellKnown("b.example", 404, "{}");
  ExpectResolved(Resolve("b.example"), "old.b.example", 8001, "b.example", "b.example");  // 5
  WellKnown("c.example", 200, "not json");
  ExpectResolved(Resolve("c.example"), "c.example", 8448, "c.example", "c.example");  // 6
}

TEST_F(ServerResolverTest, CachesWellKnownAsTheSpecSays) {
  WellKnown("cached.example", 200, R"({"m.server": "d.cached.example:443"})", "max-age=600");
  Resolve("cached.example");
  Resolve("cached.example");
  EXPECT_EQ(fetches_["cached.example"], 1);
  now_ += absl::Seconds(601);
  Resolve("cached.example");
  EXPECT_EQ(fetches_["cached.example"], 2);
  // An error: cached for an hour at most.
  Resolve("down.example");
  now_ += absl::Minutes(59);
  Resolve("down.example");
  EXPECT_EQ(fetches_["down.example"], 1);
  now_ += absl::Minutes(2);
  Resolve("down.example");
  EXPECT_EQ(fetches_["down.example"], 2);
  // A valid answer without headers: 24 hours.
  WellKnown("day.example", 200, R"({"m.server": "d.day.example:443"})");
  Resolve("day.example");
  now_ += absl::Hours(23);
  Resolve("day.example");
  EXPECT_EQ(fetches_["day.example"], 1);
  now_ += absl::Hours(2);
  Resolve("day.example");
  EXPECT_EQ(fetches_["day.example"], 2);
}

TEST_F(ServerResolverTest, FederationHostsOverrideDiscovery) {
  ExpectResolved(Resolve("remote.example", {{"remote.example", "127.0.0.3:8500"}}), "127.0.0.3",
                 8500, "remote.example", "remote.example");
  EXPECT_TRUE(fetches_.empty());
  EXPECT_EQ(resolver_.Resolve("remote.example", {{"remote.example", "nohost"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FederationRequestFor, SetsUrlConnectToAndHost) {
  ResolvedServer server{.connect_host = "target.example",
                        .port = 1234,
                        .host_header = "d.example",
                        .tls_name = "d.example"};
  core::HttpClientRequest request;
  FederationRequestFor(server, "/_matrix/key/v2/server", request);
  EXPECT_EQ(request.url, "https://d.example:1234/_matrix/key/v2/server");
  EXPECT_EQ(request.connect_to, "target.example:1234");
  ASSERT_EQ(request.headers.size(), 1u);
  EXPECT_EQ(request.headers[0].first, "Host");
  EXPECT_EQ(request.headers[0].second, "d.example");
  ResolvedServer v6{.connect_host = "::1", .port = 8448, .host_header = "[::1]", .tls_name = "::1"};
  core::HttpClientRequest request6;
  FederationRequestFor(v6, "/x", request6);
  EXPECT_EQ(request6.url, "https://[::1]:8448/x");
  EXPECT_EQ(request6.connect_to, "[::1]:8448");
}

}  // namespace
}  // namespace conclave::service
