// The HTTP engine's private types, shared by http_server.cc (listeners, accept, start and stop)
// and http_session.cc (one connection's requests: read, dispatch, write). Beast and Asio inside:
// include only from those two files.
#ifndef CONCLAVE_CORE_HTTP_SERVER_IMPL_H_
#define CONCLAVE_CORE_HTTP_SERVER_IMPL_H_

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <chrono>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "conclave/core/blocking_pool.h"
#include "conclave/core/handover.h"
#include "conclave/core/http.h"
#include "conclave/core/http_server.h"
#include "conclave/core/listen_fds.h"
#include "conclave/core/log.h"
#include "conclave/core/metrics.h"
#include "conclave/core/notifier.h"
#include "conclave/core/str_cat.h"
#include "metrics_http.h"

namespace conclave::core {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);
using Clock = std::chrono::steady_clock;

// Where the Prometheus metrics are served (docs/observability.md).
constexpr std::string_view kMetricsPath = "/_conclave/metrics";

// A request held at a closed gate is woken when the gates open (Router::WatchGates); it also
// looks again after this long, in case an opening was not signalled (a safety net only).
constexpr absl::Duration kHeldRecheck = absl::Milliseconds(100);

// The blocking pool (RouteOptions::blocking), sized by the config (blocking_threads,
// blocking_queue; 0 threads: one per core, 2 to 8), its workers' priority lowered so that quick
// requests on the I/O threads go first.
constexpr int kBlockingNice = 5;
inline BlockingPool::Options BlockingPoolOptions(const Config& c) {
  const int per_core = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 2, 8);
  return {.threads = c.blocking_threads > 0 ? c.blocking_threads : per_core,
          .max_queued = static_cast<size_t>(c.blocking_queue),
          .nice = kBlockingNice};
}
// What a request for a blocking route gets when the pool's queue is full: a Matrix rate-limit
// answer (Client-Server API, "Rate limiting"), which clients retry after Retry-After.
constexpr int kBlockingRetryAfterSeconds = 1;

// Request bodies received at once, all connections together: at least this, or 16 bodies of
// max_body_size (docs/configuration.md).
constexpr uint64_t kMinBodyBudget = uint64_t{64} << 20;

// How long a closing TLS connection waits for the client's close_notify after sending its own
// (RFC 8446, 6.1, does not require the wait; it only keeps a reply from being cut by an RST).
// Short: an exec restart waits for every connection to close, and many clients never reply.
constexpr auto kTlsShutdownTimeout = absl::Milliseconds(100);

// A client connection. Everything but the constructor runs on the connection's strand.
struct Connection : std::enable_shared_from_this<Connection> {
  // `tls_context` non-null: a connection of the federation listener, TLS over the socket (its
  // handshake is the session's first step).
  Connection(tcp::socket socket, std::shared_ptr<net::ssl::context> tls_context)
      : stream(std::move(socket)),
        watchdog(stream.get_executor()),
        tls_context(std::move(tls_context)) {
    if (this->tls_context != nullptr) {
      tls = std::make_unique<beast::ssl_stream<tcp::socket&>>(stream.socket(), *this->tls_context);
    }
  }

  // Returns `op(s)` for the stream requests are read from and responses written to: the TLS
  // stream, or the plain socket. Both give the same awaitable type for one operation.
  template <typename Op>
  auto OnStream(Op&& op) {
    return tls != nullptr ? op(*tls) : op(stream.socket());
  }

