// `database` commands against a real RocksDB: statistics, compaction, backups, verify.
#include "database_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "admin_fixture.h"
#include "conclave/database/key.h"

namespace conclave::admin {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

class DatabaseCommandsTest : public test_util::AdminTest {};

TEST_F(DatabaseCommandsTest, StatsListsEveryMapAndATotal) {
  Register("alice");
  std::string out = Ok("database stats");
  EXPECT_THAT(out, StartsWith("RocksDB at " + dir_.Sub("db") + ": "));
  EXPECT_THAT(out, HasSubstr("map       "));
  for (const char* map : {"users", "timeline", "rooms", "default"}) {
    EXPECT_THAT(out, MatchesRegex("(.|\n)*\n" + std::string(map) +
                                  " +[0-9]+ +[0-9.]+ [KMG]?i?B "
                                  "+[0-9]+ +[0-9.]+ [KMG]?i?B +[-L0-9: ]+\n(.|\n)*"))
        << map;
  }
  EXPECT_THAT(out, HasSubstr("\n(total)"));
}

TEST_F(DatabaseCommandsTest, CompactOneMapOrAll) {
  Register("alice");
  EXPECT_THAT(
      Ok("database compact users"),
      MatchesRegex("compacted users in [0-9]+ ms: SST files .* → .*, by @root:example.org\n"));
  EXPECT_THAT(Ok("database compact"), StartsWith("compacted every map in "));
  absl::Status s = Err("database compact user");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("no map 'user'; did you mean 'users'?"));
  // The unknown map was not created.
  EXPECT_THAT(db_->MapNames(), ::testing::Not(::testing::Contains("user")));
}

TEST_F(DatabaseCommandsTest, BackupKeepsTheNewestAndListsThem) {
  Register("alice");
  std::string first = Ok("database backup");
  EXPECT_THAT(
      first,
      MatchesRegex("backup written to " + dir_.Sub("backups") +
                   "/conclave-backup-[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{6}\\.[0-9]{3}Z in [0-9]+ ms "
                   "\\([0-9]+ files, .*\\), by @root:example.org\n"));
  // The checkpoint opens as a database of its own.
  auto backups = FindBackups(dir_.Sub("backups"));
  ASSERT_TRUE(backups.ok()) << backups.status();
  ASSERT_EQ(backups->size(), 1u);
  {
    auto copy = database::Database::Open({.path = (*backups)[0].path, .create_if_missing = false});
    ASSERT_TRUE(copy.ok()) << copy.status();
    EXPECT_THAT((*copy)->MapNames(), ::testing::Contains("users"));
  }
  absl::SleepFor(absl::Milliseconds(2));
  Ok("database backup");
  absl::SleepFor(absl::Milliseconds(2));
  std::string third = Ok("database backup");  // database_backups_to_keep = 2
  EXPECT_THAT(third, HasSubstr("\nremoved the oldest, keeping 2: " + (*backups)[0].name + "\n"));
  std::string list = Ok("database list-backups");
  EXPECT_THAT(list, StartsWith("2 backups in " + dir_.Sub("backups") + " (keeping 2)\n"));
  EXPECT_THAT(list, HasSubstr("conclave-backup-"));
  EXPECT_FALSE(fs::exists((*backups)[0].path));
}

TEST_F(DatabaseCommandsTest, VerifyCountsRecordsAndReportsInconsistencies) {
  service::Session alice = Register("alice");
  const std::string room = CreateRoom(alice, "Lobby", "lobby");
  std::string out = Ok("database verify");
  EXPECT_THAT(out, MatchesRegex("checked [0-9]+ records in [0-9]+ maps at stream position [0-9]+ "
                                "in [0-9]+ ms\n(.|\n)*"));
  EXPECT_TRUE(test_util::HasRow(out, {"users", "2"})) << out;    // alice and the admin bot
  EXPECT_TRUE(test_util::HasRow(out, {"aliases", "2"})) << out;  // #lobby and #admins
  EXPECT_THAT(out, HasSubstr("\nOK: no inconsistencies\n"));

  // Damage: the room's name loses its room_state entry.
  service::Store& store = hs_->store();
  const std::string key = database::KeyBuilder()
                              .AppendString(room)
                              .AppendString("m.room.name")
                              .AppendString("")
                              .Build();
  ASSERT_TRUE(db_->Delete(*store.room_state, key).ok());
  absl::Status s = Err("database verify");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  const std::string message(s.message());
  EXPECT_THAT(message, HasSubstr("\nFAILED: 1 inconsistency\n"));
  EXPECT_TRUE(test_util::HasRow(message, {"room_state", room + " | m.room.name | \"\""}))
      << message;
  EXPECT_THAT(message, HasSubstr("missing: the latest state event of this type and key is $"));

  EXPECT_EQ(Err("database verify --max-problems 0").code(), absl::StatusCode::kInvalidArgument);
}

TEST(BackupTest, WriteBackupNamesByTimeAndPrunes) {
  database::test_util::TempDir dir;
  auto db = database::Database::Open({.path = dir.Sub("db")});
  ASSERT_TRUE(db.ok());
  const std::string path = dir.Sub("nested/backups");  // created on demand
  absl::Time t = absl::FromUnixMillis(1714564800123);  // 2024-05-01 12:00:00.123 UTC
  auto first = WriteBackup(**db, path, 2, t);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->path, path + "/conclave-backup-2024-05-01T120000.123Z");
  EXPECT_EQ(WriteBackup(**db, path, 2, t).status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(WriteBackup(**db, path, 2, t + absl::Seconds(1)).ok());
  auto third = WriteBackup(**db, path, 2, t + absl::Seconds(2));
  ASSERT_TRUE(third.ok());
  EXPECT_THAT(third->removed, ElementsAre("conclave-backup-2024-05-01T120000.123Z"));
  auto listed = FindBackups(path);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].created, t + absl::Seconds(1));
  EXPECT_GT((*listed)[0].files, 0u);
  // Other entries in the directory are left alone and not listed.
  fs::create_directories(path + "/notes");
  EXPECT_EQ(FindBackups(path)->size(), 2u);
  EXPECT_EQ(WriteBackup(**db, "", 2, t).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(FindBackups("").status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace conclave::admin
