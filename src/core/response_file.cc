// ResponseFile (a response body streamed from a file) and the conditional and range headers the
// engine applies to it (RFC 9110 sections 13.1.2 and 14).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "absl/strings/match.h"
#include "conclave/core/http.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {

ResponseFile::ResponseFile(int fd, uint64_t offset, uint64_t length)
    : fd_(fd), offset_(offset), length_(length) {}

ResponseFile::ResponseFile(const ResponseFile& other)
    : fd_(other.fd_ < 0 ? -1 : fcntl(other.fd_, F_DUPFD_CLOEXEC, 0)),
      offset_(other.offset_),
      length_(other.length_) {}

ResponseFile& ResponseFile::operator=(const ResponseFile& other) {
  if (this != &other) *this = ResponseFile(other);
  return *this;
}

ResponseFile::ResponseFile(ResponseFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), offset_(other.offset_), length_(other.length_) {}

ResponseFile& ResponseFile::operator=(ResponseFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    offset_ = other.offset_;
    length_ = other.length_;
  }
  return *this;
}

ResponseFile::~ResponseFile() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<ResponseFile> ResponseFile::Open(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(StrCat(path, ": no such file"));
    return absl::InternalError(StrCat("cannot open ", path, ": ", std::strerror(err)));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return absl::InternalError(StrCat("cannot stat ", path, ": ", std::strerror(err)));
  }
  return ResponseFile(fd, 0, static_cast<uint64_t>(st.st_size));
}

void ResponseFile::Narrow(uint64_t offset, uint64_t length) {
  offset = std::min(offset, length_);
  offset_ += offset;
  length_ = std::min(length, length_ - offset);
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ConsumePrefix(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

std::optional<std::string_view> HeaderOf(const Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (absl::EqualsIgnoreCase(key, absl::string_view(name.data(), name.size()))) return value;
  }
  return std::nullopt;
}

// Whether If-None-Match's list `header` names `etag` (weak comparison, section 13.1.2).
bool EtagListMatches(std::string_view header, std::string_view etag) {
  auto opaque = [](std::string_view tag) {
    tag = Trim(tag);
    ConsumePrefix(tag, "W/");
    return tag;
  };
  for (;;) {
    const size_t comma = header.find(',');
    std::string_view tag = opaque(header.substr(0, comma));
    if (tag == "*" || (!tag.empty() && tag == opaque(etag))) return true;
    if (comma == std::string_view::npos) return false;
    header.remove_prefix(comma + 1);
  }
}

bool ParseUint(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// One `bytes=first-last`, `bytes=first-` or `bytes=-suffix` range of a `size`-byte body.
enum class RangeResult { kIgnore, kSatisfiable, kUnsatisfiable };
RangeResult ParseRange(std::string_view header, uint64_t size, uint64_t& first, uint64_t& last) {
  header = Trim(header);
  if (!ConsumePrefix(header, "bytes=")) return RangeResult::kIgnore;
  if (header.find(',') != std::string_view::npos) return RangeResult::kIgnore;  // several
  const size_t dash = header.find('-');
  if (dash == std::string_view::npos) return RangeResult::kIgnore;
  const std::string_view from = Trim(header.substr(0, dash));
  const std::string_view to = Trim(header.substr(dash + 1));
  uint64_t a = 0, b = 0;
  if (from.empty()) {  // a suffix: the last `to` bytes
    if (!ParseUint(to, b)) return RangeResult::kIgnore;
    if (b == 0 || size == 0) return RangeResult::kUnsatisfiable;
    first = size - std::min(b, size);
    last = size - 1;
    return RangeResult::kSatisfiable;
  }
  if (!ParseUint(from, a)) return RangeResult::kIgnore;
  if (to.empty()) {
    b = UINT64_MAX;
  } else if (!ParseUint(to, b) || b < a) {
    return RangeResult::kIgnore;
  }
  if (a >= size) return RangeResult::kUnsatisfiable;
  first = a;
  last = std::min(b, size - 1);
  return RangeResult::kSatisfiable;
}

}  // namespace

void ApplyFileConditions(const Request& request, Response& response) {
  if (!response.file || response.status != 200) return;
  const std::optional<std::string_view> etag = HeaderOf(response, "ETag");
  if (auto inm = request.Header("If-None-Match"); inm && etag && EtagListMatches(*inm, *etag)) {
    response.status = 304;
    response.file.reset();
    response.body.clear();
    return;
  }
  response.headers.emplace_back("Accept-Ranges", "bytes");
  const std::optional<std::string_view> range = request.Header("Range");
  if (!range) return;
  if (auto if_range = request.Header("If-Range"); if_range && (!etag || *if_range != *etag)) {
    return;  // the client's copy is another version: the whole file (section 13.1.5)
  }
  const uint64_t size = response.file->length();
  uint64_t first = 0, last = 0;
  switch (ParseRange(*range, size, first, last)) {
    case RangeResult::kIgnore:
      return;
    case RangeResult::kUnsatisfiable:
      response.status = 416;
      response.file.reset();
      response.body.clear();
      response.headers.emplace_back("Content-Range", StrCat("bytes */", size));
      return;
    case RangeResult::kSatisfiable:
      response.status = 206;
      response.file->Narrow(first, last - first + 1);
      response.headers.emplace_back("Content-Range", StrCat("bytes ", first, "-", last, "/", size));
      return;
  }
}

}  // namespace conclave::core
