// Other servers' keys (Server-Server API, "Retrieving server keys"): the checks of a fetched
// answer, the cache in RocksDB with valid_until_ts (7-day cap) and old keys' expired_ts, and the
// notary's countersigned answer. No network: answers are built and signed here and stored as a
// fetch would store them (the fetch itself is the integration test's, federation_test.py).
#include "conclave/service/federation/remote_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "conclave/service/federation/server_key.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "database/temp_dir.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using test_util::HasErrcode;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kDay = 24 * 3600 * 1000;

class RemoteKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = database::Database::Open({.path = dir_.Sub("db")});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto keys = RemoteKeys::Open(RemoteKeys::Deps{.server_name = "ours.example",
                                                  .signing_key = ours_,
                                                  .db = *db_,
                                                  .client = nullptr,
                                                  .now_ms = [this] { return now_; }});
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = std::move(*keys);
  }

  // `remote_`'s answer, valid until `valid_until`, with an old key when `old` is set.
  boost::json::object Answer(int64_t valid_until, const ServerSigningKey* old = nullptr,
                             int64_t expired_ts = 0) {
    auto answer = SignedServerKeys("remote.example", remote_, valid_until);
    EXPECT_TRUE(answer.ok());
    if (old != nullptr) {
      (*answer)["old_verify_keys"] = boost::json::object{
          {old->key_id, boost::json::object{{"key", UnpaddedBase64(old->pair.public_key)},
                                            {"expired_ts", expired_ts}}}};
      answer->erase("signatures");
      EXPECT_TRUE(SignJson(*answer, "remote.example", remote_.key_id, remote_.pair.seed).ok());
    }
    return *answer;
  }

  database::test_util::TempDir dir_;
  std::unique_ptr<database::Database> db_;
  ServerSigningKey ours_ = GenerateSigningKey();
  ServerSigningKey remote_ = GenerateSigningKey();
  int64_t now_ = kNow;
  std::unique_ptr<RemoteKeys> keys_;
};

TEST_F(RemoteKeysTest, ChecksServerNameAndSelfSignature) {
  boost::json::object answer = Answer(kNow + kDay);
  EXPECT_TRUE(CheckServerKeysResponse(answer, "remote.example").ok());
  EXPECT_THAT(CheckServerKeysResponse(answer, "other.example").message(),
              HasSubstr("another server_name"));
  boost::json::object tampered = answer;
  tampered["valid_until_ts"] = kNow + 100 * kDay;
  EXPECT_THAT(CheckServerKeysResponse(tampered, "remote.example").message(),
              HasSubstr("does not verify"));
  boost::json::object unsigned_answer = answer;
  unsigned_answer.erase("signatures");
  EXPECT_THAT(CheckServerKeysResponse(unsigned_answer, "remote.example").message(),
              HasSubstr("not signed"));
  // Signed by another key only.
  boost::json::object foreign = answer;
  foreign.erase("signatures");
  ServerSigningKey other = GenerateSigningKey();
  ASSERT_TRUE(SignJson(foreign, "remote.example", other.key_id, other.pair.seed).ok());
  EXPECT_THAT(CheckServerKeysResponse(foreign, "remote.example").message(),
              HasSubstr("not signed by any of its verify_keys"));
}

TEST_F(RemoteKeysTest, CachedKeyIsValidUntilValidUntilTs) {
  ASSERT_TRUE(keys_->Store("remote.example", Answer(kNow + kDay), kNow).ok());
  const std::string key = UnpaddedBase64(remote_.pair.public_key);
  EXPECT_EQ(keys_->KeyAt("remote.example", remote_.key_id, kNow).value(), key);
  EXPECT_EQ(keys_->KeyAt("remote.example", remote_.key_id, kNow + kDay).value(), key);
  EXPECT_THAT(keys_->KeyAt("remote.example", remote_.key_id, kNow + kDay + 1).status(),
              HasErrcode(Errcode::kUnauthorized));
  EXPECT_THAT(keys_->KeyAt("remote.example", "ed25519:nope", kNow).status(),
              HasErrcode(Errcode::kUnauthorized));
  EXPECT_THAT(keys_->KeyAt("unknown.example", remote_.key_id, kNow).status().message(),
              HasSubstr("unknown key"));
  auto cached = keys_->Cached("remote.example");
  ASSERT_TRUE(cached.ok());
  ASSERT_EQ(cached->size(), 1u);
  EXPECT_EQ((*cached)[0].key_id, remote_.key_id);
  EXPECT_EQ((*cached)[0].valid_until_ts, kNow + kDay);
  EXPECT_EQ((*cached)[0].fetched_ts, kNow);
}

