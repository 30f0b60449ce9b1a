// The media module's entry (the content repository's HTTP handlers): at startup (once per
// process) starts libvips and removes what a crash left in the media directory; at load reads its
// options, opens the MediaStore and registers the routes; at unload releases them.
#include "conclave/core/module.h"

#include <vector>

#include "call.h"
#include "conclave/core/exceptions.h"
#include "conclave/core/http.h"
#include "conclave/core/log.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"
#include "conclave/database/instance.h"
#include "options.h"
#include "thumbnailer.h"

namespace conclave::media {
namespace {

// One load's objects. Destroyed in reverse order: the routes go before the state their handlers
// use.
struct Loaded {
  std::unique_ptr<MediaSettings> settings;
  core::ConfigSections::Handle settings_handle;
  MediaState state;
  std::vector<core::RouteHandle> routes;
};

// Plain pointer: no static objects with destructors in a module.
Loaded* g_loaded = nullptr;

// `settings` (may be null: at startup) gives the quotas at each upload; it outlives the store.
absl::StatusOr<std::unique_ptr<service::MediaStore>> OpenStore(core::Server& server,
                                                               const MediaOptions& options,
                                                               const MediaSettings* settings) {
  database::Database* db = database::Instance();
  if (db == nullptr) return absl::FailedPreconditionError("media: the database is not loaded");
  service::MediaStoreOptions store_options;
  store_options.directory = MediaDirectory(options, server.config().database_path);
  store_options.unused_expiry = options.unused_expiry;
  if (settings != nullptr) {
    store_options.quota = [settings] {
      const MediaOptions now = settings->Get();
      return service::MediaQuota{.max_bytes = now.quota_bytes, .max_items = now.quota_items};
    };
  }
  return service::MediaStore::Open(*db, std::move(store_options));
}

// Once per process, before the HTTP server accepts (so no upload is in flight): temporaries and
// content files without metadata are what a crash left.
absl::Status Startup(core::ModuleContext& context) {
  const std::shared_ptr<const core::RawConfig> raw = context.server.sections().raw();
  core::OptionReader reader(std::string(context.module_name), *raw);
  const MediaOptions options = ReadMediaOptions(reader);
  CONCLAVE_RETURN_IF_ERROR(reader.status());
  CONCLAVE_RETURN_IF_ERROR(StartThumbnailer());
  CONCLAVE_ASSIGN_OR_RETURN(auto store, OpenStore(context.server, options, nullptr));
  CONCLAVE_ASSIGN_OR_RETURN(service::OrphanStats removed, store->RemoveOrphans());
  if (removed.temporaries + removed.unreferenced + removed.thumbnails > 0) {
    CONCLAVE_LOG(kInfo, "media",
                 "removed {} unfinished uploads, {} unreferenced content files and {} "
                 "thumbnails ({} bytes)",
                 removed.temporaries, removed.unreferenced, removed.thumbnails, removed.bytes);
  }
  if (removed.counts_repaired > 0) {
    CONCLAVE_LOG(kInfo, "media", "counted the media ids of {} content files (media_content)",
                 removed.counts_repaired);
  }
  return absl::OkStatus();
}

absl::Status Load(core::ModuleContext& context, std::string_view) {
  auto loaded = std::make_unique<Loaded>();
  CONCLAVE_ASSIGN_OR_RETURN(loaded->settings, OpenMediaSettings(*context.server.sections().raw()));
  loaded->settings_handle = context.server.sections().Register(loaded->settings.get());
  loaded->state.options = loaded->settings->Get();
  CONCLAVE_RETURN_IF_ERROR(CheckSizes(loaded->state.options));
  loaded->state.notifier = &context.server.notifier();
  loaded->state.thumbnail_directory =
      MediaDirectory(loaded->state.options, context.server.config().database_path) + "/thumbnails";
  CONCLAVE_ASSIGN_OR_RETURN(loaded->state.store, OpenStore(context.server, loaded->state.options,
                                                           loaded->settings.get()));
  Routes routes(context.server.router(), context.module_name, loaded->state, loaded->routes);
  CONCLAVE_RETURN_IF_ERROR(RegisterUploadRoutes(routes));
  CONCLAVE_RETURN_IF_ERROR(RegisterDownloadRoutes(routes));
  CONCLAVE_RETURN_IF_ERROR(RegisterThumbnailRoutes(routes));
  CONCLAVE_RETURN_IF_ERROR(RegisterPreviewRoutes(routes));
  g_loaded = loaded.release();
  return absl::OkStatus();
}

absl::StatusOr<std::string> Unload(core::ModuleContext&) {
  delete g_loaded;  // unregisters every route (after their gate drained) first
  g_loaded = nullptr;
  return std::string();
}

absl::Status Shutdown(core::ModuleContext&) {
  StopThumbnailer();
  return absl::OkStatus();
}

constexpr const char* kDependencies[] = {"service", nullptr};

}  // namespace
}  // namespace conclave::media

extern "C" const conclave::core::ModuleDescriptor* conclave_module_media() noexcept {
  static const conclave::core::ModuleDescriptor descriptor{
      .abi_fingerprint = CONCLAVE_ABI_FINGERPRINT,
      .name = "media",
      .dependencies = conclave::media::kDependencies,
      .reloadable = true,
      .startup = &conclave::core::GuardStartup<&conclave::media::Startup>,
      .load = &conclave::core::GuardLoad<&conclave::media::Load>,
      .unload = &conclave::core::GuardUnload<&conclave::media::Unload>,
      .shutdown = &conclave::core::GuardShutdown<&conclave::media::Shutdown>,
      .check_options = &conclave::media::CheckMediaOptions,
  };
  return &descriptor;
}
