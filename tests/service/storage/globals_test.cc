#include "conclave/service/storage/globals.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "conclave/database/key.h"

namespace conclave::service {
namespace {

class GlobalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/conclave-globals-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto db = database::Database::Open({.path = dir_ + "/db"});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<database::Database> db_;
};

TEST_F(GlobalsTest, NewDatabaseIsMigratedAndKeepsItsFirstStart) {
  auto first = Globals::Open(*db_, "example.org");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->schema_version(), kSchemaVersion);
  EXPECT_EQ((*first)->server_name(), "example.org");
  EXPECT_LE((*first)->first_start(), absl::Now());
  auto again = Globals::Open(*db_, "example.org");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->first_start(), (*first)->first_start());
}

TEST_F(GlobalsTest, DatabaseFromANewerVersionIsRefused) {
  auto map = db_->OpenMap("globals");
  ASSERT_TRUE(map.ok());
  ASSERT_TRUE(db_->Put(**map, "schema_version",
                       database::KeyBuilder().AppendU64(kSchemaVersion + 1).Build())
                  .ok());
  auto globals = Globals::Open(*db_, "example.org");
  ASSERT_EQ(globals.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(globals.status().message()), ::testing::HasSubstr("newer conclave"));
}

}  // namespace
}  // namespace conclave::service
