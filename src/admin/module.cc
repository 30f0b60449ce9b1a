// The admin module's entry: installs the command processor into core's CommandSlot.
#include "conclave/core/module.h"

#include "conclave/admin/commands.h"
#include "conclave/core/command_slot.h"
#include "conclave/core/exceptions.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"

namespace conclave::admin {
namespace {

core::CommandHandle* g_handle = nullptr;

absl::Status Load(core::ModuleContext& context, std::string_view) {
  core::Server* server = &context.server;
  CONCLAVE_ASSIGN_OR_RETURN(
      auto handle, server->commands().Install([server](const core::CommandRequest& request) {
        return Execute(*server, request);
      }));
  g_handle = new core::CommandHandle(std::move(handle));
  return absl::OkStatus();
}

absl::StatusOr<std::string> Unload(core::ModuleContext&) {
  delete g_handle;  // waits for a running command to finish
  g_handle = nullptr;
  return std::string();
}

constexpr const char* kDependencies[] = {"service", nullptr};

}  // namespace
}  // namespace conclave::admin

extern "C" const conclave::core::ModuleDescriptor* conclave_module_admin() noexcept {
  static const conclave::core::ModuleDescriptor descriptor{
      .abi_fingerprint = CONCLAVE_ABI_FINGERPRINT,
      .name = "admin",
      .dependencies = conclave::admin::kDependencies,
      .reloadable = true,
      .load = &conclave::core::GuardLoad<&conclave::admin::Load>,
      .unload = &conclave::core::GuardUnload<&conclave::admin::Unload>,
  };
  return &descriptor;
}
