#include "metrics.h"

#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"

namespace conclave::database::internal {
namespace {

// RocksDB integer properties summed over every column family (DB::GetAggregatedIntProperty).
struct Summed {
  const char* property;
  const char* name;
  const char* help;
};

const Summed kSummed[] = {
    {"rocksdb.estimate-live-data-size", "conclave_rocksdb_estimate_live_data_size_bytes",
     "Estimated bytes of live data in SST files, summed over column families "
     "(rocksdb.estimate-live-data-size)."},
    {"rocksdb.live-sst-files-size", "conclave_rocksdb_live_sst_files_size_bytes",
     "Bytes of the SST files of the current version, summed over column families "
     "(rocksdb.live-sst-files-size)."},
    {"rocksdb.cur-size-all-mem-tables", "conclave_rocksdb_memtables_bytes",
     "Bytes of active and immutable memtables, summed over column families "
     "(rocksdb.cur-size-all-mem-tables)."},
    {"rocksdb.estimate-num-keys", "conclave_rocksdb_estimate_num_keys",
     "Estimated number of keys, summed over column families (rocksdb.estimate-num-keys); "
     "deletes and overwrites not yet compacted make it approximate."},
    {"rocksdb.estimate-table-readers-mem", "conclave_rocksdb_table_readers_bytes",
     "Bytes of index and filter blocks held outside the block cache, summed over column "
     "families (rocksdb.estimate-table-readers-mem)."},
    {"rocksdb.estimate-pending-compaction-bytes", "conclave_rocksdb_pending_compaction_bytes",
     "Estimated bytes compaction still has to rewrite, summed over column families "
     "(rocksdb.estimate-pending-compaction-bytes)."},
    {"rocksdb.background-errors", "conclave_rocksdb_background_errors",
     "Background errors (failed flushes or compactions) since the database was opened "
     "(rocksdb.background-errors)."},
};

void Collect(Engine& engine, core::MetricWriter& writer) {
  rocksdb::DB& db = *engine.db;
  for (const Summed& s : kSummed) {
    uint64_t value = 0;
    if (db.GetAggregatedIntProperty(s.property, &value)) {
      writer.WriteGauge(s.name, s.help, static_cast<double>(value));
    }
  }
  // The block cache is shared by the column families: each distinct cache counts once (the
  // per-family rocksdb.block-cache-usage would count a shared one once per family).
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  {
    std::lock_guard<std::mutex> lock(engine.mu);
    for (const auto& [name, handle] : engine.column_families) handles.push_back(handle);
  }
  std::unordered_set<rocksdb::Cache*> caches;
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    const rocksdb::Options options = db.GetOptions(handle);
    if (options.table_factory == nullptr) continue;
    const auto* table = options.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
    if (table != nullptr && table->block_cache != nullptr) caches.insert(table->block_cache.get());
  }
  uint64_t usage = 0, capacity = 0;
  for (rocksdb::Cache* cache : caches) {
    usage += cache->GetUsage();
    capacity += cache->GetCapacity();
  }
  writer.WriteGauge("conclave_rocksdb_block_cache_usage_bytes",
                    "Bytes in the block cache (rocksdb.block-cache-usage; a cache shared by "
                    "several column families counts once).",
                    static_cast<double>(usage));
  writer.WriteGauge("conclave_rocksdb_block_cache_capacity_bytes",
                    "Capacity of the block cache (rocksdb.block-cache-capacity).",
                    static_cast<double>(capacity));
  writer.WriteGauge("conclave_rocksdb_column_families", "Open column families (maps).",
                    static_cast<double>(handles.size()));
}

}  // namespace

core::MetricsHandle RegisterEngineMetrics(core::MetricsRegistry& registry, Engine* engine) {
  return registry.AddCollector([engine](core::MetricWriter& writer) { Collect(*engine, writer); });
}

}  // namespace conclave::database::internal
