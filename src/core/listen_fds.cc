#include "conclave/core/listen_fds.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "conclave/core/log.h"
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

namespace {

// Reads the whole record from memfd `fd` (at most 64 MiB: a million connections).
absl::StatusOr<std::string> ReadRecord(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    return absl::FailedPreconditionError(StrCat("fstat: ", std::strerror(errno)));
  }
  if (st.st_size <= 0 || st.st_size > (int64_t{64} << 20)) {
    return absl::FailedPreconditionError(StrCat("record of ", st.st_size, " bytes"));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = pread(fd, text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::FailedPreconditionError(StrCat("read: ", std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
  return text;
}

// Takes the hand-over in descriptors [first, first + count): the record, then its connections.
HandOver TakeHandOver(int first, int count) {
  HandOver out;
  const int end = first + count;
  std::set<int> unclaimed;
  for (int fd = first + 1; fd < end; ++fd) unclaimed.insert(fd);
  auto record = ReadRecord(first);
  close(first);
  if (record.ok()) {
    auto parsed = ParseHandOverRecord(*record);
    if (parsed.ok()) {
      out.closed_busy = parsed->closed_busy;
      for (auto& c : parsed->connections) {
        absl::Status fine = unclaimed.erase(c.fd) == 1
                                ? CheckHandedSocket(c.fd, c.peer)
                                : absl::FailedPreconditionError(StrCat(
                                      "descriptor ", c.fd, " is not one of the hand-over's"));
        if (fine.ok()) {
          out.connections.push_back({c.fd, c.listener});
          continue;
        }
        CONCLAVE_LOG(kError, "http", "handed connection dropped: {}", fine.message());
        if (c.fd >= first + 1 && c.fd < end) close(c.fd);
        ++out.closed_invalid;
      }
    } else {
      record = parsed.status();
    }
  }
  if (!record.ok()) {
    CONCLAVE_LOG(kError, "http", "closing the {} handed connections: {}", count - 1,
                 record.status().message());
  } else if (!unclaimed.empty()) {
    CONCLAVE_LOG(kError, "http", "closing {} handed descriptors the record does not describe",
                 unclaimed.size());
  }
  for (int fd : unclaimed) close(fd);
  out.closed_invalid += unclaimed.size();
  return out;
}

}  // namespace

InheritedFds TakeInheritedFds() {
  InheritedFds out;
  const char* pid_text = std::getenv("LISTEN_PID");
  const char* count_text = std::getenv("LISTEN_FDS");
  const char* handover_text = std::getenv(kHandOverVariable);
  int pid = 0, count = 0, handover = 0;
  if (pid_text != nullptr && count_text != nullptr && absl::SimpleAtoi(pid_text, &pid) &&
      absl::SimpleAtoi(count_text, &count) && pid == getpid() && count > 0) {
    // LISTEN_FDNAMES: one name per descriptor, ':'-separated (sd_listen_fds_with_names(3)).
    std::vector<std::string> names;
    if (const char* text = std::getenv("LISTEN_FDNAMES"); text != nullptr) {
      names = absl::StrSplit(text, ':');
    }
    for (int fd = kListenFdsStart; fd < kListenFdsStart + count; ++fd) {
      fcntl(fd, F_SETFD, FD_CLOEXEC);
      out.listeners.push_back(fd);
      const size_t i = static_cast<size_t>(fd - kListenFdsStart);
      SetListenFdName(fd, i < names.size() ? names[i] : std::string());
    }
    if (handover_text != nullptr) {
      if (absl::SimpleAtoi(handover_text, &handover) && handover > 0 && handover < (1 << 24)) {
        const int first = kListenFdsStart + count;
        for (int fd = first; fd < first + handover; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
        out.handover = TakeHandOver(first, handover);
      } else {
        CONCLAVE_LOG(kError, "http", "ignoring {}='{}': not a descriptor count", kHandOverVariable,
                     handover_text);
      }
    }
  }
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv(kExecRestartVariable);
  unsetenv("LISTEN_FDNAMES");
  unsetenv(kHandOverVariable);
  return out;
}

namespace {

// The descriptors ExecWithListenFds() moves to 3, 4, ...: copies above that range of what it
// passes, and of whatever occupied each slot before, so that a failed exec puts every descriptor
// back as it was.
class FdSlots {
 public:
  ~FdSlots() {
    for (size_t i = 0; i < saved_.size(); ++i) {
      const int slot = kListenFdsStart + static_cast<int>(i);
      if (saved_[i].fd >= 0) {
        dup2(saved_[i].fd, slot);
        fcntl(slot, F_SETFD, saved_[i].flags);
        close(saved_[i].fd);
      } else if (placed_ > i) {
        close(slot);  // was free
      }
    }
    for (int fd : copies_) close(fd);
  }

  // Copies `fds` and what their slots hold now; then moves each copy to its slot, not
  // close-on-exec.
  absl::Status Place(const std::vector<int>& fds) {
    const int above = kListenFdsStart + static_cast<int>(fds.size()) + 16;
    for (int fd : fds) {
      int copy = fcntl(fd, F_DUPFD_CLOEXEC, above);
      if (copy < 0) return absl::InternalError(StrCat("dup: ", std::strerror(errno)));
      copies_.push_back(copy);
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      const int slot = kListenFdsStart + static_cast<int>(i);
      Saved s;
      s.flags = fcntl(slot, F_GETFD);
      if (s.flags >= 0) {
        s.fd = fcntl(slot, F_DUPFD_CLOEXEC, above);
        if (s.fd < 0) return absl::InternalError(StrCat("dup: ", std::strerror(errno)));
      }
      saved_.push_back(s);
    }
    for (size_t i = 0; i < copies_.size(); ++i) {
      const int slot = kListenFdsStart + static_cast<int>(i);
      if (dup2(copies_[i], slot) < 0) {
        return absl::InternalError(StrCat("dup2: ", std::strerror(errno)));
      }
      placed_ = i + 1;
      fcntl(slot, F_SETFD, 0);  // survives exec
    }
    return absl::OkStatus();
  }

 private:
  struct Saved {
    int fd = -1;  // a copy of what the slot held, or -1 if it was free
    int flags = -1;
  };
  std::vector<int> copies_;
  std::vector<Saved> saved_;
  size_t placed_ = 0;
};

// A memfd holding `text`, or -1 with errno set.
int RecordFd(const std::string& text) {
  int fd = memfd_create("conclave-handover", MFD_CLOEXEC);
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      close(fd);
      errno = err;
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  return fd;
}

}  // namespace

absl::Status ExecWithListenFds(const std::string& executable, char** argv,
                               const std::vector<int>& listeners, const HandOver& handover) {
  std::vector<int> fds = listeners;
  std::string names;
  for (size_t i = 0; i < listeners.size(); ++i) {
    std::string name = ListenFdName(listeners[i]);
    StrAppend(&names, i == 0 ? "" : ":", name.empty() ? kHttpListenerName : name);
  }
  int record_fd = -1;
  if (!handover.connections.empty() || handover.closed_busy > 0) {
    HandOverRecord record;
    record.closed_busy = handover.closed_busy;
    std::vector<int> passed;
    for (const HandedConnection& c : handover.connections) {
      std::string peer = PeerName(c.fd);
      if (peer.empty()) continue;  // the client is gone
      const int slot = kListenFdsStart + static_cast<int>(listeners.size() + 1 + passed.size());
      record.connections.push_back({slot, c.listener, std::move(peer), "none"});
      passed.push_back(c.fd);
    }
    record_fd = RecordFd(EncodeHandOverRecord(record));
    if (record_fd < 0) {
      return absl::InternalError(StrCat("memfd for the hand-over: ", std::strerror(errno)));
    }
    fds.push_back(record_fd);
    fds.insert(fds.end(), passed.begin(), passed.end());
  }
  absl::Status placed;
  {
    FdSlots slots;
    placed = slots.Place(fds);
    if (placed.ok()) {
      setenv("LISTEN_PID", StrCat(getpid()).c_str(), 1);
      setenv("LISTEN_FDS", StrCat(listeners.size()).c_str(), 1);
      setenv("LISTEN_FDNAMES", names.c_str(), 1);
      if (record_fd >= 0) {
        setenv(kHandOverVariable, StrCat(fds.size() - listeners.size()).c_str(), 1);
      }
      setenv(kExecRestartVariable, "1", 1);
      execv(executable.c_str(), argv);
      placed = absl::InternalError(StrCat("exec ", executable, ": ", std::strerror(errno)));
    }
  }  // a failed exec: every slot back as it was
  if (record_fd >= 0) close(record_fd);
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  unsetenv(kHandOverVariable);
  unsetenv(kExecRestartVariable);
  return placed;
}

}  // namespace conclave::core
