#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>

#include "http_server_impl.h"
#include "tls_listener.h"

namespace conclave::core {

net::awaitable<void> HttpServer::Impl::Accept(tcp::acceptor& acceptor, bool metrics_listener,
                                              bool tls) {
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
      absl::MutexLock lock(&mu);
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
    socket.set_option(tcp::no_delay(true), ec);
    Launch(std::move(socket), metrics_listener, /*adopted=*/false, tls);
  }
  accept_loops.fetch_sub(1);
}

void HttpServer::Impl::Launch(tcp::socket socket, bool metrics_listener, bool adopted, bool tls) {
  // Asio does not ask for SOCK_CLOEXEC; an exec restart must not leak client sockets (it passes
  // the ones it hands over itself).
  fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
  std::shared_ptr<Connection> conn;
  {
    absl::MutexLock lock(&mu);
    conn = std::make_shared<Connection>(std::move(socket), tls ? tls_context : nullptr);
    connections.insert(conn);
  }
  stats.connections_open().Add(1);
  auto executor = conn->stream.get_executor();
  net::co_spawn(executor, Serve(std::move(conn), metrics_listener, adopted), net::detached);
}

void HttpServer::Impl::CancelConnections(CancelWhich which) {
  absl::MutexLock lock(&mu);
  for (const auto& conn : connections) {
    net::post(conn->stream.get_executor(), [conn, which] {
      // On the connection's strand, like its session: `idle` and `waiting` are current.
      if (which == CancelWhich::kAll || (which == CancelWhich::kIdle && conn->idle) ||
          (which == CancelWhich::kWaiting && conn->waiting)) {
        conn->stream.cancel();
      }
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
  const Config& config = impl_->config;
  const bool federation = !config.tls_certificate_path.empty();
  if (federation) {
    auto context =
        internal::MakeServerTlsContext(config.tls_certificate_path, config.tls_private_key_path);
    if (!context.ok()) return context.status();
    absl::MutexLock lock(&impl_->mu);
    impl_->tls_context = *std::move(context);
  }
  bool have_main = false, have_metrics = false, have_federation = false;
  for (int fd : inherited_fds) {
    // Named by ExecWithListenFds (or systemd's FileDescriptorName=); any other name is the
    // main listener, as every socket was before the metrics listener existed.
    const std::string name = ListenFdName(fd);
    const bool metrics = name == kMetricsListenerName;
    const bool tls = name == kFederationListenerName;
    if ((metrics && (!impl_->metrics_separate || have_metrics)) ||
        (tls && (!federation || have_federation))) {
      CONCLAVE_LOG(kInfo, "http", "closing the inherited {} socket: no {} listener is configured",
                   name, metrics ? "separate metrics" : "federation (TLS)");
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
    SetListenFdName(fd, metrics ? kMetricsListenerName
                        : tls   ? kFederationListenerName
                                : kHttpListenerName);
    impl_->acceptors.push_back({std::move(acceptor), metrics, tls});
    (metrics ? have_metrics : tls ? have_federation : have_main) = true;
  }
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
  if (federation && !have_federation) {
    const std::string& host =
        config.federation_address.empty() ? config.address : config.federation_address;
    auto acceptor = impl_->Bind(host, config.federation_port);
    if (!acceptor.ok()) return acceptor.status();
    SetListenFdName((*acceptor)->native_handle(), kFederationListenerName);
    impl_->acceptors.push_back({*std::move(acceptor), false, true});
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
    if (!l.metrics && !l.tls) return l.acceptor->local_endpoint(ec).port();
  }
  return 0;
}

uint16_t HttpServer::federation_port() const {
  boost::system::error_code ec;
  for (const auto& l : impl_->acceptors) {
    if (l.tls) return l.acceptor->local_endpoint(ec).port();
  }
  return 0;
}

absl::Status HttpServer::ReloadTlsCertificate() {
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->tls_context == nullptr) return absl::OkStatus();
  }
  auto context = internal::MakeServerTlsContext(impl_->config.tls_certificate_path,
                                                impl_->config.tls_private_key_path);
  if (!context.ok()) return context.status();
  absl::MutexLock lock(&impl_->mu);
  impl_->tls_context = *std::move(context);
  return absl::OkStatus();
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
  impl_->handing_over.store(false);
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
    net::co_spawn(l.acceptor->get_executor(), impl_->Accept(*l.acceptor, l.metrics, l.tls),
                  net::detached);
  }
  for (int i = 0; i < std::max(1, threads); ++i) {
    impl_->threads.emplace_back([this] {
      // sendfile(2) takes no MSG_NOSIGNAL: sending a file to a connection its client has reset
      // raises SIGPIPE, whose default action ends the process (seen with wrk closing its
      // connections mid-download, bench/media). Blocked on the I/O threads, which are the ones
      // that send, the call fails with EPIPE instead and only that connection closes. (Asio's
      // own writes pass MSG_NOSIGNAL.)
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      auto guard = net::make_work_guard(impl_->ioc);
      impl_->ioc.run();
    });
  }
}

void HttpServer::Stop(absl::Duration grace) { impl_->StopServing(grace, /*hand_over=*/false); }

HandOver HttpServer::StopForHandOver(absl::Duration grace) {
  HandOver out;
  out.closed_busy = impl_->StopServing(grace, /*hand_over=*/true);
  // Counted by Adopt(), in the next image (from the record) or in this one after a failed exec.
  absl::MutexLock lock(&impl_->mu);
  out.connections = std::exchange(impl_->handed, {});
  return out;
}

size_t HttpServer::Impl::StopServing(absl::Duration grace, bool hand_over) {
  if (threads.empty()) return 0;
  handing_over.store(hand_over);  // before `stopping`: a session that sees one sees both
  stopping.store(true);
  if (!std::exchange(interrupted, true)) notifier.Interrupt();
  for (auto& l : acceptors) {
    net::post(l.acceptor->get_executor(), [a = l.acceptor.get()] {
      boost::system::error_code ec;
      a->cancel(ec);
    });
  }
  auto wait_for_connections = [&](absl::Duration limit) {
    absl::Time deadline = absl::Now() + limit;
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu);
        if (connections.empty() && accept_loops.load() == 0) return true;
      }
      // Again and again: a connection may become idle (or start waiting) at any time.
      CancelConnections(hand_over ? CancelWhich::kWaiting : CancelWhich::kIdle);
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  };
  size_t busy = 0;
  if (!wait_for_connections(grace)) {
    {
      absl::MutexLock lock(&mu);
      busy = connections.size();
    }
    CONCLAVE_LOG(kWarn, "http", "closing {} connections still busy after {}{}", busy,
                 absl::FormatDuration(grace), hand_over ? " instead of handing them over" : "");
    handing_over.store(false);  // what is left closes
    CancelConnections(CancelWhich::kAll);
    wait_for_connections(absl::Seconds(1));
  }
  ioc.stop();
  for (auto& t : threads) t.join();
  threads.clear();
  return busy;
}

