#include "headers.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "conclave/core/percent.h"

namespace conclave::media {
namespace {

// Content repository, "Serving inline content".
constexpr std::array<std::string_view, 26> kInlineTypes = {
    "text/css",    "text/plain", "text/csv",    "application/json", "application/ld+json",
    "image/jpeg",  "image/gif",  "image/png",   "image/apng",       "image/webp",
    "image/avif",  "video/mp4",  "video/webm",  "video/ogg",        "video/quicktime",
    "audio/mp4",   "audio/webm", "audio/aac",   "audio/mpeg",       "audio/ogg",
    "audio/wave",  "audio/wav",  "audio/x-wav", "audio/x-pn-wav",   "audio/flac",
    "audio/x-flac"};

// The recommended policy of the spec's security considerations.
constexpr std::string_view kContentSecurityPolicy =
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
    "style-src 'unsafe-inline'; object-src 'self';";

// RFC 8187 attr-char: RFC 3986's unreserved characters and these.
constexpr std::string_view kAttrCharExtra = "!#$&+^`|";

// Printable ASCII without control characters: can go in a quoted-string.
bool Quotable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
}

// A header value must not carry CR, LF or other control bytes a client gave us.
std::string CleanHeaderValue(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c != 0x7f) out.push_back(static_cast<char>(c));
  }
  return out;
}

}  // namespace

std::string BaseType(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
  while (!content_type.empty() && content_type.front() == ' ') content_type.remove_prefix(1);
  std::string out(content_type);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool InlineSafe(std::string_view content_type) {
  const std::string base = BaseType(content_type);
  return std::find(kInlineTypes.begin(), kInlineTypes.end(), base) != kInlineTypes.end();
}

std::string ContentDisposition(std::string_view content_type, std::string_view filename) {
  std::string out = InlineSafe(content_type) ? "inline" : "attachment";
  if (filename.empty()) return out;
  if (Quotable(filename)) {
    out += "; filename=\"";
    for (char c : filename) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
    return out;
  }
  out += "; filename*=utf-8''";
  out += core::PercentEncode(filename, kAttrCharExtra);
  return out;
}

void SetDownloadHeaders(const service::MediaRecord& record, std::string_view filename,
                        bool authenticated, core::Response& response) {
  const std::string type = record.content_type.empty() ? "application/octet-stream"
                                                       : CleanHeaderValue(record.content_type);
  response.content_type = type;
  const std::string_view name = filename.empty() ? std::string_view(record.filename) : filename;
  response.headers.emplace_back("Content-Disposition", ContentDisposition(type, name));
  // The content never changes under its id: its hash is a strong validator.
  response.headers.emplace_back("ETag", "\"" + record.sha256 + "\"");
  response.headers.emplace_back("Cache-Control", authenticated
                                                     ? "private, max-age=31536000, immutable"
                                                     : "public, max-age=31536000, immutable");
  response.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  response.headers.emplace_back("Cross-Origin-Resource-Policy", "cross-origin");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
}

}  // namespace conclave::media
