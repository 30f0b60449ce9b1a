// The service module's entry: opens the domain services over the database at every load.
#include "conclave/core/module.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"
#include "conclave/database/instance.h"
#include "conclave/service/globals.h"

namespace conclave::service {
namespace {

// Module state: plain pointers only (no static objects with destructors in a module).
Globals* g_globals = nullptr;

absl::Status Load(core::ModuleContext& context, std::string_view saved) noexcept {
  database::Database* db = database::Instance();
  if (db == nullptr) return absl::FailedPreconditionError("the database module is not loaded");
  CONCLAVE_ASSIGN_OR_RETURN(auto globals,
                            Globals::Open(*db, context.server.config().server_name));
  g_globals = globals.release();
  return absl::OkStatus();
}

absl::StatusOr<std::string> Unload(core::ModuleContext&) noexcept {
  delete g_globals;
  g_globals = nullptr;
  return std::string();
}

constexpr const char* kDependencies[] = {"database", nullptr};

}  // namespace

Globals* GlobalsInstance() { return g_globals; }

}  // namespace conclave::service

extern "C" const conclave::core::ModuleDescriptor* conclave_module_service() noexcept {
  static const conclave::core::ModuleDescriptor descriptor{
      .abi_fingerprint = CONCLAVE_ABI_FINGERPRINT,
      .name = "service",
      .dependencies = conclave::service::kDependencies,
      .reloadable = true,
      .load = &conclave::service::Load,
      .unload = &conclave::service::Unload,
  };
  return &descriptor;
}
