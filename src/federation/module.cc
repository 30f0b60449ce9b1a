// The federation module's entry (the Server-Server API's HTTP handlers): at load reads its
// options and registers the routes; at unload releases them. Its domain logic (the signing key)
// is service's (service/federation/), so a reload keeps no state.
#include "conclave/core/module.h"

#include <memory>
#include <vector>

#include "conclave/core/exceptions.h"
#include "conclave/core/http.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"
#include "events.h"
#include "keys.h"
#include "membership.h"
#include "options.h"
#include "queries.h"
#include "transactions.h"

namespace conclave::federation {
namespace {

// One load's objects. Destroyed in reverse order: the routes go before the settings their
// handlers read.
struct Loaded {
  std::unique_ptr<FederationSettings> settings;
  core::ConfigSections::Handle settings_handle;
  std::vector<core::RouteHandle> routes;
};

// Plain pointer: no static objects with destructors in a module.
Loaded* g_loaded = nullptr;

absl::Status Load(core::ModuleContext& context, std::string_view) {
  auto loaded = std::make_unique<Loaded>();
  CONCLAVE_ASSIGN_OR_RETURN(loaded->settings,
                            OpenFederationSettings(*context.server.sections().raw()));
  loaded->settings_handle = context.server.sections().Register(loaded->settings.get());
  CONCLAVE_RETURN_IF_ERROR(RegisterKeyRoutes(context.server.router(), context.module_name,
                                             *loaded->settings, loaded->routes));
  CONCLAVE_RETURN_IF_ERROR(
      RegisterQueryRoutes(context.server.router(), context.module_name, loaded->routes));
  CONCLAVE_RETURN_IF_ERROR(
      RegisterEventRoutes(context.server.router(), context.module_name, loaded->routes));
  CONCLAVE_RETURN_IF_ERROR(
      RegisterTransactionRoutes(context.server.router(), context.module_name, loaded->routes));
  CONCLAVE_RETURN_IF_ERROR(
      RegisterMembershipRoutes(context.server.router(), context.module_name, loaded->routes));
  g_loaded = loaded.release();
  return absl::OkStatus();
}

absl::StatusOr<std::string> Unload(core::ModuleContext&) {
  delete g_loaded;  // unregisters every route (after their gate drained) first
  g_loaded = nullptr;
  return std::string();
}

constexpr const char* kDependencies[] = {"service", nullptr};

}  // namespace
}  // namespace conclave::federation

extern "C" const conclave::core::ModuleDescriptor* conclave_module_federation() noexcept {
  static const conclave::core::ModuleDescriptor descriptor{
      .abi_fingerprint = CONCLAVE_ABI_FINGERPRINT,
      .name = "federation",
      .dependencies = conclave::federation::kDependencies,
      .reloadable = true,
      .startup = nullptr,
      .load = &conclave::core::GuardLoad<&conclave::federation::Load>,
      .unload = &conclave::core::GuardUnload<&conclave::federation::Unload>,
      .shutdown = nullptr,
      .check_options = &conclave::federation::CheckFederationOptions,
  };
  return &descriptor;
}
