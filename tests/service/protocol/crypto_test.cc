#include "conclave/service/protocol/crypto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

namespace conclave::service {
namespace {

using ::testing::MatchesRegex;

TEST(Sha256, MatchesFips180Vectors) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256("abc").size(), 32u);
}

TEST(HexEncode, WritesTwoLowercaseDigitsPerByte) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x0f\xa0\xff", 4)), "000fa0ff");
}

// Appendices, "Unpadded Base64".
TEST(UnpaddedBase64, SpecExamples) {
  EXPECT_EQ(UnpaddedBase64(""), "");
  EXPECT_EQ(UnpaddedBase64("f"), "Zg");
  EXPECT_EQ(UnpaddedBase64("fo"), "Zm8");
  EXPECT_EQ(UnpaddedBase64("foo"), "Zm9v");
  EXPECT_EQ(UnpaddedBase64("foob"), "Zm9vYg");
  EXPECT_EQ(UnpaddedBase64("fooba"), "Zm9vYmE");
  EXPECT_EQ(UnpaddedBase64("foobar"), "Zm9vYmFy");
}

TEST(UnpaddedBase64, AlphabetsDifferOnlyInTheLastTwoCharacters) {
  std::string bytes("\xfb\xff\xbf", 3);  // 111110 111111 111110 111111
  EXPECT_EQ(UnpaddedBase64(bytes), "+/+/");
  EXPECT_EQ(UnpaddedBase64Url(bytes), "-_-_");
  EXPECT_EQ(UnpaddedBase64Url("foobar"), "Zm9vYmFy");
  EXPECT_EQ(UnpaddedBase64Url(std::string("\xfb\xff", 2)), "-_8");
}

TEST(DecodeUnpaddedBase64, DecodesWithAndWithoutPadding) {
  for (std::string_view text : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto decoded = DecodeUnpaddedBase64(UnpaddedBase64(text));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, text);
  }
  EXPECT_EQ(DecodeUnpaddedBase64("Zg==").value_or("?"), "f");
  EXPECT_EQ(DecodeUnpaddedBase64("Zm8=").value_or("?"), "fo");
  EXPECT_EQ(DecodeUnpaddedBase64("+/+/").value_or("?"), std::string("\xfb\xff\xbf", 3));
}

TEST(DecodeUnpaddedBase64, RoundTripsEveryLength) {
  for (size_t n = 0; n < 70; ++n) {
    std::string bytes = RandomBytes(n);
    auto decoded = DecodeUnpaddedBase64(UnpaddedBase64(bytes));
    ASSERT_TRUE(decoded.ok()) << n;
    EXPECT_EQ(*decoded, bytes) << n;
  }
}

TEST(DecodeUnpaddedBase64, RefusesMalformedInput) {
  for (std::string_view bad : {"Z", "Zm9vY", "Zg=", "Zg===", "Z===", "Zm9v=", "====", "Zg==Zg",
                               "Zm9v*", "Zm 9v", "-_8", "Zm9v\n"}) {
    EXPECT_EQ(DecodeUnpaddedBase64(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(RandomBytes, ReturnsFreshBytesOfTheRequestedLength) {
  EXPECT_EQ(RandomBytes(0), "");
  std::string a = RandomBytes(32), b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);  // 2^-256 chance of a false failure.
}

TEST(RandomAlnum, UsesOnlyLettersAndDigits) {
  EXPECT_EQ(RandomAlnum(0), "");
  EXPECT_THAT(RandomAlnum(500), MatchesRegex("[A-Za-z0-9]{500}"));
  EXPECT_NE(RandomAlnum(20), RandomAlnum(20));
}

TEST(RandomAlnum, IsUniform) {
  // 2000 expected per character, standard deviation about 44. A plain `byte % 62` would give
  // the first 8 characters about 2420 each; the bound below catches that and, at about seven
  // standard deviations, practically never fails by chance.
  std::map<char, int> counts;
  for (char c : RandomAlnum(62 * 2000)) ++counts[c];
  EXPECT_EQ(counts.size(), 62u);
  for (const auto& [c, count] : counts) {
    EXPECT_NEAR(count, 2000, 300) << c;
  }
}

TEST(RandomString, DrawsFromTheGivenAlphabet) {
  std::string s = RandomString(3000, "xyz");
  EXPECT_THAT(s, MatchesRegex("[xyz]{3000}"));
  for (char c : {'x', 'y', 'z'}) EXPECT_NE(s.find(c), std::string::npos) << c;
}

}  // namespace
}  // namespace conclave::service
