#include "conclave/service/protocol/errors.h"

#include <charconv>
#include <string>

#include "absl/strings/cord.h"
#include "conclave/service/protocol/canonical_json.h"

namespace conclave::service {
namespace {

constexpr char kErrcodeUrl[] = "conclave.matrix/errcode";
constexpr char kRetryUrl[] = "conclave.matrix/retry_after_ms";

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

absl::Status MatrixStatus(absl::StatusCode code, std::string_view errcode,
                          std::string_view message) {
  absl::Status status(code, Abs(ValidUtf8(message)));
  status.SetPayload(kErrcodeUrl, absl::Cord(Abs(errcode)));
  return status;
}

absl::Status Forbidden(std::string_view m) {
  return MatrixStatus(absl::StatusCode::kPermissionDenied, "M_FORBIDDEN", m);
}
absl::Status NotFound(std::string_view m) {
  return MatrixStatus(absl::StatusCode::kNotFound, "M_NOT_FOUND", m);
}
absl::Status BadJson(std::string_view m) {
  return MatrixStatus(absl::StatusCode::kInvalidArgument, "M_BAD_JSON", m);
}
absl::Status NotJson(std::string_view m) {
  return MatrixStatus(absl::StatusCode::kInvalidArgument, "M_NOT_JSON", m);
}
absl::Status MissingParam(std::string_view m) {
  return MatrixStatus(absl::StatusCode::kInvalidArgument, "M_MISSING_PARAM", m);
}
absl::Status InvalidParam(std::string_view m) {
  return MatrixStatus(absl::StatusCode::kInvalidArgument, "M_INVALID_PARAM", m);
}
absl::Status UnknownToken(std::string_view m) {
  return MatrixStatus(absl::StatusCode::kUnauthenticated, "M_UNKNOWN_TOKEN", m);
}
absl::Status MissingToken(std::string_view m) {
  return MatrixStatus(absl::StatusCode::kUnauthenticated, "M_MISSING_TOKEN", m);
}
absl::Status TooLarge(std::string_view m) {
  return MatrixStatus(absl::StatusCode::kInvalidArgument, "M_TOO_LARGE", m);
}
absl::Status LimitExceeded(std::string_view m, int64_t retry_after_ms) {
  absl::Status status = MatrixStatus(absl::StatusCode::kResourceExhausted, "M_LIMIT_EXCEEDED", m);
  status.SetPayload(kRetryUrl, absl::Cord(std::to_string(retry_after_ms)));
  return status;
}

std::string ErrcodeOf(const absl::Status& status) {
  if (auto payload = status.GetPayload(kErrcodeUrl)) return std::string(*payload);
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return "M_NOT_FOUND";
    case absl::StatusCode::kPermissionDenied:
      return "M_FORBIDDEN";
    case absl::StatusCode::kInvalidArgument:
      return "M_INVALID_PARAM";
    case absl::StatusCode::kUnauthenticated:
      return "M_UNKNOWN_TOKEN";
    case absl::StatusCode::kResourceExhausted:
      return "M_LIMIT_EXCEEDED";
    default:
      return "M_UNKNOWN";
  }
}

int HttpStatusOf(const absl::Status& status) {
  std::string errcode = ErrcodeOf(status);
  if (errcode == "M_UNKNOWN_TOKEN" || errcode == "M_MISSING_TOKEN") return 401;
  if (errcode == "M_FORBIDDEN" || errcode == "M_USER_DEACTIVATED") return 403;
  if (errcode == "M_NOT_FOUND" || errcode == "M_UNRECOGNIZED") return 404;
  if (errcode == "M_TOO_LARGE") return 413;
  if (errcode == "M_LIMIT_EXCEEDED") return 429;
  if (errcode != "M_UNKNOWN") return 400;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
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

}  // namespace conclave::service
