#include "reload_metrics.h"

#include "conclave/core/metrics.h"

namespace conclave::core::internal {

// Counts a finished Reload() in GlobalMetrics(): the registry is core's, so the counts carry on
// across the reloads they count.
void CountReload(const ReloadReport& report) {
  struct Families {
    CounterFamily* reloads = nullptr;
    HistogramFamily* durations = nullptr;
  };
  static const Families* families = [] {
    auto* f = new Families;
    auto reloads = GlobalMetrics().AddCounter(
        "conclave_module_reloads_total",
        "Hot reloads of modules by result: reloaded (new code serving), unchanged (nothing to "
        "reload), restart (core or main changed: exec restart instead), failed (rolled back, "
        "cancelled or refused).",
        {"result"});
    auto durations = GlobalMetrics().AddHistogram(
        "conclave_module_reload_duration_seconds",
        "Duration of hot reloads that reloaded modules or failed, from the request to the report.");
    if (reloads.ok()) f->reloads = *reloads;
    if (durations.ok()) f->durations = *durations;
    return f;
  }();
  std::string_view result = "failed";
  if (report.restart_needed) {
    result = "restart";
  } else if (report.status.ok()) {
    result = report.reloaded.empty() ? "unchanged" : "reloaded";
  }
  if (families->reloads != nullptr) families->reloads->WithLabels({result}).Increment();
  if (families->durations != nullptr && (result == "reloaded" || result == "failed")) {
    families->durations->Get().ObserveDuration(report.elapsed);
  }
}

}  // namespace conclave::core::internal
