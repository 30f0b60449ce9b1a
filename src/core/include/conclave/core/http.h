// HTTP types modules see, and the Router that maps requests to module handlers.
//
// No Beast or Asio here: this header is included by every module. The HTTP engine
// (http_server.h) converts between the wire and these plain types.
#ifndef CONCLAVE_CORE_HTTP_H_
#define CONCLAVE_CORE_HTTP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "conclave/core/gate.h"
#include "conclave/core/notifier.h"
#include "conclave/core/registration.h"

namespace conclave::core {

namespace internal {
class RouteMetrics;  // metrics_http.h, private to core
}  // namespace internal

// One parsed request. Thread-compatible; owned by the connection that received it.
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, e.g. "/_matrix/client/versions?x=1"
  std::string path;    // path as sent (not decoded), without the query
  std::string query;   // raw query string after '?', or empty
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;
  // Values of the `{name}` segments of the matched route template, percent-decoded.
  std::map<std::string, std::string, std::less<>> path_params;
  // Set by the engine when it dispatches a request again after it waited (Response::wait):
  // why it woke, and the deadline it waited for.
  WakeReason wake_reason = WakeReason::kNone;
  absl::Time wait_deadline = absl::InfinitePast();

  // Returns the first header named `name` (case-insensitive), if any.
  std::optional<std::string_view> Header(std::string_view name) const;
  // Returns the percent-decoded value of query parameter `name`, if present.
  std::optional<std::string> QueryParam(std::string_view name) const;
};

// A handler's "nothing to answer yet" (long-poll): park the request until the Notifier `key`
// moves past `seen_version` (read before looking for news), until `deadline`, or until a reload
// or shutdown begins, then dispatch it again with Request::wake_reason set. See notifier.h.
struct Wait {
  std::string key;
  uint64_t seen_version = 0;
  absl::Time deadline;
};

// One response. The engine adds Content-Length, Connection and the CORS headers.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the rest is ignored: the request waits and is dispatched again.
  std::optional<Wait> wait;
};

// Returns a response with a Matrix standard error body `{"errcode":…,"error":…}` (Client-Server
// API, "Standard error response").
Response MatrixError(int http_status, std::string_view errcode, std::string_view error);

// A handler runs on an HTTP worker thread (or a blocking-pool thread, see RouteOptions),
// possibly many at once: it must be thread-safe. Its code lives in the registering module; the
// Router guarantees it is not running when that module's gate is closed for unloading. An
// exception it throws (of any type) is caught by the Router and answered with a 500.
using Handler = std::function<Response(Request& request)>;

// How the engine runs a route's handler.
struct RouteOptions {
  // The handler blocks for long (argon2 password hashing, large scans): the engine runs it on its
  // blocking pool (blocking_pool.h) rather than on an I/O thread, so that other clients are not
  // held behind it. Still inside its module's gate. When `blocking_queue` requests are waiting
  // for a pool thread already (config.h), the request is answered 429 M_LIMIT_EXCEEDED with
  // `Retry-After: 1` without running the handler. Default false (run on the I/O thread).
  bool blocking = false;
};

class Router;

// Unregisters its route on destruction. Must be destroyed in the registering module's `unload`
// hook at the latest (it owns the handler, whose code lives in that module).
using RouteHandle = Registration<Router, uint64_t>;

// Route table plus one Gate per module. Thread-safe: matching takes a shared lock; adding and
// removing routes, closing and opening gates an exclusive one. Owned by the Server; outlives
// every module.
class Router {
 public:
  Router();
  ~Router();

  // Registers `handler` for `method` and `path_template` (segments literal or `{name}`, e.g.
  // "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"; only a last `{name}` matches
  // an empty segment), owned by `module`. Returns
  // kAlreadyExists if the same method and template are registered, kInvalidArgument for a
  // malformed template.
  absl::StatusOr<RouteHandle> Add(std::string_view module, std::string_view method,
                                  std::string_view path_template, Handler handler,
                                  RouteOptions options = {}) ABSL_LOCKS_EXCLUDED(mu_);

