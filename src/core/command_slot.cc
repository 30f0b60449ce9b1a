#include "conclave/core/command_slot.h"

#include <mutex>

#include "absl/strings/cord.h"

namespace conclave::core {
namespace {

// The payload that marks Execute()'s "no processor" answer (absl::Status payloads are keyed by a
// type URL).
constexpr char kNoProcessorPayload[] = "type.conclave/core.CommandSlot.NoProcessor";

}  // namespace

bool IsNoProcessor(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable &&
         status.GetPayload(kNoProcessorPayload).has_value();
}

CommandHandle& CommandHandle::operator=(CommandHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    slot_ = std::exchange(other.slot_, nullptr);
  }
  return *this;
}

void CommandHandle::Reset() {
  if (slot_ != nullptr) std::exchange(slot_, nullptr)->Uninstall();
}

absl::StatusOr<CommandHandle> CommandSlot::Install(CommandProcessor processor) {
  std::unique_lock lock(mu_);
  if (processor_) return absl::AlreadyExistsError("a command processor is already installed");
  processor_ = std::move(processor);
  return CommandHandle(this);
}

void CommandSlot::Uninstall() {
  std::unique_lock lock(mu_);
  processor_ = nullptr;
}

absl::StatusOr<CommandOutput> CommandSlot::Execute(const CommandRequest& request) const {
  std::shared_lock lock(mu_);
  if (!processor_) {
    absl::Status status = absl::UnavailableError("the admin module is not loaded");
    status.SetPayload(kNoProcessorPayload, absl::Cord("1"));
    return status;
  }
  return processor_(request);
}

absl::StatusOr<CommandOutput> CommandSlot::Execute(std::string_view command_line) const {
  return Execute(CommandRequest{std::string(command_line), "", ""});
}

}  // namespace conclave::core
