#include "conclave/database/database.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "conclave/database/key.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_dir.h"

namespace conclave::database {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

class DatabaseTest : public ::testing::Test {
 protected:
  std::string DbPath() const { return dir_.Sub("db"); }

  std::unique_ptr<Database> OpenOrDie(const std::string& path) {
    Options options;
    options.path = path;
    auto db = Database::Open(options);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }
  std::unique_ptr<Database> OpenOrDie() { return OpenOrDie(DbPath()); }

  static Map* MapOrDie(Database& db, std::string_view name) {
    auto map = db.OpenMap(name);
    EXPECT_TRUE(map.ok()) << map.status();
    return map.ok() ? *map : nullptr;
  }

  // Every (key, value) of `map` with `prefix`, via ForEachWithPrefix.
  static std::vector<std::pair<std::string, std::string>> Collect(
      const Database& db, const Map& map, std::string_view prefix,
      const Snapshot* snapshot = nullptr) {
    std::vector<std::pair<std::string, std::string>> out;
    absl::Status status = db.ForEachWithPrefix(
        map, prefix,
        [&out](std::string_view key, std::string_view value) {
          out.emplace_back(key, value);
          return true;
        },
        snapshot);
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  test_util::TempDir dir_;
};

TEST_F(DatabaseTest, PutGetDelete) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->path(), DbPath());
  Map* users = MapOrDie(*db, "users");
  ASSERT_NE(users, nullptr);

