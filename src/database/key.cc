#include "conclave/database/key.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace conclave::database {
namespace {

constexpr char kTerminator = '\x00';
constexpr char kEscape = '\x01';
// Second byte of an escape: 0x01 0x01 stands for 0x00, 0x01 0x02 for 0x01. Both sort after the
// terminator and before 0x02, which keeps the order of the unescaped strings.
constexpr char kEscapedZero = '\x01';
constexpr char kEscapedOne = '\x02';

template <typename T>
void AppendBigEndian(std::string& out, T value) {
  for (int shift = (sizeof(T) - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

template <typename T>
absl::StatusOr<T> ReadBigEndian(std::string_view& rest) {
  if (rest.size() < sizeof(T)) {
    return absl::InvalidArgumentError(absl::StrCat("key too short for a ", sizeof(T) * 8,
                                                   "-bit integer: ", rest.size(), " bytes left"));
  }
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value = static_cast<T>((value << 8) | static_cast<unsigned char>(rest[i]));
  }
  rest.remove_prefix(sizeof(T));
  return value;
}

}  // namespace

KeyBuilder& KeyBuilder::AppendU64(uint64_t value) {
  AppendBigEndian(key_, value);
  return *this;
}

KeyBuilder& KeyBuilder::AppendU32(uint32_t value) {
  AppendBigEndian(key_, value);
  return *this;
}

KeyBuilder& KeyBuilder::AppendString(std::string_view value) {
  key_.reserve(key_.size() + value.size() + 1);
  for (char c : value) {
    if (c == '\x00') {
      key_.push_back(kEscape);
      key_.push_back(kEscapedZero);
    } else if (c == '\x01') {
      key_.push_back(kEscape);
      key_.push_back(kEscapedOne);
    } else {
      key_.push_back(c);
    }
  }
  key_.push_back(kTerminator);
  return *this;
}

KeyBuilder& KeyBuilder::AppendBytes(std::string_view bytes) {
  key_.append(bytes);
  return *this;
}

absl::StatusOr<uint64_t> KeyReader::ReadU64() { return ReadBigEndian<uint64_t>(rest_); }

absl::StatusOr<uint32_t> KeyReader::ReadU32() { return ReadBigEndian<uint32_t>(rest_); }

absl::StatusOr<std::string> KeyReader::ReadString() {
  std::string out;
  for (size_t i = 0; i < rest_.size(); ++i) {
    const char c = rest_[i];
    if (c == kTerminator) {
      rest_.remove_prefix(i + 1);
      return out;
    }
    if (c != kEscape) {
      out.push_back(c);
      continue;
    }
    if (i + 1 == rest_.size()) break;
    const char escaped = rest_[++i];
    if (escaped == kEscapedZero) {
      out.push_back('\x00');
    } else if (escaped == kEscapedOne) {
      out.push_back('\x01');
    } else {
      return absl::InvalidArgumentError(absl::StrCat("malformed escape in key string at byte ", i));
    }
  }
  return absl::InvalidArgumentError("key string has no terminator");
}

absl::StatusOr<std::string_view> KeyReader::ReadBytes(size_t size) {
  if (rest_.size() < size) {
    return absl::InvalidArgumentError(
        absl::StrCat("key too short: wanted ", size, " bytes, ", rest_.size(), " left"));
  }
  std::string_view out = rest_.substr(0, size);
  rest_.remove_prefix(size);
  return out;
}

std::string_view KeyReader::ReadRest() {
  std::string_view out = rest_;
  rest_ = {};
  return out;
}

}  // namespace conclave::database
