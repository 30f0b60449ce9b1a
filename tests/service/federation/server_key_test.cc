// The server's signing key file: generation, reading back, Synapse's format, malformed files, and
// the Homeserver keeping one key across loads.
#include "conclave/service/federation/server_key.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "conclave/core/config.h"
#include "conclave/service/protocol/crypto.h"
#include "service/testing/homeserver_fixture.h"

namespace conclave::service {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

TEST(SigningKeyPath, DefaultsBesideTheDatabase) {
  EXPECT_EQ(SigningKeyPathFor("", "/var/lib/conclave/"), "/var/lib/conclave-signing.key");
  EXPECT_EQ(SigningKeyPathFor("/etc/conclave/signing.key", "/x"), "/etc/conclave/signing.key");
}

TEST(SigningKeyFile, GeneratedOnceWithMode0600AndReadBack) {
  database::test_util::TempDir dir;
  const std::string path = dir.Sub("keys/signing.key");  // the parent is created too
  bool created = false;
  auto first = LoadOrCreateSigningKey(path, &created);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(created);
  EXPECT_THAT(first->key_id, MatchesRegex("ed25519:a_[A-Za-z0-9]{4}"));
  EXPECT_EQ(first->pair.seed.size(), 32u);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(ReadAll(path), FormatSigningKeyFile(*first));
  // No temporary left beside it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.Sub("keys")),
                          std::filesystem::directory_iterator()),
            1);

  auto second = LoadOrCreateSigningKey(path, &created);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(created);
  EXPECT_EQ(second->key_id, first->key_id);
  EXPECT_EQ(second->pair.seed, first->pair.seed);
  EXPECT_EQ(second->pair.public_key, first->pair.public_key);
}

// A Synapse signing.key (signedjson's write_signing_keys: unpadded base64), with a second line.
TEST(SigningKeyFile, ReadsSynapsesFormat) {
  // RFC 8032 §7.1, test 1: the seed 9d61b19d... whose public key is d75a9801...
  const std::string seed_b64 = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
  auto key = ParseSigningKeyFile("ed25519 a_Zx9_ " + seed_b64 + "\r\n\ned25519 old " +
                                 UnpaddedBase64(std::string(32, 'x')) + "\n");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->key_id, "ed25519:a_Zx9_");
  EXPECT_EQ(HexEncode(key->pair.public_key),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  EXPECT_EQ(FormatSigningKeyFile(*key), "ed25519 a_Zx9_ " + seed_b64 + "\n");
  // Padded base64 too.
  EXPECT_TRUE(ParseSigningKeyFile("ed25519\t1 " + seed_b64 + "=").ok());
}

TEST(SigningKeyFile, MalformedFilesAreRefusedNamingTheProblem) {
  const std::string seed = UnpaddedBase64(std::string(32, 'k'));
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"", "no key"},
      {"\n  \n", "no key"},
      {"ed25519 a_1", "line 1: expected"},
      {"ed25519 a_1 " + seed + " extra", "line 1: expected"},
      {"curve25519 a_1 " + seed, "unknown algorithm"},
      {"ed25519 a-1 " + seed, "[a-zA-Z0-9_]"},
      {"ed25519 a_1 " + UnpaddedBase64(std::string(31, 'k')), "not base64 of 32 bytes"},
      {"ed25519 a_1 !!!!", "not base64 of 32 bytes"},
      {"ed25519 a_1 " + seed + "\ned25519 b", "line 2"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto key = ParseSigningKeyFile(c.text);
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(key.status().message(), HasSubstr(c.message));
  }
}

TEST(SigningKeyFile, AMalformedFileIsNotReplaced) {
  database::test_util::TempDir dir;
  const std::string path = dir.Sub("signing.key");
  WriteAll(path, "ed25519 a_1 tooshort\n");
  auto key = LoadOrCreateSigningKey(path);
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(key.status().message(), HasSubstr(path));
  EXPECT_THAT(key.status().message(), HasSubstr("Synapse's format"));
  EXPECT_EQ(ReadAll(path), "ed25519 a_1 tooshort\n");
}

class ServerKeyHomeserverTest : public test_util::HomeserverTest {};

TEST_F(ServerKeyHomeserverTest, ReloadAndRestartKeepTheKey) {
  const ServerSigningKey first = hs_->signing_key();
  EXPECT_EQ(ReadAll(dir_.Sub("db-signing.key")), FormatSigningKeyFile(first));
  Reopen(hs_->Save());
  EXPECT_EQ(hs_->signing_key().key_id, first.key_id);
  EXPECT_EQ(hs_->signing_key().pair.seed, first.pair.seed);
  Open(DefaultConfig());
  EXPECT_EQ(hs_->signing_key().pair.public_key, first.pair.public_key);
}

TEST_F(ServerKeyHomeserverTest, TheOptionNamesTheFile) {
  const std::string path = dir_.Sub("elsewhere/signing.key");
  const std::string seed = UnpaddedBase64(std::string(32, 's'));
  std::filesystem::create_directories(dir_.Sub("elsewhere"));
  WriteAll(path, "ed25519 mine " + seed + "\n");
  core::Config config = DefaultConfig();
  config.raw.SetText("signing_key_path", path);
  Open(config);
  EXPECT_EQ(hs_->signing_key().key_id, "ed25519:mine");
  EXPECT_EQ(UnpaddedBase64(hs_->signing_key().pair.seed), seed);
}

TEST_F(ServerKeyHomeserverTest, AMalformedKeyFileFailsTheLoadNamingIt) {
  Close();
  WriteAll(dir_.Sub("db-signing.key"), "not a key\n");
  auto hs = Homeserver::Open(*server_, *db_, "");
  EXPECT_EQ(hs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(hs.status().message(), HasSubstr("db-signing.key"));
}

}  // namespace
}  // namespace conclave::service
