// The module ABI: the descriptor each reloadable subsystem exports, and the context its hooks get.
//
// Each module defines one `extern "C"` entry symbol `conclave_module_<name>` returning a pointer
// to a static ModuleDescriptor (DESIGN.md section 3). The dev build finds it with dlsym in a
// shadow copy of `libconclave_<name>.so`; the release build calls the very same function from a
// static table. Hooks are called by the module host on its control thread, one at a time, never
// concurrently with another hook of any module. Hooks are noexcept: define them as plain
// functions and point the descriptor at the adaptors of exceptions.h (`GuardLoad<&Load>`...),
// which turn any exception into kInternal.
#ifndef CONCLAVE_CORE_MODULE_H_
#define CONCLAVE_CORE_MODULE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace conclave::core {

class Server;
class RawConfig;

// Bumped whenever a type shared across the module boundary (anything in conclave/core headers
// that modules use) changes layout or meaning. Part of the ABI fingerprint. 4: Router's locks
// became absl::Mutex, with gate watchers and blocking routes; CommandSlot's lock too; Config
// lost the Matrix options (RawConfig and ConfigSections instead), the descriptor gained
// check_options. 5: Config gained `watch`, `blocking_threads` and `blocking_queue`; RawConfig keeps
// the file's values the environment overrides; RouteHandle, CommandHandle, MetricsHandle and
// ConfigSections::Handle are one Registration template (registration.h). 6: service's
// Homeserver gained key_backup() (a KeyBackup member) and uia_sessions(), which api calls, and
// E2ee's key methods take and return structs instead of JSON bodies. 7: Request gained
// body_file, Response a file body (ResponseFile), RouteOptions body_to_file. 8: service's
// Homeserver gained search() and search_indexer() (Search, SearchIndexer members), and
// push_rules(), notifications() and pushers() (push/); Rooms gained relations, threads and
// bundled aggregations, Knock, UpgradeRoom, DefaultRoomVersion and Deps::settings; SyncResponse
// gained `knock`; the protocol headers gained the RoomVersion table and the room-version
// parameters of AuthStateKeys, ParsePowerLevels and DefaultPowerLevelsContent; MediaStore (media
// and admin call it) gained the content and usage maps, deletions and quotas. 9: Config gained
// federation_port, federation_address, tls_certificate_path and tls_private_key_path. 10:
// HttpClientRequest gained `connect_to`; service's Homeserver gained federation_client() and
// remote_keys(), ServiceOptions the federation_* options. 11: service's Homeserver gained
// transaction_queue() and inbound_transactions(), ServiceOptions federation_retry_initial and
// federation_retry_max, E2ee::Deps the federation queue and client and E2ee's Query and Claim a
// timeout, FederationClient::Send and SendJson a timeout, VerifyOptions server_name; Rooms gained
// MakeMembership, CommitRemoteMembership, StoreRemoteInvite and RemoteInvites.
inline constexpr int kInterfaceVersion = 11;

#define CONCLAVE_ABI_STRINGIFY_INNER_(x) #x
#define CONCLAVE_ABI_STRINGIFY_(x) CONCLAVE_ABI_STRINGIFY_INNER_(x)
#if defined(NDEBUG)
#define CONCLAVE_ABI_NDEBUG_ "ndebug"
#else
#define CONCLAVE_ABI_NDEBUG_ "debug"
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CONCLAVE_ABI_ASAN_ "asan"
#else
#define CONCLAVE_ABI_ASAN_ "noasan"
#endif

// The ABI fingerprint of the translation unit that expands it: compiler and version, libstdc++
// dual ABI, -std level, NDEBUG, sanitizer, conclave interface version. A module whose fingerprint
// differs from the host's is refused at load.
#define CONCLAVE_ABI_FINGERPRINT                                                                \
  "gcc " __VERSION__                                                                            \
  ";cxx11abi=" CONCLAVE_ABI_STRINGIFY_(_GLIBCXX_USE_CXX11_ABI) ";std=" CONCLAVE_ABI_STRINGIFY_( \
      __cplusplus) ";" CONCLAVE_ABI_NDEBUG_ ";" CONCLAVE_ABI_ASAN_                              \
                   ";iface=" CONCLAVE_ABI_STRINGIFY_(CONCLAVE_INTERFACE_VERSION_VALUE)
#define CONCLAVE_INTERFACE_VERSION_VALUE 11
static_assert(CONCLAVE_INTERFACE_VERSION_VALUE == kInterfaceVersion);

// What a hook gets: the server it runs in and its own module name (used to attribute routes and
// other registrations). Valid for the duration of the hook call only; copy what you need.
struct ModuleContext {
  Server& server;
  std::string_view module_name;
};

// Describes one module. Exported as a static object with static storage duration in the module;
// the host copies nothing out of it after the module is unloaded.
struct ModuleDescriptor {
  // Layout version of this struct itself, checked before anything else is read.
  int descriptor_version = 1;
  // CONCLAVE_ABI_FINGERPRINT as compiled into the module.
  const char* abi_fingerprint = nullptr;
  // Short name, e.g. "database"; the file is `libconclave_<name>.so`.
  const char* name = nullptr;
  // Null-terminated array of module names this module depends on. Must match the graph the host
  // derives from the file's DT_NEEDED entries.
  const char* const* dependencies = nullptr;
  // False: the module refuses hot reload; the host answers "restart instead".
  bool reloadable = true;

  // Once per process, before the first `load`: build long-lived state (permanent types only) and
  // park it (conclave/core/parking.h). May be null.
  absl::Status (*startup)(ModuleContext& context) noexcept = nullptr;
  // At every load: restore from `saved` (empty on first load), create objects, register routes.
  absl::Status (*load)(ModuleContext& context, std::string_view saved) noexcept = nullptr;
  // At every unload: serialize what must survive, destroy every object whose code lives in the
  // module, join its threads, release every registration. The bytes go to the next `load`.
  absl::StatusOr<std::string> (*unload)(ModuleContext& context) noexcept = nullptr;
  // Once at process end, after the last `unload`: take and destroy parked state. May be null.
  absl::Status (*shutdown)(ModuleContext& context) noexcept = nullptr;
  // Reads and validates the module's options in `raw` (options.h) as its `load` would, and
  // appends every key it reads to `keys`. Called without startup or load, possibly in another
  // process (`--check-config`, which runs before an exec restart). kInvalidArgument naming the
  // key for an invalid value. May be null: the module has no options.
  absl::Status (*check_options)(const RawConfig& raw,
                                std::vector<std::string>* keys) noexcept = nullptr;
};

// Signature of a module's entry symbol `conclave_module_<name>`.
using ModuleEntry = const ModuleDescriptor* (*)() noexcept;

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_MODULE_H_
