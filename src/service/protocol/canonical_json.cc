#include "conclave/service/protocol/canonical_json.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"

namespace conclave::service {
namespace {

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(core::StrCat("canonical JSON: ", what));
}

absl::Status AppendInteger(int64_t n, std::string& out) {
  if (n < kCanonicalJsonMinInt || n > kCanonicalJsonMaxInt) {
    return Invalid(core::StrCat("integer ", n, " is outside [-(2**53)+1, (2**53)-1]"));
  }
  core::StrAppend(&out, n);
  return absl::OkStatus();
}

absl::Status AppendString(std::string_view s, std::string& out) {
  if (!IsValidUtf8(s)) return Invalid("string is not valid UTF-8");
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20) {
          out += "\\u00";
          out.push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 0xf]);
        } else {
          out.push_back(c);  // Everything else, DEL and non-ASCII included, goes out raw.
        }
      }
    }
  }
  out.push_back('"');
  return absl::OkStatus();
}

absl::Status AppendValue(const boost::json::value& value, int depth, std::string& out) {
  switch (value.kind()) {
    case boost::json::kind::null:
      out += "null";
      return absl::OkStatus();
    case boost::json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      return absl::OkStatus();
    case boost::json::kind::int64:
      return AppendInteger(value.get_int64(), out);
    case boost::json::kind::uint64: {
      uint64_t n = value.get_uint64();
      if (n > static_cast<uint64_t>(kCanonicalJsonMaxInt)) {
        return Invalid(core::StrCat("integer ", n, " is outside [-(2**53)+1, (2**53)-1]"));
      }
      return AppendInteger(static_cast<int64_t>(n), out);
    }
    case boost::json::kind::double_: {
      double d = value.get_double();
      // Both bounds are exactly representable as doubles, so the comparison is exact.
      if (!std::isfinite(d) || std::trunc(d) != d ||
          d < static_cast<double>(kCanonicalJsonMinInt) ||
          d > static_cast<double>(kCanonicalJsonMaxInt)) {
        return Invalid(core::StrCat("number ", d, " is not an integer in range"));
      }
      return AppendInteger(static_cast<int64_t>(d), out);  // -0.0 becomes 0.
    }
    case boost::json::kind::string:
      return AppendString(value.get_string(), out);
    case boost::json::kind::array: {
      if (depth >= kCanonicalJsonMaxDepth) return Invalid("nesting too deep");
      out.push_back('[');
      bool first = true;
      for (const boost::json::value& element : value.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        CONCLAVE_RETURN_IF_ERROR(AppendValue(element, depth + 1, out));
      }
      out.push_back(']');
      return absl::OkStatus();
    }
    case boost::json::kind::object: {
      if (depth >= kCanonicalJsonMaxDepth) return Invalid("nesting too deep");
      const boost::json::object& object = value.get_object();
      std::vector<const boost::json::key_value_pair*> members;
      members.reserve(object.size());
      for (const boost::json::key_value_pair& member : object) members.push_back(&member);
      // std::string_view compares bytes as unsigned char, which for UTF-8 is code point order.
      std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
        return std::string_view(a->key()) < std::string_view(b->key());
      });
      out.push_back('{');
      bool first = true;
      for (const boost::json::key_value_pair* member : members) {
        if (!first) out.push_back(',');
        first = false;
        CONCLAVE_RETURN_IF_ERROR(AppendString(member->key(), out));
        out.push_back(':');
        CONCLAVE_RETURN_IF_ERROR(AppendValue(member->value(), depth + 1, out));
      }
      out.push_back('}');
      return absl::OkStatus();
    }
  }
  return Invalid("unknown value kind");
}

}  // namespace

absl::StatusOr<std::string> CanonicalJson(const boost::json::value& value) {
  std::string out;
  CONCLAVE_RETURN_IF_ERROR(AppendValue(value, 0, out));
  return out;
}

bool IsValidUtf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    auto b0 = static_cast<unsigned char>(bytes[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    unsigned char min2 = 0x80, max2 = 0xBF;  // Bounds of the second byte (RFC 3629 §4).
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      length = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      length = 3;
      if (b0 == 0xE0) min2 = 0xA0;  // Overlong.
      if (b0 == 0xED) max2 = 0x9F;  // Surrogates.
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      length = 4;
      if (b0 == 0xF0) min2 = 0x90;  // Overlong.
      if (b0 == 0xF4) max2 = 0x8F;  // Above U+10FFFF.
    } else {
      return false;
    }
    if (bytes.size() - i < length) return false;
    auto b1 = static_cast<unsigned char>(bytes[i + 1]);
    if (b1 < min2 || b1 > max2) return false;
    for (size_t k = 2; k < length; ++k) {
      auto b = static_cast<unsigned char>(bytes[i + k]);
      if (b < 0x80 || b > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

bool HasFloat(const boost::json::value& value) {
  if (value.is_double()) return true;
  if (const auto* object = value.if_object()) {
    for (const auto& [key, child] : *object) {
      if (HasFloat(child)) return true;
    }
  } else if (const auto* array = value.if_array()) {
    for (const auto& child : *array) {
      if (HasFloat(child)) return true;
    }
  }
  return false;
}

}  // namespace conclave::service
