// Metrics: a small registry of counters, gauges and histograms with label sets, rendered in the
// Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Owned by core. Core is permanent, so the process-wide registry (GlobalMetrics()) and every
// series in it outlive all module generations: counters keep counting across hot reloads (an
// exec restart starts them over, which Prometheus handles as a counter reset). Families and
// series are never removed. Values that module code computes at scrape time are registered as
// collectors (AddCollector()), whose RAII handle unregisters them; a module destroys it in its
// `unload` hook at the latest, and a scrape never runs a collector after that.
//
// The HTTP engine serves the rendering at `/_conclave/metrics` (docs/observability.md).
#ifndef CONCLAVE_CORE_METRICS_H_
#define CONCLAVE_CORE_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/registration.h"

namespace conclave::core {

// Label values of one series, in the order of its family's label names.
using LabelValues = std::vector<std::string>;

enum class MetricType { kCounter, kGauge, kHistogram };

// A count that only goes up. Thread-safe and lock-free (one relaxed atomic add).
class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down. Thread-safe and lock-free.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted in fixed buckets, with their sum. Thread-safe and lock-free: Observe() is a
// search over the bounds and two atomic adds.
class Histogram {
 public:
  // `bounds`: the finite upper bounds (`le`), ascending; kept by pointer, must outlive this (the
  // family owns both).
  explicit Histogram(const std::vector<double>* bounds);

  // Counts `value` in the first bucket whose bound is >= `value` (+Inf if none).
  void Observe(double value);
  // Observes `elapsed` in seconds.
  void ObserveDuration(absl::Duration elapsed) { Observe(absl::ToDoubleSeconds(elapsed)); }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  // Reads the buckets. Concurrent observations may land between two reads; the cumulative counts
  // are still non-decreasing.
  Snapshot Read() const;

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_->size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

// Seconds buckets for latencies: Prometheus's defaults (5 ms .. 10 s), extended down to 100 µs
// for fast handlers and up to 60 s for long-polls.
const std::vector<double>& DefaultSecondsBuckets();

// One metric name with its help text, type and label names, and one series per distinct label
// values. Created by MetricsRegistry; lives as long as it. Thread-safe.
class MetricFamily {
 public:
  virtual ~MetricFamily();
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends the family (HELP, TYPE and one line per series, or per bucket) to `out`.
  virtual void Render(std::string* out) const = 0;

 protected:
  MetricFamily(std::string name, std::string help, MetricType type,
               std::vector<std::string> label_names);
  // Aborts with a message naming the family when `count` differs from the number of labels: a
  // broken invariant of the calling code, never caused by input.
  void CheckLabelCount(size_t count) const;

  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

// A family of series of type T (Counter, Gauge or Histogram).
template <typename T>
class Family final : public MetricFamily {
 public:
  // Returns the series with `values` (one per label name, in order), created at zero on first
  // use. The reference stays valid as long as the registry. Takes the family's mutex: resolve a
  // series once and keep the reference on hot paths. A wrong number of values aborts.
  T& WithLabels(const LabelValues& values);
  T& WithLabels(std::initializer_list<std::string_view> values);
  // The series of a family without labels.
  T& Get() { return WithLabels(LabelValues{}); }

  void Render(std::string* out) const override;

 private:
  friend class MetricsRegistry;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> labels,
         std::vector<double> bounds = {});

  const std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<T>> series_;  // guarded by mu_
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// What a collector writes at scrape time: whole families of samples. Used only during the
// collector call that received it.
class MetricWriter {
 public:
  // Writes a gauge (or counter) family with one unlabeled sample.
  void WriteGauge(std::string_view name, std::string_view help, double value);
  void WriteCounter(std::string_view name, std::string_view help, double value);
  // Writes a family of `type` (kCounter or kGauge) with one sample per element of `samples`,
  // each with one label value per `label_names` entry. A family whose name or label names are
  // malformed, whose name was already written in this scrape, or a sample with the wrong number
  // of values, is skipped and logged at debug level.
  void WriteFamily(std::string_view name, std::string_view help, MetricType type,
                   const std::vector<std::string>& label_names,
                   const std::vector<std::pair<LabelValues, double>>& samples);

