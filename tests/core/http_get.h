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

// One blocking HTTP/1.1 GET; returns the whole response text (Connection: close).
inline std::string Get(uint16_t port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "connect failed";
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
  close(fd);
  return out;
}

}  // namespace conclave::core

#endif  // CONCLAVE_TESTS_CORE_HTTP_GET_H_
