// Test helper: a Homeserver over a fresh RocksDB in a temporary directory, for tests of the
// service module (tests/service) and of what sits on it (tests/admin, tests/api). One per test;
// everything is removed when the test ends.
#ifndef CONCLAVE_TESTS_SERVICE_TESTING_HOMESERVER_FIXTURE_H_
#define CONCLAVE_TESTS_SERVICE_TESTING_HOMESERVER_FIXTURE_H_

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "conclave/core/config.h"
#include "conclave/core/server.h"
#include "conclave/database/database.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/rooms/rooms.h"
#include "database/temp_dir.h"
#include "gtest/gtest.h"

namespace conclave::service::test_util {

// Owns, in this order, the temporary directory, the core::Server, the Database and the
// Homeserver. Confined to the test's thread (the Homeserver itself is thread-safe).
class HomeserverTest : public ::testing::Test {
 protected:
  // Opens the server, the database (`dir_/db`) and a Homeserver with the default config and
  // server_name "example.org". A fixture that needs another config calls Open() itself from its
  // own SetUp instead.
  void SetUp() override { Open(DefaultConfig()); }
  // Stops and destroys the Homeserver before any member of a derived fixture goes (a command
  // processor, say, that its admin room worker may still call).
  void TearDown() override { Close(); }

  // The config SetUp uses: server_name "example.org", database_path `dir_/db`.
  core::Config DefaultConfig() const {
    core::Config config;
    config.server_name = "example.org";
    config.database_path = dir_.Sub("db");
    return config;
  }
  // (Re)creates the server and the database from `config` (database_path is used as is), then
  // opens a Homeserver. Fails the test (fatally) when either cannot be opened.
  void Open(const core::Config& config) {
    Close();
    db_.reset();
    server_ = std::make_unique<core::Server>(config, "dev");
    auto db = database::Database::Open({.path = config.database_path});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    Reopen();
  }
  // A new Homeserver on the same database, restoring `saved` (Homeserver::Save of the previous
  // one): what a restart ("") or a reload of the service module does.
  void Reopen(std::string_view saved = "") {
    Close();
    auto hs = Homeserver::Open(*server_, *db_, saved);
    ASSERT_TRUE(hs.ok()) << hs.status();
    hs_ = *std::move(hs);
  }
  // Stops the Homeserver's background work and destroys it. Idempotent.
  void Close() {
    if (hs_ != nullptr) hs_->Stop();
    hs_.reset();
  }

  Accounts& accounts() { return hs_->accounts(); }
  Rooms& rooms() { return hs_->rooms(); }

  // A local account `@localpart:example.org` with password "pw" and one device; an empty
  // Session (and a test failure) when registration fails.
  Session Register(const std::string& localpart) {
    auto r = accounts().Register(localpart, "pw", std::nullopt, std::nullopt, false, "ip");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? Session{r->user_id, r->device_id} : Session{};
  }
  // The room `who` creates with `request`; "" (and a failure) when refused.
  std::string CreateRoom(const Session& who, const CreateRoomRequest& request) {
    auto r = rooms().CreateRoom(who, request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->room_id : "";
  }
  // Sends an m.text message `body` with transaction id `txn`; its event id, or "".
  std::string SendText(const Session& who, const std::string& room_id, const std::string& body,
                       const std::string& txn) {
    auto r = rooms().Send(who, room_id, "m.room.message", txn,
                          boost::json::object{{"msgtype", "m.text"}, {"body", body}});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }

  database::test_util::TempDir dir_;
  std::unique_ptr<core::Server> server_;
  std::unique_ptr<database::Database> db_;
  std::unique_ptr<Homeserver> hs_;
};

}  // namespace conclave::service::test_util

#endif  // CONCLAVE_TESTS_SERVICE_TESTING_HOMESERVER_FIXTURE_H_