void HttpServer::Adopt(HandOver handover) {
  internal::HttpMetrics& stats = impl_->stats;
  stats.handover_closed_busy().Increment(handover.closed_busy);
  stats.handover_closed_invalid().Increment(handover.closed_invalid);
  size_t adopted = 0, no_listener = 0;
  for (const HandedConnection& h : handover.connections) {
    const bool metrics = h.listener == kMetricsListenerName;
    // A TLS connection is never handed over (its session state stays in the old image); one in
    // a record is not ours to serve.
    if ((metrics && !impl_->metrics_separate) || h.listener == kFederationListenerName) {
      close(h.fd);
      ++no_listener;
      continue;
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    getsockname(h.fd, reinterpret_cast<sockaddr*>(&addr), &len);
    tcp::socket socket(net::make_strand(impl_->ioc));
    boost::system::error_code ec;
    socket.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), h.fd, ec);
    if (ec) {
      CONCLAVE_LOG(kError, "http", "handed connection dropped: descriptor {}: {}", h.fd,
                   ec.message());
      close(h.fd);
      stats.handover_closed_invalid().Increment();
      continue;
    }
    impl_->Launch(std::move(socket), metrics, /*adopted=*/true);
    ++adopted;
  }
  stats.handed_over().Increment(adopted);
  stats.handover_closed_no_listener().Increment(no_listener);
  if (adopted + no_listener + handover.closed_busy + handover.closed_invalid == 0) return;
  CONCLAVE_LOG(kInfo, "http",
               "serving {} client connections handed over at the restart ({} closed: {} busy, {} "
               "invalid, {} of a metrics listener no longer configured)",
               adopted, no_listener + handover.closed_busy + handover.closed_invalid,
               handover.closed_busy, handover.closed_invalid, no_listener);
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
  absl::MutexLock lock(&impl_->mu);
  return impl_->connections.size();
}

}  // namespace conclave::core
