#include "conclave/core/percent.h"

#include <gtest/gtest.h>

#include <string>

namespace conclave::core {
namespace {

TEST(PercentEncode, KeepsUnreservedAndEscapesTheRest) {
  EXPECT_EQ(PercentEncode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(PercentEncode("!#$&'()*+,/:;=?@[] %"),
            "%21%23%24%26%27%28%29%2A%2B%2C%2F%3A%3B%3D%3F%40%5B%5D%20%25");
  EXPECT_EQ(PercentEncode("\xc3\xa9\n"), "%C3%A9%0A");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(PercentEncode, KeepsTheCharactersAskedFor) {
  EXPECT_EQ(PercentEncode("a b/c|d", "/|"), "a%20b/c|d");
}

TEST(PercentEncode, RoundTripsThroughDecodeForEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(PercentDecode(PercentEncode(all)), all);
}

TEST(PercentDecode, DecodesEscapesAndKeepsMalformedOnes) {
  EXPECT_EQ(PercentDecode("%40a%3Ab"), "@a:b");
  EXPECT_EQ(PercentDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
}

}  // namespace
}  // namespace conclave::core
