#include "conclave/database/key.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace conclave::database {
namespace {

std::string U64Key(uint64_t value) { return KeyBuilder().AppendU64(value).Build(); }

std::string StringU64Key(std::string_view text, uint64_t value) {
  return KeyBuilder().AppendString(text).AppendU64(value).Build();
}

TEST(KeyBuilder, U64IsBigEndian) {
  EXPECT_EQ(U64Key(0x0102030405060708), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(KeyBuilder().AppendU32(0x01020304).Build(), std::string("\x01\x02\x03\x04", 4));
}

TEST(KeyBuilder, NumericOrderSurvivesByteComparison) {
  const std::vector<uint64_t> values = {0,     1,          255,        256,        65535,
                                        65536, 0x7fffffff, 0x80000000, 1ull << 40, UINT64_MAX};
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    EXPECT_LT(U64Key(values[i]), U64Key(values[i + 1])) << values[i] << " vs " << values[i + 1];
  }
  std::mt19937_64 random(42);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t a = random() >> (random() % 64);
    const uint64_t b = random() >> (random() % 64);
    EXPECT_EQ(a < b, U64Key(a) < U64Key(b)) << a << " vs " << b;
    const uint32_t c = static_cast<uint32_t>(a), d = static_cast<uint32_t>(b);
    EXPECT_EQ(c < d, KeyBuilder().AppendU32(c).Build() < KeyBuilder().AppendU32(d).Build());
  }
}

TEST(KeyBuilder, StringOrderIsPreservedIncludingEscapedBytes) {
  // Sorted as plain byte strings; the encodings must sort the same way.
  const std::vector<std::string> sorted = {std::string(""),
                                           std::string("\x00", 1),
                                           std::string("\x00\x00", 2),
                                           std::string("\x00"
                                                       "a",
                                                       2),
                                           std::string("\x01", 1),
                                           std::string("\x01\x01", 2),
                                           std::string("\x02", 1),
                                           std::string("a"),
                                           std::string("a\x00", 2),
                                           std::string("a\x01", 2),
                                           std::string("ab"),
                                           std::string("b"),
                                           std::string("\xff", 1)};
  for (size_t i = 0; i + 1 < sorted.size(); ++i) {
    EXPECT_LT(KeyBuilder().AppendString(sorted[i]).Build(),
              KeyBuilder().AppendString(sorted[i + 1]).Build())
        << "index " << i;
  }
}

TEST(KeyBuilder, StringThenNumberSortsByStringFirst) {
  EXPECT_LT(StringU64Key("a", UINT64_MAX), StringU64Key("ab", 0));
  EXPECT_LT(StringU64Key("a", 5), StringU64Key("a", 6));
  EXPECT_LT(StringU64Key("!room:a", 1000), StringU64Key("!room:b", 1));
}

TEST(KeyBuilder, StringComponentIsAnExactPrefix) {
  const std::string prefix = KeyBuilder().AppendString("a").Build();
  EXPECT_EQ(StringU64Key("a", 7).rfind(prefix, 0), 0u);
  EXPECT_NE(StringU64Key("ab", 7).rfind(prefix, 0), 0u);
  EXPECT_EQ(prefix, std::string("a\x00", 2));
}

TEST(KeyReader, RoundTrip) {
  const std::string text_with_controls("x\x00y\x01z", 5);
  const std::string key = KeyBuilder()
                              .AppendString("!room:example.org")
                              .AppendU64(UINT64_MAX - 3)
                              .AppendString(text_with_controls)
                              .AppendU32(77)
                              .AppendString("")
                              .AppendBytes(std::string_view("tail\x00"
                                                            "bytes",
                                                            10))
                              .Build();
  KeyReader reader(key);
  EXPECT_EQ(reader.ReadString().value(), "!room:example.org");
  EXPECT_EQ(reader.ReadU64().value(), UINT64_MAX - 3);
  EXPECT_EQ(reader.ReadString().value(), text_with_controls);
  EXPECT_EQ(reader.ReadU32().value(), 77u);
  EXPECT_EQ(reader.ReadString().value(), "");
  EXPECT_EQ(reader.ReadBytes(4).value(), "tail");
  EXPECT_FALSE(reader.AtEnd());
  EXPECT_EQ(reader.ReadRest(), std::string_view("\x00"
                                                "bytes",
                                                6));
  EXPECT_TRUE(reader.AtEnd());
}

TEST(KeyReader, ShortIntegerIsInvalidArgument) {
  const std::string key("\x01\x02\x03", 3);
  KeyReader reader(key);
  EXPECT_EQ(reader.ReadU64().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reader.ReadU32().status().code(), absl::StatusCode::kInvalidArgument);
  // A failed read consumes nothing.
  EXPECT_EQ(reader.remaining(), key);
  EXPECT_EQ(reader.ReadBytes(4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reader.ReadBytes(3).value(), key);
}

TEST(KeyReader, UnterminatedStringIsInvalidArgument) {
  KeyReader reader("abc");
  EXPECT_EQ(reader.ReadString().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reader.remaining(), "abc");
}

TEST(KeyReader, MalformedEscapeIsInvalidArgument) {
  KeyReader bad_second_byte(std::string_view("a\x01\x05\x00", 4));
  EXPECT_EQ(bad_second_byte.ReadString().status().code(), absl::StatusCode::kInvalidArgument);
  KeyReader escape_at_end(std::string_view("a\x01", 2));
  EXPECT_EQ(escape_at_end.ReadString().status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace conclave::database
