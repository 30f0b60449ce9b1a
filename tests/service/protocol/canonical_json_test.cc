#include "conclave/service/protocol/canonical_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <cmath>
#include <limits>
#include <string>

namespace conclave::service {
namespace {

// Parses `json` and returns its canonical form, or the error's message prefixed "error: ".
std::string Canonical(std::string_view json) {
  absl::StatusOr<std::string> out = CanonicalJson(boost::json::parse(json));
  if (!out.ok()) return "error: " + std::string(out.status().message());
  return *out;
}

absl::StatusCode CodeOf(const boost::json::value& value) {
  return CanonicalJson(value).status().code();
}

// The examples of the spec's appendix "Canonical JSON", in order.
TEST(CanonicalJson, SpecExamples) {
  EXPECT_EQ(Canonical("{}"), "{}");
  EXPECT_EQ(Canonical(R"({
      "one": 1,
      "two": "Two"
  })"),
            R"({"one":1,"two":"Two"})");
  EXPECT_EQ(Canonical(R"({
      "b": "2",
      "a": "1"
  })"),
            R"({"a":"1","b":"2"})");
  EXPECT_EQ(Canonical(R"({"b":"2","a":"1"})"), R"({"a":"1","b":"2"})");
  EXPECT_EQ(Canonical(R"({
      "auth": {
          "success": true,
          "mxid": "@john.doe:example.com",
          "profile": {
              "display_name": "John Doe",
              "three_pids": [
                  {
                      "medium": "email",
                      "address": "john.doe@example.org"
                  },
                  {
                      "medium": "msisdn",
                      "address": "123456789"
                  }
              ]
          }
      }
  })"),
            R"({"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",)"
            R"("three_pids":[{"address":"john.doe@example.org","medium":"email"},)"
            R"({"address":"123456789","medium":"msisdn"}]},"success":true}})");
  EXPECT_EQ(Canonical(R"({"a": "日本語"})"), R"({"a":"日本語"})");
  EXPECT_EQ(Canonical(R"({"本": 2, "日": 1})"), R"({"日":1,"本":2})");
  EXPECT_EQ(Canonical(R"({"a": "\u65E5"})"), R"({"a":"日"})");
  EXPECT_EQ(Canonical(R"({"a": null})"), R"({"a":null})");
  EXPECT_EQ(Canonical(R"({"a": -0, "b": 1e10})"), R"({"a":0,"b":10000000000})");
}

TEST(CanonicalJson, ScalarsAndArrays) {
  EXPECT_EQ(Canonical("true"), "true");
  EXPECT_EQ(Canonical("false"), "false");
  EXPECT_EQ(Canonical("null"), "null");
  EXPECT_EQ(Canonical("-12"), "-12");
  EXPECT_EQ(Canonical(R"([3, "x", [], {}, [null]])"), R"([3,"x",[],{},[null]])");
  // Arrays keep their order; only object keys are sorted.
  EXPECT_EQ(Canonical(R"(["b", "a"])"), R"(["b","a"])");
}

TEST(CanonicalJson, EscapesOnlyWhatTheGrammarRequires) {
  EXPECT_EQ(Canonical(R"("\" \\ \b \f \n \r \t")"), R"("\" \\ \b \f \n \r \t")");
  // Other control characters as \u00xx with lowercase hex digits.
  EXPECT_EQ(Canonical(R"("\u0000\u0001\u000B\u001f")"), R"("\u0000\u0001\u000b\u001f")");
  // Solidus, DEL, U+2028 and non-ASCII stay raw, even when the input escaped them.
  EXPECT_EQ(Canonical(R"("\/ \u007f \u2028 \u00e9 \ud83d\ude00")"),
            "\"/ \x7f \xe2\x80\xa8 \xc3\xa9 \xf0\x9f\x98\x80\"");
}

TEST(CanonicalJson, KeysSortByCodePointNotUtf16) {
  // U+FF61 sorts before U+10000 by code point (and UTF-8 bytes) but after it in UTF-16 order.
  EXPECT_EQ(Canonical(R"({"\ud800\udc00": 1, "\uff61": 2, "é": 3, "a": 4, "B": 5})"),
            "{\"B\":5,\"a\":4,\"\xc3\xa9\":3,\"\xef\xbd\xa1\":2,\"\xf0\x90\x80\x80\":1}");
}

TEST(CanonicalJson, IntegerRangeIsInclusive) {
  EXPECT_EQ(Canonical("9007199254740991"), "9007199254740991");
  EXPECT_EQ(Canonical("-9007199254740991"), "-9007199254740991");
  EXPECT_EQ(CodeOf(boost::json::value(int64_t{9007199254740992})),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(boost::json::value(int64_t{-9007199254740992})),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(boost::json::value(uint64_t{9007199254740992})),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(boost::json::value(std::numeric_limits<uint64_t>::max())),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(boost::json::parse("[18446744073709551615]")),
            absl::StatusCode::kInvalidArgument);
}

TEST(CanonicalJson, RefusesFractionsAndNonFiniteNumbers) {
  EXPECT_EQ(CodeOf(boost::json::parse("1.5")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(boost::json::parse(R"({"a": [0.1]})")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(boost::json::value(std::nan(""))), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(boost::json::value(std::numeric_limits<double>::infinity())),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(boost::json::value(9007199254740992.0)), absl::StatusCode::kInvalidArgument);
  // Integral doubles in range are integers (the spec's 1e10 example).
  EXPECT_EQ(Canonical("[3.0, -2e3]"), "[3,-2000]");
  // Built directly: Boost.JSON 1.81's parser does not round long decimals exactly.
  EXPECT_EQ(CanonicalJson(boost::json::value(9007199254740991.0)).value_or("error"),
            "9007199254740991");
  EXPECT_EQ(CanonicalJson(boost::json::value(-0.0)).value_or("error"), "0");
}

TEST(CanonicalJson, RefusesInvalidUtf8InStringsAndKeys) {
  EXPECT_EQ(CodeOf(boost::json::value("\xff")), absl::StatusCode::kInvalidArgument);
  boost::json::object bad_key;
  bad_key["\xc3"] = 1;
  EXPECT_EQ(CodeOf(bad_key), absl::StatusCode::kInvalidArgument);
}

TEST(CanonicalJson, RefusesNestingBeyondTheLimit) {
  auto nested = [](int depth) {
    boost::json::value value = boost::json::array();
    for (int i = 1; i < depth; ++i) value = boost::json::array{value};
    return value;
  };
  EXPECT_TRUE(CanonicalJson(nested(kCanonicalJsonMaxDepth)).ok());
  EXPECT_EQ(CodeOf(nested(kCanonicalJsonMaxDepth + 1)), absl::StatusCode::kInvalidArgument);
}

TEST(IsValidUtf8, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ASCII \x7f"));
  EXPECT_TRUE(IsValidUtf8("日本語 é \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
}

TEST(IsValidUtf8, RefusesMalformedSequences) {
  EXPECT_FALSE(IsValidUtf8("\x80"));              // Lone continuation byte.
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // Overlong, three bytes.
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // Surrogate U+D800.
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000.
  EXPECT_FALSE(IsValidUtf8("\xe6\x97"));          // Truncated.
  EXPECT_FALSE(IsValidUtf8("\xe6\x97x"));         // Bad continuation.
  EXPECT_FALSE(IsValidUtf8("\xf8\x88\x80\x80\x80"));
}

}  // namespace
}  // namespace conclave::service
