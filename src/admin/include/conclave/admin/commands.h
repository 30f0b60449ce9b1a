// The admin command tree (DESIGN.md section 9): `server`, `modules`, `users`, `rooms`,
// `database` and `debug` commands, parsed with CLI11, answering plain text and HTML.
//
// The admin module installs Execute() into core's CommandSlot; the admin room, `--execute` and
// `admin_execute` reach it there. docs/admin-commands.md is CommandReference()'s output.
// Thread-safe: every call builds its own parser.
#ifndef CONCLAVE_ADMIN_COMMANDS_H_
#define CONCLAVE_ADMIN_COMMANDS_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "conclave/core/command_slot.h"

namespace conclave::core {
class Server;
}
namespace conclave::database {
class Database;
}
namespace conclave::service {
class Globals;
class Homeserver;
}  // namespace conclave::service

namespace conclave::admin {

// jemalloc's mallctl(name, oldp, oldlenp, newp, newlen).
using MallctlFunction = int (*)(const char*, void*, size_t*, void*, size_t);

// What commands act on. Execute(server, request) takes it from the loaded modules; tests build
// their own. The pointers are not owned and must outlive the call.
struct Environment {
  core::Server* server = nullptr;  // required
  // Null: the commands that need them answer kUnavailable ("the service module is not loaded").
  service::Homeserver* homeserver = nullptr;
  database::Database* database = nullptr;
  service::Globals* globals = nullptr;  // optional: `server uptime` adds the database's first start
  // Test seams. The executable a restart would exec ("": the one this process was started from,
  // read from /proc/self/exe); and jemalloc's mallctl (null: looked up in the process with dlsym).
  std::string executable_path;
  MallctlFunction mallctl = nullptr;
};

// Runs `request.command_line` (e.g. "users create-user alice", "help rooms", "server --help")
// against the loaded modules. See Execute(environment, request).
absl::StatusOr<core::CommandOutput> Execute(core::Server& server,
                                            const core::CommandRequest& request);

// Runs `request.command_line` against `environment`. Returns the answer as plain text and HTML;
// help requests (`help …`, `--help`) answer the help text. Returns kInvalidArgument for bad
// input — an unknown command (with the nearest one: "did you mean …"), a missing or extra
// argument, an invalid value — with the usage of the command appended to the message; or the
// command's own error (kNotFound for an unknown user or room, kFailedPrecondition for something
// this build or state does not allow, kUnavailable when a module it needs is not loaded, …).
absl::StatusOr<core::CommandOutput> Execute(const Environment& environment,
                                            const core::CommandRequest& request);

// Returns the reference of every command as Markdown (docs/admin-commands.md), the same in every
// build. Also the output of the hidden command `help --markdown`.
std::string CommandReference();

}  // namespace conclave::admin

#endif  // CONCLAVE_ADMIN_COMMANDS_H_
