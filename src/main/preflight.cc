#include "preflight.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "conclave/core/str_cat.h"

extern char** environ;

namespace conclave {
namespace {

constexpr size_t kMaxOutput = 4096;  // the check prints one line; keep the tail of anything more

// The last lines of the check's output, one line for the log.
std::string Tail(std::string output) {
  if (output.size() > kMaxOutput) output.erase(0, output.size() - kMaxOutput);
  std::string out;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipWhitespace())) {
    if (!out.empty()) out += " | ";
    out.append(line.data(), line.size());
  }
  return out.empty() ? "no output" : out;
}

}  // namespace

absl::Status PreflightCheck(const std::string& executable, int argc, char** argv,
                            absl::Duration timeout) {
  if (executable.empty()) {
    return absl::FailedPreconditionError("the path of the running binary is unknown");
  }
  std::vector<std::string> args;
  args.push_back(executable);
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  args.emplace_back("--check-config");
  std::vector<char*> child_argv;
  for (auto& a : args) child_argv.push_back(a.data());
  child_argv.push_back(nullptr);

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    return absl::FailedPreconditionError(core::StrCat("pipe: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  // The child starts with our blocked signal mask; give it the default one, as exec would not.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int spawned =
      posix_spawn(&pid, executable.c_str(), &actions, &attr, child_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  if (spawned != 0) {
    close(out[0]);
    return absl::FailedPreconditionError(
        core::StrCat("cannot run ", executable, ": ", std::strerror(spawned)));
  }

  std::string output;
  const absl::Time deadline = absl::Now() + timeout;
  bool timed_out = false;
  for (;;) {
    const int left_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left_ms <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    const int ready = poll(&p, 1, left_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // timeout: the loop head notices
    char buffer[1024];
    const ssize_t n = read(out[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child closed its output (it exited, or is exiting)
    output.append(buffer, static_cast<size_t>(n));
    if (output.size() > 2 * kMaxOutput) output.erase(0, output.size() - kMaxOutput);
  }
  close(out[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::FailedPreconditionError(core::StrCat(
        executable, " --check-config did not finish in ", absl::FormatDuration(timeout)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  std::string how = WIFEXITED(status) ? core::StrCat("exited with status ", WEXITSTATUS(status))
                                      : core::StrCat("was killed by signal ", WTERMSIG(status),
                                                     " (", strsignal(WTERMSIG(status)), ")");
  return absl::FailedPreconditionError(
      core::StrCat(executable, " --check-config ", how, ": ", Tail(std::move(output))));
}

}  // namespace conclave
