// One client connection's requests: read (with the limits and the body budget), dispatch
// through the Router (holding requests at closed gates, blocking routes on the pool, long-polls
// parked on the Notifier), write, and the access log.
#include <charconv>

#include "http_server_impl.h"

namespace conclave::core {

namespace {

// `file`, when not null, receives the response's file body.
bhttp::response<bhttp::string_body> ToBeast(Response response,
                                            std::optional<ResponseFile>* file = nullptr) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), 11};
  res.set(bhttp::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) res.set(name, value);
  res.body() = std::move(response.body);
  if (file != nullptr) *file = std::move(response.file);
  return res;
}

Response MetricsResponse() {
  Response r;
  r.content_type = std::string(kMetricsContentType);
  r.body = GlobalMetrics().Render();
  return r;
}

}  // namespace

// Never logs the raw target: its path and query can carry access tokens and user ids; the route
// template cannot.
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

bhttp::response<bhttp::string_body> HttpServer::Impl::ErrorResponse(int status,
                                                                    std::string_view errcode,
                                                                    std::string_view error) {
  Response r = MatrixError(status, errcode, error);
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
  res.set(bhttp::field::content_type, r.content_type);
  res.body() = std::move(r.body);
  return res;
}

std::string SerializeHead(const bhttp::response<bhttp::string_body>& res, uint64_t content_length,
                          bool keep_alive) {
  std::string head;
  head.reserve(384);
  head.append("HTTP/1.1 ").append(std::to_string(res.result_int())).append(" ");
  head.append(Std(res.reason())).append("\r\n");
  for (const auto& field : res) {
    head.append(Std(field.name_string())).append(": ").append(Std(field.value())).append("\r\n");
  }
  head.append(kCommonFields);
  head.append("Content-Length: ").append(std::to_string(content_length)).append("\r\n");
  if (!keep_alive) head.append("Connection: close\r\n");
  head.append("\r\n");
  return head;
}

