// Percent-decoding for request paths and queries (RFC 3986 section 2.1). Private to core.
#ifndef CONCLAVE_CORE_PERCENT_H_
#define CONCLAVE_CORE_PERCENT_H_

#include <string>
#include <string_view>

namespace conclave::core::internal {

// Decodes %XX escapes; a malformed escape is kept as is. With `plus_is_space` (query strings,
// application/x-www-form-urlencoded) '+' becomes ' '.
std::string PercentDecode(std::string_view in, bool plus_is_space = false);

}  // namespace conclave::core::internal

#endif  // CONCLAVE_CORE_PERCENT_H_
