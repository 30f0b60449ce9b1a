// The fixture of the admin command tests: a core::Server, a real Homeserver over a fresh
// temporary RocksDB, and helpers that run a command line through admin::Execute().
#ifndef CONCLAVE_TESTS_ADMIN_ADMIN_FIXTURE_H_
#define CONCLAVE_TESTS_ADMIN_ADMIN_FIXTURE_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <vector>

#include "conclave/admin/commands.h"
#include "conclave/core/config.h"
#include "conclave/core/server.h"
#include "conclave/database/database.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/rooms/rooms.h"
#include "service/testing/homeserver_fixture.h"

namespace conclave::admin::test_util {

inline constexpr char kInvoker[] = "@root:example.org";

// Whether a line of the plain-text `text` holds `cells` as consecutive columns of a table (cells
// are separated by two or more spaces), starting at its first column.
inline bool HasRow(const std::string& text, const std::vector<std::string>& cells) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    std::vector<std::string> columns;
    size_t at = 0;
    while (at < line.size()) {
      size_t gap = line.find("  ", at);
      if (gap == std::string::npos) gap = line.size();
      columns.push_back(line.substr(at, gap - at));
      at = line.find_first_not_of(' ', gap);
      if (at == std::string::npos) break;
    }
    if (columns.size() >= cells.size() && std::equal(cells.begin(), cells.end(), columns.begin())) {
      return true;
    }
  }
  return false;
}

class AdminTest : public service::test_util::HomeserverTest {
 protected:
  void SetUp() override {
    core::Config config = DefaultConfig();
    config.database_backup_path = dir_.Sub("backups");
    config.database_backups_to_keep = 2;
    config.raw.SetText("registration_token", "sesame");
    Configure(config);
    Open(config);
    if (HasFatalFailure()) return;
    environment_.server = server_.get();
    environment_.homeserver = hs_.get();
    environment_.database = db_.get();
  }
  void TearDown() override {
    HomeserverTest::TearDown();
    db_.reset();
  }
  // Lets a test change the config before the server is made.
  virtual void Configure(core::Config& config) {}

  // Runs `line` as `invoker` with `body`.
  absl::StatusOr<core::CommandOutput> Run(const std::string& line,
                                          const std::string& invoker = kInvoker,
                                          const std::string& body = "") {
    return Execute(environment_, core::CommandRequest{line, body, invoker});
  }
  // The plain text answer of `line`, which must succeed.
  std::string Ok(const std::string& line, const std::string& invoker = kInvoker) {
    auto out = Run(line, invoker);
    EXPECT_TRUE(out.ok()) << line << ": " << out.status();
    return out.ok() ? out->plain : "";
  }
  // The error of `line`, which must fail.
  absl::Status Err(const std::string& line) {
    auto out = Run(line);
    EXPECT_FALSE(out.ok()) << line << " succeeded: " << (out.ok() ? out->plain : "");
    return out.status();
  }

  // A public room created by `who`, with `name` and the alias #`alias`:example.org if given.
  std::string CreateRoom(const service::Session& who, const std::string& name,
                         const std::string& alias = "") {
    service::CreateRoomRequest request{.preset = service::CreateRoomRequest::Preset::kPublicChat,
                                       .name = name};
    if (!alias.empty()) request.room_alias_name = alias;
    auto r = hs_->rooms().CreateRoom(who, request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->room_id : "";
  }
  std::string Membership(const std::string& user_id, const std::string& room_id) {
    auto rooms = hs_->rooms().UserRooms(user_id);
    if (!rooms.ok()) return "error";
    for (const auto& r : *rooms) {
      if (r.room_id == room_id) return r.membership;
    }
    return "";
  }

  Environment environment_;
};

}  // namespace conclave::admin::test_util

#endif  // CONCLAVE_TESTS_ADMIN_ADMIN_FIXTURE_H_
