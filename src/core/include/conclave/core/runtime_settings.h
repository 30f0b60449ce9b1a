// The core config settings that change while the server runs: SIGHUP re-reads the config file and
// applies these (config_reload.h); every other core key needs a restart. The modules' runtime
// options are in their own sections (config_sections.h), not here.
//
// Thread-safe: readers take a copy under a shared lock; Apply swaps all of them at once, so a
// reader never sees half of a new config. Owned by the Server (Server::runtime()).
#ifndef CONCLAVE_CORE_RUNTIME_SETTINGS_H_
#define CONCLAVE_CORE_RUNTIME_SETTINGS_H_

#include <string>

#include "absl/synchronization/mutex.h"
#include "conclave/core/config.h"

namespace conclave::core {

class RuntimeSettings {
 public:
  explicit RuntimeSettings(const Config& config) { Apply(config); }
  RuntimeSettings(const RuntimeSettings&) = delete;
  RuntimeSettings& operator=(const RuntimeSettings&) = delete;

  // Replaces the settings with those of `config`, which must be the running config with the
  // runtime-changeable keys of a re-read one (MergeRuntimeKeys, config_reload.h). The
  // process-wide logging keys (log_level, log_format, access_log) are applied by the caller
  // through log.h; they are only recorded here.
  void Apply(const Config& config) ABSL_LOCKS_EXCLUDED(mu_);

  // The core config in force: the start-up config with every SIGHUP applied (server show-config).
  Config Current() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  Config current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_RUNTIME_SETTINGS_H_
