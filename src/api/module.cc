// The api module's entry: registers the HTTP routes at load, releases them at unload.
#include "conclave/core/module.h"

#include <vector>

#include "conclave/core/exceptions.h"
#include "conclave/core/http.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"
#include "discovery.h"
#include "handler.h"
#include "openid.h"
#include "routes.h"

namespace conclave::api {
namespace {

// Plain pointer: no static objects with destructors in a module.
std::vector<core::RouteHandle>* g_routes = nullptr;

absl::Status Load(core::ModuleContext& context, std::string_view) {
  CONCLAVE_ASSIGN_OR_RETURN(auto handles,
                            RegisterDiscovery(context.server.router(), context.module_name));
  auto owned = std::make_unique<std::vector<core::RouteHandle>>(std::move(handles));
  Routes routes(context.server.router(), context.module_name, *owned);
  for (auto* group :
       {&RegisterAccountRoutes,   &RegisterProfileRoutes,      &RegisterAccountDataRoutes,
        &RegisterPushRuleRoutes,  &RegisterNotificationRoutes, &RegisterPusherRoutes,
        &RegisterRoomRoutes,      &RegisterEventRoutes,        &RegisterRelationRoutes,
        &RegisterSyncRoutes,      &RegisterSlidingSyncRoutes,  &RegisterOldSyncRoutes,
        &RegisterKeyRoutes,       &RegisterToDeviceRoutes,     &RegisterRoomKeysRoutes,
        &RegisterReportingRoutes, &RegisterServerAdminRoutes,  &RegisterThreepidRoutes,
        &RegisterTimestampRoutes, &RegisterSearchRoutes,       &RegisterSpaceRoutes}) {
    CONCLAVE_RETURN_IF_ERROR(group(routes));
  }
  CONCLAVE_RETURN_IF_ERROR(RegisterOpenIdRoutes(routes));
  CONCLAVE_RETURN_IF_ERROR(
      RegisterFederationOpenIdRoutes(context.server.router(), context.module_name, *owned));
  g_routes = owned.release();
  return absl::OkStatus();
}

absl::StatusOr<std::string> Unload(core::ModuleContext&) {
  delete g_routes;  // unregisters every route; the handlers' code stays until after this
  g_routes = nullptr;
  return std::string();
}

constexpr const char* kDependencies[] = {"service", nullptr};

}  // namespace
}  // namespace conclave::api

extern "C" const conclave::core::ModuleDescriptor* conclave_module_api() noexcept {
  static const conclave::core::ModuleDescriptor descriptor{
      .abi_fingerprint = CONCLAVE_ABI_FINGERPRINT,
      .name = "api",
      .dependencies = conclave::api::kDependencies,
      .reloadable = true,
      .load = &conclave::core::GuardLoad<&conclave::api::Load>,
      .unload = &conclave::core::GuardUnload<&conclave::api::Unload>,
  };
  return &descriptor;
}
