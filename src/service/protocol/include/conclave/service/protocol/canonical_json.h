// Matrix canonical JSON: the byte encoding that event hashes, event ids and signatures cover.
//
// Appendices, "Signing JSON" → "Canonical JSON". Stateless functions; thread-safe.
#ifndef CONCLAVE_SERVICE_PROTOCOL_CANONICAL_JSON_H_
#define CONCLAVE_SERVICE_PROTOCOL_CANONICAL_JSON_H_

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace conclave::service {

// The integer range canonical JSON allows: [-(2**53)+1, (2**53)-1].
inline constexpr int64_t kCanonicalJsonMaxInt = (int64_t{1} << 53) - 1;
inline constexpr int64_t kCanonicalJsonMinInt = -kCanonicalJsonMaxInt;

// Nesting depth (arrays and objects) above which CanonicalJson refuses a value instead of
// recursing further. boost::json::parse already stops at 32 by default.
inline constexpr int kCanonicalJsonMaxDepth = 256;

// Encodes `value` as canonical JSON: object keys sorted by UTF-8 byte order (the same as Unicode
// code point order), no whitespace, strings as raw UTF-8 with only `\"`, `\\`, `\b`, `\f`, `\n`,
// `\r`, `\t` and `\u00xx` (lowercase hex, other characters below 0x20) escaped.
//
// Numbers: integers in [kCanonicalJsonMinInt, kCanonicalJsonMaxInt]. A double holding an
// integral value in that range is written as that integer, as in the spec's own example
// (`{"a": -0, "b": 1e10}` → `{"a":0,"b":10000000000}`); callers that must refuse floats
// outright (room versions 6+ refuse events containing them) check value kinds themselves.
//
// Returns kInvalidArgument for an integer out of range, a double with a fraction, an infinity
// or NaN, a string or key that is not valid UTF-8, or nesting deeper than
// kCanonicalJsonMaxDepth.
absl::StatusOr<std::string> CanonicalJson(const boost::json::value& value);

// True when `value` holds a floating-point number anywhere (room versions 6+ refuse them:
// Client-Server API "Room versions", canonical JSON allows integers only).
bool HasFloat(const boost::json::value& value);

// Returns whether `bytes` is well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most
// U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_CANONICAL_JSON_H_
