// The one bridge from options.cc to toml++ (included by config.cc only, see there): parses a
// TOML value written on its own, e.g. an environment variable holding `["a", "b"]`.
#ifndef CONCLAVE_CORE_TOML_VALUE_H_
#define CONCLAVE_CORE_TOML_VALUE_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "conclave/core/options.h"

namespace conclave::core::internal {

// `text` as the value of a TOML key, converted to a RawValue (origin `origin`, from_env false).
// kInvalidArgument with the parser's message for text that is not a TOML value.
absl::StatusOr<RawValue> ParseTomlValue(std::string_view text, std::string_view origin);

}  // namespace conclave::core::internal

#endif  // CONCLAVE_CORE_TOML_VALUE_H_
