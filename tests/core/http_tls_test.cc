// The federation (TLS) listener of the HTTP engine on a loopback socket: the same routes over
// TLS with keep-alive, the certificate checks, a SIGHUP-style certificate reload, and what a
// stop for a hand-over does to TLS connections (closes them; plain ones are handed over).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "conclave/core/config.h"
#include "conclave/core/handover.h"
#include "conclave/core/http.h"
#include "conclave/core/http_client.h"
#include "conclave/core/http_server.h"
#include "conclave/core/listen_fds.h"
#include "conclave/core/metrics.h"
#include "conclave/core/notifier.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http_get.h"

namespace conclave::core {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

// Writes a self-signed ed25519 certificate for 127.0.0.1 (and its key) with the openssl CLI.
void MakeCertificate(const std::string& cert, const std::string& key) {
  const std::string make =
      "openssl req -x509 -newkey ed25519 -nodes -days 1 -subj /CN=127.0.0.1"
      " -addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(make.c_str()), 0);
}

// A blocking HTTP/1.1 client over TLS on one keep-alive connection, verifying the server's
// certificate for 127.0.0.1 against `ca_file`. Thread-compatible.
class TlsClient {
 public:
  TlsClient(uint16_t port, const std::string& ca_file) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) return;
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    ssl_ = SSL_new(ctx_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    SSL_set_fd(ssl_, fd_);
    connected_ = SSL_connect(ssl_) == 1;
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;
  ~TlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(ctx_);
  }

  // Whether the handshake (certificate verified) succeeded.
  bool connected() const { return connected_; }
  // Sends a keep-alive GET of `path` and returns the whole response; "" if the connection closed.
  std::string Get(const std::string& path) {
    return Send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  // Sends `raw` (a whole request) and returns the whole response; "" if the connection closed.
  std::string Send(const std::string& raw) {
    if (SSL_write(ssl_, raw.data(), static_cast<int>(raw.size())) <= 0) return "";
    return ReadResponse();
  }
  // Whether the server ended the connection (close_notify or EOF) within 5 s.
  bool ClosedByServer() {
    timeval timeout{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char c;
    const int n = SSL_read(ssl_, &c, 1);
    const int error = SSL_get_error(ssl_, n);
    return n <= 0 &&
           (error == SSL_ERROR_ZERO_RETURN || error == SSL_ERROR_SYSCALL || error == SSL_ERROR_SSL);
  }

 private:
  std::string ReadResponse() {
    for (;;) {
      if (std::string out; TakeResponse(pending_, &out)) return out;
      char buf[4096];
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) return "";
      pending_.append(buf, static_cast<size_t>(n));
    }
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

// conclave_http_tls_handshake_failures_total, as the metrics page shows it.
uint64_t HandshakeFailures() {
  const std::string page = GlobalMetrics().Render();
  const std::string name = "\nconclave_http_tls_handshake_failures_total ";
  const size_t at = page.find(name);
  return at == std::string::npos ? 0 : std::stoull(page.substr(at + name.size()));
}

class HttpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("conclave-tls-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    MakeCertificate(cert_, key_);
    config_.port = 0;
    config_.federation_port = 0;
    config_.tls_certificate_path = cert_;
    config_.tls_private_key_path = key_;
    route_ = *router_.Add("m", "GET", "/hello", [](Request& r) {
      return Response{200, "text/plain", "hello " + r.path, {}, {}};
    });
  }
  void Start() {
    http_ = std::make_unique<HttpServer>(router_, notifier_, config_);
    ASSERT_TRUE(http_->Listen({}).ok());
    http_->Start(2);
    ASSERT_NE(http_->federation_port(), 0);
    ASSERT_NE(http_->federation_port(), http_->port());
  }
  void TearDown() override {
    if (http_ != nullptr) http_->Stop(absl::Seconds(2));
    std::filesystem::remove_all(dir_);
  }
  HttpClientOptions Trusting(const std::string& ca_file) {
    HttpClientOptions options;
    options.allowed_ranges = {"127.0.0.1/32"};
    options.timeout = absl::Seconds(5);
    options.ca_file = ca_file;
    return options;
  }
  std::string FederationUrl(const std::string& path) {
    return "https://127.0.0.1:" + std::to_string(http_->federation_port()) + path;
  }

  std::filesystem::path dir_;
  std::string cert_, key_;
  Config config_;
  Router router_;
  Notifier notifier_;
  RouteHandle route_;
  std::unique_ptr<HttpServer> http_;
};

TEST_F(HttpTlsTest, ServesTheSameRoutesOverTlsWithKeepAlive) {
  Start();
  TlsClient client(http_->federation_port(), cert_);
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 3; ++i) {
    const std::string response = client.Get("/hello");
    EXPECT_THAT(response, HasSubstr("200 OK"));
    EXPECT_THAT(response, Not(HasSubstr("Connection: close")));
    EXPECT_THAT(response, EndsWith("hello /hello"));
  }
  // The main listener still serves plain HTTP, and the TLS port does not.
  EXPECT_THAT(Get(http_->port(), "/hello"), EndsWith("hello /hello"));
  const uint64_t failures = HandshakeFailures();
  EXPECT_THAT(Get(http_->federation_port(), "/hello"), Not(HasSubstr("hello /hello")));
  EXPECT_EQ(HandshakeFailures(), failures + 1);
  // Core's own client, verifying the certificate.
  auto fetched = HttpFetch({.url = FederationUrl("/hello")}, Trusting(cert_));
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->status, 200);
  EXPECT_EQ(fetched->body, "hello /hello");
}

