// MediaStore over a real RocksDB and media directory: durable uploads stored once per content,
// created ids and their expiry, and the orphan cleanup that a crash at any point relies on.
#include "conclave/service/media/media_store.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "conclave/service/protocol/crypto.h"
#include "conclave/service/storage/schema.h"
#include "content_files.h"
#include "database/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

namespace fs = std::filesystem;
using test_util::HasErrcode;
using test_util::IsOk;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class MediaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = database::Database::Open({.path = dir_.Sub("db")});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    Open();
  }
  void Open() {
    store_.reset();
    MediaStoreOptions options;
    options.directory = dir_.Sub("media");
    options.unused_expiry = absl::Minutes(10);
    options.max_pending_per_user = 2;
    options.now_ms = [this] { return now_ms_; };
    options.test_stop_after_delete_batch = [this] { return stop_after_delete_batch_; };
    options.quota = [this] { return quota_; };
    auto store = MediaStore::Open(*db_, std::move(options));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  // A request body as core leaves it: a file in the upload directory.
  std::string Body(const std::string& content) {
    const std::string path = store_->upload_directory() + "/.upload-" + std::to_string(next_++);
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::vector<std::string> Files(const std::string& sub) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir_.Sub("media/" + sub))) {
      if (e.is_regular_file()) out.push_back(e.path().string());
    }
    return out;
  }
  std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

  database::test_util::TempDir dir_;
  std::unique_ptr<database::Database> db_;
  std::unique_ptr<MediaStore> store_;
  int64_t now_ms_ = 1'700'000'000'000;
  bool stop_after_delete_batch_ = false;
  MediaQuota quota_;
  int next_ = 0;
};

TEST_F(MediaStoreTest, UploadStoresContentByHashAndMetadata) {
  auto record = store_->Upload("@a:x", Body("hello"), "text/plain", "hi.txt");
  ASSERT_THAT(record.status(), IsOk());
  EXPECT_EQ(record->size, 5u);
  // SHA-256("hello")
  EXPECT_EQ(record->sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(record->media_id.size(), 24u);
  EXPECT_TRUE(ValidMediaId(record->media_id));
  EXPECT_EQ(Read(store_->ContentPath(*record)), "hello");
  EXPECT_THAT(Files("tmp"), IsEmpty());

  auto again = store_->Get(record->media_id);
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_EQ(again->uploader, "@a:x");
  EXPECT_EQ(again->content_type, "text/plain");
  EXPECT_EQ(again->filename, "hi.txt");
  EXPECT_EQ(again->created_ts, now_ms_);
  EXPECT_FALSE(again->pending());
}

TEST_F(MediaStoreTest, IdenticalUploadsShareOneFile) {
  auto a = store_->Upload("@a:x", Body("same bytes"), "", "");
  auto b = store_->Upload("@b:x", Body("same bytes"), "", "");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->media_id, b->media_id);
  EXPECT_EQ(store_->ContentPath(*a), store_->ContentPath(*b));
  EXPECT_THAT(Files("content"), SizeIs(1));
  EXPECT_THAT(Files("tmp"), IsEmpty());
}

TEST_F(MediaStoreTest, UnknownOrMalformedIdIsNotFound) {
  EXPECT_THAT(store_->Get("nosuchmedia").status(), HasErrcode(Errcode::kNotFound));
  EXPECT_THAT(store_->Get("../etc/passwd").status(), HasErrcode(Errcode::kNotFound));
  EXPECT_THAT(store_->Get("").status(), HasErrcode(Errcode::kNotFound));
}

TEST_F(MediaStoreTest, CreatedIdIsPendingUntilItsUploadAndCannotBeOverwritten) {
  auto created = store_->Create("@a:x");
  ASSERT_THAT(created.status(), IsOk());
  EXPECT_EQ(created->unused_expires_ts, now_ms_ + 10 * 60 * 1000);
  auto pending = store_->Get(created->media_id);
  ASSERT_THAT(pending.status(), IsOk());
  EXPECT_TRUE(pending->pending());

  EXPECT_THAT(store_->UploadTo(created->media_id, "@b:x", Body("x"), "", "").status(),
              HasErrcode(Errcode::kForbidden));
  auto uploaded = store_->UploadTo(created->media_id, "@a:x", Body("content"), "image/png", "p");
  ASSERT_THAT(uploaded.status(), IsOk());
  EXPECT_EQ(Read(store_->ContentPath(*uploaded)), "content");
  EXPECT_THAT(store_->UploadTo(created->media_id, "@a:x", Body("other"), "", "").status(),
              HasErrcode(Errcode::kCannotOverwriteMedia));
  EXPECT_THAT(Files("tmp"), IsEmpty());  // refused bodies are removed too
  EXPECT_EQ(store_->Get(created->media_id)->content_type, "image/png");
}

