// The service module's entry: opens the homeserver over the database at every load (which sets
// up the admin room), starts the admin command worker, and hands its in-memory state (typing,
// rate limits, queued admin commands) to the next load through the saved bytes.
#include "conclave/core/module.h"

#include "conclave/core/exceptions.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"
#include "conclave/database/instance.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/options/options.h"
#include "conclave/service/storage/globals.h"

namespace conclave::service {
namespace {

// Module state: plain pointers only (no static objects with destructors in a module).
Globals* g_globals = nullptr;
Homeserver* g_homeserver = nullptr;

absl::Status Load(core::ModuleContext& context, std::string_view saved) {
  database::Database* db = database::Instance();
  if (db == nullptr) return absl::FailedPreconditionError("the database module is not loaded");
  CONCLAVE_ASSIGN_OR_RETURN(auto globals, Globals::Open(*db, context.server.config().server_name));
  CONCLAVE_ASSIGN_OR_RETURN(auto homeserver, Homeserver::Open(context.server, *db, saved));
  g_globals = globals.release();
  g_homeserver = homeserver.release();
  // The admin command worker, this module's only thread (joined in Unload), starts once
  // Instance() answers: the commands it runs use it.
  if (absl::Status started = g_homeserver->Start(); !started.ok()) {
    delete g_homeserver;
    g_homeserver = nullptr;
    delete g_globals;
    g_globals = nullptr;
    return started;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Unload(core::ModuleContext&) {
  // Join the admin worker before saving: a command it is running finishes and is answered on
  // this code, and is then no longer queued; the ones behind it go to the next load.
  if (g_homeserver != nullptr) g_homeserver->Stop();
  std::string saved = g_homeserver != nullptr ? g_homeserver->Save() : std::string();
  delete g_homeserver;
  g_homeserver = nullptr;
  delete g_globals;
  g_globals = nullptr;
  return saved;
}

constexpr const char* kDependencies[] = {"database", nullptr};

}  // namespace

Globals* GlobalsInstance() { return g_globals; }
Homeserver* Instance() { return g_homeserver; }

}  // namespace conclave::service

extern "C" const conclave::core::ModuleDescriptor* conclave_module_service() noexcept {
  static const conclave::core::ModuleDescriptor descriptor{
      .abi_fingerprint = CONCLAVE_ABI_FINGERPRINT,
      .name = "service",
      .dependencies = conclave::service::kDependencies,
      .reloadable = true,
      .load = &conclave::core::GuardLoad<&conclave::service::Load>,
      .unload = &conclave::core::GuardUnload<&conclave::service::Unload>,
      .check_options = &conclave::service::CheckServiceOptions,
  };
  return &descriptor;
}
