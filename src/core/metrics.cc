#include "conclave/core/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "conclave/core/log.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool ValidMetricName(std::string_view name) {
  if (name.empty() || !(IsNameStart(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsNameStart(c) || IsDigit(c) || c == ':'; });
}

// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for Prometheus's own use).
bool ValidLabelName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0]) || name.substr(0, 2) == "__") return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsNameStart(c) || IsDigit(c); });
}

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// HELP text escapes backslash and line feed (not the double quote).
void AppendHelp(std::string* out, std::string_view name, std::string_view help, MetricType type) {
  StrAppend(out, "# HELP ", name, " ");
  for (char c : help) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
  StrAppend(out, "\n# TYPE ", name, " ", TypeName(type), "\n");
}

// `{a="x",b="y"}`, plus `extra` (e.g. le="0.5") last; nothing when there are no labels at all.
void AppendLabels(std::string* out, const std::vector<std::string>& names,
                  const LabelValues& values, std::string_view extra = {}) {
  if (names.empty() && extra.empty()) return;
  out->push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out->push_back(',');
    StrAppend(out, names[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  if (!extra.empty()) {
    if (!names.empty()) out->push_back(',');
    out->append(extra);
  }
  out->push_back('}');
}

void AppendSample(std::string* out, std::string_view name, const std::vector<std::string>& labels,
                  const LabelValues& values, std::string_view value) {
  out->append(name);
  AppendLabels(out, labels, values);
  StrAppend(out, " ", value, "\n");
}

absl::Status CheckNames(std::string_view name, const std::vector<std::string>& label_names,
                        MetricType type) {
  if (!ValidMetricName(name)) {
    return absl::InvalidArgumentError(StrCat("metric name '", name, "' is malformed"));
  }
  for (const auto& label : label_names) {
    if (!ValidLabelName(label) || (type == MetricType::kHistogram && label == "le")) {
      return absl::InvalidArgumentError(
          StrCat("metric ", name, ": label name '", label, "' is malformed or reserved"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {  // 2^53
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  return fmt::format("{}", value);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

const std::vector<double>& DefaultSecondsBuckets() {
  static const auto* buckets =
      new std::vector<double>{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                              0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
  return *buckets;
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  const size_t bucket =
      std::lower_bound(bounds_->begin(), bounds_->end(), value) - bounds_->begin();
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot out;
  out.cumulative.reserve(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    out.cumulative.push_back(total);
  }
  out.count = total;
  out.sum = sum_.load(std::memory_order_relaxed);
  return out;
}

MetricFamily::MetricFamily(std::string name, std::string help, MetricType type,
                           std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {}

MetricFamily::~MetricFamily() = default;

void MetricFamily::CheckLabelCount(size_t count) const {
  if (count == label_names_.size()) return;
  std::fprintf(stderr, "conclave: metric %s takes %zu label values, got %zu\n", name_.c_str(),
               label_names_.size(), count);
  std::abort();
}

template <typename T>
Family<T>::Family(std::string name, std::string help, MetricType type,
                  std::vector<std::string> labels, std::vector<double> bounds)
    : MetricFamily(std::move(name), std::move(help), type, std::move(labels)),
      bounds_(std::move(bounds)) {}

template <typename T>
T& Family<T>::WithLabels(const LabelValues& values) {
  CheckLabelCount(values.size());
  std::lock_guard lock(mu_);
  auto it = series_.find(values);
  if (it == series_.end()) {
    std::unique_ptr<T> series;
    if constexpr (std::is_same_v<T, Histogram>) {
      series = std::make_unique<Histogram>(&bounds_);
    } else {
      series = std::make_unique<T>();
    }
    it = series_.emplace(values, std::move(series)).first;
  }
  return *it->second;
}

template <typename T>
T& Family<T>::WithLabels(std::initializer_list<std::string_view> values) {
  LabelValues copy;
  copy.reserve(values.size());
  for (std::string_view v : values) copy.emplace_back(v);
  return WithLabels(copy);
}

template <typename T>
void Family<T>::Render(std::string* out) const {
  std::vector<std::pair<const LabelValues*, const T*>> series;
  {
    std::lock_guard lock(mu_);
    // Entries are never erased, so the pointers stay valid after the lock is released.
    for (const auto& [values, s] : series_) series.emplace_back(&values, s.get());
  }
  AppendHelp(out, name_, help_, type_);
  for (const auto& [values, s] : series) {
    if constexpr (std::is_same_v<T, Counter>) {
      AppendSample(out, name_, label_names_, *values, StrCat(s->value()));
    } else if constexpr (std::is_same_v<T, Gauge>) {
      AppendSample(out, name_, label_names_, *values, FormatMetricValue(s->value()));
    } else {
      const Histogram::Snapshot snap = s->Read();
      const std::string bucket = StrCat(name_, "_bucket");
      for (size_t i = 0; i < snap.cumulative.size(); ++i) {
        const std::string le =
            StrCat("le=\"", i < bounds_.size() ? FormatMetricValue(bounds_[i]) : "+Inf", "\"");
        out->append(bucket);
        AppendLabels(out, label_names_, *values, le);
        StrAppend(out, " ", snap.cumulative[i], "\n");
      }
      AppendSample(out, StrCat(name_, "_sum"), label_names_, *values, FormatMetricValue(snap.sum));
      AppendSample(out, StrCat(name_, "_count"), label_names_, *values, StrCat(snap.count));
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void MetricWriter::WriteGauge(std::string_view name, std::string_view help, double value) {
  WriteFamily(name, help, MetricType::kGauge, {}, {{LabelValues{}, value}});
}

void MetricWriter::WriteCounter(std::string_view name, std::string_view help, double value) {
  WriteFamily(name, help, MetricType::kCounter, {}, {{LabelValues{}, value}});
}

void MetricWriter::WriteFamily(std::string_view name, std::string_view help, MetricType type,
                               const std::vector<std::string>& label_names,
                               const std::vector<std::pair<LabelValues, double>>& samples) {
  if (type == MetricType::kHistogram || !CheckNames(name, label_names, type).ok() ||
      std::find(written_->begin(), written_->end(), name) != written_->end()) {
    CONCLAVE_LOG(kDebug, "metrics", "collector family {} skipped (malformed or duplicate)", name);
    return;
  }
  for (const auto& [values, value] : samples) {
    if (values.size() != label_names.size()) {
      CONCLAVE_LOG(kDebug, "metrics", "collector family {} skipped (wrong label count)", name);
      return;
    }
  }
  written_->emplace_back(name);
  AppendHelp(out_, name, help, type);
  for (const auto& [values, value] : samples) {
    AppendSample(out_, name, label_names, values, FormatMetricValue(value));
  }
}

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

template <typename T>
absl::StatusOr<Family<T>*> MetricsRegistry::Add(std::string_view name, std::string_view help,
                                                MetricType type,
                                                std::vector<std::string> label_names,
                                                std::vector<double> bounds) {
  if (auto s = CheckNames(name, label_names, type); !s.ok()) return s;
  if (type == MetricType::kHistogram) {
    for (size_t i = 0; i < bounds.size(); ++i) {
      if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
        return absl::InvalidArgumentError(
            StrCat("metric ", name, ": bucket bounds must be finite and strictly ascending"));
      }
    }
  }
  std::lock_guard lock(families_mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    auto* existing = dynamic_cast<Family<T>*>(it->second.get());
    if (existing == nullptr || existing->type() != type || existing->label_names() != label_names ||
        existing->bounds_ != bounds) {
      return absl::AlreadyExistsError(
          StrCat("metric ", name, " is already registered with another type, labels or buckets"));
    }
    return existing;
  }
  auto* family = new Family<T>(std::string(name), std::string(help), type, std::move(label_names),
                               std::move(bounds));
  families_.emplace(std::string(name), std::unique_ptr<MetricFamily>(family));
  return family;
}

absl::StatusOr<CounterFamily*> MetricsRegistry::AddCounter(std::string_view name,
                                                           std::string_view help,
                                                           std::vector<std::string> label_names) {
  return Add<Counter>(name, help, MetricType::kCounter, std::move(label_names), {});
}

absl::StatusOr<GaugeFamily*> MetricsRegistry::AddGauge(std::string_view name, std::string_view help,
                                                       std::vector<std::string> label_names) {
  return Add<Gauge>(name, help, MetricType::kGauge, std::move(label_names), {});
}

absl::StatusOr<HistogramFamily*> MetricsRegistry::AddHistogram(std::string_view name,
                                                               std::string_view help,
                                                               std::vector<std::string> label_names,
                                                               std::vector<double> bounds) {
  return Add<Histogram>(name, help, MetricType::kHistogram, std::move(label_names),
                        std::move(bounds));
}

MetricsHandle MetricsRegistry::AddCollector(Collector collect) {
  std::lock_guard lock(collectors_mu_);
  const uint64_t id = next_collector_id_++;
  collectors_.emplace_back(id, std::move(collect));
  return MetricsHandle(this, id);
}

void MetricsRegistry::Unregister(uint64_t id) {
  // Destroyed under the lock, while the code of the module that registered it is still loaded
  // (the handle is reset in its unload hook at the latest).
  std::lock_guard lock(collectors_mu_);
  std::erase_if(collectors_, [id](const auto& entry) { return entry.first == id; });
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::vector<std::string> written;
  {
    std::lock_guard lock(families_mu_);
    for (const auto& [name, family] : families_) {
      family->Render(&out);
      written.push_back(name);
    }
  }
  std::lock_guard lock(collectors_mu_);
  MetricWriter writer(&out, &written);
  for (const auto& [id, collect] : collectors_) collect(writer);
  return out;
}

}  // namespace conclave::core
