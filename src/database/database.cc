#include "conclave/database/database.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "conclave/core/status_macros.h"
#include "engine.h"
#include "iterator_rep.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/utilities/memory_util.h"
#include "status.h"

namespace conclave::database {
namespace {

rocksdb::Slice ToSlice(std::string_view view) { return {view.data(), view.size()}; }

absl::StatusOr<uint64_t> IntProperty(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* handle,
                                     const std::string& property, std::string_view map) {
  uint64_t value = 0;
  if (!db.GetIntProperty(handle, property, &value)) {
    return absl::InternalError(fmt::format("cannot read {} of map {}", property, map));
  }
  return value;
}

}  // namespace

Database::Database(internal::Engine* engine, bool owns_engine)
    : engine_(engine), owns_engine_(owns_engine) {}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const Options& options) {
  CONCLAVE_ASSIGN_OR_RETURN(std::unique_ptr<internal::Engine> engine,
                            internal::OpenEngine(options));
  return std::unique_ptr<Database>(new Database(engine.release(), /*owns_engine=*/true));
}

std::unique_ptr<Database> Database::Adopt(internal::Engine* engine) {
  return std::unique_ptr<Database>(new Database(engine, /*owns_engine=*/false));
}

Database::~Database() {
  // Maps point at column family handles the engine is about to destroy.
  maps_.clear();
  if (owns_engine_) {
    // Nothing to report to: the status only says the close was unclean, and the WAL recovers.
    internal::CloseEngine(std::unique_ptr<internal::Engine>(engine_)).IgnoreError();
  }
}

const std::string& Database::path() const { return engine_->path; }

absl::Status Database::CheckOwned(const Map& map) const {
  if (map.engine_ != engine_) {
    return absl::InvalidArgumentError(
        absl::StrCat("map ", map.name(), " belongs to another database than ", engine_->path));
  }
  return absl::OkStatus();
}

absl::Status Database::CheckOwned(const Snapshot* snapshot) const {
  if (snapshot != nullptr && snapshot->engine_ != engine_) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot belongs to another database than ", engine_->path));
  }
  return absl::OkStatus();
}

absl::StatusOr<Map*> Database::OpenMap(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = maps_.find(name); it != maps_.end()) return it->second.get();
  CONCLAVE_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * handle,
                            internal::GetOrCreateColumnFamily(*engine_, name));
  auto map = std::unique_ptr<Map>(new Map(engine_, std::string(name), handle));
  Map* result = map.get();
  maps_.emplace(std::string(name), std::move(map));
  return result;
}

std::vector<std::string> Database::MapNames() const {
  std::lock_guard<std::mutex> lock(engine_->mu);
  std::vector<std::string> names;
  names.reserve(engine_->column_families.size());
  for (const auto& [name, handle] : engine_->column_families) names.push_back(name);
  return names;
}

absl::StatusOr<std::string> Database::Get(const Map& map, std::string_view key,
                                          const Snapshot* snapshot) const {
  CONCLAVE_RETURN_IF_ERROR(CheckOwned(map));
  CONCLAVE_RETURN_IF_ERROR(CheckOwned(snapshot));
  rocksdb::ReadOptions read_options;
  if (snapshot != nullptr) read_options.snapshot = snapshot->snapshot_;
  std::string value;
  rocksdb::Status status = engine_->db->Get(read_options, map.handle_, ToSlice(key), &value);
  if (status.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("no such key in map ", map.name()));
  }
  if (!status.ok()) {
    return internal::FromRocksdb(status, absl::StrCat("cannot read map ", map.name()));
  }
  return value;
}

absl::Status Database::Put(const Map& map, std::string_view key, std::string_view value) {
  WriteBatch batch;
  batch.Put(map, key, value);
  return Write(batch);
}

absl::Status Database::Delete(const Map& map, std::string_view key) {
  WriteBatch batch;
  batch.Delete(map, key);
  return Write(batch);
}

