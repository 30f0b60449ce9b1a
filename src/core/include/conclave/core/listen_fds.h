// systemd's socket-passing protocol (sd_listen_fds(3)): adopting inherited listening sockets at
// start, and handing ours to the next image across an exec restart.
#ifndef CONCLAVE_CORE_LISTEN_FDS_H_
#define CONCLAVE_CORE_LISTEN_FDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace conclave::core {

// Returns the descriptors passed by LISTEN_FDS when LISTEN_PID is this process (starting at 3),
// marks them close-on-exec, records their LISTEN_FDNAMES names (ListenFdName()) and unsets
// LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES. Empty if none.
std::vector<int> TakeListenFds();

// The names of listening sockets, which say what each one serves across an exec restart (and
// with systemd's FileDescriptorName=): kHttpListenerName for the main listener,
// kMetricsListenerName for the separate metrics listener (config metrics_address/metrics_port).
inline constexpr char kHttpListenerName[] = "http";
inline constexpr char kMetricsListenerName[] = "metrics";
// Returns the name recorded for `fd` (by TakeListenFds() or SetListenFdName()), or "" if none.
// Thread-safe.
std::string ListenFdName(int fd);
// Records (or, with an empty `name`, forgets) the name of listening socket `fd`, passed on by
// ExecWithListenFds(). `name` must not contain ':'. Thread-safe.
void SetListenFdName(int fd, const std::string& name);

// Set in the environment of an exec restart, so the new image knows it is one (and does not run
// the one-shot `--execute` commands of its command line again). Not a config key: main reads and
// removes it before the config is loaded.
inline constexpr char kExecRestartVariable[] = "CONCLAVE_EXEC_RESTARTED";

// Re-executes `executable` with `argv`, passing `fds` as LISTEN_FDS (moved to 3, 4, ...; not
// close-on-exec), LISTEN_PID = this pid, LISTEN_FDNAMES = their names (ListenFdName(), "http"
// when none was recorded), and kExecRestartVariable = "1".
// Returns only on failure
// (kInternal with errno's text); then the descriptors are still open and usable.
absl::Status ExecWithListenFds(const std::string& executable, char** argv,
                               const std::vector<int>& fds);

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_LISTEN_FDS_H_
