#include "conclave/core/str_cat.h"

#include <iterator>
#include <string_view>

namespace conclave::core::internal {

void VStrAppend(std::string* out, size_t count, fmt::format_args args) {
  // One "{}" per argument: a prefix of this for the common counts, built for longer lists.
  constexpr std::string_view kBraces =
      "{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}";
  if (2 * count <= kBraces.size()) {
    fmt::vformat_to(std::back_inserter(*out), fmt::string_view(kBraces.data(), 2 * count), args);
    return;
  }
  std::string format;
  format.reserve(2 * count);
  for (size_t i = 0; i < count; ++i) format += "{}";
  fmt::vformat_to(std::back_inserter(*out), format, args);
}

}  // namespace conclave::core::internal
