#include "conclave/service/protocol/password.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace conclave::service {
namespace {

using ::testing::MatchesRegex;

// Cheap parameters: the tests check behaviour, not cost.
constexpr PasswordHashOptions kFast{.memory_kib = 64, .iterations = 1, .parallelism = 1};

TEST(HashPassword, WritesAnArgon2idPhcString) {
  absl::StatusOr<std::string> encoded = HashPassword("correct horse", kFast);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  // 16-byte salt and 32-byte hash in unpadded base64: 22 and 43 characters.
  EXPECT_THAT(*encoded, MatchesRegex("\\$argon2id\\$v=19\\$m=64,t=1,p=1\\$[A-Za-z0-9+/]{22}\\$"
                                     "[A-Za-z0-9+/]{43}"));
}

TEST(HashPassword, DefaultsAreOwaspsMinimum) {
  absl::StatusOr<std::string> encoded = HashPassword("correct horse");
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_THAT(*encoded, MatchesRegex("\\$argon2id\\$v=19\\$m=19456,t=2,p=1\\$.*"));
  EXPECT_TRUE(VerifyPassword("correct horse", *encoded));
}

TEST(VerifyPassword, AcceptsTheRightPasswordOnly) {
  absl::StatusOr<std::string> encoded = HashPassword("correct horse", kFast);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_TRUE(VerifyPassword("correct horse", *encoded));
  EXPECT_FALSE(VerifyPassword("correct horsE", *encoded));
  EXPECT_FALSE(VerifyPassword("correct horse ", *encoded));
  EXPECT_FALSE(VerifyPassword("", *encoded));
}

TEST(VerifyPassword, HandlesEmptyAndBinaryPasswords) {
  std::string binary("a\0b\xff", 4);
  absl::StatusOr<std::string> encoded = HashPassword(binary, kFast);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_TRUE(VerifyPassword(binary, *encoded));
  EXPECT_FALSE(VerifyPassword("a", *encoded));  // Bytes after a NUL count.
  absl::StatusOr<std::string> empty = HashPassword("", kFast);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(VerifyPassword("", *empty));
  EXPECT_FALSE(VerifyPassword("x", *empty));
}

TEST(VerifyPassword, AcceptsAHashFromAnotherImplementation) {
  // Made by golang.org/x/crypto/argon2 (from the README of github.com/jtheo/argon2).
  constexpr std::string_view kGoHash =
      "$argon2id$v=19$m=3906,t=4,p=1$ejcSAnKlTR6fhI0SRV7cUw$"
      "6EvE9S1qgsA8PoS96uZzuBGZZWCaeK91CHdHHYzn/mA";
  EXPECT_TRUE(VerifyPassword("mySuperPass", kGoHash));
  EXPECT_FALSE(VerifyPassword("mySuperPasS", kGoHash));
}

TEST(VerifyPassword, RefusesGarbage) {
  absl::StatusOr<std::string> encoded = HashPassword("pw", kFast);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::string truncated = encoded->substr(0, encoded->size() - 5);
  std::string argon2i = *encoded;
  argon2i.replace(0, 9, "$argon2i");  // Same string claiming another variant.
  std::string with_nul = *encoded + std::string(1, '\0') + "x";
  for (std::string_view bad :
       {std::string_view(""), std::string_view("pw"), std::string_view("$argon2id$"),
        std::string_view("$2b$12$abc"), std::string_view(truncated), std::string_view(argon2i),
        std::string_view(with_nul)}) {
    EXPECT_FALSE(VerifyPassword("pw", bad)) << bad;
  }
}

TEST(HashPassword, SaltsEveryHash) {
  absl::StatusOr<std::string> a = HashPassword("same", kFast);
  absl::StatusOr<std::string> b = HashPassword("same", kFast);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(VerifyPassword("same", *a));
  EXPECT_TRUE(VerifyPassword("same", *b));
}

TEST(HashPassword, RefusesOptionsOutsideArgon2Limits) {
  EXPECT_EQ(
      HashPassword("pw", {.memory_kib = 4, .iterations = 1, .parallelism = 1}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      HashPassword("pw", {.memory_kib = 64, .iterations = 0, .parallelism = 1}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      HashPassword("pw", {.memory_kib = 64, .iterations = 1, .parallelism = 0}).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace conclave::service