net::awaitable<boost::system::error_code> HttpServer::Impl::Write(
    Connection& conn, bhttp::response<bhttp::string_body>& res, bool keep_alive) {
  // Serialized by hand into one string (plus the body): Beast's serializer cost more CPU than
  // all the rest of a small request, and adding the constant fields to `res` one by one took
  // an allocation each (bench/http).
  const std::string head = SerializeHead(res, res.body().size(), keep_alive);
  const std::array<net::const_buffer, 2> buffers{net::buffer(head), net::buffer(res.body())};
  boost::system::error_code ec;
  if (conn.tls != nullptr) {
    // Beast's ssl_stream gathers the buffers into one TLS record where they fit.
    conn.ExpiresAfter(config.request_timeout);
    std::tie(ec, std::ignore) = co_await net::async_write(*conn.tls, buffers, kTuple);
    co_return ec;
  }
  // A response usually fits the socket's send buffer: write it at once, without suspending (no
  // timer, no trip through the scheduler); only what does not fit waits for the socket.
  tcp::socket& socket = conn.stream.socket();
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

namespace {}  // namespace

Request ToRequest(const bhttp::request_header<>& req, const std::string& remote) {
  Request request;
  request.method = std::string(req.method_string());
  request.target = std::string(req.target());
  auto q = request.target.find('?');
  request.path = request.target.substr(0, q);
  if (q != std::string::npos) request.query = request.target.substr(q + 1);
  for (const auto& field : req) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.remote_address = remote;
  return request;
}

net::awaitable<ReadResult> HttpServer::Impl::Refuse(Connection& conn, int status,
                                                    std::string_view errcode, std::string error,
                                                    std::string method, Clock::time_point started,
                                                    const std::string& remote) {
  auto res = ErrorResponse(status, errcode, error);
  boost::system::error_code write_error = co_await Write(conn, res, false);
  FinishRequest(stats.Unmatched(method), method, status, started, remote,
                write_error ? "connection lost while writing the response" : "");
  co_return ReadResult::kClose;
}

net::awaitable<ReadResult> HttpServer::Impl::ReadRequest(
    Connection& conn, beast::flat_buffer& buffer, bhttp::request_parser<bhttp::string_body>& parser,
    BodyLease& body_lease, const std::string& remote, Clock::time_point& started,
    std::optional<RouteOptions::BodyToFile>* to_file) {
  auto read_header = [&](auto& stream) {
    return bhttp::async_read_header(stream, buffer, parser, kTuple);
  };
  auto [ec, n] = co_await conn.OnStream(read_header);
  // A stop for a hand-over cancels reads that wait for a request (CancelWhich::kWaiting). If
  // nothing of one was read the connection moves to the next image as it is; if part of a
  // request had arrived, it is read whole and answered here first. The idle timeout's cancel
  // (now past the deadline) and the forced stop (handing_over cleared) still close.
  while (ec == net::error::operation_aborted && handing_over.load() &&
         Clock::now() < conn.deadline) {
    conn.waiting = false;
    if (buffer.size() == 0 && !parser.got_some()) co_return ReadResult::kHandOver;
    std::tie(ec, n) = co_await conn.OnStream(read_header);
  }
  conn.waiting = false;
  conn.idle = false;
  // A request's time runs from its header to its response written.
  started = Clock::now();
  // The method of a request refused before it was read whole, once its header is parsed.
  auto early_method = [&parser]() -> std::string {
    return parser.is_header_done() ? std::string(Std(parser.get().method_string())) : "-";
  };
  auto refuse = [&](int status, std::string_view errcode, std::string error) {
    return Refuse(conn, status, errcode, std::move(error), early_method(), started, remote);
  };
  if (ec == bhttp::error::header_limit) {
    co_return co_await refuse(431, "M_TOO_LARGE", "Request header fields too large");
  }
  if (ec == bhttp::error::body_limit) {  // Content-Length alone is over the limit
    co_return co_await refuse(413, "M_TOO_LARGE", "Request body too large");
  }
  if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted ||
      ec == beast::error::timeout || ec == net::error::connection_reset || ec == net::error::eof ||
      ec == net::ssl::error::stream_truncated) {
    co_return ReadResult::kClose;
  }
  if (conn.tls != nullptr && ec.category() == net::error::get_ssl_category()) {
    co_return ReadResult::kClose;  // a TLS failure: nothing can be answered on this stream
  }
  if (ec) {
    co_return co_await refuse(400, "M_UNRECOGNIZED",
                              core::StrCat("Malformed HTTP request: ", ec.message()));
  }
  // The header is read with no body limit: the limit is the route's (RouteOptions::body_to_file)
  // or max_body_size, known only now.
  *to_file = router.BodyToFileFor(Std(parser.get().method_string()), Std(parser.get().target()));
  const uint64_t limit = *to_file ? (*to_file)->max_size : config.max_body_size;
  if (parser.content_length().value_or(0) > limit) {
    co_return co_await refuse(413, "M_TOO_LARGE", "Request body too large");
  }
  parser.body_limit(limit);
  if (*to_file) co_return ReadResult::kFileBody;
  if (parser.is_done()) co_return ReadResult::kRequest;
  // A body stays in memory until its response is written: without a budget across all
  // connections, slow uploads could each hold max_body_size (found by bench/abuse).
  const uint64_t want = parser.content_length().value_or(config.max_body_size);
  if (!body_lease.Take(body_bytes, body_budget, want)) {
    co_return co_await refuse(503, "M_UNKNOWN", "Too many request bodies at once; try again later");
  }
  conn.ExpiresAfter(config.request_timeout);
  auto [body_ec, m] = co_await conn.OnStream(
      [&](auto& stream) { return bhttp::async_read(stream, buffer, parser, kTuple); });
  if (body_ec == bhttp::error::body_limit) {
    co_return co_await refuse(413, "M_TOO_LARGE", "Request body too large");
  }
  if (body_ec) {
    if (body_ec != beast::error::timeout && body_ec != net::error::operation_aborted &&
        body_ec != bhttp::error::end_of_stream) {
      co_return co_await refuse(400, "M_UNRECOGNIZED",
                                core::StrCat("Malformed HTTP request: ", body_ec.message()));
    }
    const std::string method = early_method();
    FinishRequest(stats.Unmatched(method), method, 0, started, remote,
                  "connection closed or timed out before the request body arrived");
    co_return ReadResult::kClose;
  }
  co_return ReadResult::kRequest;
}

