#include "conclave/core/listen_fds.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START

// Names of listening descriptors; descriptors are process-wide, so is this table. Never
// destroyed (core is permanent).
std::mutex& NamesMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}
std::map<int, std::string>& Names() {
  static auto* names = new std::map<int, std::string>;
  return *names;
}

}  // namespace

std::string ListenFdName(int fd) {
  std::lock_guard lock(NamesMutex());
  auto it = Names().find(fd);
  return it == Names().end() ? std::string() : it->second;
}

void SetListenFdName(int fd, const std::string& name) {
  std::lock_guard lock(NamesMutex());
  if (name.empty()) {
    Names().erase(fd);
  } else {
    Names()[fd] = name;
  }
}

std::vector<int> TakeListenFds() {
  std::vector<int> fds;
  const char* pid_text = std::getenv("LISTEN_PID");
  const char* count_text = std::getenv("LISTEN_FDS");
  int pid = 0, count = 0;
  if (pid_text != nullptr && count_text != nullptr && absl::SimpleAtoi(pid_text, &pid) &&
      absl::SimpleAtoi(count_text, &count) && pid == getpid() && count > 0) {
    // LISTEN_FDNAMES: one name per descriptor, ':'-separated (sd_listen_fds_with_names(3)).
    std::vector<std::string> names;
    if (const char* text = std::getenv("LISTEN_FDNAMES"); text != nullptr) {
      names = absl::StrSplit(text, ':');
    }
    for (int fd = kListenFdsStart; fd < kListenFdsStart + count; ++fd) {
      fcntl(fd, F_SETFD, FD_CLOEXEC);
      fds.push_back(fd);
      const size_t i = static_cast<size_t>(fd - kListenFdsStart);
      SetListenFdName(fd, i < names.size() ? names[i] : std::string());
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
  std::string names;
  for (size_t i = 0; i < fds.size(); ++i) {
    std::string name = ListenFdName(fds[i]);
    StrAppend(&names, i == 0 ? "" : ":", name.empty() ? kHttpListenerName : name);
  }
  setenv("LISTEN_FDNAMES", names.c_str(), 1);
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