TEST_F(HttpTlsTest, TheListeningSocketIsNamedForAnExecRestart) {
  Start();
  int named = 0;
  for (int fd : http_->listening_fds()) {
    if (ListenFdName(fd) == kFederationListenerName) ++named;
  }
  EXPECT_EQ(named, 1);
}

TEST_F(HttpTlsTest, NoCertificatePathMeansNoFederationListener) {
  config_.tls_certificate_path.clear();
  http_ = std::make_unique<HttpServer>(router_, notifier_, config_);
  ASSERT_TRUE(http_->Listen({}).ok());
  EXPECT_EQ(http_->federation_port(), 0);
  EXPECT_EQ(http_->listening_fds().size(), 1u);
  EXPECT_TRUE(CheckTlsListener(config_).ok());
  EXPECT_TRUE(http_->ReloadTlsCertificate().ok());
}

TEST_F(HttpTlsTest, ReloadedCertificateIsServedToNewConnections) {
  Start();
  TlsClient before(http_->federation_port(), cert_);
  ASSERT_TRUE(before.connected());
  const std::string old_cert = (dir_ / "old.pem").string();
  std::filesystem::copy_file(cert_, old_cert);
  MakeCertificate(cert_, key_);  // a new key pair at the configured paths
  ASSERT_TRUE(http_->ReloadTlsCertificate().ok());

  auto trusting_old = HttpFetch({.url = FederationUrl("/hello")}, Trusting(old_cert));
  EXPECT_EQ(trusting_old.status().code(), absl::StatusCode::kUnavailable);
  auto trusting_new = HttpFetch({.url = FederationUrl("/hello")}, Trusting(cert_));
  ASSERT_TRUE(trusting_new.ok()) << trusting_new.status();
  EXPECT_EQ(trusting_new->body, "hello /hello");
  // A connection made before keeps its session.
  EXPECT_THAT(before.Get("/hello"), EndsWith("hello /hello"));

  // A broken file is refused and the running certificate stays.
  std::ofstream(key_) << "not a key\n";
  EXPECT_EQ(http_->ReloadTlsCertificate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(HttpFetch({.url = FederationUrl("/hello")}, Trusting(cert_)).ok());
}

// TLS session state cannot cross an exec: a hand-over closes idle TLS connections (after
// close_notify) and hands over the plain ones.
TEST_F(HttpTlsTest, AHandOverClosesTlsConnectionsAndHandsOverPlainOnes) {
  Start();
  TlsClient tls(http_->federation_port(), cert_);
  ASSERT_TRUE(tls.connected());
  EXPECT_THAT(tls.Get("/hello"), EndsWith("hello /hello"));
  KeepAliveClient plain(http_->port());
  plain.Send(KeepAliveClient::Get("/hello"));
  EXPECT_THAT(plain.ReadResponse(), EndsWith("hello /hello"));

  HandOver handover = http_->StopForHandOver(absl::Seconds(5));
  ASSERT_EQ(handover.connections.size(), 1u);
  EXPECT_EQ(handover.connections[0].listener, kHttpListenerName);
  EXPECT_EQ(handover.closed_busy, 0u);
  EXPECT_TRUE(tls.ClosedByServer());
  for (const HandedConnection& h : handover.connections) close(h.fd);
}

// File responses (no sendfile(2) through TLS: read and written in chunks) and bodies streamed to
// a file (RouteOptions::body_to_file) work over TLS as over plain HTTP.
TEST_F(HttpTlsTest, FileBodiesBothWaysOverTls) {
  std::string content;
  for (size_t i = 0; i < 300 * 1024 + 7; ++i) content.push_back(static_cast<char>(i % 251));
  std::ofstream(dir_ / "f", std::ios::binary) << content;
  auto download = *router_.Add("m", "GET", "/file", [this](Request&) {
    Response response;
    response.content_type = "application/octet-stream";
    auto file = ResponseFile::Open((dir_ / "f").string());
    if (file.ok()) response.file = *std::move(file);
    return response;
  });
  std::filesystem::create_directories(dir_ / "up");
  RouteOptions options;
  options.body_to_file = RouteOptions::BodyToFile{(dir_ / "up").string(), 1 << 20};
  auto upload = *router_.Add(
      "m", "POST", "/up",
      [](Request& request) {
        std::ifstream in(request.body_file, std::ios::binary);
        std::string body((std::istreambuf_iterator<char>(in)), {});
        return Response{
            200, "text/plain", std::to_string(body.size()) + ":" + body.substr(0, 5), {}, {}};
      },
      options);
  Start();
  TlsClient client(http_->federation_port(), cert_);
  ASSERT_TRUE(client.connected());
  const std::string response = client.Get("/file");
  EXPECT_THAT(response, HasSubstr("200 OK"));
  EXPECT_THAT(response, EndsWith(content));
  const std::string body(200000, 'u');
  EXPECT_THAT(client.Send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + body),
              EndsWith("200000:uuuuu"));
  EXPECT_THAT(client.Get("/hello"), EndsWith("hello /hello"));  // still in step
}

