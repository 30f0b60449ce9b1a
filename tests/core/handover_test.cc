// The hand-over record of an exec restart (its text form and what a reader refuses), and the
// checks of a handed socket, on real loopback sockets.
#include "conclave/core/handover.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace conclave::core {
namespace {

using ::testing::HasSubstr;

HandOverRecord TwoConnections() {
  HandOverRecord record;
  record.closed_busy = 3;
  record.connections.push_back({5, "http", "127.0.0.1:40000", "none"});
  record.connections.push_back({6, "metrics", "[::1]:40001", "none"});
  return record;
}

TEST(HandOverRecord, RoundTrips) {
  const std::string text = EncodeHandOverRecord(TwoConnections());
  EXPECT_EQ(text,
            "conclave-handover 1\nclosed-busy 3\nconn 5 http 127.0.0.1:40000 none\n"
            "conn 6 metrics [::1]:40001 none\nend\n");
  auto parsed = ParseHandOverRecord(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->closed_busy, 3u);
  ASSERT_EQ(parsed->connections.size(), 2u);
  EXPECT_EQ(parsed->connections[0].fd, 5);
  EXPECT_EQ(parsed->connections[0].listener, "http");
  EXPECT_EQ(parsed->connections[0].peer, "127.0.0.1:40000");
  EXPECT_EQ(parsed->connections[1].fd, 6);
  EXPECT_EQ(parsed->connections[1].listener, "metrics");
  EXPECT_EQ(parsed->connections[1].peer, "[::1]:40001");
  EXPECT_EQ(parsed->connections[1].tls, "none");
}

TEST(HandOverRecord, EmptyRecordRoundTrips) {
  auto parsed = ParseHandOverRecord(EncodeHandOverRecord(HandOverRecord{}));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->connections.empty());
  EXPECT_EQ(parsed->closed_busy, 0u);
}

// Each damaged form of a good record is refused with a message that says what is wrong.
TEST(HandOverRecord, RefusesDamagedRecords) {
  const std::string good = EncodeHandOverRecord(TwoConnections());
  const struct {
    std::string text;
    std::string message;
  } cases[] = {
      {absl::StrReplaceAll(good, {{"conclave-handover 1", "conclave-handover 2"}}),
       "version 2, this build reads version 1"},
      {absl::StrReplaceAll(good, {{"conclave-handover 1", "something else"}}),
       "not a hand-over record"},
      {good.substr(0, good.size() - 4), "no 'end' line"},
      {good.substr(0, good.size() - 1), "no final newline"},
      {absl::StrReplaceAll(good, {{"conn 6", "conn 5"}}), "descriptor 5 twice"},
      {absl::StrReplaceAll(good, {{" metrics ", " admin "}}), "unknown listener 'admin'"},
      {absl::StrReplaceAll(good, {{"40001 none", "40001 tls13"}}), "unknown TLS mode 'tls13'"},
      {absl::StrReplaceAll(good, {{"conn 5", "conn -5"}}), "malformed conn"},
      {absl::StrReplaceAll(good, {{"conn 5 http", "conn 5  http"}}), "malformed conn"},
      {absl::StrReplaceAll(good, {{"closed-busy 3", "closed-busy many"}}), "malformed closed-busy"},
      {absl::StrReplaceAll(good, {{"closed-busy 3", "tls on"}}), "unknown line"},
      {good + "conn 7 http 127.0.0.1:1 none\n", "text after 'end'"},
      {"", "no final newline"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseHandOverRecord(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(c.message)) << c.text;
  }
}

// A listening socket on loopback and a client connected to it, accepted.
class HandedSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(listener_, 4), 0);
    socklen_t len = sizeof addr;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    client_ = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(connect(client_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    accepted_ = accept(listener_, nullptr, nullptr);
    ASSERT_GE(accepted_, 0);
    sockaddr_in local{};
    len = sizeof local;
    getsockname(client_, reinterpret_cast<sockaddr*>(&local), &len);
    client_port_ = ntohs(local.sin_port);
  }
  void TearDown() override {
    for (int fd : {listener_, client_, accepted_}) close(fd);
  }

  int listener_ = -1, client_ = -1, accepted_ = -1;
  int client_port_ = 0;
};

TEST_F(HandedSocketTest, PeerNameIsTheClientsAddress) {
  EXPECT_EQ(PeerName(accepted_), "127.0.0.1:" + std::to_string(client_port_));
  EXPECT_EQ(PeerName(listener_), "");  // not connected
}

TEST_F(HandedSocketTest, AcceptsTheConnectionItDescribes) {
  EXPECT_TRUE(CheckHandedSocket(accepted_, PeerName(accepted_)).ok());
}

TEST_F(HandedSocketTest, RefusesAnotherPeerAListenerAndANonSocket) {
  absl::Status other = CheckHandedSocket(accepted_, "127.0.0.1:1");
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(other.message()), HasSubstr("the record says '127.0.0.1:1'"));

  absl::Status listening = CheckHandedSocket(listener_, "127.0.0.1:1");
  EXPECT_EQ(listening.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(listening.message()), HasSubstr("not a connected stream socket"));

  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  absl::Status not_socket = CheckHandedSocket(pipe_fds[0], "127.0.0.1:1");
  EXPECT_EQ(not_socket.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(not_socket.message()), HasSubstr("is not a socket"));
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

}  // namespace
}  // namespace conclave::core
