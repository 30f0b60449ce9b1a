// The outbound HTTP client against a real local server (core's own HttpServer on loopback),
// and its address deny list on its own.
#include "conclave/core/http_client.h"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "conclave/core/config.h"
#include "conclave/core/http.h"
#include "conclave/core/http_server.h"
#include "conclave/core/notifier.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace conclave::core {
namespace {

using ::testing::HasSubstr;

TEST(DeniedByDefault, PrivateLoopbackAndTheirMappedFormsAreDenied) {
  for (const char* denied :
       {"127.0.0.1",       "10.1.2.3",        "172.16.0.1",    "172.31.255.255",
        "192.168.1.1",     "169.254.169.254", "100.64.0.1",    "0.0.0.0",
        "224.0.0.1",       "255.255.255.255", "::1",           "::",
        "fe80::1",         "fd00::1",         "ff02::1",       "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "64:ff9b::a00:1",  "2002:7f00:1::", "not an address"}) {
    EXPECT_TRUE(DeniedByDefault(denied)) << denied;
  }
  for (const char* allowed :
       {"8.8.8.8", "172.32.0.1", "100.128.0.1", "2a00:1450::1", "::ffff:8.8.8.8", "1.1.1.1"}) {
    EXPECT_FALSE(DeniedByDefault(allowed)) << allowed;
  }
}

TEST(AddressFilter, AllowedRangesOverrideTheDenyList) {
  auto filter = AddressFilter::Create({"127.0.0.1/32", "fd00::/8"});
  ASSERT_TRUE(filter.ok());
  EXPECT_TRUE(filter->Allows("127.0.0.1"));
  EXPECT_TRUE(filter->Allows("::ffff:127.0.0.1"));  // the same host
  EXPECT_FALSE(filter->Allows("127.0.0.2"));
  EXPECT_TRUE(filter->Allows("fd12::1"));
  EXPECT_FALSE(filter->Allows("10.0.0.1"));
  EXPECT_TRUE(filter->Allows("8.8.8.8"));
  EXPECT_EQ(AddressFilter::Create({"127.0.0.1/33"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AddressFilter::Create({"example.org/8"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.port = 0;
    Add("GET", "/hello", [](Request&) { return Response{200, "text/plain", "hi", {}, {}, {}}; });
    Add("POST", "/echo", [](Request& request) {
      return Response{200, "text/plain", "got " + request.body, {}, {}, {}};
    });
    Add("GET", "/host", [](Request& request) {
      return Response{200, "text/plain", std::string(request.Header("Host").value_or("")),
                      {},  {},           {}};
    });
    Add("GET", "/big",
        [](Request&) { return Response{200, "text/plain", std::string(4096, 'x'), {}, {}, {}}; });
    Add("GET", "/redirect", [](Request&) {
      return Response{302, "text/plain", "", {{"Location", "/hello"}}, {}, {}};
    });
    Add("GET", "/loop", [](Request&) {
      return Response{302, "text/plain", "", {{"Location", "/loop"}}, {}, {}};
    });
    http_ = std::make_unique<HttpServer>(router_, notifier_, config_);
    ASSERT_TRUE(http_->Listen({}).ok());
    http_->Start(1);
  }
  void TearDown() override { http_->Stop(absl::Seconds(2)); }
  void Add(const char* method, const char* path, std::function<Response(Request&)> handler) {
    auto handle = router_.Add("m", method, path, std::move(handler));
    ASSERT_TRUE(handle.ok());
    handles_.push_back(*std::move(handle));
  }
  std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(http_->port()) + path;
  }
  HttpClientOptions Loopback() {
    HttpClientOptions options;
    options.allowed_ranges = {"127.0.0.1/32"};
    options.timeout = absl::Seconds(5);
    return options;
  }

  Config config_;
  Router router_;
  Notifier notifier_;
  std::vector<RouteHandle> handles_;
  std::unique_ptr<HttpServer> http_;
};

TEST_F(HttpClientTest, LoopbackIsDeniedByDefault) {
  auto response = HttpFetch({.url = Url("/hello")});
  EXPECT_EQ(response.status().code(), absl::StatusCode::kPermissionDenied);
  // "localhost" resolves to loopback too: the check is on the resolved addresses.
  auto by_name = HttpFetch({.url = "http://localhost:" + std::to_string(http_->port()) + "/"});
  EXPECT_EQ(by_name.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(HttpClientTest, GetAndPostWhenAllowed) {
  auto response = HttpFetch({.url = Url("/hello")}, Loopback());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hi");
  EXPECT_EQ(response->Header("content-type"), "text/plain");
  auto posted = HttpFetch({.method = "POST", .url = Url("/echo"), .body = "data"}, Loopback());
  ASSERT_TRUE(posted.ok()) << posted.status();
  EXPECT_EQ(posted->body, "got data");
  auto missing = HttpFetch({.url = Url("/nothing")}, Loopback());
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
}

TEST_F(HttpClientTest, ConnectToReplacesTheAddressNotTheName) {
  // The URL's host does not resolve; connect_to says where to go (federation's SRV targets).
  HttpClientRequest request{.url = "http://fed.invalid:1/host"};
  request.connect_to = "127.0.0.1:" + std::to_string(http_->port());
  auto response = HttpFetch(request, Loopback());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "fed.invalid:1");
  // A Host header of the request replaces the URL's.
  request.headers.emplace_back("Host", "delegated.example");
  response = HttpFetch(request, Loopback());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "delegated.example");
  // The deny list applies to the connect_to address.
  EXPECT_EQ(HttpFetch(request, {}).status().code(), absl::StatusCode::kPermissionDenied);
  request.connect_to = "no-port";
  EXPECT_EQ(HttpFetch(request, Loopback()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(HttpClientTest, RedirectsAreFollowedAndBounded) {
  auto response = HttpFetch({.url = Url("/redirect")}, Loopback());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "hi");
  EXPECT_EQ(response->url, Url("/hello"));
  auto loop = HttpFetch({.url = Url("/loop")}, Loopback());
  EXPECT_EQ(loop.status().code(), absl::StatusCode::kResourceExhausted);
  HttpClientOptions none = Loopback();
  none.max_redirects = 0;
  auto unfollowed = HttpFetch({.url = Url("/redirect")}, none);
  ASSERT_TRUE(unfollowed.ok());
  EXPECT_EQ(unfollowed->status, 302);
}

TEST_F(HttpClientTest, ResponsesOverTheLimitAreRefused) {
  HttpClientOptions small = Loopback();
  small.max_response_bytes = 1000;
  EXPECT_EQ(HttpFetch({.url = Url("/big")}, small).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(HttpFetch({.url = Url("/big")}, Loopback()).ok());
}

TEST_F(HttpClientTest, BadUrlsAreRefused) {
  for (const char* url : {"ftp://127.0.0.1/", "http://", "http://user@127.0.0.1/", "/relative",
                          "http://127.0.0.1:port/"}) {
    EXPECT_EQ(HttpFetch({.url = url}, Loopback()).status().code(),
              absl::StatusCode::kInvalidArgument)
        << url;
  }
}

// A server that accepts and never answers: the time limit ends the wait (no sleep here: the
// client is the only one waiting).
TEST(HttpClient, SilentServerTimesOut) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  HttpClientOptions options;
  options.allowed_ranges = {"127.0.0.0/8"};
  options.timeout = absl::Milliseconds(200);
  auto response = HttpFetch(
      {.url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/"}, options);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded);
  close(listener);
}

// https to a server that speaks plain HTTP: the handshake fails, and that is an error, never a
// silent downgrade.
TEST_F(HttpClientTest, HttpsToAPlainServerFails) {
  auto response =
      HttpFetch({.url = "https://127.0.0.1:" + std::to_string(http_->port()) + "/"}, Loopback());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(response.status().message(), HasSubstr("TLS"));
}

// A port on loopback that was free a moment ago.
int FreePort() {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(s, reinterpret_cast<sockaddr*>(&address), &length);
  close(s);
  return ntohs(address.sin_port);
}

bool Accepts(int port) {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(s, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(s);
  return ok;
}

// A real TLS server: `openssl s_server -www` with a self-signed certificate for 127.0.0.1.
class HttpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("conclave-https-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    cert_ = (dir_ / "cert.pem").string();
    const std::string key = (dir_ / "key.pem").string();
    const std::string make =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
        " -addext subjectAltName=IP:127.0.0.1 -keyout " +
        key + " -out " + cert_ + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(make.c_str()), 0);
    port_ = FreePort();
    const std::string accept = "127.0.0.1:" + std::to_string(port_);
    const char* argv[] = {"openssl", "s_server",     "-quiet", "-www",
                          "-accept", accept.c_str(), "-cert",  cert_.c_str(),
                          "-key",    key.c_str(),    nullptr};
    ASSERT_EQ(
        posix_spawnp(&server_, "openssl", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
    // Readiness, not a guess at how long it takes: bounded polling of the port.
    for (int i = 0; i < 500 && !Accepts(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(Accepts(port_));
  }
  void TearDown() override {
    if (server_ > 0) {
      kill(server_, SIGTERM);
      waitpid(server_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  std::string Url() { return "https://127.0.0.1:" + std::to_string(port_) + "/"; }
  HttpClientOptions Options() {
    HttpClientOptions options;
    options.allowed_ranges = {"127.0.0.1/32"};
    options.timeout = absl::Seconds(5);
    return options;
  }

  std::filesystem::path dir_;
  std::string cert_;
  int port_ = 0;
  pid_t server_ = 0;
};

TEST_F(HttpsClientTest, VerifiesTheCertificateAgainstTheTrustedCas) {
  HttpClientOptions trusted = Options();
  trusted.ca_file = cert_;
  auto response = HttpFetch({.url = Url()}, trusted);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->body, HasSubstr("s_server"));

  // A trusted certificate for another name (127.0.0.1, asked as localhost): refused.
  auto wrong_name = HttpFetch({.url = "https://localhost:" + std::to_string(port_) + "/"}, trusted);
  EXPECT_EQ(wrong_name.status().code(), absl::StatusCode::kUnavailable);

  // The system's CAs do not know this certificate: refused, not downgraded.
  auto untrusted = HttpFetch({.url = Url()}, Options());
  EXPECT_EQ(untrusted.status().code(), absl::StatusCode::kUnavailable);
  HttpClientOptions unchecked = Options();
  unchecked.verify_certificates = false;
  EXPECT_TRUE(HttpFetch({.url = Url()}, unchecked).ok());
}

}  // namespace
}  // namespace conclave::core