TEST_F(MediaStoreTest, CreatedIdExpiresUnused) {
  auto created = store_->Create("@a:x");
  ASSERT_TRUE(created.ok());
  now_ms_ += absl::ToInt64Milliseconds(absl::Minutes(10));
  EXPECT_THAT(store_->Get(created->media_id).status(), HasErrcode(Errcode::kNotFound));
  EXPECT_THAT(store_->UploadTo(created->media_id, "@a:x", Body("late"), "", "").status(),
              HasErrcode(Errcode::kNotFound));
}

TEST_F(MediaStoreTest, TooManyPendingIdsAreRateLimited) {
  ASSERT_TRUE(store_->Create("@a:x").ok());
  ASSERT_TRUE(store_->Create("@a:x").ok());
  EXPECT_THAT(store_->Create("@a:x").status(), HasErrcode(Errcode::kLimitExceeded));
  EXPECT_THAT(store_->Create("@b:x").status(), IsOk());  // per user
}

// What a kill -9 can leave: a temporary being received, and a content file renamed into place
// whose metadata was never written. Both go at the next start; committed media stay.
TEST_F(MediaStoreTest, RemoveOrphansDeletesTemporariesAndUnreferencedContent) {
  auto kept = store_->Upload("@a:x", Body("kept"), "", "");
  ASSERT_TRUE(kept.ok());
  const std::string partial = Body("half an upl");
  ContentFiles files(dir_.Sub("media"));
  const std::string unnamed = Body("no metadata");
  auto orphan = files.Hash(unnamed);
  ASSERT_TRUE(orphan.ok());
  ASSERT_THAT(files.Place(unnamed, *orphan), IsOk());
  ASSERT_TRUE(fs::exists(files.PathOf(orphan->sha256)));

  Open();  // a restart
  auto removed = store_->RemoveOrphans();
  ASSERT_THAT(removed.status(), IsOk());
  EXPECT_EQ(removed->temporaries, 1u);
  EXPECT_EQ(removed->unreferenced, 1u);
  EXPECT_FALSE(fs::exists(partial));
  EXPECT_FALSE(fs::exists(files.PathOf(orphan->sha256)));
  EXPECT_EQ(Read(store_->ContentPath(*kept)), "kept");
}

// Identical uploads share one file: it goes with the last of their ids, and not before.
TEST_F(MediaStoreTest, DeleteRemovesTheFileWithItsLastId) {
  auto first = store_->Upload("@a:x", Body("shared"), "", "");
  auto second = store_->Upload("@b:x", Body("shared"), "", "");
  ASSERT_TRUE(first.ok() && second.ok());
  const std::string path = store_->ContentPath(*first);
  const std::string thumbnail = dir_.Sub("media/thumbnails/" + first->sha256 + "-32x32-crop.jpg");
  fs::create_directories(dir_.Sub("media/thumbnails"));
  std::ofstream(thumbnail) << "thumb";

  auto deleted = store_->Delete(first->media_id);
  ASSERT_THAT(deleted.status(), IsOk());
  EXPECT_EQ(deleted->items, 1u);
  EXPECT_EQ(deleted->files, 0u);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_TRUE(fs::exists(thumbnail));
  EXPECT_THAT(store_->Get(first->media_id).status(), HasErrcode(Errcode::kNotFound));
  EXPECT_THAT(store_->Get(second->media_id).status(), IsOk());

  deleted = store_->Delete(second->media_id);
  ASSERT_THAT(deleted.status(), IsOk());
  EXPECT_EQ(deleted->files, 1u);
  EXPECT_EQ(deleted->bytes, 6u + 5u);  // the content and its thumbnail
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(thumbnail));
  EXPECT_THAT(store_->Delete(second->media_id).status(), HasErrcode(Errcode::kNotFound));
  auto of_b = MediaOfUser(*db_, "@b:x");
  ASSERT_TRUE(of_b.ok());
  EXPECT_THAT(*of_b, IsEmpty());

  // The content uploaded again after its file went is stored again.
  auto again = store_->Upload("@a:x", Body("shared"), "", "");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Read(store_->ContentPath(*again)), "shared");
}

