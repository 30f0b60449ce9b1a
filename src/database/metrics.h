// The database module's metrics: RocksDB figures summed over every column family, read at each
// scrape of /_conclave/metrics. Private to the database subsystem.
#ifndef CONCLAVE_DATABASE_METRICS_H_
#define CONCLAVE_DATABASE_METRICS_H_

#include "conclave/core/metrics.h"
#include "engine.h"

namespace conclave::database::internal {

// Registers a collector on `registry` that writes the RocksDB gauges of `engine` (names in
// docs/observability.md). The collector's code lives in this module: the handle must be reset
// in the module's `unload` hook, before `engine` is closed. `engine` must not be null.
core::MetricsHandle RegisterEngineMetrics(core::MetricsRegistry& registry, Engine* engine);

}  // namespace conclave::database::internal

#endif  // CONCLAVE_DATABASE_METRICS_H_
