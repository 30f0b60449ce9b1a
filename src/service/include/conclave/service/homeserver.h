// Homeserver: the service module's object graph — the store, the stream, and the domain services
// the api calls (accounts, rooms, sync, e2ee, key backup), the admin room, plus the in-memory state
// that survives reloads (typing notifications, rate-limit buckets, user-interactive auth sessions,
// queued admin commands) through the module's saved bytes.
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
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/accounts/uia_sessions.h"
#include "conclave/service/options/options.h"
#include "conclave/service/rate_limit/rate_limiter.h"
#include "conclave/service/rooms/event_observers.h"
#include "conclave/service/storage/store.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service {

class AdminRoom;
class AdminRoomImpl;
class E2ee;
class KeyBackup;
class Notifications;
class PushRuleStore;
class Pushers;
class Rooms;
class Search;
class SearchIndexer;
class Sync;
class Typing;

class Homeserver {
 public:
  // Reads the service's options from `server.sections().raw()` (kInvalidArgument naming the key
  // for an invalid one) and registers them for SIGHUP, opens the maps, reads the stream
  // position, restores `saved` (from the previous load's Save(); empty on first load), and sets up
  // the admin room (AdminRoomImpl::SetUp: the bot, the room, invites for admins not in it). Errors
  // from the database and from that set-up.
  static absl::StatusOr<std::unique_ptr<Homeserver>> Open(core::Server& server,
                                                          database::Database& db,
                                                          std::string_view saved);
  // Stops the background work first (see Stop()).
  ~Homeserver();

  // Starts the background work: the search indexer's thread and the thread that runs the admin
  // room's queued commands. Called
  // by the service module's load, after Open(); a Homeserver that is never started still queues
  // commands (tests). Not thread-safe with Stop(): call both from one thread (the module hooks).
  // kResourceExhausted when the thread cannot be created.
  absl::Status Start();
  // Stops the background work and joins its thread; a command that is running finishes (and is
  // answered) first. Idempotent.
  void Stop();

  // What must survive a reload: typing notifications, rate-limit buckets, UIA sessions and the
  // admin commands still queued. Call after Stop(), so that the command the worker is busy with is
  // not saved too.
  std::string Save() const;

  const std::string& server_name() const { return server_name_; }
  core::Server& server() { return server_; }
  core::Notifier& notifier() { return server_.notifier(); }
  Store& store() { return *store_; }
  Stream& stream() { return *stream_; }
  Accounts& accounts() { return *accounts_; }
  PushRuleStore& push_rules() { return *push_rules_; }
  Notifications& notifications() { return *notifications_; }
  Pushers& pushers() { return *pushers_; }
  Rooms& rooms() { return *rooms_; }
  Sync& sync() { return *sync_; }
  E2ee& e2ee() { return *e2ee_; }
  KeyBackup& key_backup() { return *key_backup_; }
  Typing& typing() { return *typing_; }
  Search& search() { return *search_; }
  SearchIndexer& search_indexer() { return *search_indexer_; }
  RateLimiter& limiter() { return limiter_; }
  UiaSessions& uia_sessions() { return uia_sessions_; }
  AdminRoom& admin_room();
  // The same, with the service module's private interface (admin_room_impl.h).
  AdminRoomImpl& admin_room_impl() { return *admin_room_; }

  // The service's options in force (options.h), as SIGHUP last applied them.
  ServiceOptions options() const { return settings_->Get(); }
  const ServiceSettings& settings() const { return *settings_; }
  // The configured limits (rc_*).
  RateLimit login_limit() const { return options().login; }
  RateLimit registration_limit() const { return options().registration; }
  RateLimit message_limit() const { return options().message; }

 private:
  explicit Homeserver(core::Server& server);
  core::Server& server_;
  std::string server_name_;
  std::unique_ptr<ServiceSettings> settings_;
  core::ConfigSections::Handle settings_registration_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<PushRuleStore> push_rules_;
  std::unique_ptr<Notifications> notifications_;
  std::unique_ptr<Pushers> pushers_;
  std::unique_ptr<Typing> typing_;
  std::unique_ptr<Rooms> rooms_;
  std::unique_ptr<E2ee> e2ee_;
  std::unique_ptr<KeyBackup> key_backup_;
  std::unique_ptr<Sync> sync_;
  std::unique_ptr<SearchIndexer> search_indexer_;
  std::unique_ptr<Search> search_;
  // Wakes the indexer after each send; destroyed before it.
  EventObservers::Handle search_wakeup_;
  RateLimiter limiter_;
  UiaSessions uia_sessions_;
  // Last: destroyed (its worker joined) before everything it uses.
  std::unique_ptr<AdminRoomImpl> admin_room_;
};

// Where the search index of the database at `database_path` lives: `<database_path>-search`
// (trailing slashes dropped), beside the database rather than in it (RocksDB owns its directory).
std::string SearchIndexDirectory(const std::string& database_path);

// The Homeserver of the loaded service module, or null when it is not loaded.
Homeserver* Instance();

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_HOMESERVER_H_