net::awaitable<bhttp::response<bhttp::string_body>> HttpServer::Impl::Respond(
    Request& request, bool metrics_listener, internal::RouteMetrics** series,
    std::optional<ResponseFile>* file) {
  const bool metrics_request = request.method == "GET" && request.path == kMetricsPath;
  if (metrics_listener) {
    // The separate metrics listener serves the metrics and nothing else.
    if (!metrics_request)
      co_return ToBeast(MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request"));
    *series = &metrics_series;
    co_return ToBeast(MetricsResponse());
  }
  if (metrics_on_main && metrics_request) {
    *series = &metrics_series;
    co_return ToBeast(MetricsResponse());
  }
  if (request.method == "OPTIONS") {
    *series = &stats.Preflight();
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = "{}";
    co_return res;
  }
  Response response = co_await Handle(request, series);
  ApplyFileConditions(request, response);
  co_return ToBeast(std::move(response), file);
}

net::awaitable<void> HttpServer::Impl::Serve(std::shared_ptr<Connection> conn,
                                             bool metrics_listener, bool adopted) {
  // Closes a session's connection, or detaches it for a hand-over, and forgets it, however
  // Serve() ends (an exception included).
  class SessionCleanup {
   public:
    SessionCleanup(std::shared_ptr<Connection> conn, Impl& server, bool metrics_listener)
        : conn_(std::move(conn)), server_(server), metrics_listener_(metrics_listener) {}
    SessionCleanup(const SessionCleanup&) = delete;
    SessionCleanup& operator=(const SessionCleanup&) = delete;
    void HandOver() { hand_over_ = true; }
    ~SessionCleanup() {
      boost::system::error_code ec;
      HandedConnection handed;
      if (hand_over_) {
        handed.fd = conn_->stream.socket().release(ec);
        handed.listener = metrics_listener_ ? kMetricsListenerName : kHttpListenerName;
        if (ec) handed.fd = -1;
      }
      if (handed.fd < 0) {
        conn_->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        conn_->stream.close();
      }
      conn_->watchdog.cancel();
      server_.stats.connections_open().Add(-1);
      // With the erase, so that a stop that sees no connection left sees every one handed.
      absl::MutexLock lock(&server_.mu);
      if (handed.fd >= 0) server_.handed.push_back(std::move(handed));
      server_.connections.erase(conn_);
    }

   private:
    std::shared_ptr<Connection> conn_;
    Impl& server_;
    const bool metrics_listener_;
    bool hand_over_ = false;
  };
  SessionCleanup cleanup(conn, *this, metrics_listener);
  beast::flat_buffer buffer;
  std::string remote;
  {
    boost::system::error_code ec;
    auto endpoint = conn->stream.socket().remote_endpoint(ec);
    if (!ec) remote = endpoint.address().to_string();
  }
  if (conn->tls != nullptr) {
    // The federation listener: TLS first, within the time allowed for a request. A stop for a
    // hand-over does not cancel this (the connection is not `waiting`): a client that connected
    // is answered, once, then the connection closes.
    conn->ExpiresAfter(config.request_timeout);
    auto [ec] = co_await conn->tls->async_handshake(net::ssl::stream_base::server, kTuple);
    if (ec) {
      stats.tls_handshake_failures().Increment();
      CONCLAVE_LOG(kDebug, "http", "TLS handshake with {} failed: {}", remote, ec.message());
      co_return;
    }
  }
  for (int served = 0;; ++served) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(config.max_header_size));
    parser.body_limit(boost::none);  // set by ReadRequest once the route is known
    // Idle means between requests. A new connection is not idle: its client connected to send
    // a request, which a graceful stop lets it send and answers (with Connection: close). One
    // handed over by an exec restart is.
    conn->idle = served > 0 || adopted;
    // A large header grew the buffer: do not keep that memory for the connection's idle time.
    if (buffer.size() == 0 && buffer.capacity() > 8192) buffer.shrink_to_fit();
    if (stopping.load() && buffer.size() == 0) {
      // A hand-over takes new connections too: their request waits in the socket. Not TLS
      // ones, whose session cannot cross the exec: an idle one closes, a new one is answered.
      if (handing_over.load() && conn->tls == nullptr) {
        cleanup.HandOver();
        break;
      }
      if (conn->idle) break;
    }
    // A new TLS connection's first request is not cancelled by a hand-over (it would be lost).
    conn->waiting = buffer.size() == 0 && (conn->tls == nullptr || served > 0);
    conn->ExpiresAfter(config.idle_timeout);
    BodyLease body_lease;
    Clock::time_point started;
    std::optional<RouteOptions::BodyToFile> to_file;
    ReadResult read =
        co_await ReadRequest(*conn, buffer, parser, body_lease, remote, started, &to_file);
    if (read == ReadResult::kHandOver && conn->tls == nullptr) cleanup.HandOver();
    Request request;
    // Removes an uploaded body's file after the response, unless the handler took it.
    struct BodyFileCleanup {
      Request& request;
      ~BodyFileCleanup() {
        if (!request.body_file.empty()) unlink(request.body_file.c_str());
      }
    } body_file_cleanup{request};
    const bool keep_alive = (read == ReadResult::kRequest || read == ReadResult::kFileBody) &&
                            parser.get().keep_alive();
    if (read == ReadResult::kFileBody) {
      read = co_await ReadBodyToFile(*conn, buffer, parser, *to_file, remote, started, request);
    } else if (read == ReadResult::kRequest) {
      request = ToRequest(parser.get().base(), remote);
      request.body = std::move(parser.get().body());
    }
    if (read != ReadResult::kRequest) break;

    internal::RouteMetrics* series = nullptr;
    std::optional<ResponseFile> file;
    bhttp::response<bhttp::string_body> res =
        co_await Respond(request, metrics_listener, &series, &file);
    if (series == nullptr) series = &stats.Unmatched(request.method);
    const int status = res.result_int();
    // A stop closes the connection after this response; a hand-over keeps it, but for TLS.
    const bool keep =
        keep_alive && (!stopping.load() || (handing_over.load() && conn->tls == nullptr));
    boost::system::error_code write_error =
        file ? co_await WriteFile(*conn, res, *file, keep) : co_await Write(*conn, res, keep);
    FinishRequest(*series, request.method, status, started, remote,
                  write_error ? "connection lost while writing the response" : "");
    if (write_error || !keep) break;
  }
  if (conn->tls != nullptr) {
    // close_notify (RFC 8446, 6.1), so the client sees a clean end rather than a truncation;
    // waits a little for the client's (or its FIN), then SessionCleanup closes the socket.
    conn->ExpiresAfter(kTlsShutdownTimeout);
    co_await conn->tls->async_shutdown(kTuple);
  }
}

