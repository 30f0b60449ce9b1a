// The systemd service notification protocol, sd_notify(3): datagrams such as "READY=1" sent to
// the AF_UNIX socket named by $NOTIFY_SOCKET. Written here rather than linking libsystemd, which
// the static release binary would then need as a shared library; the protocol is one sendto().
//
// Thread-safe. Does nothing (and returns OK) when NOTIFY_SOCKET is unset, i.e. when not run by
// systemd with Type=notify. NOTIFY_SOCKET is left in the environment on purpose: after an exec
// restart the new image (the same pid, still the unit's main process) reports READY=1 itself.
#ifndef CONCLAVE_CORE_SD_NOTIFY_H_
#define CONCLAVE_CORE_SD_NOTIFY_H_

#include <string_view>

#include "absl/status/status.h"

namespace conclave::core {

// Sends `state`, newline-separated VAR=value assignments ("READY=1\nSTATUS=serving"), to the
// service manager. Abstract socket names ('@' first) and paths are both accepted. Returns
// kInvalidArgument for a malformed NOTIFY_SOCKET and kUnavailable when sendto fails; callers
// log and go on, a notification is never worth stopping for.
absl::Status NotifyServiceManager(std::string_view state);

// "RELOADING=1" with the MONOTONIC_USEC= stamp that systemd 253+ asks for (Type=notify-reload);
// older systemd ignores the extra field.
absl::Status NotifyReloading(std::string_view status);

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_SD_NOTIFY_H_
