#include "conclave/core/listen_fds.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {

constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START

std::vector<int> TakeListenFds() {
  std::vector<int> fds;
  const char* pid_text = std::getenv("LISTEN_PID");
  const char* count_text = std::getenv("LISTEN_FDS");
  int pid = 0, count = 0;
  if (pid_text != nullptr && count_text != nullptr && absl::SimpleAtoi(pid_text, &pid) &&
      absl::SimpleAtoi(count_text, &count) && pid == getpid() && count > 0) {
    for (int fd = kListenFdsStart; fd < kListenFdsStart + count; ++fd) {
      fcntl(fd, F_SETFD, FD_CLOEXEC);
      fds.push_back(fd);
    }
  }
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv(kExecRestartVariable);
  unsetenv("LISTEN_FDNAMES");
  return fds;
}

absl::Status ExecWithListenFds(const std::string& executable, char** argv,
                               const std::vector<int>& fds) {
  // Move each descriptor to its slot via a duplicate above the range, so that no slot is
  // overwritten before its own descriptor has moved.
  std::vector<int> high;
  for (int fd : fds) {
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, kListenFdsStart + static_cast<int>(fds.size()) + 16);
    if (copy < 0) return absl::InternalError(core::StrCat("dup: ", std::strerror(errno)));
    high.push_back(copy);
  }
  for (size_t i = 0; i < high.size(); ++i) {
    int slot = kListenFdsStart + static_cast<int>(i);
    if (dup2(high[i], slot) < 0) {
      return absl::InternalError(core::StrCat("dup2: ", std::strerror(errno)));
    }
    fcntl(slot, F_SETFD, 0);  // survives exec
  }
  setenv("LISTEN_PID", core::StrCat(getpid()).c_str(), 1);
  setenv("LISTEN_FDS", core::StrCat(fds.size()).c_str(), 1);
  setenv("LISTEN_FDNAMES", "http", 1);
  setenv(kExecRestartVariable, "1", 1);
  execv(executable.c_str(), argv);
  int err = errno;
  for (size_t i = 0; i < high.size(); ++i) {
    fcntl(kListenFdsStart + static_cast<int>(i), F_SETFD, FD_CLOEXEC);
    close(high[i]);
  }
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  return absl::InternalError(core::StrCat("exec ", executable, ": ", std::strerror(err)));
}

}  // namespace conclave::core