namespace {

// Runs `work` on `pool`, then completes on the handler's executor with whether it ran (false:
// the pool refused it, full or stopping). `work` must outlive the operation.
template <typename Token>
auto AsyncRunOnPool(BlockingPool& pool, absl::FunctionRef<void()> work, Token&& token) {
  return net::async_initiate<Token, void(bool)>(
      [&pool](auto handler, absl::FunctionRef<void()> work) {
        using HandlerType = decltype(handler);
        auto shared = std::make_shared<HandlerType>(std::move(handler));
        auto executor = net::get_associated_executor(*shared);
        absl::Status queued = pool.Submit([shared, executor, work]() mutable {
          work();
          net::post(executor, [shared]() mutable { std::move (*shared)(true); });
        });
        if (!queued.ok()) net::post(executor, [shared]() mutable { std::move (*shared)(false); });
      },
      token, work);
}

// 429 M_LIMIT_EXCEEDED with Retry-After (and the older retry_after_ms), Client-Server API
// "Rate limiting".
Response PoolFullResponse() {
  return Response{429,
                  "application/json",
                  core::StrCat("{\"errcode\":\"M_LIMIT_EXCEEDED\",\"error\":\"The server is busy; "
                               "try again\",\"retry_after_ms\":",
                               kBlockingRetryAfterSeconds * 1000, "}"),
                  {{"Retry-After", core::StrCat(kBlockingRetryAfterSeconds)}},
                  {},
                  {}};
}

}  // namespace