  // Cancels the socket's pending operations (they fail with operation_aborted) once `timeout`
  // from now has passed without another call. Lazy, unlike beast::tcp_stream's expiry, which
  // arms and cancels a timer for every read and write: a keep-alive connection moves its
  // deadline at every request, but the timer is re-armed only when it fires before the
  // deadline or must fire earlier.
  void ExpiresAfter(absl::Duration timeout) {
    deadline = Clock::now() + absl::ToChronoNanoseconds(timeout);
    if (watchdog_armed && watchdog.expiry() <= deadline) return;
    ArmWatchdog();
  }
  void ArmWatchdog() {
    watchdog_armed = true;
    watchdog.expires_at(deadline);
    watchdog.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;  // re-armed, or the connection closed
      if (Clock::now() < self->deadline) {
        self->ArmWatchdog();
        return;
      }
      self->watchdog_armed = false;
      boost::system::error_code ignored;
      self->stream.socket().cancel(ignored);
    });
  }

  beast::tcp_stream stream;  // used through socket(): the deadlines are the watchdog's
  net::steady_timer watchdog;
  // The context `tls` was made from (a certificate reload makes a new one; this one stays for
  // the connection's life), and the TLS stream over `stream`'s socket; both null for plain HTTP.
  std::shared_ptr<net::ssl::context> tls_context;
  std::unique_ptr<beast::ssl_stream<tcp::socket&>> tls;
  Clock::time_point deadline = Clock::time_point::max();
  bool watchdog_armed = false;
  bool idle = false;     // between two requests
  bool waiting = false;  // in a read that has nothing of a request yet (so far as we know)
};

// Which connections CancelConnections() cancels.
enum class CancelWhich {
  kIdle,     // between two requests (a graceful stop closes those)
  kWaiting,  // waiting for a request, a new connection's first one included (a hand-over)
  kAll,
};

// How ReadRequest() ended.
enum class ReadResult {
  kRequest,   // a request is read whole
  kClose,     // close the connection (answered already if it was refused)
  kHandOver,  // stopping for a hand-over, and nothing of a next request was read
  kFileBody,  // the header is read, and its route streams the body to a file (ReadBodyToFile)
};

// Records a finished request in `series` and writes its access-log line. `status` 0: no response
// was written (`aborted` says why).
void FinishRequest(internal::RouteMetrics& series, std::string_view method, int status,
                   Clock::time_point started, std::string_view peer, std::string_view aborted);

// The plain Request of a parsed header (no body).
Request ToRequest(const bhttp::request_header<>& req, const std::string& remote);

// The head of a response (status line, fields, the common fields, Content-Length
// `content_length`, Connection), ending with the blank line.
std::string SerializeHead(const bhttp::response<bhttp::string_body>& res, uint64_t content_length,
                          bool keep_alive);

// A share of the server-wide budget for request bodies: taken before a body is read, given back
// when the request is done (its body freed).
class BodyLease {
 public:
  BodyLease() = default;
  BodyLease(const BodyLease&) = delete;
  BodyLease& operator=(const BodyLease&) = delete;
  ~BodyLease() {
    if (in_use_ != nullptr) in_use_->fetch_sub(bytes_);
  }
  // Takes `bytes` of `budget` (with `in_use` counting what is taken); false if they do not fit.
  bool Take(std::atomic<uint64_t>& in_use, uint64_t budget, uint64_t bytes) {
    uint64_t now = in_use.load();
    do {
      if (now + bytes > budget) return false;
    } while (!in_use.compare_exchange_weak(now, now + bytes));
    in_use_ = &in_use;
    bytes_ = bytes;
    return true;
  }

 private:
  std::atomic<uint64_t>* in_use_ = nullptr;
  uint64_t bytes_ = 0;
};

// One listening socket and what it serves.
struct Listener {
  std::unique_ptr<tcp::acceptor> acceptor;
  bool metrics = false;  // the separate metrics listener: serves kMetricsPath only
  bool tls = false;      // the federation listener: TLS, the same routes as the main one
};

inline std::string_view Std(beast::string_view s) { return std::string_view(s.data(), s.size()); }

// The fields every response ends with, before Content-Length: the server's name and the CORS
// headers (Client-Server API, "Web Browser Clients": these on every response). Handlers do not
// set these fields.
constexpr std::string_view kCommonFields =
    "Server: conclave\r\n"
    "Access-Control-Allow-Origin: *\r\n"
    "Access-Control-Allow-Methods: GET, POST, PUT, DELETE, OPTIONS\r\n"
    "Access-Control-Allow-Headers: X-Requested-With, Content-Type, Authorization\r\n";