 private:
  friend class MetricsRegistry;
  MetricWriter(std::string* out, std::vector<std::string>* written)
      : out_(out), written_(written) {}
  std::string* out_;
  std::vector<std::string>* written_;  // family names already in `out_`
};

class MetricsRegistry;

// Unregisters its collector on destruction (or Reset()). Move-only. Reset() waits for a scrape
// that is running the collector to finish, and afterwards no scrape runs it again, so it must be
// destroyed before anything the collector uses (module code, objects), and never from inside a
// collector (it would wait for itself).
using MetricsHandle = Registration<MetricsRegistry, uint64_t>;

// A set of metric families and collectors. Thread-safe: registration, updates and rendering may
// run concurrently from any threads.
class MetricsRegistry {
 public:
  using Collector = std::function<void(MetricWriter& writer)>;

  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Returns the family `name`, creating it. Names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
  // [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__" ("le" is reserved for histograms).
  // Registering the same name, type and labels (and bounds) again returns the same family.
  // Errors: kInvalidArgument for a malformed name or label name, or histogram bounds that are
  // not finite and strictly ascending; kAlreadyExists when `name` is taken by a family of
  // another type, labels or bounds. The pointer stays valid as long as the registry.
  absl::StatusOr<CounterFamily*> AddCounter(std::string_view name, std::string_view help,
                                            std::vector<std::string> label_names = {});
  absl::StatusOr<GaugeFamily*> AddGauge(std::string_view name, std::string_view help,
                                        std::vector<std::string> label_names = {});
  absl::StatusOr<HistogramFamily*> AddHistogram(
      std::string_view name, std::string_view help, std::vector<std::string> label_names = {},
      std::vector<double> bounds = DefaultSecondsBuckets());

  // Registers `collect`, called at every Render() (one at a time, under the registry's collector
  // lock) to write values computed at scrape time, e.g. RocksDB properties. It must be quick,
  // must not register or unregister anything, and must not outlive the code and objects it
  // uses: the returned handle unregisters it.
  MetricsHandle AddCollector(Collector collect);

  // Returns every family (sorted by name), then what the collectors write, in the text
  // exposition format 0.0.4 (content type kMetricsContentType).
  std::string Render() const;

 private:
  friend MetricsHandle;
  template <typename T>
  absl::StatusOr<Family<T>*> Add(std::string_view name, std::string_view help, MetricType type,
                                 std::vector<std::string> label_names, std::vector<double> bounds);
  // MetricsHandle's undo: removes the collector, waiting for a scrape running it.
  void Unregister(uint64_t id);

  mutable std::mutex families_mu_;
  std::map<std::string, std::unique_ptr<MetricFamily>, std::less<>> families_;
  // Held while collectors run, so that Unregister() waits for a running one.
  mutable std::mutex collectors_mu_;
  std::vector<std::pair<uint64_t, Collector>> collectors_;  // guarded by collectors_mu_
  uint64_t next_collector_id_ = 1;                          // guarded by collectors_mu_
};

// The Content-Type of Render()'s output.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// The process-wide registry, created at first use with core's own metrics: build info, process
// start time and uptime, and jemalloc's statistics when the process runs on jemalloc. Never
// destroyed. Thread-safe.
MetricsRegistry& GlobalMetrics();

// Formats `value` as the exposition format wants it: integers without a fraction, "+Inf",
// "-Inf", "NaN", else the shortest representation that reads back the same.
std::string FormatMetricValue(double value);
// Escapes a label value: backslash, double quote and line feed.
std::string EscapeLabelValue(std::string_view value);

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_METRICS_H_
