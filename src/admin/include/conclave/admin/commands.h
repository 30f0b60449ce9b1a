// The admin command tree: parses a command line with CLI11 and runs it.
//
// Used by the admin module's processor (installed in core's CommandSlot at load). Thread-safe:
// every call builds its own parser.
#ifndef CONCLAVE_ADMIN_COMMANDS_H_
#define CONCLAVE_ADMIN_COMMANDS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "conclave/core/command_slot.h"

namespace conclave::core {
class Server;
}

namespace conclave::admin {

// Runs `request.command_line` (e.g. "modules list", "server --help") against `server` and returns
// the output as plain text and HTML. Help requests return the help text. Returns
// kInvalidArgument with the error and the usage of the command for bad input, or the command's
// own error.
absl::StatusOr<core::CommandOutput> Execute(core::Server& server,
                                            const core::CommandRequest& request);

}  // namespace conclave::admin

#endif  // CONCLAVE_ADMIN_COMMANDS_H_
