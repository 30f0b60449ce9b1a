// Order-preserving key encoding for the database subsystem: KeyBuilder writes keys whose byte
// order (memcmp, which is RocksDB's default comparator) equals the natural order of their
// components, KeyReader decodes them again.
//
// Encoding, component by component (a key is the plain concatenation of its components):
//   - U64 / U32: 8 / 4 bytes, big-endian, so byte order is numeric order.
//   - String: the bytes of the string with 0x00 written as 0x01 0x01 and 0x01 written as
//     0x01 0x02, then one 0x00 terminator. The escapes keep the order of arbitrary byte strings
//     and make the terminator unambiguous, so a string sorts before every longer string it is a
//     prefix of, and the encoding of ("a") is a prefix of ("a", 7) but not of ("ab", 7): prefix
//     iteration over "string, then anything" is exact. Matrix identifiers never contain 0x00 or
//     0x01, so their keys stay readable.
//   - Bytes: raw, without length or terminator. Use it only for a last component, or for a
//     component whose length the reader knows.
#ifndef CONCLAVE_DATABASE_KEY_H_
#define CONCLAVE_DATABASE_KEY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace conclave::database {

// Builds one key. Thread-compatible value type.
class KeyBuilder {
 public:
  KeyBuilder() = default;

  // Each Append returns `*this` for chaining.
  KeyBuilder& AppendU64(uint64_t value);
  KeyBuilder& AppendU32(uint32_t value);
  // Appends `value` escaped and terminated (see the file comment); any bytes are allowed.
  KeyBuilder& AppendString(std::string_view value);
  // Appends `bytes` verbatim.
  KeyBuilder& AppendBytes(std::string_view bytes);

  // The key built so far; valid until the next Append or Build on an rvalue.
  std::string_view view() const { return key_; }
  size_t size() const { return key_.size(); }

  std::string Build() const& { return key_; }
  std::string Build() && { return std::move(key_); }

 private:
  std::string key_;
};

// Decodes a key component by component, in the order it was built. Thread-compatible. Keeps a
// view of the key: the key's bytes must outlive the reader. A failed Read leaves the position
// unchanged.
class KeyReader {
 public:
  explicit KeyReader(std::string_view key) : rest_(key) {}

  // Returns kInvalidArgument if fewer than 8 (4) bytes remain.
  absl::StatusOr<uint64_t> ReadU64();
  absl::StatusOr<uint32_t> ReadU32();
  // Returns kInvalidArgument if there is no terminator or an escape is malformed.
  absl::StatusOr<std::string> ReadString();
  // Returns the next `size` bytes; kInvalidArgument if fewer remain.
  absl::StatusOr<std::string_view> ReadBytes(size_t size);
  // Returns every remaining byte (possibly none) and moves to the end.
  std::string_view ReadRest();

  bool AtEnd() const { return rest_.empty(); }
  std::string_view remaining() const { return rest_; }

 private:
  std::string_view rest_;
};

}  // namespace conclave::database

#endif  // CONCLAVE_DATABASE_KEY_H_
