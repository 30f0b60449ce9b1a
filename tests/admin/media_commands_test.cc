// `media` commands over a real RocksDB holding media written by MediaStore.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "admin_fixture.h"
#include "conclave/service/media/media_store.h"
#include "conclave/service/rooms/rooms.h"

namespace conclave::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class MediaCommandsTest : public test_util::AdminTest {
 protected:
  // The commands find the store where the media module would: its `media_directory` option.
  void Configure(core::Config& config) override {
    config.raw.SetText("media_directory", dir_.Sub("media"));
  }
  std::unique_ptr<service::MediaStore> Store() {
    service::MediaStoreOptions options;
    options.directory = dir_.Sub("media");
    auto store = service::MediaStore::Open(*db_, std::move(options));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  std::string Body(service::MediaStore& store, const std::string& content) {
    const std::string path = store.upload_directory() + "/.upload-" + std::to_string(next_++);
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  // An upload of `content` by `user`, without type or name.
  absl::StatusOr<service::MediaRecord> Put(service::MediaStore& store, const std::string& user,
                                           const std::string& content) {
    return store.Upload(user, Body(store, content), "", "");
  }
  int next_ = 0;
};

TEST_F(MediaCommandsTest, StatsCountsItemsContentFilesAndCreatedIds) {
  Register("alice");
  auto store = Store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Upload("@alice:example.org", Body(*store, "12345"), "", "").ok());
  ASSERT_TRUE(store->Upload("@bob:example.org", Body(*store, "12345"), "", "").ok());
  ASSERT_TRUE(store->Create("@alice:example.org").ok());
  EXPECT_THAT(Ok("media stats"),
              StartsWith("2 media items, 10 B in all; 1 content file, 5 B on disk; 1 created id "
                         "waiting for an upload"));
}

TEST_F(MediaCommandsTest, ListUserShowsTheirMediaOnly) {
  Register("alice");
  auto store = Store();
  ASSERT_NE(store, nullptr);
  auto mine = store->Upload("@alice:example.org", Body(*store, "abc"), "image/png", "cat.png");
  ASSERT_TRUE(mine.ok());
  ASSERT_TRUE(store->Upload("@bob:example.org", Body(*store, "xyz"), "", "").ok());
  const std::string out = Ok("media list-user @alice:example.org");
  EXPECT_THAT(out, StartsWith("@alice:example.org: 1 media item"));
  EXPECT_THAT(out, HasSubstr(mine->media_id));
  EXPECT_THAT(out, HasSubstr("cat.png"));
  EXPECT_THAT(Ok("media list-user @carol:example.org"),
              StartsWith("@carol:example.org: 0 media items"));
}

TEST_F(MediaCommandsTest, DeleteKeepsSharedContentUntilItsLastId) {
  Register("alice");
  auto store = Store();
  ASSERT_NE(store, nullptr);
  auto first = Put(*store, "@alice:example.org", "same");
  auto second = Put(*store, "@bob:example.org", "same");
  ASSERT_TRUE(first.ok() && second.ok());
  const std::string path = store->ContentPath(*first);
  EXPECT_THAT(Ok("media delete " + first->media_id),
              StartsWith("deleted 1 media item (" + first->media_id + ")"));
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_THAT(Ok("media delete mxc://example.org/" + second->media_id),
              HasSubstr("1 content file removed, 4 B freed"));
  EXPECT_FALSE(std::filesystem::exists(path));
  auto again = Run("media delete " + second->media_id);
  EXPECT_FALSE(again.ok());
  EXPECT_THAT(Run("media delete mxc://elsewhere.org/abc").status().code(),
              absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Ok("database verify"), HasSubstr("OK: no inconsistencies"));
}

TEST_F(MediaCommandsTest, DeleteUserAndPurge) {
  Register("alice");
  auto store = Store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(Put(*store, "@alice:example.org", "a1").ok());
  ASSERT_TRUE(store->Create("@alice:example.org").ok());
  auto bobs = Put(*store, "@bob:example.org", "b1");
  ASSERT_TRUE(bobs.ok());
  EXPECT_THAT(Ok("media delete-user @alice:example.org"),
              StartsWith("deleted 2 media items of @alice:example.org"));
  // Everything here was created just now: nothing is a day old.
  EXPECT_THAT(Ok("media purge 1"), StartsWith("deleted 0 media items"));
  EXPECT_THAT(Run("media purge 0").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store->Get(bobs->media_id).ok());
}

TEST_F(MediaCommandsTest, RoomMediaAreFoundInItsEventsAndDeleted) {
  service::Session alice = Register("alice");
  auto store = Store();
  ASSERT_NE(store, nullptr);
  auto image = store->Upload(alice.user_id, Body(*store, "png"), "image/png", "a.png");
  auto elsewhere = Put(*store, alice.user_id, "other");
  ASSERT_TRUE(image.ok() && elsewhere.ok());
  const std::string room = CreateRoom(alice, "Lobby", "lobby");
  ASSERT_TRUE(hs_->rooms()
                  .Send(alice, room, "m.room.message", "t1",
                        boost::json::object{{"msgtype", "m.image"},
                                            {"body", "a.png"},
                                            {"url", "mxc://example.org/" + image->media_id}})
                  .ok());
  const std::string listed = Ok("media list-room #lobby:example.org");
  EXPECT_THAT(listed, StartsWith(room + ": its events refer to 1 media id"));
  EXPECT_THAT(listed, HasSubstr(image->media_id));
  EXPECT_THAT(Ok("media delete-room " + room), StartsWith("deleted 1 media item referred to in"));
  EXPECT_FALSE(store->Get(image->media_id).ok());
  EXPECT_TRUE(store->Get(elsewhere->media_id).ok());
}

// database verify sees a content file that went missing under its id, and an orphan.
TEST_F(MediaCommandsTest, VerifyReportsMissingAndOrphanFiles) {
  Register("alice");
  auto store = Store();
  ASSERT_NE(store, nullptr);
  auto kept = Put(*store, "@alice:example.org", "kept");
  auto lost = Put(*store, "@alice:example.org", "lost");
  ASSERT_TRUE(kept.ok() && lost.ok());
  std::filesystem::remove(store->ContentPath(*lost));
  const std::string orphan = std::string(64, 'a');
  std::filesystem::create_directories(dir_.Sub("media/content/aa"));
  std::ofstream(dir_.Sub("media/content/aa/" + orphan)) << "x";
  auto out = Run("database verify");
  ASSERT_FALSE(out.ok());
  const std::string message(out.status().message());
  EXPECT_THAT(message, HasSubstr("content file " + lost->sha256 + " is missing"));
  EXPECT_THAT(message, HasSubstr(orphan));
}

}  // namespace
}  // namespace conclave::admin
