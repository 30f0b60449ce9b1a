// systemd's socket-passing protocol (sd_listen_fds(3)): adopting inherited listening sockets at
// start, and handing ours to the next image across an exec restart, with the client
// connections idle between two requests (handover.h).
//
// Across an exec restart the descriptors are, from 3 on: the LISTEN_FDS listening sockets, then,
// when kHandOverVariable = N is set, N more: a memfd holding the hand-over record
// (EncodeHandOverRecord()), then the N - 1 connections it describes. systemd passes listening
// sockets only (no kHandOverVariable), so socket activation works as before.
#ifndef CONCLAVE_CORE_LISTEN_FDS_H_
#define CONCLAVE_CORE_LISTEN_FDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "conclave/core/handover.h"

namespace conclave::core {

// The number of descriptors after the LISTEN_FDS ones that belong to the hand-over (the record,
// then the connections). Read only when LISTEN_PID is this process.
inline constexpr char kHandOverVariable[] = "CONCLAVE_HANDOVER_FDS";

// What the previous image (or systemd) passed.
struct InheritedFds {
  std::vector<int> listeners;  // listening sockets, from 3 on
  HandOver handover;           // the connections whose record entry and socket checked out
};

// Returns the descriptors passed by LISTEN_FDS when LISTEN_PID is this process (starting at 3),
// and the hand-over after them (kHandOverVariable), all marked close-on-exec; records the
// listeners' LISTEN_FDNAMES names (ListenFdName()) and unsets LISTEN_PID, LISTEN_FDS,
// LISTEN_FDNAMES and kHandOverVariable. A record that does not parse, a connection the record
// does not describe or whose socket does not match its entry (CheckHandedSocket()) is closed
// and logged (counted in HandOver::closed_invalid); it never fails. Empty if nothing was passed.
InheritedFds TakeInheritedFds();

// The names of listening sockets, which say what each one serves across an exec restart (and
// with systemd's FileDescriptorName=): kHttpListenerName for the main listener,
// kMetricsListenerName for the separate metrics listener (config metrics_address/metrics_port),
// kFederationListenerName for the TLS federation listener.
inline constexpr char kHttpListenerName[] = "http";
inline constexpr char kMetricsListenerName[] = "metrics";
// The federation listener (TLS; config federation_port). Its client connections are never
// handed over (TLS session state cannot cross an exec): only the listening socket is passed.
inline constexpr char kFederationListenerName[] = "federation";
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
// when none was recorded), and kExecRestartVariable = "1"; then, unless `handover` is empty,
// kHandOverVariable, the record and its connections (a connection whose peer is gone is left
// out: the exec closes it). Returns only on failure (kInternal with errno's text); then every
// descriptor of the process is as it was (the caller still owns `fds` and `handover`).
absl::Status ExecWithListenFds(const std::string& executable, char** argv,
                               const std::vector<int>& fds, const HandOver& handover = {});

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_LISTEN_FDS_H_