// A kill -9 after a deletion's batch leaves the file and no id: an orphan the next start
// removes. The other order could leave an id without its file.
TEST_F(MediaStoreTest, CrashAfterTheDeleteBatchLeavesAnOrphanOnly) {
  auto record = store_->Upload("@a:x", Body("doomed"), "", "");
  ASSERT_TRUE(record.ok());
  stop_after_delete_batch_ = true;
  Open();
  ASSERT_THAT(store_->Delete(record->media_id).status(), IsOk());
  const std::string path = store_->ContentPath(*record);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_THAT(store_->Get(record->media_id).status(), HasErrcode(Errcode::kNotFound));

  stop_after_delete_batch_ = false;
  Open();  // the restart
  auto removed = store_->RemoveOrphans();
  ASSERT_THAT(removed.status(), IsOk());
  EXPECT_EQ(removed->unreferenced, 1u);
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(MediaStoreTest, DeletesPendingIdsAndTheMediaOfAUserOrOfAnAge) {
  auto pending = store_->Create("@a:x");
  ASSERT_TRUE(pending.ok());
  auto old_one = store_->Upload("@a:x", Body("old"), "", "");
  now_ms_ += 1000;
  auto new_one = store_->Upload("@a:x", Body("new"), "", "");
  auto other = store_->Upload("@b:x", Body("other"), "", "");
  ASSERT_TRUE(old_one.ok() && new_one.ok() && other.ok());

  auto purged = store_->DeleteCreatedBefore(now_ms_);
  ASSERT_THAT(purged.status(), IsOk());
  EXPECT_EQ(purged->items, 2u);  // the pending id and the old upload
  EXPECT_EQ(purged->files, 1u);
  EXPECT_THAT(store_->Get(new_one->media_id).status(), IsOk());

  auto of_user = store_->DeleteOfUser("@a:x");
  ASSERT_THAT(of_user.status(), IsOk());
  EXPECT_EQ(of_user->items, 1u);
  EXPECT_FALSE(fs::exists(store_->ContentPath(*new_one)));
  EXPECT_THAT(store_->Get(other->media_id).status(), IsOk());
  auto totals = MediaStatistics(*db_);
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->media, 1u);
  EXPECT_EQ(totals->pending, 0u);
}

// Databases from before `media_content` get their counts at the next start; with them, a
// deletion keeps a file another id still names.
TEST_F(MediaStoreTest, RemoveOrphansWritesMissingContentCounts) {
  auto first = store_->Upload("@a:x", Body("twice"), "", "");
  auto second = store_->Upload("@a:x", Body("twice"), "", "");
  ASSERT_TRUE(first.ok() && second.ok());
  auto content = db_->OpenMap(schema::kMediaContentMap);
  ASSERT_TRUE(content.ok());
  ASSERT_THAT(db_->Delete(**content, first->sha256), IsOk());

  auto removed = store_->RemoveOrphans();
  ASSERT_THAT(removed.status(), IsOk());
  EXPECT_EQ(removed->counts_repaired, 1u);
  EXPECT_EQ(removed->unreferenced, 0u);
  ASSERT_THAT(store_->Delete(first->media_id).status(), IsOk());
  EXPECT_EQ(Read(store_->ContentPath(*second)), "twice");
}

// content-repo.yaml: 403 M_FORBIDDEN when "the user has reached a quota for uploaded content".
// Asked at each upload (SIGHUP changes it at once); a deletion gives the room back.
TEST_F(MediaStoreTest, QuotasRefuseUploadsOverThemAndDeletionsFreeThem) {
  auto first = store_->Upload("@a:x", Body("12345"), "", "");
  ASSERT_TRUE(first.ok());
  quota_ = {.max_bytes = 8, .max_items = 0};
  const std::string refused_body = Body("6789");
  EXPECT_THAT(store_->Upload("@a:x", refused_body, "", "").status(),
              HasErrcode(Errcode::kForbidden));
  EXPECT_FALSE(fs::exists(refused_body));
  EXPECT_THAT(Files("content"), SizeIs(1));  // the refused content was not stored
  EXPECT_THAT(store_->Upload("@b:x", Body("6789"), "", "").status(), IsOk());  // per user
  EXPECT_THAT(store_->Upload("@a:x", Body("678"), "", "").status(), IsOk());   // 8 bytes: at it

  quota_ = {.max_bytes = 0, .max_items = 2};
  auto pending = store_->Create("@a:x");
  ASSERT_TRUE(pending.ok());
  EXPECT_THAT(store_->UploadTo(pending->media_id, "@a:x", Body("z"), "", "").status(),
              HasErrcode(Errcode::kForbidden));
  ASSERT_THAT(store_->Delete(first->media_id).status(), IsOk());
  EXPECT_THAT(store_->UploadTo(pending->media_id, "@a:x", Body("z"), "", "").status(), IsOk());
  auto usage = MediaUsageOf(*db_, "@a:x");
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->items, 2u);
  EXPECT_EQ(usage->bytes, 4u);  // "678" and "z"
}

TEST(Sha256OfFile, HashesInBlocks) {
  database::test_util::TempDir dir;
  const std::string path = dir.Sub("big");
  std::string content(3 << 20, 'a');  // more than one block
  std::ofstream(path, std::ios::binary) << content;
  uint64_t size = 0;
  auto hash = Sha256OfFile(path, &size);
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(size, content.size());
  EXPECT_EQ(*hash, HexEncode(Sha256(content)));
}

}  // namespace
}  // namespace conclave::service
