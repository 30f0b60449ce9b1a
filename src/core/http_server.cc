#include "conclave/core/http_server.h"

#include <fcntl.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "conclave/core/http.h"
#include "conclave/core/log.h"
#include "conclave/core/notifier.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

namespace {

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool idle = false;  // between two requests; touched on the connection's strand only
};

void AddCorsHeaders(bhttp::response<bhttp::string_body>& res) {
  // Client-Server API, "Web Browser Clients": these on every response.
  res.set(bhttp::field::access_control_allow_origin, "*");
  res.set(bhttp::field::access_control_allow_methods, "GET, POST, PUT, DELETE, OPTIONS");
  res.set(bhttp::field::access_control_allow_headers,
          "X-Requested-With, Content-Type, Authorization");
}

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
  Impl(Router& r, Notifier& n, const Config& c) : router(r), notifier(n), config(c) {}

  Router& router;
  Notifier& notifier;
  Config config;
  net::io_context ioc;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::shared_ptr<Connection>> connections;
  std::atomic<bool> stopping{false};
  std::atomic<int> accept_loops{0};
  bool interrupted = false;  // Stop() interrupted the notifier; Start() resumes it

  net::awaitable<void> Accept(tcp::acceptor& acceptor);
  net::awaitable<void> Serve(std::shared_ptr<Connection> conn);
  net::awaitable<Response> Handle(Request& request);
  net::awaitable<void> Park(Request& request, Wait wait);
  net::awaitable<bool> Write(Connection& conn, bhttp::response<bhttp::string_body>& res,
                             bool keep_alive);
  bhttp::response<bhttp::string_body> ErrorResponse(int status, std::string_view errcode,
                                                    std::string_view error);
  void CancelConnections(bool idle_only);
};

bhttp::response<bhttp::string_body> HttpServer::Impl::ErrorResponse(int status,
                                                                    std::string_view errcode,
                                                                    std::string_view error) {
  Response r = MatrixError(status, errcode, error);
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
  res.set(bhttp::field::content_type, r.content_type);
  res.body() = std::move(r.body);
  return res;
}

net::awaitable<bool> HttpServer::Impl::Write(Connection& conn,
                                             bhttp::response<bhttp::string_body>& res,
                                             bool keep_alive) {
  res.set(bhttp::field::server, "conclave");
  AddCorsHeaders(res);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  conn.stream.expires_after(absl::ToChronoNanoseconds(config.request_timeout));
  auto [ec, n] = co_await bhttp::async_write(conn.stream, res, kTuple);
  co_return !ec && keep_alive;
}

