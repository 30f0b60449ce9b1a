#include "conclave/core/http_server.h"

#include <fcntl.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "conclave/core/http.h"
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

namespace {

// Where the Prometheus metrics are served (docs/observability.md).
constexpr std::string_view kMetricsPath = "/_conclave/metrics";

// Request bodies received at once, all connections together: at least this, or 16 bodies of
// max_body_size (docs/configuration.md).
constexpr uint64_t kMinBodyBudget = uint64_t{64} << 20;

// A client connection. Everything but the constructor runs on the connection's strand.
struct Connection : std::enable_shared_from_this<Connection> {
  explicit Connection(tcp::socket socket)
      : stream(std::move(socket)), watchdog(stream.get_executor()) {}

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
  Clock::time_point deadline = Clock::time_point::max();
  bool watchdog_armed = false;
  bool idle = false;  // between two requests
};

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
};

std::string_view Std(beast::string_view s) { return std::string_view(s.data(), s.size()); }

// The fields every response ends with, before Content-Length: the server's name and the CORS
// headers (Client-Server API, "Web Browser Clients": these on every response). Handlers do not
// set these fields.
constexpr std::string_view kCommonFields =
    "Server: conclave\r\n"
    "Access-Control-Allow-Origin: *\r\n"
    "Access-Control-Allow-Methods: GET, POST, PUT, DELETE, OPTIONS\r\n"
    "Access-Control-Allow-Headers: X-Requested-With, Content-Type, Authorization\r\n";

}  // namespace

// A request parked on the Notifier. Wake() runs under the notifier's lock on any thread: it
// only records the reason and posts a cancel of the timer to the connection's strand. Shared so
// a posted cancel never outlives the timer.
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
        metrics_series(stats.ForRoute("GET", kMetricsPath)) {}

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
  std::mutex mu;
  std::set<std::shared_ptr<Connection>> connections;
  std::atomic<bool> stopping{false};
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

  net::awaitable<void> Accept(tcp::acceptor& acceptor, bool metrics_listener);
  net::awaitable<void> Serve(std::shared_ptr<Connection> conn, bool metrics_listener);
  net::awaitable<Response> Handle(Request& request, internal::RouteMetrics** matched);
  net::awaitable<void> Park(Request& request, Wait wait);
  // Writes `res`; returns the error, if any.
  net::awaitable<boost::system::error_code> Write(Connection& conn,
                                                  bhttp::response<bhttp::string_body>& res,
                                                  bool keep_alive);
  bhttp::response<bhttp::string_body> ErrorResponse(int status, std::string_view errcode,
                                                    std::string_view error);
  void CancelConnections(bool idle_only);
  absl::StatusOr<std::unique_ptr<tcp::acceptor>> Bind(const std::string& address, uint16_t port);
};

namespace {

bhttp::response<bhttp::string_body> ToBeast(Response response) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), 11};
  res.set(bhttp::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) res.set(name, value);
  res.body() = std::move(response.body);
  return res;
}

Response MetricsResponse() {
  Response r;
  r.content_type = std::string(kMetricsContentType);
  r.body = GlobalMetrics().Render();
  return r;
}

