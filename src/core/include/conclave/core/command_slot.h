// CommandSlot: where the admin module installs its command processor, so that core and main can
// run admin commands (`conclave --execute`) without depending on the admin module.
#ifndef CONCLAVE_CORE_COMMAND_SLOT_H_
#define CONCLAVE_CORE_COMMAND_SLOT_H_

#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace conclave::core {

// Runs one command line (e.g. "server uptime") and returns its output. Errors are kInvalidArgument
// for bad usage (the message includes the usage text).
using CommandProcessor = std::function<absl::StatusOr<std::string>(std::string_view command_line)>;

class CommandSlot;

// Uninstalls the processor on destruction. Must be destroyed before the module that installed
// the processor is unloaded (i.e. in its `unload` hook).
class [[nodiscard]] CommandHandle {
 public:
  CommandHandle() = default;
  explicit CommandHandle(CommandSlot* slot) : slot_(slot) {}
  CommandHandle(CommandHandle&& other) noexcept : slot_(std::exchange(other.slot_, nullptr)) {}
  CommandHandle& operator=(CommandHandle&& other) noexcept;
  ~CommandHandle() { Reset(); }
  void Reset();

 private:
  CommandSlot* slot_ = nullptr;
};

// Thread-safe. Execute() holds a shared lock while the processor runs, so uninstalling (a reload
// of the admin module) waits for running commands to finish.
class CommandSlot {
 public:
  // Installs `processor`; kAlreadyExists if one is installed.
  absl::StatusOr<CommandHandle> Install(CommandProcessor processor);
  // Runs `command_line`. kUnavailable when no processor is installed (admin module not loaded).
  absl::StatusOr<std::string> Execute(std::string_view command_line) const;

 private:
  friend class CommandHandle;
  void Uninstall();
  mutable std::shared_mutex mu_;
  CommandProcessor processor_;
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_COMMAND_SLOT_H_