net::awaitable<void> HttpServer::Impl::Serve(std::shared_ptr<Connection> conn) {
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
    if (stopping.load() && buffer.size() == 0 && served > 0) break;
    conn->stream.expires_after(absl::ToChronoNanoseconds(config.idle_timeout));
    auto [ec, n] = co_await bhttp::async_read_header(conn->stream, buffer, parser, kTuple);
    conn->idle = false;
    if (ec == bhttp::error::header_limit) {
      auto res = ErrorResponse(431, "M_TOO_LARGE", "Request header fields too large");
      co_await Write(*conn, res, false);
      break;
    }
    if (ec == bhttp::error::body_limit) {  // Content-Length alone is over the limit
      auto res = ErrorResponse(413, "M_TOO_LARGE", "Request body too large");
      co_await Write(*conn, res, false);
      break;
    }
    if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      break;
    }
    if (ec) {
      auto res = ErrorResponse(400, "M_UNRECOGNIZED",
                               core::StrCat("Malformed HTTP request: ", ec.message()));
      co_await Write(*conn, res, false);
      break;
    }
    if (!parser.is_done()) {
      conn->stream.expires_after(absl::ToChronoNanoseconds(config.request_timeout));
      auto [body_ec, m] = co_await bhttp::async_read(conn->stream, buffer, parser, kTuple);
      if (body_ec == bhttp::error::body_limit) {
        auto res = ErrorResponse(413, "M_TOO_LARGE", "Request body too large");
        co_await Write(*conn, res, false);
        break;
      }
      if (body_ec) {
        if (body_ec != beast::error::timeout && body_ec != net::error::operation_aborted &&
            body_ec != bhttp::error::end_of_stream) {
          auto res = ErrorResponse(400, "M_UNRECOGNIZED",
                                   core::StrCat("Malformed HTTP request: ", body_ec.message()));
          co_await Write(*conn, res, false);
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

    bhttp::response<bhttp::string_body> res;
    if (request.method == "OPTIONS") {
      res = bhttp::response<bhttp::string_body>{bhttp::status::ok, 11};
      res.set(bhttp::field::content_type, "application/json");
      res.body() = "{}";
    } else {
      Response response = co_await Handle(request);
      res = bhttp::response<bhttp::string_body>{static_cast<bhttp::status>(response.status), 11};
      res.set(bhttp::field::content_type, response.content_type);
      for (auto& [name, value] : response.headers) res.set(name, value);
      res.body() = std::move(response.body);
    }
    if (!co_await Write(*conn, res, keep_alive && !stopping.load())) break;
  }
  boost::system::error_code ignored;
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  conn->stream.close();
  std::lock_guard lock(mu);
  connections.erase(conn);
}

net::awaitable<Response> HttpServer::Impl::Handle(Request& request) {
  Response response;
  net::steady_timer timer(co_await net::this_coro::executor);
  for (;;) {
    // A reload holds this request at its module's gate: wait, then dispatch to the new code.
    const absl::Time give_up = absl::Now() + config.reload_drain_timeout + absl::Seconds(30);
    while (router.Dispatch(request, response) == Router::Outcome::kRetry) {
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

net::awaitable<void> HttpServer::Impl::Accept(tcp::acceptor& acceptor) {
  accept_loops.fetch_add(1);
  while (!stopping.load()) {
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(ioc), kTuple);
    if (ec == net::error::operation_aborted || stopping.load()) {
      if (!ec) {
        // Accepted just as we stop: serve it rather than drop it.
      } else {
        break;
      }
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
    auto executor = conn->stream.get_executor();
    net::co_spawn(executor, Serve(std::move(conn)), net::detached);
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

absl::Status HttpServer::Listen(const std::vector<int>& inherited_fds) {
  boost::system::error_code ec;
  if (!inherited_fds.empty()) {
    for (int fd : inherited_fds) {
      auto acceptor = std::make_unique<tcp::acceptor>(net::make_strand(impl_->ioc));
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      acceptor->assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
      if (ec) return absl::UnavailableError(core::StrCat("adopt fd ", fd, ": ", ec.message()));
      impl_->acceptors.push_back(std::move(acceptor));
    }
    return absl::OkStatus();
  }
  auto address = net::ip::make_address(impl_->config.address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        core::StrCat("address '", impl_->config.address, "': ", ec.message()));
  }
  tcp::endpoint endpoint(address, impl_->config.port);
  auto acceptor = std::make_unique<tcp::acceptor>(net::make_strand(impl_->ioc));
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(core::StrCat("cannot listen on ", impl_->config.address, ":",
                                               impl_->config.port, ": ", ec.message()));
  }
  fcntl(acceptor->native_handle(), F_SETFD, FD_CLOEXEC);
  impl_->acceptors.push_back(std::move(acceptor));
  return absl::OkStatus();
}

uint16_t HttpServer::port() const {
  if (impl_->acceptors.empty()) return 0;
  boost::system::error_code ec;
  return impl_->acceptors.front()->local_endpoint(ec).port();
}

std::vector<int> HttpServer::listening_fds() const {
  std::vector<int> fds;
  for (const auto& a : impl_->acceptors) fds.push_back(a->native_handle());
  return fds;
}

void HttpServer::Start(int threads) {
  impl_->stopping.store(false);
  if (std::exchange(impl_->interrupted, false)) impl_->notifier.Resume();
  impl_->ioc.restart();
  for (auto& acceptor : impl_->acceptors) {
    net::co_spawn(acceptor->get_executor(), impl_->Accept(*acceptor), net::detached);
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
  for (auto& acceptor : impl_->acceptors) {
    net::post(acceptor->get_executor(), [a = acceptor.get()] {
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
  for (auto& a : impl_->acceptors) {
    boost::system::error_code ec;
    a->close(ec);
  }
  impl_->acceptors.clear();
}

size_t HttpServer::connection_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->connections.size();
}

}  // namespace conclave::core
