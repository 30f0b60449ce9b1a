// Homeserver: the service module's object graph — the store, the stream, and the domain services
// the api calls (accounts, rooms, sync) plus the in-memory state that survives reloads (typing
// notifications, rate-limit buckets) through the module's saved bytes.
//
// Created at every load of the service module, destroyed at its unload; the api module (which
// depends on service) is reloaded whenever service is, so a Homeserver* obtained from Instance()
// is valid for the whole life of the api's own load. Thread-safe.
#ifndef CONCLAVE_SERVICE_HOMESERVER_H_
#define CONCLAVE_SERVICE_HOMESERVER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "conclave/core/server.h"
#include "conclave/database/database.h"
#include "conclave/service/accounts.h"
#include "conclave/service/rate_limiter.h"
#include "conclave/service/store.h"
#include "conclave/service/stream.h"

namespace conclave::service {

class Rooms;
class Sync;
class Typing;

class Homeserver {
 public:
  // Opens the maps, reads the stream position, restores `saved` (from the previous load's
  // Save(); empty on first load).
  static absl::StatusOr<std::unique_ptr<Homeserver>> Open(core::Server& server,
                                                          database::Database& db,
                                                          std::string_view saved);
  ~Homeserver();

  // What must survive a reload: typing notifications and rate-limit buckets.
  std::string Save() const;

  const std::string& server_name() const { return server_name_; }
  core::Server& server() { return server_; }
  core::Notifier& notifier() { return server_.notifier(); }
  Store& store() { return *store_; }
  Stream& stream() { return *stream_; }
  Accounts& accounts() { return *accounts_; }
  Rooms& rooms() { return *rooms_; }
  Sync& sync() { return *sync_; }
  Typing& typing() { return *typing_; }
  RateLimiter& limiter() { return limiter_; }

  // The configured limits (core::Config rc_*).
  RateLimit login_limit() const;
  RateLimit registration_limit() const;
  RateLimit message_limit() const;

 private:
  explicit Homeserver(core::Server& server);
  core::Server& server_;
  std::string server_name_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<Typing> typing_;
  std::unique_ptr<Rooms> rooms_;
  std::unique_ptr<Sync> sync_;
  RateLimiter limiter_;
};

// The Homeserver of the loaded service module, or null when it is not loaded.
Homeserver* Instance();

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_HOMESERVER_H_
