#include "conclave/service/protocol/identifiers.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <string>

#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::service {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool IsValidIpv4(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    size_t start = i;
    int value = 0;
    while (i < s.size() && IsDigit(s[i]) && i - start < 3) value = value * 10 + (s[i++] - '0');
    if (i == start || value > 255) return false;
    ++parts;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
}

bool IsValidIpv6(std::string_view s) {
  if (s.size() < 2 || s.size() > 45) return false;
  for (char c : s) {
    if (!IsDigit(c) && !((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) && c != ':' &&
        c != '.') {
      return false;
    }
  }
  // The grammar above only bounds the characters; inet_pton checks the RFC 3513 form.
  std::string text(s);
  in6_addr address;
  return inet_pton(AF_INET6, text.c_str(), &address) == 1;
}

bool IsValidDnsName(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  bool label_empty = true;
  for (char c : s) {
    if (c == '.') {
      if (label_empty) return false;
      label_empty = true;
    } else if (IsDigit(c) || IsAlpha(c) || c == '-') {
      label_empty = false;
    } else {
      return false;
    }
  }
  return !label_empty;
}

bool IsValidPort(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  int value = 0;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    value = value * 10 + (c - '0');
  }
  return value <= 65535;
}

// Splits `sigil localpart ":" server_name` at the first ':' after the sigil, checking the
// length and the server name. `what` names the identifier in error messages.
absl::Status Split(std::string_view id, char sigil, std::string_view what,
                   std::string_view& localpart, std::string_view& server_name) {
  if (id.size() > kMaxIdentifierBytes) {
    return InvalidParam(core::StrCat(what, " is longer than 255 bytes"));
  }
  if (id.empty() || id[0] != sigil) {
    return InvalidParam(core::StrCat(what, " does not start with '", sigil, "'"));
  }
  size_t colon = id.find(':');
  if (colon == std::string_view::npos) {
    return InvalidParam(core::StrCat(what, " has no ':' before a server name"));
  }
  localpart = id.substr(1, colon - 1);
  server_name = id.substr(colon + 1);
  if (!IsValidServerName(server_name)) {
    return InvalidParam(core::StrCat(what, " has an invalid server name"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string UserId::ToString() const { return core::StrCat("@", localpart, ":", server_name); }
std::string RoomId::ToString() const {
  return server_name.empty() ? core::StrCat("!", opaque_id)
                             : core::StrCat("!", opaque_id, ":", server_name);
}
std::string RoomAlias::ToString() const { return core::StrCat("#", alias, ":", server_name); }

absl::Status ValidateLocalpartForRegistration(std::string_view localpart) {
  if (localpart.empty()) {
    return MatrixStatus(Errcode::kInvalidUsername, "user id localpart is empty");
  }
  for (char c : localpart) {
    bool allowed = (c >= 'a' && c <= 'z') || IsDigit(c) || c == '.' || c == '_' || c == '=' ||
                   c == '-' || c == '/' || c == '+';
    if (!allowed) {
      return MatrixStatus(Errcode::kInvalidUsername,
                          "user id localpart may only contain a-z, 0-9, '.', '_', '=', '-', "
                          "'/' and '+'");
    }
  }
  return absl::OkStatus();
}

bool IsValidServerName(std::string_view server_name) {
  std::string_view host = server_name;
  std::string_view port;
  bool has_port = false;
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
    if (!IsValidIpv6(host)) return false;
  } else {
    size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      has_port = true;
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    bool digits_and_dots = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return IsDigit(c) || c == '.';
    });
    if (digits_and_dots ? !IsValidIpv4(host) : !IsValidDnsName(host)) return false;
  }
  return !has_port || IsValidPort(port);
}

absl::StatusOr<UserId> ParseUserId(std::string_view user_id) {
  std::string_view localpart, server_name;
  absl::Status status = Split(user_id, '@', "user id", localpart, server_name);
  if (!status.ok()) return status;
  if (localpart.empty()) return InvalidParam("user id localpart is empty");
  for (char c : localpart) {
    // Historical user ids: any printable ASCII (':' cannot occur, it ended the localpart).
    if (c < 0x21 || c > 0x7e) {
      return InvalidParam("user id localpart has a character outside printable ASCII");
    }
  }
  return UserId{std::string(localpart), std::string(server_name)};
}

absl::StatusOr<RoomId> ParseRoomId(std::string_view room_id) {
  // Room version 12: "!" + URL-safe unpadded base64 of a 32-byte reference hash.
  constexpr size_t kHashIdChars = 43;
  if (room_id.size() == kHashIdChars + 1 && room_id[0] == '!' &&
      std::all_of(room_id.begin() + 1, room_id.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || IsDigit(c) || c == '-' ||
               c == '_';
      })) {
    return RoomId{std::string(room_id.substr(1)), ""};
  }
  std::string_view opaque_id, server_name;
  absl::Status status = Split(room_id, '!', "room id", opaque_id, server_name);
  if (!status.ok()) return status;
  if (opaque_id.empty()) return InvalidParam("room id has an empty opaque id");
  if (!IsValidUtf8(opaque_id) || opaque_id.find('\0') != std::string_view::npos) {
    return InvalidParam("room id is not valid UTF-8 or contains NUL");
  }
  return RoomId{std::string(opaque_id), std::string(server_name)};
}

absl::StatusOr<RoomAlias> ParseRoomAlias(std::string_view room_alias) {
  std::string_view alias, server_name;
  absl::Status status = Split(room_alias, '#', "room alias", alias, server_name);
  if (!status.ok()) return status;
  if (alias.empty()) return InvalidParam("room alias localpart is empty");
  if (!IsValidUtf8(alias)) return InvalidParam("room alias is not valid UTF-8");
  for (char c : alias) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      return InvalidParam("room alias contains whitespace or a control character");
    }
  }
  return RoomAlias{std::string(alias), std::string(server_name)};
}

bool LooksLikeEventId(std::string_view event_id) {
  return event_id.size() >= 2 && event_id.size() <= kMaxIdentifierBytes && event_id[0] == '$';
}

std::string NewRoomId(std::string_view server_name) {
  return core::StrCat("!", RandomAlnum(18), ":", server_name);
}

std::string NewDeviceId() { return RandomString(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"); }

std::string NewAccessToken() { return RandomAlnum(40); }

}  // namespace conclave::service
