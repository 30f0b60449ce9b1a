#include "conclave/core/sd_notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace conclave::core {
namespace {

// A datagram socket standing where systemd's would: bound to `name` (a path, or '@' + an
// abstract name), NOTIFY_SOCKET pointing at it.
class NotifySocket {
 public:
  explicit NotifySocket(std::string name) : name_(std::move(name)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name_.data(), name_.size());
    if (name_[0] == '@') address.sun_path[0] = '\0';
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&address),
                  offsetof(sockaddr_un, sun_path) + name_.size()) == 0;
    timeval timeout{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setenv("NOTIFY_SOCKET", name_.c_str(), 1);
  }
  ~NotifySocket() {
    unsetenv("NOTIFY_SOCKET");
    close(fd_);
    if (name_[0] == '/') unlink(name_.c_str());
  }
  bool bound() const { return bound_; }
  std::string Receive() {
    char buffer[4096];
    ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    return n < 0 ? "<nothing>" : std::string(buffer, static_cast<size_t>(n));
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(SdNotifyTest, WithoutNotifySocketDoesNothing) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(NotifyServiceManager("READY=1").ok());
}

TEST(SdNotifyTest, SendsToAPathSocket) {
  NotifySocket socket(testing::TempDir() + "notify-" + std::to_string(getpid()));
  ASSERT_TRUE(socket.bound());
  ASSERT_TRUE(NotifyServiceManager("READY=1\nSTATUS=serving").ok());
  EXPECT_EQ(socket.Receive(), "READY=1\nSTATUS=serving");
}

TEST(SdNotifyTest, SendsToAnAbstractSocket) {
  NotifySocket socket("@conclave-notify-test-" + std::to_string(getpid()));
  ASSERT_TRUE(socket.bound());
  ASSERT_TRUE(NotifyReloading("restarting").ok());
  const std::string got = socket.Receive();
  EXPECT_EQ(got.rfind("RELOADING=1\nSTATUS=restarting\nMONOTONIC_USEC=", 0), 0u) << got;
  EXPECT_GT(std::stoll(got.substr(got.rfind('=') + 1)), 0);
}

TEST(SdNotifyTest, ErrorsAreReturnedNotThrown) {
  setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_EQ(NotifyServiceManager("READY=1").code(), absl::StatusCode::kInvalidArgument);
  setenv("NOTIFY_SOCKET", "/nonexistent-dir/notify", 1);
  EXPECT_EQ(NotifyServiceManager("READY=1").code(), absl::StatusCode::kUnavailable);
  unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace conclave::core
