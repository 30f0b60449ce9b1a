// The parts of the `server` commands that tests reach directly: the jemalloc reader, the restart
// check and the config key rules. Private to the admin module; stateless, thread-safe.
#ifndef CONCLAVE_ADMIN_SERVER_COMMANDS_H_
#define CONCLAVE_ADMIN_SERVER_COMMANDS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "conclave/admin/commands.h"

namespace conclave::admin {

// jemalloc's process-wide figures, bytes (see jemalloc's `stats.*` mallctl names).
struct JemallocStats {
  uint64_t allocated = 0;  // allocated by the application
  uint64_t active = 0;     // in active pages (allocated plus fragmentation)
  uint64_t resident = 0;   // physically resident data pages mapped by the allocator
  uint64_t mapped = 0;     // in active extents mapped by the allocator
};

// Reads the figures through `mallctl` after refreshing its "epoch". kUnavailable if `mallctl` is
// null (the process does not use jemalloc) or a read fails (jemalloc without statistics).
absl::StatusOr<JemallocStats> ReadJemallocStats(MallctlFunction mallctl);

// OK when the executable at `executable_path` — and, in dev builds, the loaded core library —
// on disk have the build ids of the running ones, so that an exec restart runs the same build.
// kFailedPrecondition naming the file otherwise, or when a file cannot be read.
absl::Status CheckBinaryUnchanged(const std::string& executable_path);

// Whether show-config redacts `key` (names containing token, secret or password).
bool IsSecretConfigKey(std::string_view key);
// Whether show-config knows how to print `key` (a test checks every core::ConfigKeys() entry).
bool HasConfigFormatter(std::string_view key);

}  // namespace conclave::admin

#endif  // CONCLAVE_ADMIN_SERVER_COMMANDS_H_