  // What Dispatch() did.
  enum class Outcome {
    kHandled,   // `response` is set
    kRetry,     // the request's module is being reloaded: wait (WatchGates) and call again
    kBlocking,  // the route is blocking and `may_block` was false: call again where it may block
  };
  // Matches `request`, enters the owning module's gate, runs the handler and leaves the gate
  // (through a GateHolder: whatever happens, the gate is left). A request whose module's gate is
  // closed, or that matches nothing while a reload is under way (its route may be on its way
  // back), gets kRetry. A blocking route (RouteOptions) gets kBlocking, before entering its
  // gate, when `may_block` is false. No route: 404 M_UNRECOGNIZED; a route with another method:
  // 405 M_UNRECOGNIZED with an Allow header. A handler that throws anything gets a 500 M_UNKNOWN
  // (logged, counted as failed). When kHandled by a route and `matched` is not null, sets
  // `*matched` to the route's metrics series (permanent; null when no route matched).
  Outcome Dispatch(Request& request, Response& response, internal::RouteMetrics** matched = nullptr,
                   bool may_block = true) ABSL_LOCKS_EXCLUDED(mu_);

  // Closes the gates of `modules`: new requests for them get kRetry. Then waits until their
  // in-flight requests are done, at most `timeout`. Returns kDeadlineExceeded naming the busy
  // modules (gates stay closed; call OpenGates).
  absl::Status CloseGates(const std::set<std::string>& modules, absl::Duration timeout);
  // Opens the gates of `modules` and wakes every watcher (WatchGates).
  void OpenGates(const std::set<std::string>& modules) ABSL_LOCKS_EXCLUDED(mu_, watch_mu_);
  // True while any gate is closed.
  bool ReloadInProgress() const { return closed_gates_.load() > 0; }

  // The engine's side of a request held at a closed gate (kRetry): `waiter->Wake(kNotified)` is
  // called at every OpenGates(), with the watch lock held (it must not block nor call back into
  // the Router). Watch before the Dispatch that may answer kRetry, so that no opening is missed;
  // Unwatch before `waiter` is destroyed.
  void WatchGates(Notifier::Waiter* waiter) ABSL_LOCKS_EXCLUDED(watch_mu_);
  void UnwatchGates(Notifier::Waiter* waiter) ABSL_LOCKS_EXCLUDED(watch_mu_);
  // Requests held at closed gates right now (for tests and stats).
  size_t gate_watchers() const ABSL_LOCKS_EXCLUDED(watch_mu_);

  // Requests answered with a 5xx status or abandoned at a closed gate; for reload reports.
  uint64_t failed_requests() const { return failed_requests_.load(); }
  void CountFailedRequest() { failed_requests_.fetch_add(1); }

  // Number of registered routes owned by `module` (all modules if empty).
  size_t RouteCount(std::string_view module = {}) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend RouteHandle;
  struct Route;
  struct Match;
  // RouteHandle's undo: removes the route (after its gate drained, see router.cc).
  void Unregister(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  // The gate of `module`, which has one (Add and CloseGates create them).
  Gate& GateFor(std::string_view module) ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The route `request` matches, entered into its gate; or the methods of routes with its path.
  Match Find(const Request& request, const std::vector<std::string_view>& segments, bool may_block)
      ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Route>> routes_ ABSL_GUARDED_BY(mu_);
  // Never erased: a Gate* taken under mu_ stays valid for the Router's lifetime.
  std::map<std::string, std::unique_ptr<Gate>, std::less<>> gates_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::atomic<int> closed_gates_{0};
  std::atomic<uint64_t> failed_requests_{0};
  mutable absl::Mutex watch_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<Notifier::Waiter*> watchers_ ABSL_GUARDED_BY(watch_mu_);
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_HTTP_H_
