#include "engine.h"

#include <fmt/format.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "conclave/core/status_macros.h"
#include "rocksdb/convenience.h"
#include "rocksdb/options.h"
#include "status.h"

namespace conclave::database::internal {
namespace {

// RocksDB reports a held LOCK file as a plain IOError. These are the contexts of its PosixEnv
// LockFile(): another process holds the fcntl lock, or this process already has the database open
// (fcntl locks do not conflict within one process, so RocksDB tracks its own).
bool IsLockHeld(const rocksdb::Status& status) {
  if (!status.IsIOError()) return false;
  const std::string message = status.ToString();
  return absl::StrContains(message, "While lock file") ||
         absl::StrContains(message, "lock hold by current process");
}

absl::Status FromFilesystem(const std::error_code& error, std::string_view what) {
  const std::string message = fmt::format("{}: {}", what, error.message());
  switch (error.value()) {
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

rocksdb::DBOptions MakeDbOptions(const Options& options) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  // Every open starts a new info LOG; dev restarts often and would pile up LOG.old files.
  db_options.keep_log_file_num = 10;
  // One budget for the memtables of all column families (the homeserver has about 20): without
  // it each may grow to its own 64 MiB before a flush, and small maps never reach that.
  db_options.db_write_buffer_size = 64 << 20;
  return db_options;
}

// One LRU block cache for all column families: by default each gets its own 8 MiB cache, and the
// homeserver has over 20 of them.
constexpr size_t kBlockCacheBytes = 64 << 20;

// Built by librocksdb from an options string rather than with `table_factory.reset(...)` here:
// the engine outlives the generation of this module that opened it, and a shared_ptr made here
// has its control block's vtable in this library, which a database reload unmaps. The old code
// then crashed the later shutdown (`~ColumnFamilyOptions`, caught by the asan preset).
absl::StatusOr<rocksdb::ColumnFamilyOptions> MakeColumnFamilyOptions() {
  rocksdb::ConfigOptions config;
  config.ignore_unknown_options = false;
  rocksdb::ColumnFamilyOptions options;
  const std::string spec =
      fmt::format("block_based_table_factory={{block_cache={}}}", kBlockCacheBytes);
  rocksdb::Status status = rocksdb::GetColumnFamilyOptionsFromString(
      config, rocksdb::ColumnFamilyOptions(), spec, &options);
  if (!status.ok()) return FromRocksdb(status, "cannot build the column family options");
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> OpenEngine(const Options& options) {
  namespace fs = std::filesystem;
  if (options.path.empty()) return absl::InvalidArgumentError("database path is empty");
  const std::string& path = options.path;

  std::error_code error;
  const bool exists = fs::exists(fs::path(path) / "CURRENT", error);
  if (error) return FromFilesystem(error, absl::StrCat("cannot access database at ", path));
  if (!exists) {
    if (!options.create_if_missing) {
      return absl::NotFoundError(absl::StrCat("no database at ", path));
    }
    // RocksDB creates only the last directory of the path.
    fs::create_directories(path, error);
    if (error) return FromFilesystem(error, absl::StrCat("cannot create database at ", path));
  }

  const rocksdb::DBOptions db_options = MakeDbOptions(options);
  std::vector<std::string> names;
  if (exists) {
    rocksdb::Status status = rocksdb::DB::ListColumnFamilies(db_options, path, &names);
    if (!status.ok()) {
      return FromRocksdb(status, absl::StrCat("cannot list the maps of database at ", path));
    }
  }
  if (names.empty()) names.push_back(rocksdb::kDefaultColumnFamilyName);

  CONCLAVE_ASSIGN_OR_RETURN(const rocksdb::ColumnFamilyOptions column_family_options,
                            MakeColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.reserve(names.size());
  for (const std::string& name : names) {
    descriptors.emplace_back(name, column_family_options);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(db_options, path, descriptors, &handles, &db);
  if (!status.ok()) {
    if (IsLockHeld(status)) {
      return absl::UnavailableError(
          absl::StrCat("database is in use: ", path, " is locked by another process"));
    }
    return FromRocksdb(status, absl::StrCat("cannot open database at ", path));
  }

  auto engine = std::make_unique<Engine>();
  engine->path = path;
  engine->sync_writes = options.sync_writes;
  engine->column_family_options = column_family_options;
  engine->db = db;
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    engine->column_families.emplace(handle->GetName(), handle);
  }
  return engine;
}

absl::StatusOr<rocksdb::ColumnFamilyHandle*> GetOrCreateColumnFamily(Engine& engine,
                                                                     std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("map name is empty");
  std::lock_guard<std::mutex> lock(engine.mu);
  if (auto it = engine.column_families.find(name); it != engine.column_families.end()) {
    return it->second;
  }
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  rocksdb::Status status =
      engine.db->CreateColumnFamily(engine.column_family_options, std::string(name), &handle);
  if (!status.ok()) {
    return FromRocksdb(status, fmt::format("cannot create map {} in {}", name, engine.path));
  }
  engine.column_families.emplace(std::string(name), handle);
  return handle;
}

absl::Status CloseEngine(std::unique_ptr<Engine> engine) {
  if (engine == nullptr || engine->db == nullptr) return absl::OkStatus();
  absl::Status result;
  auto keep_first = [&result](const rocksdb::Status& status, std::string_view context) {
    if (!status.ok() && result.ok()) result = FromRocksdb(status, context);
  };
  const std::string& path = engine->path;
  // Writes that were not synced are in the OS page cache already; syncing them here makes a
  // clean shutdown durable against a power cut too.
  keep_first(engine->db->FlushWAL(/*sync=*/true),
             absl::StrCat("cannot sync the write-ahead log of ", path));
  {
    std::lock_guard<std::mutex> lock(engine->mu);
    for (auto& [name, handle] : engine->column_families) {
      keep_first(engine->db->DestroyColumnFamilyHandle(handle),
                 absl::StrCat("cannot release map ", name, " of ", path));
    }
    engine->column_families.clear();
  }
  keep_first(engine->db->Close(), absl::StrCat("cannot close database at ", path));
  // Deleting closes for good even when Close() refused (held snapshots).
  delete engine->db;
  engine->db = nullptr;
  return result;
}

}  // namespace conclave::database::internal
