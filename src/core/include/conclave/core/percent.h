// Percent-encoding (RFC 3986 section 2.1): decoding request paths and queries (core's router),
// encoding path segments, query values and RFC 8187 header parameters (media, tests, benches).
// Stateless functions; thread-safe.
#ifndef CONCLAVE_CORE_PERCENT_H_
#define CONCLAVE_CORE_PERCENT_H_

#include <string>
#include <string_view>

namespace conclave::core {

// Decodes %XX escapes; a malformed escape is kept as is. With `plus_is_space` (query strings,
// application/x-www-form-urlencoded) '+' becomes ' '.
std::string PercentDecode(std::string_view in, bool plus_is_space = false);

// Encodes every byte of `in` as %XX (upper-case hex) except RFC 3986's unreserved characters
// (ALPHA, DIGIT, '-', '.', '_', '~') and those in `keep` (e.g. "!#$&+^`|" for RFC 8187's
// attr-char, "/" for a whole path). Safe for a path segment or query value with `keep` empty.
std::string PercentEncode(std::string_view in, std::string_view keep = {});

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_PERCENT_H_
