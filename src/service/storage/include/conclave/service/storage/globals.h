// Globals: server-wide facts kept in the database — schema version and first start — and the
// schema migrations that run when the service module loads.
#ifndef CONCLAVE_SERVICE_STORAGE_GLOBALS_H_
#define CONCLAVE_SERVICE_STORAGE_GLOBALS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/database/database.h"

namespace conclave::service {

// The schema version this build writes. Bump it and add a migration in globals.cc together.
// 2: the `relations` and `threads` maps, built from the timeline for rooms stored before them.
inline constexpr uint64_t kSchemaVersion = 2;

// Thread-safe (immutable after Open). Must not outlive the service module; modules that use it
// depend on service and are reloaded with it.
class Globals {
 public:
  // Reads the "globals" map of `db`, runs the migrations from the stored schema version up to
  // kSchemaVersion (each in one WriteBatch) and records the first start on a new database.
  // Returns kFailedPrecondition if the database was written by a newer conclave (schema version
  // above kSchemaVersion), or the database's errors. `db` must outlive the result.
  static absl::StatusOr<std::unique_ptr<Globals>> Open(database::Database& db,
                                                       std::string server_name);

  uint64_t schema_version() const { return schema_version_; }
  // When this database was first used by any conclave.
  absl::Time first_start() const { return first_start_; }
  const std::string& server_name() const { return server_name_; }

 private:
  Globals() = default;
  uint64_t schema_version_ = 0;
  absl::Time first_start_;
  std::string server_name_;
};

// The live Globals between the service module's load and unload; nullptr otherwise.
Globals* GlobalsInstance();

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_STORAGE_GLOBALS_H_
