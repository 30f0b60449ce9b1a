// internal::Engine: the open RocksDB instance, the state the database module parks so it outlives
// every generation of the module (DESIGN.md section 3). Private to the database subsystem.
#ifndef CONCLAVE_DATABASE_ENGINE_H_
#define CONCLAVE_DATABASE_ENGINE_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/database/database.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace conclave::database::internal {

// Where the module parks its engine, and the tag naming Engine's layout. Bump the version with
// any change to Engine's members: a newer module generation then refuses the old engine and asks
// for a restart instead of misreading it.
inline constexpr char kEngineParkingKey[] = "database.engine";
inline constexpr char kEngineTypeTag[] = "conclave::database::internal::Engine/v2";

// Built only from types whose code is permanent (RocksDB, the standard library): no virtual
// function, no function pointer and no non-inline code of the database module, so whichever
// generation of the module runs `shutdown` can destroy an engine an older one created.
// Thread-safe: `db` is thread-safe itself, `column_families` is guarded by `mu`; the other
// members are immutable after OpenEngine().
struct Engine {
  std::string path;
  bool sync_writes = false;
  // Owned; closed and deleted by CloseEngine().
  rocksdb::DB* db = nullptr;
  std::mutex mu;
  // The options every column family is opened or created with: they share one block cache.
  rocksdb::ColumnFamilyOptions column_family_options;
  // Every column family by name, "default" included. Handles owned, destroyed by CloseEngine().
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> column_families;
};

// Opens (or creates) the database described by `options` with all its column families. Errors
// as documented for Database::Open().
absl::StatusOr<std::unique_ptr<Engine>> OpenEngine(const Options& options);

// Returns the handle of column family `name`, creating it if it does not exist. Returns
// kInvalidArgument for an empty name, else RocksDB's error.
absl::StatusOr<rocksdb::ColumnFamilyHandle*> GetOrCreateColumnFamily(Engine& engine,
                                                                     std::string_view name);

// Syncs the write-ahead log, destroys the column family handles and closes and deletes the
// database. The engine is gone even on error; the status reports the first failure (kAborted
// if snapshots were still held, which the close forcibly ends).
absl::Status CloseEngine(std::unique_ptr<Engine> engine);

}  // namespace conclave::database::internal

#endif  // CONCLAVE_DATABASE_ENGINE_H_