// Records a finished request in `series` and writes its access-log line. `status` 0: no response
// was written (`aborted` says why). Never logs the raw target: its path and query can carry
// access tokens and user ids; the route template cannot.
void FinishRequest(internal::RouteMetrics& series, std::string_view method, int status,
                   Clock::time_point started, std::string_view peer, std::string_view aborted) {
  const absl::Duration elapsed = absl::FromChrono(Clock::now() - started);
  if (status > 0) series.Record(status, elapsed);
  if (!AccessLogEnabled() || !LogEnabled(LogLevel::kInfo)) return;
  // Beast accepts any token as a method: bound what a client can put in the log.
  if (method.empty()) method = "-";
  method = method.substr(0, 32);
  if (peer.empty()) peer = "-";
  // Plain appends and to_chars rather than fmt: this runs for every request.
  char status_buf[16];
  std::string_view status_text = "-";
  if (status > 0) {
    status_text = std::string_view(
        status_buf, std::to_chars(status_buf, status_buf + 16, status).ptr - status_buf);
  }
  const int64_t micros = absl::ToInt64Microseconds(elapsed);
  char ms_buf[32];
  char* end = std::to_chars(ms_buf, ms_buf + 24, micros / 1000).ptr;
  *end++ = '.';
  *end++ = static_cast<char>('0' + micros % 1000 / 100);
  *end++ = static_cast<char>('0' + micros % 100 / 10);
  *end++ = static_cast<char>('0' + micros % 10);
  const std::string_view ms(ms_buf, end - ms_buf);
  std::string message;
  message.reserve(method.size() + series.route().size() + peer.size() + 48);
  message.append(method).append(" ").append(series.route()).append(" ").append(status_text);
  message.append(" ").append(ms).append("ms ").append(peer);
  const LogField status_field{"status", status > 0 ? status_text : "null", true};
  if (aborted.empty()) {
    LogLineWithFields(LogLevel::kInfo, "access", message,
                      {{"method", method},
                       {"route", series.route()},
                       status_field,
                       {"duration_ms", ms, true},
                       {"peer", peer}});
  } else {
    message.append(" (").append(aborted).append(")");
    LogLineWithFields(LogLevel::kInfo, "access", message,
                      {{"method", method},
                       {"route", series.route()},
                       status_field,
                       {"duration_ms", ms, true},
                       {"peer", peer},
                       {"aborted", aborted}});
  }
}

}  // namespace

bhttp::response<bhttp::string_body> HttpServer::Impl::ErrorResponse(int status,
                                                                    std::string_view errcode,
                                                                    std::string_view error) {
  Response r = MatrixError(status, errcode, error);
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
  res.set(bhttp::field::content_type, r.content_type);
  res.body() = std::move(r.body);
  return res;
}

net::awaitable<boost::system::error_code> HttpServer::Impl::Write(
    Connection& conn, bhttp::response<bhttp::string_body>& res, bool keep_alive) {
  // Serialized by hand into one string (plus the body): Beast's serializer cost more CPU than
  // all the rest of a small request, and adding the constant fields to `res` one by one took
  // an allocation each (bench/http).
  std::string head;
  head.reserve(384);
  head.append("HTTP/1.1 ").append(std::to_string(res.result_int())).append(" ");
  head.append(Std(res.reason())).append("\r\n");
  for (const auto& field : res) {
    head.append(Std(field.name_string())).append(": ").append(Std(field.value())).append("\r\n");
  }
  head.append(kCommonFields);
  head.append("Content-Length: ").append(std::to_string(res.body().size())).append("\r\n");
  if (!keep_alive) head.append("Connection: close\r\n");
  head.append("\r\n");
  const std::array<net::const_buffer, 2> buffers{net::buffer(head), net::buffer(res.body())};
  // A response usually fits the socket's send buffer: write it at once, without suspending (no
  // timer, no trip through the scheduler); only what does not fit waits for the socket.
  tcp::socket& socket = conn.stream.socket();
  boost::system::error_code ec;
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
  const size_t written = ec ? 0 : socket.write_some(buffers, ec);
  if (ec && ec != net::error::would_block) co_return ec;
  if (written == head.size() + res.body().size()) co_return boost::system::error_code();
  beast::buffers_suffix<std::array<net::const_buffer, 2>> rest(buffers);
  rest.consume(written);
  conn.ExpiresAfter(config.request_timeout);
  std::tie(ec, std::ignore) = co_await net::async_write(socket, rest, kTuple);
  co_return ec;
}

