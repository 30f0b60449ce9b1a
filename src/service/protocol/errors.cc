#include "conclave/service/protocol/errors.h"

#include <array>
#include <charconv>
#include <string>

#include "absl/strings/cord.h"
#include "conclave/service/protocol/canonical_json.h"

namespace conclave::service {
namespace {

constexpr char kErrcodeUrl[] = "conclave.matrix/errcode";
constexpr char kRetryUrl[] = "conclave.matrix/retry_after_ms";
constexpr char kCurrentVersionUrl[] = "conclave.matrix/current_version";
constexpr char kSoftLogoutUrl[] = "conclave.matrix/soft_logout";

using Code = absl::StatusCode;

struct ErrcodeInfo {
  Errcode errcode;
  std::string_view name;
  Code code;  // the default absl code (errors.h MatrixStatus)
};

// In the order of the enum (checked below), so that an Errcode indexes it.
constexpr ErrcodeInfo kErrcodes[] = {
    {Errcode::kBadJson, "M_BAD_JSON", Code::kInvalidArgument},
    {Errcode::kForbidden, "M_FORBIDDEN", Code::kPermissionDenied},
    {Errcode::kLimitExceeded, "M_LIMIT_EXCEEDED", Code::kResourceExhausted},
    {Errcode::kMissingToken, "M_MISSING_TOKEN", Code::kUnauthenticated},
    {Errcode::kNotFound, "M_NOT_FOUND", Code::kNotFound},
    {Errcode::kNotJson, "M_NOT_JSON", Code::kInvalidArgument},
    {Errcode::kResourceLimitExceeded, "M_RESOURCE_LIMIT_EXCEEDED", Code::kResourceExhausted},
    {Errcode::kUnknown, "M_UNKNOWN", Code::kUnknown},
    {Errcode::kUnknownDevice, "M_UNKNOWN_DEVICE", Code::kInvalidArgument},
    {Errcode::kUnknownToken, "M_UNKNOWN_TOKEN", Code::kUnauthenticated},
    {Errcode::kUnrecognized, "M_UNRECOGNIZED", Code::kUnimplemented},
    {Errcode::kUserLimitExceeded, "M_USER_LIMIT_EXCEEDED", Code::kResourceExhausted},
    {Errcode::kUserLocked, "M_USER_LOCKED", Code::kPermissionDenied},
    {Errcode::kUserSuspended, "M_USER_SUSPENDED", Code::kPermissionDenied},
    {Errcode::kBadAlias, "M_BAD_ALIAS", Code::kInvalidArgument},
    {Errcode::kBadState, "M_BAD_STATE", Code::kFailedPrecondition},
    {Errcode::kCannotLeaveServerNoticeRoom, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM",
     Code::kPermissionDenied},
    {Errcode::kCannotOverwriteMedia, "M_CANNOT_OVERWRITE_MEDIA", Code::kAlreadyExists},
    {Errcode::kCaptchaInvalid, "M_CAPTCHA_INVALID", Code::kInvalidArgument},
    {Errcode::kCaptchaNeeded, "M_CAPTCHA_NEEDED", Code::kInvalidArgument},
    {Errcode::kDuplicateAnnotation, "M_DUPLICATE_ANNOTATION", Code::kAlreadyExists},
    {Errcode::kExclusive, "M_EXCLUSIVE", Code::kInvalidArgument},
    {Errcode::kGuestAccessForbidden, "M_GUEST_ACCESS_FORBIDDEN", Code::kPermissionDenied},
    {Errcode::kIncompatibleRoomVersion, "M_INCOMPATIBLE_ROOM_VERSION", Code::kInvalidArgument},
    {Errcode::kInvalidParam, "M_INVALID_PARAM", Code::kInvalidArgument},
    {Errcode::kInvalidRoomState, "M_INVALID_ROOM_STATE", Code::kInvalidArgument},
    {Errcode::kInvalidSignature, "M_INVALID_SIGNATURE", Code::kInvalidArgument},
    {Errcode::kInvalidUsername, "M_INVALID_USERNAME", Code::kInvalidArgument},
    {Errcode::kKeyTooLarge, "M_KEY_TOO_LARGE", Code::kInvalidArgument},
    {Errcode::kMissingParam, "M_MISSING_PARAM", Code::kInvalidArgument},
    {Errcode::kNotYetUploaded, "M_NOT_YET_UPLOADED", Code::kUnavailable},
    {Errcode::kRoomInUse, "M_ROOM_IN_USE", Code::kInvalidArgument},
    {Errcode::kServerNotTrusted, "M_SERVER_NOT_TRUSTED", Code::kPermissionDenied},
    {Errcode::kThreepidAuthFailed, "M_THREEPID_AUTH_FAILED", Code::kPermissionDenied},
    {Errcode::kThreepidDenied, "M_THREEPID_DENIED", Code::kPermissionDenied},
    {Errcode::kThreepidInUse, "M_THREEPID_IN_USE", Code::kAlreadyExists},
    {Errcode::kThreepidMediumNotSupported, "M_THREEPID_MEDIUM_NOT_SUPPORTED",
     Code::kInvalidArgument},
    {Errcode::kThreepidNotFound, "M_THREEPID_NOT_FOUND", Code::kNotFound},
    {Errcode::kTooLarge, "M_TOO_LARGE", Code::kInvalidArgument},
    {Errcode::kUnauthorized, "M_UNAUTHORIZED", Code::kUnauthenticated},
    {Errcode::kUnknownPos, "M_UNKNOWN_POS", Code::kInvalidArgument},
    {Errcode::kUnsupportedRoomVersion, "M_UNSUPPORTED_ROOM_VERSION", Code::kInvalidArgument},
    {Errcode::kUserDeactivated, "M_USER_DEACTIVATED", Code::kPermissionDenied},
    {Errcode::kUserInUse, "M_USER_IN_USE", Code::kAlreadyExists},
    {Errcode::kWeakPassword, "M_WEAK_PASSWORD", Code::kInvalidArgument},
    {Errcode::kWrongRoomKeysVersion, "M_WRONG_ROOM_KEYS_VERSION", Code::kInvalidArgument},
};

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < std::size(kErrcodes); ++i) {
    if (static_cast<size_t>(kErrcodes[i].errcode) != i) return false;
  }
  return static_cast<size_t>(Errcode::kWrongRoomKeysVersion) + 1 == std::size(kErrcodes);
}
static_assert(InEnumOrder(), "kErrcodes must list every Errcode in the enum's order");

