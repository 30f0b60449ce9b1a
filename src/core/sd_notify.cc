#include "conclave/core/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "conclave/core/str_cat.h"

namespace conclave::core {

absl::Status NotifyServiceManager(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return absl::OkStatus();
  std::string_view name(path);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if ((name.front() != '/' && name.front() != '@') || name.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(
        core::StrCat("NOTIFY_SOCKET '", name, "' is not an absolute path or @abstract name"));
  }
  std::memcpy(address.sun_path, name.data(), name.size());
  if (name.front() == '@') address.sun_path[0] = '\0';  // the abstract namespace
  const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());

  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(core::StrCat("NOTIFY_SOCKET: socket: ", std::strerror(errno)));
  }
  ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&address), length);
  const int err = errno;
  close(fd);
  if (sent < 0) {
    return absl::UnavailableError(
        core::StrCat("NOTIFY_SOCKET ", name, ": sendto: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::Status NotifyReloading(std::string_view status) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  return NotifyServiceManager(
      core::StrCat("RELOADING=1\nSTATUS=", status, "\nMONOTONIC_USEC=", usec));
}

}  // namespace conclave::core