// A request parked on the Notifier, or held at a closed gate (Router::WatchGates). Wake() runs
// under the notifier's (or the router's watch) lock on any thread: it only records the reason
// and posts a cancel of the timer to the connection's strand, where it runs after the session's
// coroutine suspended on the timer (so no wake is lost). Shared so a posted cancel never outlives
// the timer.
class ParkedRequest : public Notifier::Waiter, public std::enable_shared_from_this<ParkedRequest> {
 public:
  explicit ParkedRequest(net::any_io_executor executor) : timer(executor) {}

  void Wake(WakeReason why) override {
    WakeReason expected = WakeReason::kNone;
    if (!reason.compare_exchange_strong(expected, why)) return;
    net::post(timer.get_executor(), [self = shared_from_this()] { self->timer.cancel(); });
  }

  net::steady_timer timer;
  std::atomic<WakeReason> reason{WakeReason::kNone};
};

struct HttpServer::Impl {
  Impl(Router& r, Notifier& n, const Config& c)
      : router(r),
        notifier(n),
        config(c),
        metrics_separate(c.metrics_enabled && (!c.metrics_address.empty() || c.metrics_port != 0)),
        metrics_on_main(c.metrics_enabled && !metrics_separate),
        stats(internal::HttpMetrics::Global()),
        metrics_series(stats.ForRoute("GET", kMetricsPath)),
        pool(BlockingPoolOptions(c)) {}

  Router& router;
  Notifier& notifier;
  Config config;
  // Config metrics_*: a separate listener serves the metrics, or the main one does.
  const bool metrics_separate;
  const bool metrics_on_main;
  internal::HttpMetrics& stats;
  internal::RouteMetrics& metrics_series;
  net::io_context ioc;
  std::vector<Listener> acceptors;
  std::vector<std::thread> threads;
  absl::Mutex mu;
  std::set<std::shared_ptr<Connection>> connections ABSL_GUARDED_BY(mu);
  // Connections detached by a stop for a hand-over (StopForHandOver()), in the order they
  // became idle; their descriptors are owned here until taken.
  std::vector<HandedConnection> handed ABSL_GUARDED_BY(mu);
  std::atomic<bool> stopping{false};
  // Set with `stopping` by a stop for a hand-over: idle connections are detached instead of
  // closed, and responses keep the connection alive. Cleared when its grace runs out.
  std::atomic<bool> handing_over{false};
  std::atomic<int> accept_loops{0};
  // Most client connections open at once, all listeners together; set by Start() from the
  // descriptor limit. At the limit the accept loops wait (new clients queue in the kernel).
  size_t max_connections = 0;
  // Bytes of request bodies being received or handled, and the most allowed (set by Start()).
  std::atomic<uint64_t> body_bytes{0};
  uint64_t body_budget = 0;
  // When accept trouble (the limit, or no descriptors) was last logged, in ns since the epoch.
  std::atomic<int64_t> accept_warned_ns{0};
  bool interrupted = false;  // Stop() interrupted the notifier; Start() resumes it
  // The federation listener's TLS context (config tls_*); null when there is none. Replaced by
  // HttpServer::ReloadTlsCertificate(); a connection takes the current one when it is accepted.
  std::shared_ptr<net::ssl::context> tls_context ABSL_GUARDED_BY(mu);
  // After `ioc`: destroyed (its queue run, its threads joined) first, so that the completions
  // its last tasks post find the io_context alive.
  BlockingPool pool;

