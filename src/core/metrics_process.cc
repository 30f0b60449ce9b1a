// The process-wide registry and core's own metrics: build info, start time, uptime, jemalloc.
#include <dlfcn.h>

#include <cstddef>
#include <mutex>

#include "conclave/core/build_info.h"
#include "conclave/core/log.h"
#include "conclave/core/metrics.h"

namespace conclave::core {
namespace {

// jemalloc's mallctl(name, oldp, oldlenp, newp, newlen).
using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);

// Writes jemalloc's process-wide statistics. jemalloc lives in the executable only (never in a
// module, never in core's shared library), which exports `mallctl`: found with dlsym, like the
// admin command `server memory-usage` does. Null when the process does not run on jemalloc
// (tests), then nothing is written.
void WriteJemalloc(Mallctl mallctl, MetricWriter& writer) {
  if (mallctl == nullptr) return;
  // The statistics are a snapshot that writing "epoch" refreshes. The refresh and the reads are
  // serialized so two scrapes do not interleave them (jemalloc itself is thread-safe).
  static std::mutex* mu = new std::mutex;
  std::lock_guard lock(*mu);
  uint64_t epoch = 1;
  size_t length = sizeof(epoch);
  if (mallctl("epoch", &epoch, &length, &epoch, length) != 0) return;
  static constexpr struct {
    const char* ctl;
    const char* name;
    const char* help;
  } kStats[] = {
      {"stats.allocated", "conclave_jemalloc_allocated_bytes",
       "Bytes allocated by the application (jemalloc stats.allocated)."},
      {"stats.active", "conclave_jemalloc_active_bytes",
       "Bytes in active pages allocated by the application (jemalloc stats.active)."},
      {"stats.resident", "conclave_jemalloc_resident_bytes",
       "Bytes in physically resident data pages mapped by the allocator (jemalloc "
       "stats.resident)."},
      {"stats.mapped", "conclave_jemalloc_mapped_bytes",
       "Bytes in active extents mapped by the allocator (jemalloc stats.mapped)."},
      {"stats.retained", "conclave_jemalloc_retained_bytes",
       "Bytes in virtual memory mappings retained for reuse, not returned to the OS (jemalloc "
       "stats.retained)."},
  };
  for (const auto& stat : kStats) {
    size_t value = 0;
    length = sizeof(value);
    if (mallctl(stat.ctl, &value, &length, nullptr, 0) != 0) continue;  // built without stats
    writer.WriteGauge(stat.name, stat.help, static_cast<double>(value));
  }
}

void RegisterProcessMetrics(MetricsRegistry& registry) {
  const absl::Time start = absl::Now();
  auto build =
      registry.AddGauge("conclave_build_info", "Always 1; the labels describe the running build.",
                        {"version", "commit", "build_type"});
  if (build.ok()) (*build)->WithLabels({Version(), Commit(), BuildType()}).Set(1);
  auto started = registry.AddGauge(
      "conclave_process_start_time_seconds",
      "When this process image started (reset by an exec restart), seconds since the Unix epoch.");
  if (started.ok())
    (*started)->Get().Set(absl::ToDoubleMilliseconds(start - absl::UnixEpoch()) / 1e3);
  auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  // Core is permanent: this collector is never unregistered.
  static MetricsHandle* handle =
      new MetricsHandle(registry.AddCollector([start, mallctl](MetricWriter& writer) {
        writer.WriteGauge("conclave_uptime_seconds",
                          "Seconds since this process image started (reset by an exec restart).",
                          absl::ToDoubleSeconds(absl::Now() - start));
        WriteJemalloc(mallctl, writer);
      }));
  (void)handle;
}

}  // namespace

MetricsRegistry& GlobalMetrics() {
  static MetricsRegistry* registry = [] {
    auto* r = new MetricsRegistry;
    RegisterProcessMetrics(*r);
    return r;
  }();
  return *registry;
}

}  // namespace conclave::core