const ErrcodeInfo& Info(Errcode errcode) { return kErrcodes[static_cast<size_t>(errcode)]; }

absl::string_view Abs(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// `s` with each byte that is not part of a valid UTF-8 sequence replaced by U+FFFD. Messages
// quote client input (a pagination token, a filter entry, a percent-decoded path segment) and
// the api sends them in JSON, which must be UTF-8 (RFC 8259 section 8.1): a strict client could
// not parse the error at all (found by tests/fuzz/http_request).
std::string ValidUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const size_t n = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (n <= s.size() - i && IsValidUtf8(s.substr(i, n))) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace

std::string_view ErrcodeName(Errcode errcode) { return Info(errcode).name; }

std::optional<Errcode> ErrcodeFromName(std::string_view name) {
  for (const ErrcodeInfo& info : kErrcodes) {
    if (info.name == name) return info.errcode;
  }
  return std::nullopt;
}

absl::Status MatrixStatus(absl::StatusCode code, Errcode errcode, std::string_view message) {
  absl::Status status(code, Abs(ValidUtf8(message)));
  status.SetPayload(kErrcodeUrl, absl::Cord(Abs(ErrcodeName(errcode))));
  return status;
}

absl::Status MatrixStatus(Errcode errcode, std::string_view message) {
  return MatrixStatus(Info(errcode).code, errcode, message);
}

absl::Status Forbidden(std::string_view m) { return MatrixStatus(Errcode::kForbidden, m); }
absl::Status NotFound(std::string_view m) { return MatrixStatus(Errcode::kNotFound, m); }
absl::Status BadJson(std::string_view m) { return MatrixStatus(Errcode::kBadJson, m); }
absl::Status NotJson(std::string_view m) { return MatrixStatus(Errcode::kNotJson, m); }
absl::Status MissingParam(std::string_view m) { return MatrixStatus(Errcode::kMissingParam, m); }
absl::Status InvalidParam(std::string_view m) { return MatrixStatus(Errcode::kInvalidParam, m); }
absl::Status UnknownToken(std::string_view m) { return MatrixStatus(Errcode::kUnknownToken, m); }
absl::Status MissingToken(std::string_view m) { return MatrixStatus(Errcode::kMissingToken, m); }
absl::Status TooLarge(std::string_view m) { return MatrixStatus(Errcode::kTooLarge, m); }
absl::Status LimitExceeded(std::string_view m, int64_t retry_after_ms) {
  absl::Status status = MatrixStatus(Errcode::kLimitExceeded, m);
  status.SetPayload(kRetryUrl, absl::Cord(std::to_string(retry_after_ms)));
  return status;
}

absl::Status WrongRoomKeysVersion(std::string_view m, std::string_view current_version) {
  absl::Status status = MatrixStatus(Errcode::kWrongRoomKeysVersion, m);
  status.SetPayload(kCurrentVersionUrl, absl::Cord(Abs(ValidUtf8(current_version))));
  return status;
}

absl::Status SoftLogout(std::string_view m) {
  absl::Status status = MatrixStatus(Errcode::kUnknownToken, m);
  status.SetPayload(kSoftLogoutUrl, absl::Cord("true"));
  return status;
}

Errcode ErrcodeOf(const absl::Status& status) {
  if (auto payload = status.GetPayload(kErrcodeUrl)) {
    return ErrcodeFromName(std::string(*payload)).value_or(Errcode::kUnknown);
  }
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return Errcode::kNotFound;
    case absl::StatusCode::kPermissionDenied:
      return Errcode::kForbidden;
    case absl::StatusCode::kInvalidArgument:
      return Errcode::kInvalidParam;
    case absl::StatusCode::kUnauthenticated:
      return Errcode::kUnknownToken;
    case absl::StatusCode::kResourceExhausted:
      return Errcode::kLimitExceeded;
    default:
      return Errcode::kUnknown;
  }
}

std::optional<int64_t> RetryAfterMs(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryUrl);
  if (!payload) return std::nullopt;
  std::string text(*payload);
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

std::optional<std::string> CurrentRoomKeysVersion(const absl::Status& status) {
  auto payload = status.GetPayload(kCurrentVersionUrl);
  if (!payload) return std::nullopt;
  return std::string(*payload);
}

bool IsSoftLogout(const absl::Status& status) {
  return status.GetPayload(kSoftLogoutUrl).has_value();
}

}  // namespace conclave::service
