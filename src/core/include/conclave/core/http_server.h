// HttpServer: the Beast/Asio engine that owns the listening sockets and client connections.
//
// Sockets and connections belong to core and survive every module reload; requests go through
// the Router (http.h), whose gates hold them while their module reloads. No Beast or Asio types
// here (they are compiled once, in core's .cc files).
#ifndef CONCLAVE_CORE_HTTP_SERVER_H_
#define CONCLAVE_CORE_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "conclave/core/config.h"
#include "conclave/core/handover.h"

namespace conclave::core {

class Router;
class Notifier;

// Checks the federation listener's TLS files as HttpServer::Listen() will load them: OK when
// `config.tls_certificate_path` is empty (no federation listener); kNotFound or
// kPermissionDenied naming the key and the path for a file that cannot be read,
// kInvalidArgument for a file that is not PEM or a key that does not match the certificate.
// main calls it with the config checks (exit status 2), `--check-config` included.
absl::Status CheckTlsListener(const Config& config);

// Start/Stop from one thread; the rest thread-safe. Must outlive nothing of the modules: it
// holds no module code (handlers are reached through the Router).
class HttpServer {
 public:
  // Keeps references to `router` and `notifier` (which parks long-polls) and copies the limits
  // and the metrics settings (metrics_enabled, metrics_address, metrics_port) from `config`.
  // Requests are counted in GlobalMetrics() (metrics.h) and logged to the access log
  // (AccessLogEnabled(), log.h).
  HttpServer(Router& router, Notifier& notifier, const Config& config);
  ~HttpServer();

  // Adopts `inherited_fds` (listening sockets from LISTEN_FDS): the one named "metrics"
  // (ListenFdName(), listen_fds.h) as the separate metrics listener if the config asks for one
  // (else it is closed), the one named "federation" as the TLS federation listener if the
  // config has a tls_certificate_path (else it is closed), every other one as the main
  // listener. Then binds what is still missing: config address:port for the main listener, the
  // separate metrics listener (metrics_address, or address when empty, and metrics_port) when
  // configured, and the federation listener (federation_address, or address, and
  // federation_port) when tls_certificate_path is set. Names every listening socket for
  // ExecWithListenFds(). kUnavailable naming the address on bind failure (e.g. in use),
  // kInvalidArgument for a malformed address, the errors of CheckTlsListener() for the
  // certificate and key.
  absl::Status Listen(const std::vector<int>& inherited_fds);
  // The main listener's bound port (the real one when config asked for 0).
  uint16_t port() const;
  // The separate metrics listener's bound port; 0 when there is none.
  uint16_t metrics_port() const;
  // The federation (TLS) listener's bound port; 0 when there is none.
  uint16_t federation_port() const;
  // Re-reads the federation listener's certificate and key from their configured paths (SIGHUP):
  // connections accepted afterwards get the new certificate, open ones keep theirs. On error
  // (CheckTlsListener()'s) the current certificate stays. OK and nothing done when there is no
  // federation listener. Thread-safe.
  absl::Status ReloadTlsCertificate();
  // The listening descriptors, main listener first (for an exec restart).
  std::vector<int> listening_fds() const;

  // Starts `threads` worker threads (>= 1) accepting and serving.
  void Start(int threads);

  // Two-stage graceful stop: stops accepting (the listening sockets stay open, so connections
  // wait in the kernel backlog), answers parked long-polls at once (Notifier::Interrupt), lets
  // requests in flight finish and closes idle connections;
  // after `grace`, cancels whatever is left. Joins the workers. Start() may be called again.
  void Stop(absl::Duration grace);
  // Stops like Stop() for an exec restart, but hands client connections over instead of closing
  // them (those of the TLS federation listener excepted: TLS session state cannot cross an exec,
  // so a request in flight on one is answered with `Connection: close`, and the idle ones are
  // closed, after a TLS close_notify; their clients reconnect to the listening socket, which is
  // passed on and keeps new connections in its backlog meanwhile): each is detached (its descriptor
  // released) once it is between two requests with nothing of the next one read: idle ones at once,
  // busy ones when their response is written (a pipelined request already read is answered first; a
  // request only partly received is read whole and answered first). Responses during the stop keep
  // the connection alive. Connections still busy after `grace` are closed, logged and counted in
  // HandOver::closed_busy. Returns the detached connections; the caller owns their descriptors
  // (ExecWithListenFds() passes them on; Adopt() takes them back when the exec failed).
  HandOver StopForHandOver(absl::Duration grace);
  // Serves the connections of `handover` (TakeInheritedFds(), or StopForHandOver() after a
  // failed exec), each as if between two of its requests, on the listener it names (a
  // connection of the separate metrics listener is closed when there is none), and counts them
  // and the closed ones in the metrics. Call after Start(). Takes ownership of the descriptors.
  void Adopt(HandOver handover);
  // Closes the listening sockets (final shutdown).
  void CloseListeners();

  // Open client connections right now.
  size_t connection_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_HTTP_SERVER_H_
