#include "conclave/core/str_cat.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace conclave::core {
namespace {

TEST(StrCat, FormatsEachKindOfArgument) {
  std::string owned = "owned";
  EXPECT_EQ(StrCat("a", std::string_view("b"), absl::string_view("c"), owned, 42, int64_t{-7},
                   uint64_t{18446744073709551615u}, 'x', true, 1.5),
            "abcowned42-718446744073709551615xtrue1.5");
  EXPECT_EQ(StrCat(), "");
}

TEST(StrCat, BracesInArgumentsAreText) {
  EXPECT_EQ(StrCat("{}", std::string_view("{"), "}"), "{}{}");
}

// More than fmt packs into one word of type tags (15), and more than the 32 "{}" VStrAppend
// keeps ready.
TEST(StrCat, ManyArguments) {
  EXPECT_EQ(StrCat(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"),
            "0123456789abcdefghij");
  std::string forty = StrCat(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3,
                             4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, "{}");
  EXPECT_EQ(forty, "012345678901234567890123456789012345678{}");
}

TEST(StrAppend, AppendsToWhatIsThere) {
  std::string out = "x=";
  StrAppend(&out, 1, ",y=", absl::string_view("two"));
  EXPECT_EQ(out, "x=1,y=two");
}

}  // namespace
}  // namespace conclave::core
