#include "watcher.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "conclave/core/log.h"

namespace conclave {
namespace {

constexpr char kNinjaLog[] = ".ninja_log";
constexpr uint32_t kWriteEvents =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM;

std::string ReadMarker(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "a build step failed" : s;
}

}  // namespace

struct BuildWatcher::State {
  WatchOptions options;
  std::function<void(const BuildOutcome&)> on_build;
  int inotify = -1;
  int stop = -1;  // eventfd: written by the destructor
  // Watch descriptor -> watched base names in that directory.
  std::map<int, std::set<std::string>> names;
  int build_dir_wd = -1;

  ~State() {
    if (inotify >= 0) close(inotify);
    if (stop >= 0) close(stop);
  }
};

absl::StatusOr<std::unique_ptr<BuildWatcher>> BuildWatcher::Start(
    WatchOptions options, std::function<void(const BuildOutcome&)> on_build) {
  if (options.files.empty()) return absl::InvalidArgumentError("watch: no file to watch");
  auto state = std::make_unique<State>();
  state->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  state->stop = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (state->inotify < 0 || state->stop < 0) {
    return absl::InternalError(absl::StrCat("watch: inotify: ", std::strerror(errno)));
  }
  auto add = [&](const std::string& dir, uint32_t mask) -> absl::StatusOr<int> {
    int wd = inotify_add_watch(state->inotify, dir.c_str(), mask);
    if (wd < 0) {
      return absl::InternalError(absl::StrCat("watch: ", dir, ": ", std::strerror(errno)));
    }
    return wd;
  };
  // Directories, not files: a linker writes a new file (new inode) in place of the old one.
  for (const auto& file : options.files) {
    std::filesystem::path p(file);
    auto wd = add(p.parent_path().string(), kWriteEvents);
    if (!wd.ok()) return wd.status();
    state->names[*wd].insert(p.filename().string());
  }
  if (!options.build_dir.empty()) {
    auto wd = add(options.build_dir, kWriteEvents);
    if (!wd.ok()) return wd.status();
    state->build_dir_wd = *wd;
  }
  state->options = std::move(options);
  state->on_build = std::move(on_build);
  return std::unique_ptr<BuildWatcher>(new BuildWatcher(std::move(state)));
}

BuildWatcher::BuildWatcher(std::unique_ptr<State> state)
    : state_(std::move(state)), thread_([this] { Run(); }) {}

BuildWatcher::~BuildWatcher() {
  uint64_t one = 1;
  (void)!write(state_->stop, &one, sizeof one);
  thread_.join();
}

void BuildWatcher::Run() {
  pthread_setname_np(pthread_self(), "watch");
  State& s = *state_;
  const std::string marker = kBuildFailedMarker;
  bool ninja_running = false;  // ninja has written .ninja_log and not closed it yet
  // ninja closed .ninja_log after the last write seen: the build has ended, every step's output
  // is on disk, and the debounce (for builds without ninja) would only add latency.
  bool ninja_ended = false;
  bool failed = false;
  std::set<std::string> written;
  absl::Time last_write = absl::InfinitePast();
  alignas(inotify_event) char buffer[16 * 1024];
  for (;;) {
    const bool pending = failed || !written.empty();
    int timeout = -1;  // idle: sleep until something is written
    if (pending && !ninja_running) {
      const absl::Duration left =
          ninja_ended ? absl::ZeroDuration() : last_write + s.options.debounce - absl::Now();
      timeout = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(left) + 1));
    }
    pollfd fds[2] = {{s.inotify, POLLIN, 0}, {s.stop, POLLIN, 0}};
    int n = poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) {
      CONCLAVE_LOG(kError, "main", "watch: poll: {}; no longer watching (Ctrl+C still reloads)",
                   std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      ssize_t len;
      while ((len = read(s.inotify, buffer, sizeof buffer)) > 0) {
        for (char* p = buffer; p < buffer + len;) {
          auto* event = reinterpret_cast<inotify_event*>(p);
          p += sizeof(inotify_event) + event->len;
          const std::string name = event->len > 0 ? event->name : "";
          if (event->wd == s.build_dir_wd && name == kNinjaLog) {
            if (event->mask & IN_MODIFY) ninja_running = true;
            if (event->mask & IN_CLOSE_WRITE) ninja_running = false;
            ninja_ended = !ninja_running;
            last_write = absl::Now();
          } else if (event->wd == s.build_dir_wd && name == marker &&
                     (event->mask & IN_CLOSE_WRITE)) {
            failed = true;
            ninja_ended = false;
            last_write = absl::Now();
          }
          auto it = s.names.find(event->wd);
          if (it != s.names.end() && it->second.contains(name)) {
            written.insert(name);
            ninja_ended = false;
            last_write = absl::Now();
          }
        }
      }
      continue;  // recompute the timeout
    }
    if (!pending || ninja_running ||
        (!ninja_ended && absl::Now() < last_write + s.options.debounce)) {
      continue;
    }
    BuildOutcome outcome;
    outcome.failed = failed;
    if (failed) outcome.failure = ReadMarker(s.options.build_dir + "/" + marker);
    outcome.written.assign(written.begin(), written.end());
    failed = false;
    ninja_ended = false;
    written.clear();
    s.on_build(outcome);
  }
}

}  // namespace conclave
