// Formatting helpers shared by the command groups. Private to the admin module; stateless,
// thread-safe.
#ifndef CONCLAVE_ADMIN_FORMAT_H_
#define CONCLAVE_ADMIN_FORMAT_H_

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace conclave::admin {

// "2024-05-01 12:00:00 UTC".
std::string FormatUtc(absl::Time time);
// FormatUtc of milliseconds since the Unix epoch; "-" for 0.
std::string FormatUtcMs(int64_t ms);
// "512 B", "1.5 KiB", "12.0 MiB", "3.2 GiB".
std::string FormatBytes(uint64_t bytes);
// "1 room", "2 rooms".
std::string Plural(uint64_t n, std::string_view one, std::string_view many);
// JSON with two-space indentation, keys in their stored order.
std::string PrettyJson(const boost::json::value& value);
// Levenshtein distance between `a` and `b` (bytes).
size_t EditDistance(std::string_view a, std::string_view b);
// The entry of `candidates` nearest to `word`, or "" when none is near enough to be a likely
// typo (distance at most a third of the word's length, at least 2), or a prefix of it.
std::string Nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace conclave::admin

#endif  // CONCLAVE_ADMIN_FORMAT_H_