// A request in flight over TLS when a hand-over starts is answered by this engine with
// Connection: close (its TLS session cannot follow the socket), then the connection closes.
TEST_F(HttpTlsTest, AnInFlightTlsRequestIsAnsweredWithConnectionCloseAtAHandOver) {
  absl::Notification entered, release;
  auto slow = *router_.Add(
      "m", "GET", "/slow",
      [&](Request&) {
        entered.Notify();
        release.WaitForNotificationWithTimeout(absl::Seconds(10));
        return Response{200, "text/plain", "slow done", {}, {}};
      },
      RouteOptions{.blocking = true});
  Start();
  TlsClient client(http_->federation_port(), cert_);
  ASSERT_TRUE(client.connected());
  auto answer = std::async(std::launch::async, [&] { return client.Get("/slow"); });
  entered.WaitForNotification();
  auto handover =
      std::async(std::launch::async, [&] { return http_->StopForHandOver(absl::Seconds(5)); });
  // The stop has begun once the notifier is interrupted (it is, after `stopping` is set).
  struct Probe : Notifier::Waiter {
    void Wake(WakeReason) override {}
  } probe;
  for (int i = 0; i < 5000; ++i) {
    if (notifier_.Subscribe("probe", notifier_.Version("probe"), &probe) ==
        WakeReason::kInterrupted) {
      break;
    }
    notifier_.Unsubscribe("probe", &probe);
    absl::SleepFor(absl::Milliseconds(1));
  }
  release.Notify();
  const std::string response = answer.get();
  EXPECT_THAT(response, HasSubstr("Connection: close"));
  EXPECT_THAT(response, EndsWith("slow done"));
  HandOver handed = handover.get();
  EXPECT_TRUE(handed.connections.empty());
  EXPECT_EQ(handed.closed_busy, 0u);
  EXPECT_TRUE(client.ClosedByServer());
}