absl::Status Database::Write(WriteBatch& batch) {
  CONCLAVE_RETURN_IF_ERROR(batch.status_);
  if (batch.engine_ != nullptr && batch.engine_ != engine_) {
    return absl::InvalidArgumentError(
        absl::StrCat("write batch belongs to another database than ", engine_->path));
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = engine_->sync_writes;
  return internal::FromRocksdb(engine_->db->Write(write_options, batch.batch_.get()),
                               absl::StrCat("cannot write to ", engine_->path));
}

std::unique_ptr<Iterator> Database::NewIterator(const Map& map, IteratorOptions options) const {
  auto rep = std::make_unique<Iterator::Rep>();
  absl::Status owned = CheckOwned(map);
  if (owned.ok()) owned = CheckOwned(options.snapshot.get());
  if (!owned.ok()) {
    rep->iterator.reset(
        rocksdb::NewErrorIterator(rocksdb::Status::InvalidArgument(std::string(owned.message()))));
    return std::unique_ptr<Iterator>(new Iterator(std::move(rep)));
  }

  rocksdb::ReadOptions read_options;
  rep->snapshot = std::move(options.snapshot);
  if (rep->snapshot != nullptr) read_options.snapshot = rep->snapshot->snapshot_;
  if (!options.prefix.empty()) {
    rep->lower_bound = std::move(options.prefix);
    rep->lower_bound_slice = ToSlice(rep->lower_bound);
    read_options.iterate_lower_bound = &rep->lower_bound_slice;
    if (auto upper = internal::PrefixSuccessor(rep->lower_bound)) {
      rep->upper_bound = *std::move(upper);
      rep->upper_bound_slice = ToSlice(rep->upper_bound);
      read_options.iterate_upper_bound = &rep->upper_bound_slice;
    }
  }
  rep->iterator.reset(engine_->db->NewIterator(read_options, map.handle_));
  return std::unique_ptr<Iterator>(new Iterator(std::move(rep)));
}

absl::Status Database::ForEachWithPrefix(
    const Map& map, std::string_view prefix,
    absl::FunctionRef<bool(std::string_view key, std::string_view value)> callback,
    const Snapshot* snapshot) const {
  CONCLAVE_RETURN_IF_ERROR(CheckOwned(snapshot));
  IteratorOptions options;
  options.prefix = std::string(prefix);
  // The callback runs synchronously, so the caller's reference keeps the snapshot alive; an
  // aliasing shared_ptr passes it on without taking ownership.
  options.snapshot = std::shared_ptr<const Snapshot>(std::shared_ptr<const Snapshot>(), snapshot);
  std::unique_ptr<Iterator> it = NewIterator(map, std::move(options));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!callback(it->key(), it->value())) break;
  }
  return it->status();
}

std::shared_ptr<const Snapshot> Database::GetSnapshot() const {
  return std::shared_ptr<const Snapshot>(
      new Snapshot(engine_, engine_->db, engine_->db->GetSnapshot()));
}

absl::Status Database::CreateCheckpoint(const std::string& dir) {
  std::error_code error;
  if (std::filesystem::exists(dir, error)) {
    return absl::AlreadyExistsError(absl::StrCat("checkpoint directory exists: ", dir));
  }
  const std::filesystem::path parent = std::filesystem::absolute(dir, error).parent_path();
  if (!std::filesystem::is_directory(parent, error)) {
    return absl::NotFoundError(
        absl::StrCat("cannot create checkpoint ", dir, ": no directory ", parent.string()));
  }
  rocksdb::Checkpoint* raw = nullptr;
  CONCLAVE_RETURN_IF_ERROR(
      internal::FromRocksdb(rocksdb::Checkpoint::Create(engine_->db, &raw),
                            absl::StrCat("cannot start a checkpoint of ", engine_->path)));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  rocksdb::Status status = checkpoint->CreateCheckpoint(dir);
  if (!status.ok()) {
    absl::Status result = internal::FromRocksdb(
        status, absl::StrCat("cannot create checkpoint of ", engine_->path, " in ", dir));
    // Checkpoints are written whole or not at all; a failure here is not the caller's argument.
    if (result.code() == absl::StatusCode::kInvalidArgument) {
      return absl::InternalError(result.message());
    }
    return result;
  }
  return absl::OkStatus();
}