  EXPECT_EQ(db->Get(*users, "@alice:x").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(db->Put(*users, "@alice:x", "alice").ok());
  EXPECT_EQ(db->Get(*users, "@alice:x").value(), "alice");
  ASSERT_TRUE(db->Put(*users, "@alice:x", "alice2").ok());
  EXPECT_EQ(db->Get(*users, "@alice:x").value(), "alice2");
  ASSERT_TRUE(db->Delete(*users, "@alice:x").ok());
  EXPECT_EQ(db->Get(*users, "@alice:x").status().code(), absl::StatusCode::kNotFound);
  // Deleting an absent key succeeds.
  EXPECT_TRUE(db->Delete(*users, "@nobody:x").ok());
}

TEST_F(DatabaseTest, BinaryKeysAndValues) {
  auto db = OpenOrDie();
  Map* map = MapOrDie(*db, "binary");
  const std::string key("k\x00\xff", 3);
  const std::string value("\x00\x01\x02", 3);
  ASSERT_TRUE(db->Put(*map, key, value).ok());
  EXPECT_EQ(db->Get(*map, key).value(), value);
  EXPECT_EQ(db->Get(*map, "k").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DatabaseTest, OpenMapReturnsTheSameStableHandle) {
  auto db = OpenOrDie();
  Map* first = MapOrDie(*db, "rooms");
  Map* again = MapOrDie(*db, "rooms");
  EXPECT_EQ(first, again);
  EXPECT_EQ(first->name(), "rooms");
  EXPECT_EQ(db->OpenMap("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DatabaseTest, MapsAreSeparate) {
  auto db = OpenOrDie();
  Map* a = MapOrDie(*db, "a");
  Map* b = MapOrDie(*db, "b");
  ASSERT_TRUE(db->Put(*a, "key", "in a").ok());
  EXPECT_EQ(db->Get(*b, "key").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(db->Put(*b, "key", "in b").ok());
  EXPECT_EQ(db->Get(*a, "key").value(), "in a");
  EXPECT_EQ(db->Get(*b, "key").value(), "in b");
  EXPECT_THAT(db->MapNames(), ElementsAre("a", "b", "default"));
}

TEST_F(DatabaseTest, BatchIsAtomicAcrossMapsAndSurvivesReopen) {
  {
    auto db = OpenOrDie();
    Map* events = MapOrDie(*db, "events");
    Map* timeline = MapOrDie(*db, "timeline");
    ASSERT_TRUE(db->Put(*events, "$old", "gone").ok());

    WriteBatch batch;
    batch.Put(*events, "$e1", "event one");
    batch.Put(*timeline, KeyBuilder().AppendString("!r").AppendU64(1).Build(), "$e1");
    batch.Delete(*events, "$old");
    EXPECT_EQ(batch.Count(), 3u);
    // Nothing is visible before Write().
    EXPECT_EQ(db->Get(*events, "$e1").status().code(), absl::StatusCode::kNotFound);
    ASSERT_TRUE(db->Write(batch).ok());
    EXPECT_EQ(db->Get(*events, "$e1").value(), "event one");
    batch.Clear();
    EXPECT_EQ(batch.Count(), 0u);
  }
  auto db = OpenOrDie();
  Map* events = MapOrDie(*db, "events");
  Map* timeline = MapOrDie(*db, "timeline");
  EXPECT_EQ(db->Get(*events, "$e1").value(), "event one");
  EXPECT_EQ(db->Get(*timeline, KeyBuilder().AppendString("!r").AppendU64(1).Build()).value(),
            "$e1");
  EXPECT_EQ(db->Get(*events, "$old").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DatabaseTest, BatchOrderMakesTheLastUpdateWin) {
  auto db = OpenOrDie();
  Map* map = MapOrDie(*db, "m");
  WriteBatch batch;
  batch.Put(*map, "k", "1");
  batch.Delete(*map, "k");
  batch.Put(*map, "k", "3");
  batch.Put(*map, "gone", "x");
  batch.Delete(*map, "gone");
  ASSERT_TRUE(db->Write(batch).ok());
  EXPECT_EQ(db->Get(*map, "k").value(), "3");
  EXPECT_EQ(db->Get(*map, "gone").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DatabaseTest, MapsOfAnotherDatabaseAreRefused) {
  auto db = OpenOrDie();
  auto other = OpenOrDie(dir_.Sub("other"));
  Map* mine = MapOrDie(*db, "m");
  Map* theirs = MapOrDie(*other, "m");

  EXPECT_EQ(db->Put(*theirs, "k", "v").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db->Get(*theirs, "k").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db->NewIterator(*theirs)->status().code(), absl::StatusCode::kInvalidArgument);

  WriteBatch mixed;
  mixed.Put(*mine, "k", "v");
  mixed.Put(*theirs, "k", "v");
  EXPECT_EQ(db->Write(mixed).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db->Get(*mine, "k").status().code(), absl::StatusCode::kNotFound);

  auto snapshot = other->GetSnapshot();
  EXPECT_EQ(db->Get(*mine, "k", snapshot.get()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class PrefixTest : public DatabaseTest {
 protected:
  void SetUp() override {
    db_ = OpenOrDie();
    ASSERT_NE(db_, nullptr);
    map_ = MapOrDie(*db_, "timeline");
    WriteBatch batch;
    for (std::string room : {"!a", "!ab", "!b"}) {
      for (uint64_t position : {3, 1, 256, 2}) {
        batch.Put(*map_, Key(room, position), room + "/" + std::to_string(position));
      }
    }
    ASSERT_TRUE(db_->Write(batch).ok());
  }

  static std::string Key(std::string_view room, uint64_t position) {
    return KeyBuilder().AppendString(room).AppendU64(position).Build();
  }
  static std::string RoomPrefix(std::string_view room) {
    return KeyBuilder().AppendString(room).Build();
  }

  std::unique_ptr<Database> db_;
  Map* map_ = nullptr;
};

TEST_F(PrefixTest, ForEachWithPrefixVisitsOnlyMatchingKeysInAscendingOrder) {
  std::vector<std::string> values;
  for (const auto& [key, value] : Collect(*db_, *map_, RoomPrefix("!a"))) values.push_back(value);
  EXPECT_THAT(values, ElementsAre("!a/1", "!a/2", "!a/3", "!a/256"));
}

TEST_F(PrefixTest, ForEachWithPrefixStopsWhenTheCallbackSaysSo) {
  std::vector<std::string> values;
  absl::Status status =
      db_->ForEachWithPrefix(*map_, RoomPrefix("!b"), [&](std::string_view, std::string_view v) {
        values.emplace_back(v);
        return values.size() < 2;
      });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(values, ElementsAre("!b/1", "!b/2"));
}

TEST_F(PrefixTest, EmptyPrefixVisitsEverything) {
  EXPECT_EQ(Collect(*db_, *map_, "").size(), 12u);
  EXPECT_TRUE(Collect(*db_, *map_, "!zz").empty());
}

TEST_F(PrefixTest, RawBytePrefixIncludingFfBytes) {
  Map* raw = MapOrDie(*db_, "raw");
  for (std::string key :
       {std::string("\xfe", 1), std::string("\xff", 1), std::string("\xff\x00", 2),
        std::string("\xff\xff", 2), std::string("\xff\xff\x01", 3)}) {
    ASSERT_TRUE(db_->Put(*raw, key, "v").ok());
  }
  auto keys = [&](std::string_view prefix) {
    std::vector<std::string> out;
    for (auto& [key, value] : Collect(*db_, *raw, prefix)) out.push_back(key);
    return out;
  };
  EXPECT_THAT(keys(std::string("\xff", 1)),
              ElementsAre(std::string("\xff", 1), std::string("\xff\x00", 2),
                          std::string("\xff\xff", 2), std::string("\xff\xff\x01", 3)));
  EXPECT_THAT(keys(std::string("\xff\xff", 2)),
              ElementsAre(std::string("\xff\xff", 2), std::string("\xff\xff\x01", 3)));
}

TEST_F(PrefixTest, ReverseIterationWithinAPrefix) {
  IteratorOptions options;
  options.prefix = RoomPrefix("!a");
  auto it = db_->NewIterator(*map_, options);
  std::vector<std::string> values;
  for (it->SeekToLast(); it->Valid(); it->Prev()) values.emplace_back(it->value());
  ASSERT_TRUE(it->status().ok()) << it->status();
  EXPECT_THAT(values, ElementsAre("!a/256", "!a/3", "!a/2", "!a/1"));

  // The newest position at or before 100 in room !a.
  it->SeekForPrev(Key("!a", 100));
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "!a/3");
  // Seeking past the prefix ends at its last key; before it, at its first.
  it->SeekForPrev(Key("!b", 0));
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "!a/256");
  it->Seek("");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "!a/1");
}

TEST_F(PrefixTest, UnboundedIteratorWalksTheWholeMapBothWays) {
  auto it = db_->NewIterator(*map_);
  it->Seek(Key("!ab", 3));
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "!ab/3");
  it->Next();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "!ab/256");
  it->Next();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "!b/1");
  it->Prev();
  it->Prev();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "!ab/3");
  it->SeekToLast();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "!b/256");
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "!a/1");
  it->Prev();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
}

TEST_F(DatabaseTest, SnapshotIsolatesReads) {
  auto db = OpenOrDie();
  Map* a = MapOrDie(*db, "a");
  Map* b = MapOrDie(*db, "b");
  ASSERT_TRUE(db->Put(*a, "k1", "old").ok());
  ASSERT_TRUE(db->Put(*b, "k", "old").ok());

  std::shared_ptr<const Snapshot> snapshot = db->GetSnapshot();
  ASSERT_NE(snapshot, nullptr);
  WriteBatch batch;
  batch.Put(*a, "k1", "new");
  batch.Put(*a, "k2", "added");
  batch.Delete(*b, "k");
  ASSERT_TRUE(db->Write(batch).ok());

  EXPECT_EQ(db->Get(*a, "k1", snapshot.get()).value(), "old");
  EXPECT_EQ(db->Get(*a, "k2", snapshot.get()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db->Get(*b, "k", snapshot.get()).value(), "old");
  EXPECT_EQ(db->Get(*a, "k1").value(), "new");
  EXPECT_EQ(db->Get(*b, "k").status().code(), absl::StatusCode::kNotFound);

  EXPECT_THAT(Collect(*db, *a, "k", snapshot.get()), ElementsAre(Pair("k1", "old")));
  EXPECT_THAT(Collect(*db, *a, "k"), ElementsAre(Pair("k1", "new"), Pair("k2", "added")));

  // The iterator keeps its snapshot alive after the caller lets go of it.
  IteratorOptions options;
  options.snapshot = std::move(snapshot);
  auto it = db->NewIterator(*a, std::move(options));
  ASSERT_TRUE(db->Put(*a, "k0", "later").ok());
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "k1");
  EXPECT_EQ(it->value(), "old");
}

TEST_F(DatabaseTest, ReopenKeepsDataAndMaps) {
  {
    auto db = OpenOrDie();
    ASSERT_TRUE(db->Put(*MapOrDie(*db, "users"), "@a:x", "1").ok());
    ASSERT_TRUE(db->Put(*MapOrDie(*db, "rooms"), "!r:x", "2").ok());
    MapOrDie(*db, "empty");
  }
  auto db = OpenOrDie();
  // Maps from the earlier run exist before anyone opens them.
  EXPECT_THAT(db->MapNames(), ElementsAre("default", "empty", "rooms", "users"));
  EXPECT_EQ(db->Get(*MapOrDie(*db, "users"), "@a:x").value(), "1");
  EXPECT_EQ(db->Get(*MapOrDie(*db, "rooms"), "!r:x").value(), "2");
}

TEST_F(DatabaseTest, ReopenAfterFlushAndCompactKeepsData) {
  {
    auto db = OpenOrDie();
    Map* map = MapOrDie(*db, "m");
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(db->Put(*map, KeyBuilder().AppendU32(i).Build(), std::to_string(i)).ok());
    }
    ASSERT_TRUE(db->Flush().ok());
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(db->Delete(*map, KeyBuilder().AppendU32(i).Build()).ok());
    }
    ASSERT_TRUE(db->Compact(map).ok());
    ASSERT_TRUE(db->Compact(nullptr).ok());
  }
  auto db = OpenOrDie();
  Map* map = MapOrDie(*db, "m");
  EXPECT_EQ(Collect(*db, *map, "").size(), 50u);
  EXPECT_EQ(db->Get(*map, KeyBuilder().AppendU32(99).Build()).value(), "99");
  EXPECT_EQ(db->Get(*map, KeyBuilder().AppendU32(0).Build()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(DatabaseTest, SyncWritesOptionWorks) {
  Options options;
  options.path = DbPath();
  options.sync_writes = true;
  auto db = Database::Open(options);
  ASSERT_TRUE(db.ok()) << db.status();
  Map* map = MapOrDie(**db, "m");
  ASSERT_TRUE((*db)->Put(*map, "k", "v").ok());
  EXPECT_EQ((*db)->Get(*map, "k").value(), "v");
}

TEST_F(DatabaseTest, CreatesMissingParentDirectories) {
  auto db = OpenOrDie(dir_.Sub("a/b/c"));
  ASSERT_NE(db, nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("a/b/c/CURRENT")));
}

TEST_F(DatabaseTest, MissingDatabaseWithoutCreateIsNotFound) {
  Options options;
  options.path = DbPath();
  options.create_if_missing = false;
  auto db = Database::Open(options);
  EXPECT_EQ(db.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(db.status().message()), HasSubstr(DbPath()));
  EXPECT_FALSE(std::filesystem::exists(DbPath()));
}

TEST_F(DatabaseTest, EmptyPathIsInvalidArgument) {
  EXPECT_EQ(Database::Open(Options{}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DatabaseTest, SecondOpenInTheSameProcessIsUnavailable) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  Options options;
  options.path = DbPath();
  auto second = Database::Open(options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("database is in use"));
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(DbPath()));
  // The first one is unharmed, and the lock is released when it closes.
  EXPECT_TRUE(db->Put(*MapOrDie(*db, "m"), "k", "v").ok());
  db.reset();
  EXPECT_NE(OpenOrDie(), nullptr);
}

TEST_F(DatabaseTest, OpenWhileAnotherProcessHoldsTheLockIsUnavailable) {
  OpenOrDie().reset();  // Creates the database and its LOCK file.
  const std::string lock_path = DbPath() + "/LOCK";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child takes the same fcntl lock RocksDB takes, then waits to be killed.
    close(ready[0]);
    const int fd = open(lock_path.c_str(), O_RDWR);
    struct flock lock = {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    const char result = (fd >= 0 && fcntl(fd, F_SETLK, &lock) == 0) ? 'y' : 'n';
    if (write(ready[1], &result, 1) != 1) _exit(1);
    for (;;) pause();
  }
  close(ready[1]);
  char result = 0;
  ASSERT_EQ(read(ready[0], &result, 1), 1);
  close(ready[0]);
  Options options;
  options.path = DbPath();
  auto db = Database::Open(options);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_EQ(result, 'y') << "the child could not lock " << lock_path;
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable) << db.status();
  EXPECT_THAT(std::string(db.status().message()),
              HasSubstr("database is in use: " + DbPath() + " is locked by another process"));
  // With the child gone the lock is free again.
  EXPECT_NE(OpenOrDie(), nullptr);
}

