// The reload counters of GlobalMetrics() (docs/observability.md). Private to core.
#ifndef CONCLAVE_CORE_RELOAD_METRICS_H_
#define CONCLAVE_CORE_RELOAD_METRICS_H_

#include "conclave/core/module_host.h"

namespace conclave::core::internal {

// Counts a finished Reload() in GlobalMetrics(): the registry is core's, so the counts carry on
// across the reloads they count.
void CountReload(const ReloadReport& report);

}  // namespace conclave::core::internal

#endif  // CONCLAVE_CORE_RELOAD_METRICS_H_
