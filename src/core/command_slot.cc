#include "conclave/core/command_slot.h"

#include <mutex>

namespace conclave::core {

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
  if (!processor_) return absl::UnavailableError("the admin module is not loaded");
  return processor_(request);
}

absl::StatusOr<CommandOutput> CommandSlot::Execute(std::string_view command_line) const {
  return Execute(CommandRequest{std::string(command_line), "", ""});
}

}  // namespace conclave::core