net::awaitable<void> HttpServer::Impl::Serve(std::shared_ptr<Connection> conn,
                                             bool metrics_listener) {
  beast::flat_buffer buffer;
  std::string remote;
  {
    boost::system::error_code ec;
    auto endpoint = conn->stream.socket().remote_endpoint(ec);
    if (!ec) remote = endpoint.address().to_string();
  }
  for (int served = 0;; ++served) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(config.max_header_size));
    parser.body_limit(config.max_body_size);
    // Idle means between requests. A new connection is not idle: its client connected to send
    // a request, which a graceful stop lets it send and answers (with Connection: close).
    conn->idle = served > 0;
    // A large header grew the buffer: do not keep that memory for the connection's idle time.
    if (buffer.size() == 0 && buffer.capacity() > 8192) buffer.shrink_to_fit();
    if (stopping.load() && buffer.size() == 0 && served > 0) break;
    conn->ExpiresAfter(config.idle_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(conn->stream.socket(), buffer, parser, kTuple);
    conn->idle = false;
    // A request's time runs from its header to its response written.
    const Clock::time_point started = Clock::now();
    // The method of a request refused before it was read whole, once its header is parsed.
    auto early_method = [&parser]() -> std::string {
      return parser.is_header_done() ? std::string(Std(parser.get().method_string())) : "-";
    };
    auto refuse = [&](int status, std::string_view errcode,
                      std::string error) -> net::awaitable<void> {
      auto res = ErrorResponse(status, errcode, error);
      boost::system::error_code write_error = co_await Write(*conn, res, false);
      const std::string method = early_method();
      FinishRequest(stats.Unmatched(method), method, status, started, remote,
                    write_error ? "connection lost while writing the response" : "");
    };
    if (ec == bhttp::error::header_limit) {
      co_await refuse(431, "M_TOO_LARGE", "Request header fields too large");
      break;
    }
    if (ec == bhttp::error::body_limit) {  // Content-Length alone is over the limit
      co_await refuse(413, "M_TOO_LARGE", "Request body too large");
      break;
    }
    if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      break;
    }
    if (ec) {
      co_await refuse(400, "M_UNRECOGNIZED",
                      core::StrCat("Malformed HTTP request: ", ec.message()));
      break;
    }
    // A body stays in memory until its response is written: without a budget across all
    // connections, slow uploads could each hold max_body_size (found by bench/abuse).
    BodyLease body_lease;
    if (!parser.is_done()) {
      const uint64_t want = parser.content_length().value_or(config.max_body_size);
      if (!body_lease.Take(body_bytes, body_budget, want)) {
        co_await refuse(503, "M_UNKNOWN", "Too many request bodies at once; try again later");
        break;
      }
      conn->ExpiresAfter(config.request_timeout);
      auto [body_ec, m] = co_await bhttp::async_read(conn->stream.socket(), buffer, parser, kTuple);
      if (body_ec == bhttp::error::body_limit) {
        co_await refuse(413, "M_TOO_LARGE", "Request body too large");
        break;
      }
      if (body_ec) {
        if (body_ec != beast::error::timeout && body_ec != net::error::operation_aborted &&
            body_ec != bhttp::error::end_of_stream) {
          co_await refuse(400, "M_UNRECOGNIZED",
                          core::StrCat("Malformed HTTP request: ", body_ec.message()));
        } else {
          const std::string method = early_method();
          FinishRequest(stats.Unmatched(method), method, 0, started, remote,
                        "connection closed or timed out before the request body arrived");
        }
        break;
      }
    }
    bhttp::request<bhttp::string_body> req = parser.release();
    const bool keep_alive = req.keep_alive();

    Request request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    auto q = request.target.find('?');
    request.path = request.target.substr(0, q);
    if (q != std::string::npos) request.query = request.target.substr(q + 1);
    for (const auto& field : req) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(req.body());
    request.remote_address = remote;

    internal::RouteMetrics* series = nullptr;
    const bool metrics_request = request.method == "GET" && request.path == kMetricsPath;
    bhttp::response<bhttp::string_body> res;
    if (metrics_listener) {
      // The separate metrics listener serves the metrics and nothing else.
      if (metrics_request) {
        series = &metrics_series;
        res = ToBeast(MetricsResponse());
      } else {
        res = ToBeast(MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request"));
      }
    } else if (metrics_on_main && metrics_request) {
      series = &metrics_series;
      res = ToBeast(MetricsResponse());
    } else if (request.method == "OPTIONS") {
      series = &stats.Preflight();
      res = bhttp::response<bhttp::string_body>{bhttp::status::ok, 11};
      res.set(bhttp::field::content_type, "application/json");
      res.body() = "{}";
    } else {
      res = ToBeast(co_await Handle(request, &series));
    }
    if (series == nullptr) series = &stats.Unmatched(request.method);
    const int status = res.result_int();
    const bool keep = keep_alive && !stopping.load();
    boost::system::error_code write_error = co_await Write(*conn, res, keep);
    FinishRequest(*series, request.method, status, started, remote,
                  write_error ? "connection lost while writing the response" : "");
    if (write_error || !keep) break;
  }
  boost::system::error_code ignored;
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  conn->stream.close();
  conn->watchdog.cancel();
  stats.connections_open().Add(-1);
  std::lock_guard lock(mu);
  connections.erase(conn);
}

