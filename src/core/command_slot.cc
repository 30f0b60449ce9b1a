#include "conclave/core/command_slot.h"

#include <algorithm>

#include "absl/strings/cord.h"
#include "conclave/core/exceptions.h"
#include "conclave/core/log.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

// The payload that marks Execute()'s "no processor" answer (absl::Status payloads are keyed by a
// type URL).
constexpr char kNoProcessorPayload[] = "type.conclave/core.CommandSlot.NoProcessor";

// The command's first word, for logs: its arguments can carry passwords and tokens.
std::string_view CommandName(std::string_view line) {
  line.remove_prefix(std::min(line.find_first_not_of(' '), line.size()));
  return line.substr(0, line.find(' '));
}

}  // namespace

bool IsNoProcessor(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable &&
         status.GetPayload(kNoProcessorPayload).has_value();
}

absl::StatusOr<CommandHandle> CommandSlot::Install(CommandProcessor processor) {
  absl::MutexLock lock(&mu_);
  if (processor_) return absl::AlreadyExistsError("a command processor is already installed");
  processor_ = std::move(processor);
  return CommandHandle(this, {});
}

void CommandSlot::Unregister() {
  absl::MutexLock lock(&mu_);
  processor_ = nullptr;
}

absl::StatusOr<CommandOutput> CommandSlot::Execute(const CommandRequest& request) const {
  absl::ReaderMutexLock lock(&mu_);
  if (!processor_) {
    absl::Status status = absl::UnavailableError("the admin module is not loaded");
    status.SetPayload(kNoProcessorPayload, absl::Cord("1"));
    return status;
  }
  try {
    return processor_(request);
  } catch (...) {
    const std::string message = CurrentExceptionMessage();
    CONCLAVE_LOG(kError, "admin", "command '{}' threw: {}", CommandName(request.command_line),
                 message);
    return absl::InternalError(core::StrCat("the command failed: it threw: ", message));
  }
}

absl::StatusOr<CommandOutput> CommandSlot::Execute(std::string_view command_line) const {
  return Execute(CommandRequest{std::string(command_line), "", ""});
}

}  // namespace conclave::core
