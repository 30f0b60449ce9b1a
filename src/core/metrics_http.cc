#include "metrics_http.h"

#include <cstdio>
#include <cstdlib>
#include <iterator>

#include "absl/strings/ascii.h"
#include "conclave/core/str_cat.h"

namespace conclave::core::internal {
namespace {

constexpr std::string_view kMethods[] = {"GET",    "HEAD",    "POST",  "PUT",
                                         "DELETE", "OPTIONS", "PATCH", "OTHER"};
static_assert(std::size(kMethods) == 8);

size_t MethodIndex(std::string_view method) {
  for (size_t i = 0; i + 1 < std::size(kMethods); ++i) {
    if (kMethods[i] == method) return i;
  }
  return std::size(kMethods) - 1;
}

template <typename T>
T* OrDie(absl::StatusOr<T*> family) {
  if (!family.ok()) {
    // Only a programming error here (names are constants): fail at the first start, loudly.
    std::fprintf(stderr, "conclave: %s\n", std::string(family.status().message()).c_str());
    std::abort();
  }
  return *family;
}

}  // namespace

std::string_view MethodLabel(std::string_view method) { return kMethods[MethodIndex(method)]; }

RouteMetrics::RouteMetrics(HttpMetrics* owner, std::string method, std::string route)
    : owner_(owner), method_(std::move(method)), route_(std::move(route)) {}

void RouteMetrics::Record(int status, absl::Duration elapsed) {
  Histogram* duration = duration_.load(std::memory_order_acquire);
  if (duration == nullptr) {
    // Two threads may both get here: WithLabels returns the same series to both.
    duration = &owner_->durations_->WithLabels({method_, route_});
    duration_.store(duration, std::memory_order_release);
  }
  duration->ObserveDuration(elapsed);
  for (const auto& slot : statuses_) {
    const StatusCounter* entry = slot.load(std::memory_order_acquire);
    if (entry == nullptr) break;
    if (entry->status == status) {
      entry->counter->Increment();
      return;
    }
  }
  SlowCounter(status).Increment();
}

Counter& RouteMetrics::SlowCounter(int status) {
  std::lock_guard lock(mu_);
  for (const auto& slot : statuses_) {
    const StatusCounter* entry = slot.load(std::memory_order_acquire);
    if (entry != nullptr && entry->status == status) return *entry->counter;
  }
  Counter& counter = owner_->requests_->WithLabels({method_, route_, StrCat(status)});
  for (auto& slot : statuses_) {
    if (slot.load(std::memory_order_relaxed) == nullptr) {
      slot.store(&owned_.emplace_back(StatusCounter{status, &counter}), std::memory_order_release);
      break;
    }
  }
  // All slots taken: a rare status keeps taking this path (and the family's mutex).
  return counter;
}

HttpMetrics& HttpMetrics::Global() {
  static HttpMetrics* metrics = new HttpMetrics(GlobalMetrics());
  return *metrics;
}

HttpMetrics::HttpMetrics(MetricsRegistry& registry) {
  requests_ = OrDie(registry.AddCounter(
      "conclave_http_requests_total",
      "HTTP requests answered, by method, route template (<unmatched> when no route matched, "
      "<preflight> for CORS preflights) and status.",
      {"method", "route", "status"}));
  durations_ = OrDie(registry.AddHistogram(
      "conclave_http_request_duration_seconds",
      "Time from a request's header to its response written, waits of long-polls included.",
      {"method", "route"}));
  connections_open_ = &OrDie(registry.AddGauge("conclave_http_connections_open",
                                               "Client connections open right now."))
                           ->Get();
  handed_over_ =
      &OrDie(registry.AddCounter("conclave_http_connections_handed_over_total",
                                 "Client connections this image took over from the previous one at "
                                 "an exec restart (or took back after a failed exec), idle between "
                                 "two requests."))
           ->Get();
  CounterFamily* closed = OrDie(registry.AddCounter(
      "conclave_http_connections_handover_closed_total",
      "Client connections closed at an exec restart instead of handed over, by reason: busy "
      "(still in a request after reload_drain_timeout), invalid (the new image found the record "
      "or the socket wrong), no_listener (its listener is gone from the config).",
      {"reason"}));
  handover_closed_busy_ = &closed->WithLabels({"busy"});
  handover_closed_invalid_ = &closed->WithLabels({"invalid"});
  handover_closed_no_listener_ = &closed->WithLabels({"no_listener"});
  tls_handshake_failures_ =
      &OrDie(
           registry.AddCounter("conclave_http_tls_handshake_failures_total",
                               "Connections of the federation (TLS) listener closed because their "
                               "TLS handshake failed or did not finish within request_timeout."))
           ->Get();
  for (size_t i = 0; i < unmatched_.size(); ++i) {
    unmatched_[i] = &ForRoute(kMethods[i], kUnmatchedRoute);
  }
  preflight_ = &ForRoute("OPTIONS", kPreflightRoute);
}

RouteMetrics& HttpMetrics::ForRoute(std::string_view method, std::string_view route) {
  std::string label(MethodLabel(absl::AsciiStrToUpper(std::string(method))));
  std::lock_guard lock(mu_);
  auto key = std::make_pair(label, std::string(route));
  auto it = routes_.find(key);
  if (it == routes_.end()) {
    auto series = std::make_unique<RouteMetrics>(this, label, std::string(route));
    it = routes_.emplace(std::move(key), std::move(series)).first;
  }
  return *it->second;
}

RouteMetrics& HttpMetrics::Unmatched(std::string_view method) {
  return *unmatched_[MethodIndex(method)];
}

}  // namespace conclave::core::internal
