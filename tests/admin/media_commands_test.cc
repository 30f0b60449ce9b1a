// `media` commands over a real RocksDB holding media written by MediaStore.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "admin_fixture.h"
#include "conclave/service/media/media_store.h"

namespace conclave::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class MediaCommandsTest : public test_util::AdminTest {
 protected:
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

}  // namespace
}  // namespace conclave::admin
