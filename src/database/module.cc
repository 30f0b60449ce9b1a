// The database module's entry point and hooks (DESIGN.md section 3).
//
// `startup` opens the RocksDB engine once per process and parks it; every generation of this
// module then only builds a Database view over the parked engine in `load` and drops it in
// `unload`, so a reload never closes or reopens the database. The last generation's `shutdown`
// takes the engine back and closes it. No static object with a destructor lives here: the only
// state is a raw pointer.
#include "conclave/core/module.h"

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "conclave/core/exceptions.h"
#include "conclave/core/log.h"
#include "conclave/core/metrics.h"
#include "conclave/core/server.h"
#include "conclave/database/database.h"
#include "conclave/database/instance.h"
#include "engine.h"
#include "metrics.h"

namespace conclave::database {
namespace {

// The live view between `load` and `unload`; owned.
Database* g_instance = nullptr;
// The RocksDB gauges' collector between `load` and `unload` (its code is this module's); owned.
core::MetricsHandle* g_metrics = nullptr;

absl::Status Startup(core::ModuleContext& context) {
  const core::Config& config = context.server.config();
  Options options;
  options.path = config.database_path;
  options.sync_writes = config.database_sync_writes;
  absl::StatusOr<std::unique_ptr<internal::Engine>> engine = internal::OpenEngine(options);
  if (!engine.ok()) return engine.status();
  const size_t column_families = (*engine)->column_families.size();
  absl::Status parked = context.server.parking().Park(internal::kEngineParkingKey,
                                                      internal::kEngineTypeTag, engine->get());
  if (!parked.ok()) {
    internal::CloseEngine(*std::move(engine)).IgnoreError();
    return parked;
  }
  engine->release();
  CONCLAVE_LOG(kInfo, "database", "opened database at {} ({} column families)", options.path,
               column_families);
  return absl::OkStatus();
}

absl::Status Load(core::ModuleContext& context, std::string_view saved) {
  if (g_instance != nullptr) {
    return absl::FailedPreconditionError("database module loaded twice without an unload");
  }
  absl::StatusOr<internal::Engine*> engine = context.server.parking().Find<internal::Engine>(
      internal::kEngineParkingKey, internal::kEngineTypeTag);
  if (!engine.ok()) {
    return absl::Status(engine.status().code(),
                        absl::StrCat("database engine not parked (startup not run, or its layout "
                                     "changed and needs a restart): ",
                                     engine.status().message()));
  }
  g_instance = Database::Adopt(*engine).release();
  g_metrics =
      new core::MetricsHandle(internal::RegisterEngineMetrics(context.server.metrics(), *engine));
  CONCLAVE_LOG(kDebug, "database", "database module loaded");
  return absl::OkStatus();
}

absl::StatusOr<std::string> Unload(core::ModuleContext& context) {
  // First the collector (this waits for a scrape running it), then what it reads.
  delete g_metrics;
  g_metrics = nullptr;
  delete g_instance;
  g_instance = nullptr;
  return std::string();
}

absl::Status Shutdown(core::ModuleContext& context) {
  // The host unloads before shutting down; should it not, the view must go before its engine.
  delete g_metrics;
  g_metrics = nullptr;
  delete g_instance;
  g_instance = nullptr;
  absl::StatusOr<internal::Engine*> engine = context.server.parking().Take<internal::Engine>(
      internal::kEngineParkingKey, internal::kEngineTypeTag);
  if (!engine.ok()) return engine.status();
  const std::string path = (*engine)->path;
  absl::Status closed = internal::CloseEngine(std::unique_ptr<internal::Engine>(*engine));
  if (!closed.ok()) return closed;
  CONCLAVE_LOG(kInfo, "database", "closed database at {}", path);
  return absl::OkStatus();
}

constexpr const char* kDependencies[] = {nullptr};

constexpr core::ModuleDescriptor kDescriptor = {
    .descriptor_version = 1,
    .abi_fingerprint = CONCLAVE_ABI_FINGERPRINT,
    .name = "database",
    .dependencies = kDependencies,
    .reloadable = true,
    .startup = &core::GuardStartup<&Startup>,
    .load = &core::GuardLoad<&Load>,
    .unload = &core::GuardUnload<&Unload>,
    .shutdown = &core::GuardShutdown<&Shutdown>,
};

}  // namespace

Database* Instance() { return g_instance; }

}  // namespace conclave::database

extern "C" const conclave::core::ModuleDescriptor* conclave_module_database() noexcept {
  return &conclave::database::kDescriptor;
}
