// The HTTP engine's metrics: requests by method, route template and status, their durations, and
// open connections. Private to core (the Router resolves a route's series when the route is
// added; the HTTP engine records into it when the response is written).
#ifndef CONCLAVE_CORE_METRICS_HTTP_H_
#define CONCLAVE_CORE_METRICS_HTTP_H_

#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "absl/time/time.h"
#include "conclave/core/metrics.h"

namespace conclave::core::internal {

// The `route` label of requests no route matched (404, 405, malformed requests), and of CORS
// preflights, which the engine answers itself.
inline constexpr std::string_view kUnmatchedRoute = "<unmatched>";
inline constexpr std::string_view kPreflightRoute = "<preflight>";

// Returns `method` if it is one of the methods the label keeps (GET, HEAD, POST, PUT, DELETE,
// OPTIONS, PATCH), else "OTHER": a client cannot grow the number of series.
std::string_view MethodLabel(std::string_view method);

class HttpMetrics;

// The series of one method and route template. Thread-safe; Record() takes no lock once the
// route has seen a status (up to 8 statuses per route are cached lock-free). Owned by its
// HttpMetrics, never destroyed: a route re-registered by a reloaded module gets the same object.
class RouteMetrics {
 public:
  RouteMetrics(HttpMetrics* owner, std::string method, std::string route);
  RouteMetrics(const RouteMetrics&) = delete;
  RouteMetrics& operator=(const RouteMetrics&) = delete;

  const std::string& method() const { return method_; }
  const std::string& route() const { return route_; }

  // Counts one request answered with `status` that took `elapsed`.
  void Record(int status, absl::Duration elapsed);

 private:
  struct StatusCounter {
    int status;
    Counter* counter;
  };
  Counter& SlowCounter(int status);

  HttpMetrics* const owner_;
  const std::string method_;
  const std::string route_;
  std::atomic<Histogram*> duration_{nullptr};  // resolved at the first request
  std::array<std::atomic<const StatusCounter*>, 8> statuses_{};
  std::mutex mu_;
  std::deque<StatusCounter> owned_;  // guarded by mu_; addresses stable
};

// Owns the HTTP families in a registry. Thread-safe.
class HttpMetrics {
 public:
  // The instance on GlobalMetrics(), created at first use; never destroyed.
  static HttpMetrics& Global();
  explicit HttpMetrics(MetricsRegistry& registry);

  // Returns the series of `method` (any case; see MethodLabel) and route template `route`,
  // created at first use. Takes a mutex: call when a route is added, not per request.
  RouteMetrics& ForRoute(std::string_view method, std::string_view route);
  // The series of requests no route matched, per method label. Lock-free.
  RouteMetrics& Unmatched(std::string_view method);
  // The series of CORS preflights (OPTIONS answered by the engine). Lock-free.
  RouteMetrics& Preflight() { return *preflight_; }
  Gauge& connections_open() { return *connections_open_; }
  // Exec restarts (handover.h): connections taken over, and closed instead, per reason.
  Counter& handed_over() { return *handed_over_; }
  Counter& handover_closed_busy() { return *handover_closed_busy_; }
  Counter& handover_closed_invalid() { return *handover_closed_invalid_; }
  Counter& handover_closed_no_listener() { return *handover_closed_no_listener_; }
  // Connections of the federation listener whose TLS handshake failed or timed out.
  Counter& tls_handshake_failures() { return *tls_handshake_failures_; }

 private:
  friend class RouteMetrics;
  CounterFamily* requests_ = nullptr;
  HistogramFamily* durations_ = nullptr;
  Gauge* connections_open_ = nullptr;
  Counter* handed_over_ = nullptr;
  Counter* handover_closed_busy_ = nullptr;
  Counter* handover_closed_invalid_ = nullptr;
  Counter* handover_closed_no_listener_ = nullptr;
  Counter* tls_handshake_failures_ = nullptr;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<RouteMetrics>> routes_;
  std::array<RouteMetrics*, 8> unmatched_{};  // one per MethodLabel value
  RouteMetrics* preflight_ = nullptr;
};

}  // namespace conclave::core::internal

#endif  // CONCLAVE_CORE_METRICS_HTTP_H_
