// The check before an exec restart: runs the binary now on disk with `--check-config` and the
// running process's arguments and environment, so that a binary that cannot start (missing,
// not executable, crashing, built for another machine) or an invalid config file is found while
// the old image still serves. Only if the check passes does main drain, stop and exec.
#ifndef CONCLAVE_MAIN_PREFLIGHT_H_
#define CONCLAVE_MAIN_PREFLIGHT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace conclave {

// Runs `executable` with argv[1..argc) followed by "--check-config", stdin from /dev/null, and
// waits at most `timeout` (then kills it). Returns OK when it exits 0, else kFailedPrecondition
// whose message has the exit status or signal and the last lines the check printed. Blocks the
// calling thread; call it from main's control loop only.
absl::Status PreflightCheck(const std::string& executable, int argc, char** argv,
                            absl::Duration timeout);

}  // namespace conclave

#endif  // CONCLAVE_MAIN_PREFLIGHT_H_
