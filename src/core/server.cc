#include "conclave/core/server.h"

#include "conclave/core/command_slot.h"
#include "conclave/core/http.h"
#include "conclave/core/log.h"
#include "conclave/core/metrics.h"

namespace conclave::core {

Server::Server(Config config, std::string build_type)
    : config_(std::move(config)),
      build_type_(std::move(build_type)),
      start_time_(absl::Now()),
      router_(std::make_unique<Router>()),
      commands_(std::make_unique<CommandSlot>()) {
  // Validated by the config loader; a hand-built Config with another value keeps the format.
  SetLogFormat(config_.log_format).IgnoreError();
  SetAccessLogEnabled(config_.access_log);
  GlobalMetrics();
}

MetricsRegistry& Server::metrics() { return GlobalMetrics(); }

Server::~Server() = default;

void Server::RequestShutdown() {
  if (shutdown_callback_ != nullptr) shutdown_callback_(shutdown_arg_);
}

void Server::set_shutdown_callback(void (*callback)(void*), void* arg) {
  shutdown_callback_ = callback;
  shutdown_arg_ = arg;
}

absl::Status Server::RequestRestart() {
  if (restart_callback_ == nullptr) {
    return absl::FailedPreconditionError("this process cannot restart in place (no restart hook)");
  }
  restart_callback_(restart_arg_);
  return absl::OkStatus();
}

void Server::set_restart_callback(void (*callback)(void*), void* arg) {
  restart_callback_ = callback;
  restart_arg_ = arg;
}

}  // namespace conclave::core