TEST_F(DatabaseTest, CheckpointIsAnOpenableCopy) {
  const std::string checkpoint = dir_.Sub("backup");
  {
    auto db = OpenOrDie();
    Map* users = MapOrDie(*db, "users");
    Map* rooms = MapOrDie(*db, "rooms");
    ASSERT_TRUE(db->Put(*users, "@a:x", "alice").ok());
    ASSERT_TRUE(db->Put(*rooms, "!r:x", "room").ok());
    ASSERT_TRUE(db->CreateCheckpoint(checkpoint).ok());
    // Later writes do not reach the checkpoint.
    ASSERT_TRUE(db->Put(*users, "@b:x", "bob").ok());
    EXPECT_EQ(db->CreateCheckpoint(checkpoint).code(), absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(db->CreateCheckpoint(dir_.Sub("missing/backup")).code(), absl::StatusCode::kNotFound);
    // The checkpoint opens while the original is open: it is a separate database.
    auto copy = OpenOrDie(checkpoint);
    ASSERT_NE(copy, nullptr);
    EXPECT_THAT(copy->MapNames(), ElementsAre("default", "rooms", "users"));
    EXPECT_EQ(copy->Get(*MapOrDie(*copy, "users"), "@a:x").value(), "alice");
    EXPECT_EQ(copy->Get(*MapOrDie(*copy, "rooms"), "!r:x").value(), "room");
    EXPECT_EQ(copy->Get(*MapOrDie(*copy, "users"), "@b:x").status().code(),
              absl::StatusCode::kNotFound);
  }
}

TEST_F(DatabaseTest, StatsListEveryMap) {
  auto db = OpenOrDie();
  Map* users = MapOrDie(*db, "users");
  MapOrDie(*db, "rooms");
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(db->Put(*users, "@user" + std::to_string(i), std::string(100, 'x')).ok());
  }
  auto before_flush = db->Stats();
  ASSERT_TRUE(before_flush.ok()) << before_flush.status();
  ASSERT_EQ(before_flush->size(), 3u);
  EXPECT_EQ((*before_flush)[0].name, "default");
  EXPECT_EQ((*before_flush)[1].name, "rooms");
  const MapStats& users_before = (*before_flush)[2];
  EXPECT_EQ(users_before.name, "users");
  EXPECT_EQ(users_before.estimated_keys, 20u);
  EXPECT_GT(users_before.memtable_bytes, 0u);
  EXPECT_EQ(users_before.sst_files, 0u);
  EXPECT_FALSE(users_before.files_per_level.empty());

  ASSERT_TRUE(db->Flush().ok());
  auto after_flush = db->Stats();
  ASSERT_TRUE(after_flush.ok()) << after_flush.status();
  const MapStats& users_after = (*after_flush)[2];
  EXPECT_EQ(users_after.sst_files, 1u);
  EXPECT_EQ(users_after.files_per_level[0], 1u);
  EXPECT_GT(users_after.live_sst_bytes, 0u);
  EXPECT_EQ(users_after.estimated_keys, 20u);
  EXPECT_EQ((*after_flush)[1].sst_files, 0u);
}

