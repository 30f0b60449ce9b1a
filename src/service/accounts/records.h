// Private to accounts/: readers of the JSON records in `users` and `devices`, shared by
// accounts.cc (sessions, registration, admins) and account_state.cc (devices, profiles, filters,
// account data, presence, the user directory).
#ifndef CONCLAVE_SERVICE_ACCOUNTS_RECORDS_H_
#define CONCLAVE_SERVICE_ACCOUNTS_RECORDS_H_

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "conclave/service/protocol/crypto.h"

namespace conclave::service::accounts_internal {

using boost::json::object;

// The string field `key` of `o`; nullopt when absent or not a string.
inline std::optional<std::string> OptionalStringField(const object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

inline bool BoolField(const object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

// The raw digest a record holds base64-encoded in `field`, if any.
inline std::optional<std::string> DigestField(const object& o, std::string_view field) {
  std::optional<std::string> encoded = OptionalStringField(o, field);
  if (!encoded) return std::nullopt;
  auto digest = DecodeUnpaddedBase64(*encoded);
  if (!digest.ok()) return std::nullopt;
  return *std::move(digest);
}

// The raw access token digest a device record holds (base64 in the JSON), if any.
inline std::optional<std::string> TokenDigestOf(const object& device) {
  return DigestField(device, "token_digest");
}

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace conclave::service::accounts_internal

#endif  // CONCLAVE_SERVICE_ACCOUNTS_RECORDS_H_
