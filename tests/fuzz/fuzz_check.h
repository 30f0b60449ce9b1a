// FUZZ_CHECK: the invariants the fuzz targets assert. A failed check prints what failed and
// aborts, which libFuzzer reports as a crash (and the regression runner as a failed test) in
// every build type, NDEBUG or not.
#ifndef CONCLAVE_TESTS_FUZZ_FUZZ_CHECK_H_
#define CONCLAVE_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace conclave::fuzz {

// Prints the failed condition, `detail` (may be empty) and aborts.
[[noreturn]] inline void CheckFailed(const char* file, int line, const char* condition,
                                     std::string_view detail) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed", file, line, condition);
  if (!detail.empty()) {
    std::fprintf(stderr, ": %.*s", static_cast<int>(detail.size()), detail.data());
  }
  std::fprintf(stderr, "\n");
  std::abort();
}

// The input as one line of printable text (escapes the rest), at most 400 bytes: for messages.
inline std::string Printable(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes.substr(0, 400)) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  if (bytes.size() > 400) out += "...";
  return out;
}

}  // namespace conclave::fuzz

// FUZZ_CHECK(condition) or FUZZ_CHECK(condition, detail): `detail` is anything a std::string can
// be made from, evaluated only when the check fails.
#define FUZZ_CHECK(condition, ...)                                               \
  do {                                                                           \
    if (!(condition)) {                                                          \
      ::conclave::fuzz::CheckFailed(__FILE__, __LINE__, #condition,              \
                                    std::string_view(std::string(__VA_ARGS__))); \
    }                                                                            \
  } while (false)

#endif  // CONCLAVE_TESTS_FUZZ_FUZZ_CHECK_H_
