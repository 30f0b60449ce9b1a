// CommandSlot: where the admin module installs its command processor, so that core and main can
// run admin commands (`conclave --execute`) without depending on the admin module.
#ifndef CONCLAVE_CORE_COMMAND_SLOT_H_
#define CONCLAVE_CORE_COMMAND_SLOT_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "conclave/core/registration.h"

namespace conclave::core {

// One admin command to run.
struct CommandRequest {
  // The command without its prefix, e.g. "users create-user alice".
  std::string command_line;
  // Its body: the fenced code block that followed the command in the admin room (a list of
  // users, JSON), without the fences; empty if none.
  std::string body;
  // User id of the admin who sent it from the admin room; empty from the command line
  // (`--execute`) or the config (`admin_execute`).
  std::string invoker;
};

// What a command answers: the same content as plain text and as HTML (the admin room sends both,
// as `body` and `formatted_body` with `format: org.matrix.custom.html`).
struct CommandOutput {
  std::string plain;
  std::string html;
};

// Runs one command. Errors are kInvalidArgument for bad usage (the message includes the usage
// text), or the command's own error.
using CommandProcessor = std::function<absl::StatusOr<CommandOutput>(const CommandRequest&)>;

class CommandSlot;

// True when `status` is CommandSlot::Execute()'s answer for "no processor is installed" (nothing
// ran), false for every other status, including a command's own kUnavailable error.
bool IsNoProcessor(const absl::Status& status);

// Uninstalls the processor on destruction. Must be destroyed before the module that installed
// the processor is unloaded (i.e. in its `unload` hook).
using CommandHandle = Registration<CommandSlot>;

// Thread-safe. Execute() holds a shared lock while the processor runs, so uninstalling (a reload
// of the admin module) waits for running commands to finish. No exception crosses it: one the
// processor throws (of any type) is logged and answered with kInternal.
class CommandSlot {
 public:
  // Installs `processor`; kAlreadyExists if one is installed.
  absl::StatusOr<CommandHandle> Install(CommandProcessor processor) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `request`. kUnavailable when no processor is installed (the admin module is not loaded,
  // or is being reloaded: a caller that queues commands retries later); IsNoProcessor() tells
  // that answer from a command's own kUnavailable error.
  absl::StatusOr<CommandOutput> Execute(const CommandRequest& request) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Shorthand for a command line with no body and no invoker.
  absl::StatusOr<CommandOutput> Execute(std::string_view command_line) const;

 private:
  friend CommandHandle;
  // CommandHandle's undo: uninstalls the processor, waiting for a running command.
  void Unregister() ABSL_LOCKS_EXCLUDED(mu_);
  mutable absl::Mutex mu_;
  CommandProcessor processor_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_COMMAND_SLOT_H_