TEST_F(DatabaseTest, MemoryCountsMemtablesAndEachBlockCacheOnce) {
  auto db = OpenOrDie();
  Map* users = MapOrDie(*db, "users");
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(db->Put(*users, "@user" + std::to_string(i), std::string(100, 'x')).ok());
  }
  auto memory = db->Memory();
  ASSERT_TRUE(memory.ok()) << memory.status();
  EXPECT_GT(memory->memtable_bytes, 0u);
  // The two maps ("default", "users") share one block cache, counted once.
  EXPECT_EQ(memory->block_caches, 1u);
  EXPECT_EQ(memory->block_cache_capacity, 64u << 20);
  ASSERT_TRUE(db->Flush().ok());
  ASSERT_TRUE(db->Get(*users, "@user1").ok());  // reads a block through the cache
  memory = db->Memory();
  ASSERT_TRUE(memory.ok()) << memory.status();
  EXPECT_GT(memory->block_cache_bytes, 0u);
  EXPECT_LE(memory->block_cache_bytes, memory->block_cache_capacity);
}

TEST_F(DatabaseTest, MapsAreSafeToOpenFromManyThreads) {
  auto db = OpenOrDie();
  std::vector<std::thread> threads;
  std::vector<Map*> seen(8, nullptr);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto map = db->OpenMap("shared");
      if (!map.ok()) return;
      seen[t] = *map;
      for (int i = 0; i < 100; ++i) {
        db->Put(**map, std::to_string(t) + "/" + std::to_string(i), "v").IgnoreError();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (Map* map : seen) EXPECT_EQ(map, seen[0]);
  ASSERT_NE(seen[0], nullptr);
  EXPECT_EQ(Collect(*db, *seen[0], "").size(), 800u);
  EXPECT_THAT(db->MapNames(), ElementsAre("default", "shared"));
}

}  // namespace
}  // namespace conclave::database
