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
  // A route with RouteOptions::body_to_file: the path of the temporary file holding the whole
  // body (`body` stays empty), `body_file_size` bytes. The engine removes the file once the
  // response is written; a handler that keeps it (renames it into place) clears `body_file`.
  std::string body_file;
  uint64_t body_file_size = 0;
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

// The access token of `request`: `Authorization: Bearer <token>` (scheme case-insensitive) or
// the deprecated `access_token` query parameter (Client-Server API, "Using access tokens").
// nullopt if neither.
std::optional<std::string> AccessTokenOf(const Request& request);

// A handler's "nothing to answer yet" (long-poll): park the request until the Notifier `key`
// moves past `seen_version` (read before looking for news), until `deadline`, or until a reload
// or shutdown begins, then dispatch it again with Request::wake_reason set. See notifier.h.
struct Wait {
  std::string key;
  uint64_t seen_version = 0;
  absl::Time deadline;
};

// A response body streamed from an open file: `length` bytes from `offset`, sent with
// sendfile(2), never read into memory as a whole. Owns its descriptor: the destructor closes it,
// a copy dup()s it. Its members are core's (out of line), so a response that outlives the module
// that made it (a download still streaming across a reload of that module) runs none of the
// module's code. Thread-compatible.
class ResponseFile {
 public:
  // Takes ownership of `fd` (closed even if the response is never sent).
  ResponseFile(int fd, uint64_t offset, uint64_t length);
  ResponseFile(const ResponseFile& other);
  ResponseFile& operator=(const ResponseFile& other);
  ResponseFile(ResponseFile&& other) noexcept;
  ResponseFile& operator=(ResponseFile&& other) noexcept;
  ~ResponseFile();

  // Opens `path` read-only (O_CLOEXEC) for the whole file. kNotFound if it does not exist,
  // kInternal for other errors (naming the path and errno).
  static absl::StatusOr<ResponseFile> Open(const std::string& path);

  int fd() const { return fd_; }
  uint64_t offset() const { return offset_; }
  uint64_t length() const { return length_; }
  // Keeps `length` bytes from `offset` of the current range (both relative to it; clamped).
  void Narrow(uint64_t offset, uint64_t length);

 private:
  int fd_ = -1;
  uint64_t offset_ = 0;
  uint64_t length_ = 0;
};

// One response. The engine adds Content-Length, Connection and the CORS headers.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the rest is ignored: the request waits and is dispatched again.
  std::optional<Wait> wait;
  // When set, the body is this file instead of `body` (ignored). The engine then applies the
  // request's If-None-Match against the response's ETag header (304) and a single byte Range
  // (206 with Content-Range; 416 when unsatisfiable), see ApplyFileConditions().
  std::optional<ResponseFile> file;
};

// Applies `request`'s conditional and range headers to a response with a file, as the engine
// does before writing it: If-None-Match naming the response's ETag (or `*`) makes it 304 with no
// body (RFC 9110 section 13.1.2); otherwise one satisfiable `bytes=` range of a 200 makes it 206
// with Content-Range and the file narrowed to it, an unsatisfiable one 416 with
// `Content-Range: bytes */<size>` (section 14). Several ranges, another unit, a malformed header
// or an If-Range other than the ETag serve the whole file (a server may ignore Range). Adds
// `Accept-Ranges: bytes` to a 200 or 206. A response without a file is left as it is.
void ApplyFileConditions(const Request& request, Response& response);

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
  // When set, the request body is not read into memory: the engine writes it to a temporary
  // file in `directory` as it arrives (Request::body_file), outside the in-memory body limit
  // (config max_body_size and the body budget shared by all connections), and refuses bodies
  // over `max_size` bytes with 413 M_TOO_LARGE: before reading when Content-Length says so,
  // mid-stream otherwise (chunked). The temporary file is removed on every failure.
  struct BodyToFile {
    std::string directory;  // must exist; best on the filesystem the handler renames into
    uint64_t max_size = 0;  // bytes
  };
  std::optional<BodyToFile> body_to_file;
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

  // The body_to_file option of the route `method` and `path` (raw, undecoded) would dispatch to,
  // read by the engine after a request's header, before its body. A route removed while a
  // reload runs keeps its answer until re-registered: an upload arriving during a reload of its
  // module is streamed to disk, then waits at the gate like any request.
  std::optional<RouteOptions::BodyToFile> BodyToFileFor(std::string_view method,
                                                        std::string_view path) const
      ABSL_LOCKS_EXCLUDED(mu_);

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
  // RouteOptions::body_to_file by method and template, kept for routes removed during a reload.
  struct BodyToFileRoute;
  std::vector<std::shared_ptr<BodyToFileRoute>> body_to_file_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> closed_gates_{0};
  std::atomic<uint64_t> failed_requests_{0};
  mutable absl::Mutex watch_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<Notifier::Waiter*> watchers_ ABSL_GUARDED_BY(watch_mu_);
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_HTTP_H_