absl::Status Database::Compact(const Map* map) {
  std::vector<std::pair<std::string, rocksdb::ColumnFamilyHandle*>> targets;
  if (map != nullptr) {
    CONCLAVE_RETURN_IF_ERROR(CheckOwned(*map));
    targets.emplace_back(map->name(), map->handle_);
  } else {
    std::lock_guard<std::mutex> lock(engine_->mu);
    targets.assign(engine_->column_families.begin(), engine_->column_families.end());
  }
  rocksdb::CompactRangeOptions options;
  // Rewrite the last level too: an operator compacts to reclaim the space of deletes.
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  for (const auto& [name, handle] : targets) {
    CONCLAVE_RETURN_IF_ERROR(
        internal::FromRocksdb(engine_->db->CompactRange(options, handle, nullptr, nullptr),
                              absl::StrCat("cannot compact map ", name, " of ", engine_->path)));
  }
  return absl::OkStatus();
}

absl::Status Database::Flush() {
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  {
    std::lock_guard<std::mutex> lock(engine_->mu);
    for (const auto& [name, handle] : engine_->column_families) handles.push_back(handle);
  }
  rocksdb::FlushOptions options;
  options.wait = true;
  return internal::FromRocksdb(engine_->db->Flush(options, handles),
                               absl::StrCat("cannot flush ", engine_->path));
}

absl::StatusOr<std::vector<MapStats>> Database::Stats() const {
  std::vector<std::pair<std::string, rocksdb::ColumnFamilyHandle*>> targets;
  {
    std::lock_guard<std::mutex> lock(engine_->mu);
    targets.assign(engine_->column_families.begin(), engine_->column_families.end());
  }
  rocksdb::DB& db = *engine_->db;
  std::vector<MapStats> result;
  result.reserve(targets.size());
  for (const auto& [name, handle] : targets) {
    MapStats stats;
    stats.name = name;
    CONCLAVE_ASSIGN_OR_RETURN(
        stats.estimated_keys,
        IntProperty(db, handle, rocksdb::DB::Properties::kEstimateNumKeys, name));
    CONCLAVE_ASSIGN_OR_RETURN(
        stats.live_sst_bytes,
        IntProperty(db, handle, rocksdb::DB::Properties::kLiveSstFilesSize, name));
    CONCLAVE_ASSIGN_OR_RETURN(
        stats.memtable_bytes,
        IntProperty(db, handle, rocksdb::DB::Properties::kCurSizeAllMemTables, name));
    const int levels = db.NumberLevels(handle);
    for (int level = 0; level < levels; ++level) {
      const std::string property =
          absl::StrCat(rocksdb::DB::Properties::kNumFilesAtLevelPrefix, level);
      std::string value;
      uint64_t files = 0;
      if (!db.GetProperty(handle, property, &value) || !absl::SimpleAtoi(value, &files)) {
        return absl::InternalError(absl::StrCat("cannot read ", property, " of map ", name));
      }
      stats.files_per_level.push_back(files);
      stats.sst_files += files;
    }
    result.push_back(std::move(stats));
  }
  return result;
}

absl::StatusOr<MemoryUsage> Database::Memory() const {
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  {
    std::lock_guard<std::mutex> lock(engine_->mu);
    for (const auto& [name, handle] : engine_->column_families) handles.push_back(handle);
  }
  std::unordered_set<const rocksdb::Cache*> caches;
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    const rocksdb::Options options = engine_->db->GetOptions(handle);
    if (options.table_factory == nullptr) continue;
    const auto* table = options.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
    if (table != nullptr && table->block_cache != nullptr) caches.insert(table->block_cache.get());
  }
  std::map<rocksdb::MemoryUtil::UsageType, uint64_t> usage;
  CONCLAVE_RETURN_IF_ERROR(internal::FromRocksdb(
      rocksdb::MemoryUtil::GetApproximateMemoryUsageByType({engine_->db}, caches, &usage),
      absl::StrCat("cannot read the memory usage of ", engine_->path)));
  MemoryUsage out;
  out.memtable_bytes = usage[rocksdb::MemoryUtil::kMemTableTotal];
  out.table_readers_bytes = usage[rocksdb::MemoryUtil::kTableReadersTotal];
  out.block_cache_bytes = usage[rocksdb::MemoryUtil::kCacheTotal];
  out.block_caches = caches.size();
  for (const rocksdb::Cache* cache : caches) out.block_cache_capacity += cache->GetCapacity();
  return out;
}

}  // namespace conclave::database