net::awaitable<Response> HttpServer::Impl::Handle(Request& request,
                                                  internal::RouteMetrics** matched) {
  Response response;
  net::steady_timer timer(co_await net::this_coro::executor);
  for (;;) {
    // A reload holds this request at its module's gate: wait, then dispatch to the new code.
    const absl::Time give_up = absl::Now() + config.reload_drain_timeout + absl::Seconds(30);
    while (router.Dispatch(request, response, matched) == Router::Outcome::kRetry) {
      if (absl::Now() > give_up) {
        router.CountFailedRequest();
        co_return MatrixError(503, "M_UNKNOWN", "The server is reloading; try again");
      }
      timer.expires_after(std::chrono::milliseconds(1));
      co_await timer.async_wait(kTuple);
    }
    if (!response.wait) co_return response;
    Wait wait = std::move(*response.wait);
    response = Response();
    co_await Park(request, std::move(wait));
  }
}

net::awaitable<void> HttpServer::Impl::Park(Request& request, Wait wait) {
  request.wait_deadline = wait.deadline;
  auto parked = std::make_shared<ParkedRequest>(co_await net::this_coro::executor);
  WakeReason at_once = stopping.load()
                           ? WakeReason::kInterrupted
                           : notifier.Subscribe(wait.key, wait.seen_version, parked.get());
  if (at_once != WakeReason::kNone) {
    request.wake_reason = at_once;
    co_return;
  }
  const absl::Duration left = std::max(wait.deadline - absl::Now(), absl::ZeroDuration());
  parked->timer.expires_after(absl::ToChronoNanoseconds(left));
  co_await parked->timer.async_wait(kTuple);
  notifier.Unsubscribe(wait.key, parked.get());
  WakeReason why = parked->reason.load();
  request.wake_reason = why == WakeReason::kNone ? WakeReason::kTimeout : why;
}

net::awaitable<void> HttpServer::Impl::Accept(tcp::acceptor& acceptor, bool metrics_listener) {
  accept_loops.fetch_add(1);
  net::steady_timer pause(co_await net::this_coro::executor);
  // Logs `what` at most once per 10 s for all accept loops (an attack can hit this constantly).
  auto warn_now = [this] {
    const int64_t now = absl::GetCurrentTimeNanos();
    int64_t last = accept_warned_ns.load();
    return now - last >= int64_t{10'000'000'000} &&
           accept_warned_ns.compare_exchange_strong(last, now);
  };
  while (!stopping.load()) {
    size_t open;
    {
      std::lock_guard lock(mu);
      open = connections.size();
    }
    if (open >= max_connections) {
      // Without this an attacker holding connections would take every descriptor, and the
      // database could not open its files. Waiting connections stay in the listen backlog.
      if (warn_now()) {
        CONCLAVE_LOG(kWarn, "http",
                     "{} connections open, the most the descriptor limit allows: new connections "
                     "wait until one closes",
                     open);
      }
      pause.expires_after(std::chrono::milliseconds(10));
      co_await pause.async_wait(kTuple);
      continue;
    }
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(ioc), kTuple);
    if (ec == net::error::operation_aborted || stopping.load()) {
      if (!ec) {
        // Accepted just as we stop: serve it rather than drop it.
      } else {
        break;
      }
    }
    if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
        ec == net::error::no_memory || ec == boost::system::errc::too_many_files_open_in_system) {
      // Accepting again at once would fail again at once: a busy loop. Back off a little.
      if (warn_now()) CONCLAVE_LOG(kWarn, "http", "accept: {}; retrying", ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(kTuple);
      continue;
    }
    if (ec) {
      CONCLAVE_LOG(kWarn, "http", "accept: {}", ec.message());
      continue;
    }
    // Asio does not ask for SOCK_CLOEXEC; an exec restart must not leak client sockets.
    fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
    socket.set_option(tcp::no_delay(true), ec);
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(mu);
      connections.insert(conn);
    }
    stats.connections_open().Add(1);
    auto executor = conn->stream.get_executor();
    net::co_spawn(executor, Serve(std::move(conn), metrics_listener), net::detached);
  }
  accept_loops.fetch_sub(1);
}

