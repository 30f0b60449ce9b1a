#include "conclave/service/protocol/signing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "conclave/service/protocol/crypto.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using test_util::HasErrcode;

// RFC 8032 §7.1, test 2: a one-byte message.
TEST(Ed25519, MatchesTheRfc8032TestVector) {
  auto seed = DecodeUnpaddedBase64("TM0Imyj/ltqdtsNG7BFOD1uKMZ81q6Yk2oz27U+4pvs");
  ASSERT_TRUE(seed.ok());
  auto pair = Ed25519FromSeed(*seed);
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(HexEncode(pair->public_key),
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  auto signature = Ed25519Sign(*seed, "\x72");
  ASSERT_TRUE(signature.ok());
  EXPECT_EQ(HexEncode(*signature),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
  EXPECT_TRUE(Ed25519Verify(pair->public_key, *signature, "\x72"));
  EXPECT_FALSE(Ed25519Verify(pair->public_key, *signature, "\x73"));
  EXPECT_FALSE(Ed25519Verify(pair->public_key, signature->substr(1), "\x72"));
}

TEST(SignJson, SignatureCoversAllButSignaturesAndUnsigned) {
  auto pair = Ed25519FromSeed(RandomBytes(32));
  ASSERT_TRUE(pair.ok());
  const std::string key = UnpaddedBase64(pair->public_key);
  boost::json::object json{{"b", 1}, {"a", "x"}};
  ASSERT_TRUE(SignJson(json, "@u:example.org", "ed25519:DEV", pair->seed).ok());
  EXPECT_TRUE(VerifyJsonSignature(json, "@u:example.org", "ed25519:DEV", key).ok());
  json["unsigned"] = boost::json::object{{"age", 5}};
  EXPECT_TRUE(VerifyJsonSignature(json, "@u:example.org", "ed25519:DEV", key).ok());
  json["a"] = "y";
  EXPECT_THAT(VerifyJsonSignature(json, "@u:example.org", "ed25519:DEV", key),
              HasErrcode(Errcode::kInvalidSignature));
  EXPECT_THAT(VerifyJsonSignature(json, "@v:example.org", "ed25519:DEV", key),
              HasErrcode(Errcode::kInvalidSignature));
  EXPECT_THAT(VerifyJsonSignature(json, "@u:example.org", "ed25519:DEV", "!!"),
              HasErrcode(Errcode::kInvalidSignature));
}

}  // namespace
}  // namespace conclave::service
