// Database: conclave's storage engine, RocksDB with column families as named maps (DESIGN.md
// section 7). Owned by the database subsystem; the database module holds the server's instance
// (conclave/database/instance.h). RocksDB itself stays out of this header.
#ifndef CONCLAVE_DATABASE_DATABASE_H_
#define CONCLAVE_DATABASE_DATABASE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/database/iterator.h"
#include "conclave/database/map.h"
#include "conclave/database/snapshot.h"
#include "conclave/database/write_batch.h"

namespace conclave::database {

namespace internal {
// The open RocksDB instance with its column families (engine.h). Outlives module generations.
struct Engine;
}  // namespace internal

struct Options {
  // Directory of the database; missing parent directories are created too when
  // `create_if_missing`. Required (empty is kInvalidArgument).
  std::string path;
  // Sync the write-ahead log on every write, so an acknowledged write survives a power cut and
  // not only a crash of the process. Default: false (the write-ahead log is always on).
  bool sync_writes = false;
  // Create the database if `path` holds none; if false, opening a missing one is kNotFound.
  // Default: true.
  bool create_if_missing = true;
};

// Size and shape of one map, from RocksDB's properties. Every figure is an estimate.
struct MapStats {
  std::string name;
  // rocksdb.estimate-num-keys: deletes and overwrites not yet compacted make it approximate.
  uint64_t estimated_keys = 0;
  // Bytes in SST files of the current version (rocksdb.live-sst-files-size).
  uint64_t live_sst_bytes = 0;
  uint64_t sst_files = 0;
  // Bytes of all memtables, active and immutable (rocksdb.cur-size-all-mem-tables).
  uint64_t memtable_bytes = 0;
  // SST file count per LSM level, level 0 first.
  std::vector<uint64_t> files_per_level;
};

// Memory RocksDB holds for the whole database (every map), from its own accounting. Estimates.
struct MemoryUsage {
  // Active and immutable memtables of every map (rocksdb.cur-size-all-mem-tables).
  uint64_t memtable_bytes = 0;
  // Index and filter blocks held by open SST files outside the block cache
  // (rocksdb.estimate-table-readers-mem).
  uint64_t table_readers_bytes = 0;
  // Block caches in use and their capacity; a cache shared by several maps counts once.
  uint64_t block_cache_bytes = 0;
  uint64_t block_cache_capacity = 0;
  // How many distinct block caches the maps use (the default options give each map its own).
  uint64_t block_caches = 0;
};

// The open database. Thread-safe: like rocksdb::DB, every method may be called concurrently from
// any thread without external synchronization. A Database either owns its engine (Open(), closed
// by the destructor) or borrows one that outlives it (Adopt(), used by the module so the engine
// survives reloads). Maps, snapshots and iterators it hands out must not outlive it.
class Database {
 public:
  using Iterator = ::conclave::database::Iterator;

  // Opens the database at `options.path` with all its existing maps, creating it if missing
  // and allowed. Returns kUnavailable "database is in use: ..." if another process (or another
  // Database in this one) has it open; kNotFound if it is missing and `create_if_missing` is
  // false; kInvalidArgument for an empty path; kDataLoss if it is corrupt; kPermissionDenied or
  // kInternal for other I/O failures. Every message names the path.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const Options& options);
  // Returns a Database over `engine` without taking ownership: `engine` must be non-null and
  // outlive the result.
  static std::unique_ptr<Database> Adopt(internal::Engine* engine);

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const;

  // Returns the map `name`, creating its column family if needed ("default" always exists).
  // The pointer is stable for this Database's lifetime; repeated calls return the same one.
  // Returns kInvalidArgument for an empty name, kInternal if creation fails.
  absl::StatusOr<Map*> OpenMap(std::string_view name);
  // Returns the names of every map in the database, sorted, including "default" and maps
  // created by earlier runs but not opened in this one.
  std::vector<std::string> MapNames() const;

  // Returns the value of `key` in `map`, read through `snapshot` if non-null (not kept).
  // Returns kNotFound if absent, kInvalidArgument if `map` or `snapshot` belongs to another
  // database, kDataLoss on corruption, kInternal on I/O errors.
  absl::StatusOr<std::string> Get(const Map& map, std::string_view key,
                                  const Snapshot* snapshot = nullptr) const;
  // Same errors as Write().
  absl::Status Put(const Map& map, std::string_view key, std::string_view value);
  // Deleting an absent key is not an error. Same errors as Write().
  absl::Status Delete(const Map& map, std::string_view key);
  // Applies `batch` atomically, synced if Options::sync_writes. The batch is left as is (Clear()
  // it to reuse it). Returns kInvalidArgument if the batch mixes databases or holds an invalid
  // update, kResourceExhausted when the disk is full, kInternal on other I/O errors.
  absl::Status Write(WriteBatch& batch);

  // Returns an unpositioned iterator over `map` (see IteratorOptions). Never null; an iterator
  // over a map or snapshot of another database is invalid and its status() is kInvalidArgument.
  std::unique_ptr<Iterator> NewIterator(const Map& map, IteratorOptions options = {}) const;
  // Calls `callback` for every key of `map` starting with `prefix`, in ascending order, until it
  // returns false. Reads through `snapshot` if non-null (not kept). Returns the iterator's status
  // (OK when stopped early).
  absl::Status ForEachWithPrefix(
      const Map& map, std::string_view prefix,
      absl::FunctionRef<bool(std::string_view key, std::string_view value)> callback,
      const Snapshot* snapshot = nullptr) const;

  // Returns a snapshot of the current state of every map.
  std::shared_ptr<const Snapshot> GetSnapshot() const;

  // Writes a consistent, openable copy of the database to `dir` (a RocksDB checkpoint: SST files
  // are hard-linked when on the same file system). `dir` must not exist; its parent must.
  // Returns kAlreadyExists if `dir` exists, kNotFound if the parent is missing, kInternal on
  // other failures.
  absl::Status CreateCheckpoint(const std::string& dir);
  // Compacts `map`, or every map if null, down to the last level (reclaims space of deletes and
  // overwrites). Blocks until done. Returns kInvalidArgument for a map of another database,
  // kInternal on failure.
  absl::Status Compact(const Map* map);
  // Writes every memtable to SST files and waits. Returns kInternal on failure.
  absl::Status Flush();
  // Returns statistics for every map, sorted by name. kInternal if RocksDB cannot report them.
  absl::StatusOr<std::vector<MapStats>> Stats() const;
  // Returns the memory RocksDB uses for memtables, table readers and block caches. kInternal if
  // RocksDB cannot report it.
  absl::StatusOr<MemoryUsage> Memory() const;

 private:
  Database(internal::Engine* engine, bool owns_engine);

  absl::Status CheckOwned(const Map& map) const;
  absl::Status CheckOwned(const Snapshot* snapshot) const;

  internal::Engine* const engine_;
  const bool owns_engine_;
  mutable std::mutex mu_;
  // Handles given out by OpenMap(); the column family handles inside belong to the engine.
  std::map<std::string, std::unique_ptr<Map>, std::less<>> maps_;  // Guarded by mu_.
};

}  // namespace conclave::database

#endif  // CONCLAVE_DATABASE_DATABASE_H_