TEST_F(RemoteKeysTest, ValidityIsCappedAtSevenDays) {
  ASSERT_TRUE(keys_->Store("remote.example", Answer(kNow + 30 * kDay), kNow).ok());
  EXPECT_TRUE(keys_->KeyAt("remote.example", remote_.key_id, kNow + 7 * kDay).ok());
  EXPECT_FALSE(keys_->KeyAt("remote.example", remote_.key_id, kNow + 7 * kDay + 1).ok());
}

TEST_F(RemoteKeysTest, OldKeysServeEventsBeforeTheirExpiry) {
  ServerSigningKey old = GenerateSigningKey();
  ASSERT_TRUE(keys_->Store("remote.example", Answer(kNow + kDay, &old, kNow - kDay), kNow).ok());
  const std::string old_key = UnpaddedBase64(old.pair.public_key);
  EXPECT_EQ(keys_->KeyAt("remote.example", old.key_id, kNow - 2 * kDay).value(), old_key);
  EXPECT_THAT(keys_->KeyAt("remote.example", old.key_id, kNow - kDay).status(),
              HasErrcode(Errcode::kUnauthorized));
  auto cached = keys_->Cached("remote.example");
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->size(), 2u);
}

TEST_F(RemoteKeysTest, OldKeysDoNotAuthenticateRequests) {
  ServerSigningKey old = GenerateSigningKey();
  // Expiring in the future, still: valid for events before then, never for requests.
  ASSERT_TRUE(keys_->Store("remote.example", Answer(kNow + kDay, &old, kNow + kDay), kNow).ok());
  EXPECT_TRUE(keys_->KeyAt("remote.example", old.key_id, kNow).ok());
  EXPECT_THAT(keys_->RequestKeyLookup()("remote.example", old.key_id).status(),
              HasErrcode(Errcode::kUnauthorized));
  EXPECT_TRUE(keys_->RequestKeyLookup()("remote.example", remote_.key_id).ok());
}

TEST_F(RemoteKeysTest, OwnKeyNeedsNoCache) {
  EXPECT_EQ(keys_->KeyAt("ours.example", ours_.key_id, kNow).value(),
            UnpaddedBase64(ours_.pair.public_key));
  EXPECT_THAT(keys_->KeyAt("ours.example", "ed25519:other", kNow).status(),
              HasErrcode(Errcode::kUnauthorized));
}

TEST_F(RemoteKeysTest, NotaryAnswerIsTheCachedAnswerCountersigned) {
  auto none = keys_->NotaryAnswer("remote.example", kNow);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(keys_->Store("remote.example", Answer(kNow + kDay), kNow).ok());
  // Without a client, an answer older than asked is still given (the server counts as offline).
  for (int64_t minimum : {kNow, kNow + 2 * kDay}) {
    auto answer = keys_->NotaryAnswer("remote.example", minimum);
    ASSERT_TRUE(answer.ok());
    ASSERT_TRUE(answer->has_value());
    const boost::json::object& a = **answer;
    EXPECT_TRUE(VerifyJsonSignature(a, "remote.example", remote_.key_id,
                                    UnpaddedBase64(remote_.pair.public_key))
                    .ok());
    EXPECT_TRUE(
        VerifyJsonSignature(a, "ours.example", ours_.key_id, UnpaddedBase64(ours_.pair.public_key))
            .ok());
  }
}

TEST_F(RemoteKeysTest, RequestKeyLookupUsesNow) {
  ASSERT_TRUE(keys_->Store("remote.example", Answer(kNow + kDay), kNow).ok());
  ServerKeyLookup lookup = keys_->RequestKeyLookup();
  EXPECT_TRUE(lookup("remote.example", remote_.key_id).ok());
  now_ = kNow + 2 * kDay;
  EXPECT_THAT(lookup("remote.example", remote_.key_id).status().message(),
              HasSubstr("no longer valid"));
}

}  // namespace
}  // namespace conclave::service