void HttpServer::Impl::CancelConnections(bool idle_only) {
  std::lock_guard lock(mu);
  for (const auto& conn : connections) {
    net::post(conn->stream.get_executor(), [conn, idle_only] {
      if (!idle_only || conn->idle) conn->stream.cancel();
    });
  }
}

HttpServer::HttpServer(Router& router, Notifier& notifier, const Config& config)
    : impl_(std::make_unique<Impl>(router, notifier, config)) {}

HttpServer::~HttpServer() {
  Stop(absl::Seconds(1));
  CloseListeners();
}

absl::StatusOr<std::unique_ptr<tcp::acceptor>> HttpServer::Impl::Bind(const std::string& host,
                                                                      uint16_t port) {
  boost::system::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(core::StrCat("address '", host, "': ", ec.message()));
  tcp::endpoint endpoint(address, port);
  auto acceptor = std::make_unique<tcp::acceptor>(net::make_strand(ioc));
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        core::StrCat("cannot listen on ", host, ":", port, ": ", ec.message()));
  }
  fcntl(acceptor->native_handle(), F_SETFD, FD_CLOEXEC);
  return acceptor;
}

absl::Status HttpServer::Listen(const std::vector<int>& inherited_fds) {
  boost::system::error_code ec;
  bool have_main = false, have_metrics = false;
  for (int fd : inherited_fds) {
    // Named by ExecWithListenFds (or systemd's FileDescriptorName=); any other name is the
    // main listener, as every socket was before the metrics listener existed.
    const bool metrics = ListenFdName(fd) == kMetricsListenerName;
    if (metrics && (!impl_->metrics_separate || have_metrics)) {
      CONCLAVE_LOG(kInfo, "http",
                   "closing the inherited metrics socket: no separate metrics listener is "
                   "configured");
      SetListenFdName(fd, "");
      close(fd);
      continue;
    }
    auto acceptor = std::make_unique<tcp::acceptor>(net::make_strand(impl_->ioc));
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    acceptor->assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec) return absl::UnavailableError(core::StrCat("adopt fd ", fd, ": ", ec.message()));
    SetListenFdName(fd, metrics ? kMetricsListenerName : kHttpListenerName);
    impl_->acceptors.push_back({std::move(acceptor), metrics});
    (metrics ? have_metrics : have_main) = true;
  }
  const Config& config = impl_->config;
  if (!have_main) {
    auto acceptor = impl_->Bind(config.address, config.port);
    if (!acceptor.ok()) return acceptor.status();
    SetListenFdName((*acceptor)->native_handle(), kHttpListenerName);
    impl_->acceptors.push_back({*std::move(acceptor), false});
  }
  if (impl_->metrics_separate && !have_metrics) {
    const std::string& host =
        config.metrics_address.empty() ? config.address : config.metrics_address;
    auto acceptor = impl_->Bind(host, config.metrics_port);
    if (!acceptor.ok()) return acceptor.status();
    SetListenFdName((*acceptor)->native_handle(), kMetricsListenerName);
    impl_->acceptors.push_back({*std::move(acceptor), true});
  }
  if (impl_->metrics_separate) {
    for (const auto& l : impl_->acceptors) {
      if (!l.metrics) continue;
      auto endpoint = l.acceptor->local_endpoint(ec);
      const std::string host = endpoint.address().to_string();
      CONCLAVE_LOG(kInfo, "http", "serving metrics on http://{}{}{}:{}{}{}",
                   endpoint.address().is_v6() ? "[" : "", host,
                   endpoint.address().is_v6() ? "]" : "", endpoint.port(), kMetricsPath,
                   have_metrics ? " (inherited socket)" : "");
    }
  } else if (impl_->metrics_on_main) {
    CONCLAVE_LOG(kInfo, "http", "serving metrics at {} on the main listener", kMetricsPath);
  }
  return absl::OkStatus();
}