  net::awaitable<void> Accept(tcp::acceptor& acceptor, bool metrics_listener, bool tls);
  // Registers `socket` as a connection and spawns its session. `adopted`: handed over by an exec
  // restart, so between two requests. `tls`: of the federation listener (never adopted).
  void Launch(tcp::socket socket, bool metrics_listener, bool adopted, bool tls = false);
  net::awaitable<void> Serve(std::shared_ptr<Connection> conn, bool metrics_listener, bool adopted);
  // Reads the next request's header and body into `parser`, answering the ones refused (limits,
  // malformed). kFileBody: only the header is read, `*to_file` is its route's body_to_file.
  net::awaitable<ReadResult> ReadRequest(Connection& conn, beast::flat_buffer& buffer,
                                         bhttp::request_parser<bhttp::string_body>& parser,
                                         BodyLease& body_lease, const std::string& remote,
                                         Clock::time_point& started,
                                         std::optional<RouteOptions::BodyToFile>* to_file);
  // Reads the body of the request whose header `parser` holds into a new temporary file in
  // `to_file.directory`, and sets `request` from the header with `body_file` naming that file
  // (http_files.cc). A body over `to_file.max_size` is answered 413 and the connection closed;
  // the file is removed whenever this does not return kRequest.
  net::awaitable<ReadResult> ReadBodyToFile(Connection& conn, beast::flat_buffer& buffer,
                                            bhttp::request_parser<bhttp::string_body>& parser,
                                            const RouteOptions::BodyToFile& to_file,
                                            const std::string& remote, Clock::time_point started,
                                            Request& request);
  // Answers a request refused before it was read whole (`method` "-" if unknown) and logs it;
  // the connection is to be closed. A coroutine: `method` and `error` are taken by value since
  // callers pass temporaries that die before the frame resumes; `errcode` must be a literal and
  // `conn`, `remote` must outlive the awaitable.
  net::awaitable<ReadResult> Refuse(Connection& conn, int status, std::string_view errcode,
                                    std::string error, std::string method,
                                    Clock::time_point started, const std::string& remote);
  // The response to `request`: metrics, CORS preflight, or the router's (Handle).
  // A handler's file body is moved to `*file`.
  net::awaitable<bhttp::response<bhttp::string_body>> Respond(Request& request,
                                                              bool metrics_listener,
                                                              internal::RouteMetrics** series,
                                                              std::optional<ResponseFile>* file);
  net::awaitable<Response> Handle(Request& request, internal::RouteMetrics** matched);
  // Dispatches `request` until it is answered or waits (Response::wait), holding it while its
  // module's gate is closed.
  net::awaitable<Router::Outcome> DispatchHeld(Request& request, Response& response,
                                               internal::RouteMetrics** matched);
  // Runs a blocking route's Dispatch on `pool`; resumes when it is done.
  net::awaitable<Router::Outcome> DispatchOnPool(Request& request, Response& response,
                                                 internal::RouteMetrics** matched);
  net::awaitable<void> Park(Request& request, Wait wait);
  // Writes `res`; returns the error, if any.
  net::awaitable<boost::system::error_code> Write(Connection& conn,
                                                  bhttp::response<bhttp::string_body>& res,
                                                  bool keep_alive);
  // Writes `head` and then `file` through the connection's TLS stream (http_files.cc).
  net::awaitable<boost::system::error_code> WriteFileTls(Connection& conn, const std::string& head,
                                                         const ResponseFile& file);
  // Writes the head of `res` and then `file` with sendfile(2), or through TLS (http_files.cc).
  net::awaitable<boost::system::error_code> WriteFile(Connection& conn,
                                                      bhttp::response<bhttp::string_body>& res,
                                                      const ResponseFile& file, bool keep_alive);
  bhttp::response<bhttp::string_body> ErrorResponse(int status, std::string_view errcode,
                                                    std::string_view error);
  void CancelConnections(CancelWhich which);
  // Stop() and StopForHandOver(). Returns how many connections were still busy after `grace`.
  size_t StopServing(absl::Duration grace, bool hand_over);
  absl::StatusOr<std::unique_ptr<tcp::acceptor>> Bind(const std::string& address, uint16_t port);
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_HTTP_SERVER_IMPL_H_
