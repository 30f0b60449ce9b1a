// A blocking HTTP/1.1 client for the tests that drive the real engine on a loopback socket.
#ifndef CONCLAVE_TESTS_CORE_HTTP_GET_H_
#define CONCLAVE_TESTS_CORE_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace conclave::core {

// Sends `raw` on a fresh connection and returns everything read until the server closes it.
inline std::string Exchange(uint16_t port, const std::string& raw) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "connect failed";
  (void)!write(fd, raw.data(), raw.size());
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
  close(fd);
  return out;
}

// Moves the first whole response (head and body framed by Content-Length, as the engine sends)
// from `pending` to `*out`; false when `pending` holds none yet.
inline bool TakeResponse(std::string& pending, std::string* out) {
  const size_t head_end = pending.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  size_t length = 0;
  const size_t at = pending.find("Content-Length: ");
  if (at != std::string::npos && at < head_end) length = std::stoul(pending.substr(at + 16));
  const size_t total = head_end + 4 + length;
  if (pending.size() < total) return false;
  *out = pending.substr(0, total);
  pending.erase(0, total);
  return true;
}

// One blocking HTTP/1.1 GET; returns the whole response text (Connection: close).
inline std::string Get(uint16_t port, const std::string& path) {
  return Exchange(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

// A blocking HTTP/1.1 client on one keep-alive connection. Reads responses framed by
// Content-Length (what the engine sends). Thread-compatible.
class KeepAliveClient {
 public:
  explicit KeepAliveClient(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  KeepAliveClient(const KeepAliveClient&) = delete;
  KeepAliveClient& operator=(const KeepAliveClient&) = delete;
  ~KeepAliveClient() { close(fd_); }

  bool connected() const { return connected_; }
  // Writes `raw` as is (one write: several requests arrive together).
  void Send(const std::string& raw) { (void)!write(fd_, raw.data(), raw.size()); }
  static std::string Get(const std::string& path) {
    return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  // Reads one whole response (head and body); "" if the connection closed first.
  std::string ReadResponse() {
    for (;;) {
      if (std::string out; TakeResponse(pending_, &out)) return out;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return "";
      pending_.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string pending_;
};

}  // namespace conclave::core

#endif  // CONCLAVE_TESTS_CORE_HTTP_GET_H_
