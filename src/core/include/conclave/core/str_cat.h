// String concatenation that accepts both std::string_view and absl::string_view.
//
// Debian's Abseil is built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0),
// so absl::StrCat rejects std::string_view. These format each argument with fmt instead.
//
// fmt is compiled once, in core (fmt_impl.cc): StrAppend hands its arguments, type-erased, to
// one function of core, so a caller instantiates none of fmt's formatting code itself (a
// `fmt::format_to(std::back_inserter(s), ...)` here did, in every translation unit).
#ifndef CONCLAVE_CORE_STR_CAT_H_
#define CONCLAVE_CORE_STR_CAT_H_

#include <fmt/format.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};

namespace conclave::core {
namespace internal {

// Appends each of the `count` arguments in `args`, formatted as "{}" would, to `*out`.
void VStrAppend(std::string* out, size_t count, fmt::format_args args);

}  // namespace internal

// Appends each of `args` (strings, string views of either kind, numbers, anything fmt formats).
template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  internal::VStrAppend(out, sizeof...(Args), fmt::make_format_args(args...));
}

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  StrAppend(&out, args...);
  return out;
}

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_STR_CAT_H_