net::awaitable<Router::Outcome> HttpServer::Impl::DispatchOnPool(Request& request,
                                                                 Response& response,
                                                                 internal::RouteMetrics** matched) {
  Router::Outcome outcome = Router::Outcome::kRetry;
  // The handler runs inside its module's gate (Dispatch enters and leaves it on the pool
  // thread): a reload waits for it, and the pool never runs module code outside the gate.
  auto work = [&] { outcome = router.Dispatch(request, response, matched, /*may_block=*/true); };
  if (!co_await AsyncRunOnPool(pool, work, net::use_awaitable)) {
    // Queue full (it stops only once the io_context is gone): refused at once, as a rate limit
    // the client retries, rather than run on the I/O thread and stall every other client.
    response = PoolFullResponse();
    co_return Router::Outcome::kHandled;
  }
  co_return outcome;
}

net::awaitable<Router::Outcome> HttpServer::Impl::DispatchHeld(Request& request, Response& response,
                                                               internal::RouteMetrics** matched) {
  Router::Outcome outcome = router.Dispatch(request, response, matched, /*may_block=*/false);
  if (outcome == Router::Outcome::kBlocking) {
    outcome = co_await DispatchOnPool(request, response, matched);
  }
  if (outcome != Router::Outcome::kRetry) co_return outcome;
  // A reload holds this request at its module's gate: wait until the router opens gates, then
  // dispatch to the new code.
  const absl::Time give_up = absl::Now() + config.reload_drain_timeout + absl::Seconds(30);
  auto executor = co_await net::this_coro::executor;
  while (outcome == Router::Outcome::kRetry) {
    if (absl::Now() > give_up) {
      router.CountFailedRequest();
      response = MatrixError(503, "M_UNKNOWN", "The server is reloading; try again");
      co_return Router::Outcome::kHandled;
    }
    auto held = std::make_shared<ParkedRequest>(executor);
    router.WatchGates(held.get());  // before looking again: no opening is missed
    outcome = router.Dispatch(request, response, matched, /*may_block=*/false);
    if (outcome == Router::Outcome::kRetry && held->reason.load() == WakeReason::kNone) {
      held->timer.expires_after(absl::ToChronoNanoseconds(kHeldRecheck));
      co_await held->timer.async_wait(kTuple);
    }
    router.UnwatchGates(held.get());
    if (outcome == Router::Outcome::kBlocking) {
      outcome = co_await DispatchOnPool(request, response, matched);
    }
  }
  co_return outcome;
}

net::awaitable<Response> HttpServer::Impl::Handle(Request& request,
                                                  internal::RouteMetrics** matched) {
  Response response;
  for (;;) {
    co_await DispatchHeld(request, response, matched);
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

}  // namespace conclave::core
