// Server configuration: the TOML file, CONCLAVE_<KEY> environment overrides, and defaults.
//
// Core's own options (HTTP, logging, process); the modules' options are read by the modules from
// the raw table (`Config::raw`, options.h). Every option is listed in docs/configuration.md with
// its type, default, unit and whether it can change without a restart; keep the two in step (a
// test checks every key is there). SIGHUP re-reads the file and applies the keys
// config_reload.h lists as runtime; every other core option needs a restart.
#ifndef CONCLAVE_CORE_CONFIG_H_
#define CONCLAVE_CORE_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/options.h"

namespace conclave::core {

// A plain value type; thread-compatible. The Server holds the active one; modules read it.
struct Config {
  // The Matrix server name, the part after the colon in user ids. Default "localhost".
  // Needs a restart (it is baked into stored ids).
  std::string server_name = "localhost";
  // Address to listen on (IPv4 or IPv6 literal). Default "127.0.0.1". Needs a restart.
  std::string address = "127.0.0.1";
  // TCP port. Default 8008. 0 picks a free port (tests). Needs a restart.
  uint16_t port = 8008;
  // RocksDB directory. Default "./conclave-data". Needs a restart.
  std::string database_path = "./conclave-data";
  // Sync every write to disk (fsync of the WAL) for power-loss durability. Default false: an
  // acknowledged write survives a process crash but not a power cut. Needs a restart.
  bool database_sync_writes = false;
  // Directory for RocksDB checkpoints made by the admin command `database backup`, one
  // subdirectory per backup. Default "" = `<database_path>-backups` (e.g.
  // "./conclave-data-backups"), filled in when the config is loaded, so this is never empty
  // afterwards. Needs a restart.
  std::string database_backup_path;
  // How many backups `database backup` keeps; after a new one, the oldest beyond this number are
  // deleted. Default 3, range 1..1000. Needs a restart.
  int database_backups_to_keep = 3;
  // Log level: trace, debug, info, warn, error, critical, off. Default "info".
  std::string log_level = "info";
  // Log line format: "text" or "json" (one object per line). Default "text". Applied by the
  // Server's constructor; changeable at runtime with core::SetLogFormat (log.h).
  std::string log_format = "text";
  // One `access` line at info level per HTTP request (method, route template, status, duration,
  // peer; never the raw path or query). Default true. Applied by the Server's constructor;
  // changeable at runtime with core::SetAccessLogEnabled (log.h).
  bool access_log = true;
  // Serve Prometheus metrics at /_conclave/metrics. Default false (the path answers 404).
  // Needs a restart.
  bool metrics_enabled = false;
  // Where to serve them. Both default (address "" and port 0): on the main listener. Otherwise
  // on a separate listener, bound to `metrics_address` (IPv4 or IPv6 literal; "" = `address`) and
  // `metrics_port` (0 = a free port, logged), which serves nothing else; the main listener then
  // answers 404 for the path. Need a restart; ignored when a metrics socket is inherited.
  std::string metrics_address;
  uint16_t metrics_port = 0;
  // The federation listener (Server-Server API, "Server discovery": port 8448 by default, TLS
  // always): HTTPS over the same Router as the main listener (the Client-Server API may share
  // it). `tls_certificate_path` is a PEM file holding the certificate and then its chain,
  // `tls_private_key_path` the PEM private key that matches it; both unreadable, malformed or
  // not matching is a start error (CheckTlsListener(), http_server.h). An empty
  // `tls_certificate_path` (the default) means no federation listener. `federation_address`:
  // IPv4 or IPv6 literal, "" = `address`; `federation_port` 0 = a free port (tests), logged.
  // All need a restart, except that SIGHUP re-reads the two files (new connections get the new
  // certificate); ignored (but for the files) when a federation socket is inherited.
  uint16_t federation_port = 8448;
  std::string federation_address;
  std::string tls_certificate_path;
  std::string tls_private_key_path;
  // HTTP worker threads. Default 0 = one per core, at least 2. Needs a restart.
  int worker_threads = 0;
  // Threads of the blocking pool (blocking_pool.h), which runs the handlers of blocking routes
  // (password hashing: register, login, password change). Default 0 = one per core, 2 to 8;
  // range 0..256. Needs a restart.
  int blocking_threads = 0;
  // Requests waiting for a blocking-pool thread at most, all routes together. One more is
  // answered 429 M_LIMIT_EXCEEDED with Retry-After at once (http.h, RouteOptions::blocking).
  // Default 4096, range 1..1000000. Needs a restart.
  int blocking_queue = 4096;
  // Largest request header block, bytes. Default 16384 (16 KiB); larger gets 431.
  size_t max_header_size = 16 * 1024;
  // Largest request body, bytes. Default 1048576 (1 MiB); larger gets 413.
  size_t max_body_size = 1024 * 1024;
  // Time allowed to receive a request body once its header arrived, and to write a response.
  // Default 30s.
  absl::Duration request_timeout = absl::Seconds(30);
  // Time allowed for the next request's header on a connection (keep-alive idle time included);
  // the connection is closed after it. Default 60s.
  absl::Duration idle_timeout = absl::Seconds(60);
  // How long a reload waits for in-flight requests of the modules it reloads. Default 5s.
  absl::Duration reload_drain_timeout = absl::Seconds(5);
  // Where dev builds find modules. Default "" = `<executable dir>/../lib`. Needs a restart.
  std::string module_dir;
  // Per-process directory for shadow copies of modules. Default "" = `$XDG_RUNTIME_DIR/conclave`
  // or `/tmp/conclave-<uid>`. Needs a restart.
  std::string runtime_dir;
  // Dev builds: watch mode, as with `--watch` (either turns it on; docs/hot-reload.md). Default
  // false. Needs a restart (an exec restart applies it). A release build ignores `true` with a
  // warning at start and in `--check-config` (main.cc): the same file serves a checkout's dev
  // and release builds.
  bool watch = false;

  // Admin commands run at every start, in order, once the server listens (after the modules
  // loaded, before `--execute`), e.g. "users create-user bot" for automation. Their output goes
  // to the log; a failing command is logged and start-up goes on. Default empty. In the
  // environment: `;`-separated commands, or a TOML array. Needs a restart.
  std::vector<std::string> admin_execute;
  // Where each value above came from (key -> "default", "file", "env"); for show-config.
  std::map<std::string, std::string> sources;
  // Every key read, the modules' too, untyped: modules parse their own options from it
  // (options.h, config_sections.h). Core's keys are in it as well.
  RawConfig raw;
};

// Result of loading. Unknown keys are known only once the modules said which keys they read:
// see UnknownKeyWarnings (config_sections.h).
struct LoadedConfig {
  Config config;
};

// Loads `path` (TOML) if given, else `./conclave.toml` if present, else defaults; then applies
// CONCLAVE_<KEY> environment variables from `environ`. Returns kInvalidArgument naming the key
// (or the file and line) for a bad value or syntax, kNotFound/kPermissionDenied for an unreadable
// file that was asked for by name.
absl::StatusOr<LoadedConfig> LoadConfig(const std::optional<std::string>& path, char** environ);

// Parses TOML text directly (tests, the config fuzzer). `origin` names the source in messages.
absl::StatusOr<LoadedConfig> ParseConfig(std::string_view toml_text, std::string_view origin,
                                         char** environ);

// The names of core's options, in documentation order.
const std::vector<std::string>& ConfigKeys();

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_CONFIG_H_