// The exec restart's side in the next image: a listening socket named "federation" becomes its
// TLS listener (same port, the certificate loaded again); without a certificate it is closed.
TEST_F(HttpTlsTest, AnInheritedFederationSocketIsAdoptedOrClosed) {
  Start();
  int federation_fd = -1;
  for (int fd : http_->listening_fds()) {
    if (ListenFdName(fd) == kFederationListenerName) federation_fd = fd;
  }
  ASSERT_GE(federation_fd, 0);
  const uint16_t port = http_->federation_port();

  Router router;
  Notifier notifier;
  auto route = *router.Add("m", "GET", "/hello", [](Request&) {
    return Response{200, "text/plain", "next", {}, {}};
  });
  const int inherited = dup(federation_fd);
  SetListenFdName(inherited, kFederationListenerName);
  Config next_config = config_;
  next_config.federation_port = 1;  // ignored: the socket is inherited
  HttpServer next(router, notifier, next_config);
  ASSERT_TRUE(next.Listen({inherited}).ok());
  EXPECT_EQ(next.federation_port(), port);
  http_->Stop(absl::Seconds(2));
  http_->CloseListeners();  // the old image's copy goes; the inherited one serves
  next.Start(1);
  TlsClient client(port, cert_);
  ASSERT_TRUE(client.connected());
  EXPECT_THAT(client.Get("/hello"), EndsWith("next"));
  next.Stop(absl::Seconds(2));

  const int unwanted = dup(inherited);
  SetListenFdName(unwanted, kFederationListenerName);
  Config plain = config_;
  plain.tls_certificate_path.clear();
  HttpServer without(router, notifier, plain);
  ASSERT_TRUE(without.Listen({unwanted}).ok());
  EXPECT_EQ(without.federation_port(), 0);
  // Closed (its descriptor number may be reused at once): only a main listener of its own,
  // bound anew, is left.
  ASSERT_EQ(without.listening_fds().size(), 1u);
  EXPECT_NE(without.port(), port);
  EXPECT_EQ(ListenFdName(without.listening_fds()[0]), kHttpListenerName);
}

TEST(CheckTlsListener, NamesTheKeyAndThePathOfABadFile) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("conclave-tls-check-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  const std::string other_cert = (dir / "other.pem").string();
  const std::string other_key = (dir / "other-key.pem").string();
  MakeCertificate(cert, key);
  MakeCertificate(other_cert, other_key);
  Config config;
  config.tls_certificate_path = cert;
  config.tls_private_key_path = key;
  EXPECT_TRUE(CheckTlsListener(config).ok());

  config.tls_certificate_path = (dir / "missing.pem").string();
  absl::Status missing = CheckTlsListener(config);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("tls_certificate_path"));
  EXPECT_THAT(missing.message(), HasSubstr("missing.pem"));

  config.tls_certificate_path = cert;
  config.tls_private_key_path = other_key;
  absl::Status mismatch = CheckTlsListener(config);
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.message(), HasSubstr("tls_private_key_path"));
  EXPECT_THAT(mismatch.message(), HasSubstr("does not match the certificate"));

  std::ofstream(dir / "junk.pem") << "-----BEGIN CERTIFICATE-----\nnope\n";
  config.tls_certificate_path = (dir / "junk.pem").string();
  config.tls_private_key_path = key;
  absl::Status junk = CheckTlsListener(config);
  EXPECT_EQ(junk.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(junk.message(), HasSubstr("not a PEM certificate"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace conclave::core