uint16_t HttpServer::port() const {
  boost::system::error_code ec;
  for (const auto& l : impl_->acceptors) {
    if (!l.metrics) return l.acceptor->local_endpoint(ec).port();
  }
  return 0;
}

uint16_t HttpServer::metrics_port() const {
  boost::system::error_code ec;
  for (const auto& l : impl_->acceptors) {
    if (l.metrics) return l.acceptor->local_endpoint(ec).port();
  }
  return 0;
}

std::vector<int> HttpServer::listening_fds() const {
  std::vector<int> fds;
  for (const auto& l : impl_->acceptors) fds.push_back(l.acceptor->native_handle());
  return fds;
}

void HttpServer::Start(int threads) {
  impl_->stopping.store(false);
  if (std::exchange(impl_->interrupted, false)) impl_->notifier.Resume();
  impl_->ioc.restart();
  // A quarter of the descriptor limit (at least 512) stays free for the database's files, the
  // listening sockets and the rest of the process; client connections may use the remainder.
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  const uint64_t limit = nofile.rlim_cur == RLIM_INFINITY ? uint64_t{1} << 20 : nofile.rlim_cur;
  const uint64_t reserve = std::max<uint64_t>(512, limit / 4);
  impl_->max_connections = limit > 2 * reserve ? limit - reserve : limit / 2;
  impl_->body_budget = std::max<uint64_t>(kMinBodyBudget, 16 * impl_->config.max_body_size);
  CONCLAVE_LOG(kInfo, "http",
               "at most {} client connections (descriptor limit {}) and {} MiB of request bodies "
               "at once",
               impl_->max_connections, limit, impl_->body_budget >> 20);
  for (auto& l : impl_->acceptors) {
    net::co_spawn(l.acceptor->get_executor(), impl_->Accept(*l.acceptor, l.metrics), net::detached);
  }
  for (int i = 0; i < std::max(1, threads); ++i) {
    impl_->threads.emplace_back([this] {
      auto guard = net::make_work_guard(impl_->ioc);
      impl_->ioc.run();
    });
  }
}

void HttpServer::Stop(absl::Duration grace) {
  if (impl_->threads.empty()) return;
  impl_->stopping.store(true);
  if (!std::exchange(impl_->interrupted, true)) impl_->notifier.Interrupt();
  for (auto& l : impl_->acceptors) {
    net::post(l.acceptor->get_executor(), [a = l.acceptor.get()] {
      boost::system::error_code ec;
      a->cancel(ec);
    });
  }
  auto wait_for_connections = [&](absl::Duration limit) {
    absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      {
        std::lock_guard lock(impl_->mu);
        if (impl_->connections.empty() && impl_->accept_loops.load() == 0) return true;
      }
      impl_->CancelConnections(/*idle_only=*/true);
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  };
  if (!wait_for_connections(grace)) {
    CONCLAVE_LOG(kWarn, "http", "closing {} connections still busy after {}", connection_count(),
                 absl::FormatDuration(grace));
    impl_->CancelConnections(/*idle_only=*/false);
    wait_for_connections(absl::Seconds(1));
  }
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

void HttpServer::CloseListeners() {
  for (auto& l : impl_->acceptors) {
    boost::system::error_code ec;
    SetListenFdName(l.acceptor->native_handle(), "");
    l.acceptor->close(ec);
  }
  impl_->acceptors.clear();
}

size_t HttpServer::connection_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->connections.size();
}

}  // namespace conclave::core
