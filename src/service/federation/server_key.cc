#include "conclave/service/federation/server_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/crypto.h"

namespace conclave::service {
namespace {

constexpr std::string_view kAlgorithm = "ed25519";
constexpr size_t kMaxVersion = 255;
constexpr size_t kSeedSize = 32;
// A key file is three short fields; anything much larger is not one.
constexpr off_t kMaxFileSize = 64 << 10;

absl::Status Errno(std::string_view what, std::string_view path) {
  const int e = errno;
  const std::string message =
      core::StrCat("signing key: cannot ", what, " ", path, ": ", std::strerror(e));
  return e == EACCES || e == EPERM ? absl::PermissionDeniedError(message)
                                   : absl::InternalError(message);
}

bool IsVersionChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t at = 0;
  while (at < line.size()) {
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    size_t end = at;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    if (end > at) fields.push_back(line.substr(at, end - at));
    at = end;
  }
  return fields;
}

absl::StatusOr<ServerSigningKey> ParseLine(std::string_view line, size_t number) {
  auto bad = [number](std::string_view why) {
    return absl::InvalidArgumentError(core::StrCat("line ", number, ": ", why));
  };
  const std::vector<std::string_view> fields = Fields(line);
  if (fields.size() != 3) {
    return bad("expected \"ed25519 <version> <base64 seed>\"");
  }
  if (fields[0] != kAlgorithm) return bad(core::StrCat("unknown algorithm \"", fields[0], "\""));
  const std::string_view version = fields[1];
  if (version.empty() || version.size() > kMaxVersion) return bad("bad key version length");
  for (char c : version) {
    if (!IsVersionChar(c)) return bad("the key version may hold only [a-zA-Z0-9_]");
  }
  auto seed = DecodeUnpaddedBase64(fields[2]);
  if (!seed.ok() || seed->size() != kSeedSize) return bad("the seed is not base64 of 32 bytes");
  CONCLAVE_ASSIGN_OR_RETURN(Ed25519KeyPair pair, Ed25519FromSeed(*seed));
  return ServerSigningKey{core::StrCat(kAlgorithm, ":", version), std::move(pair)};
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  absl::Cleanup close_fd = [fd] { close(fd); };
  struct stat st {};
  if (fstat(fd, &st) != 0) return Errno("stat", path);
  if (st.st_size > kMaxFileSize) {
    return absl::InvalidArgumentError(
        core::StrCat("signing key ", path, ": ", st.st_size, " bytes is not a key file"));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read", path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  text.resize(done);
  return text;
}

absl::Status MakeParents(const std::string& path) {
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
    const std::string dir = path.substr(0, at);
    if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) return Errno("create", dir);
  }
  return absl::OkStatus();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Temporary file (0600), fsync, rename, fsync of the directory: the file is whole or absent.
absl::Status WriteDurably(const std::string& path, std::string_view text) {
  CONCLAVE_RETURN_IF_ERROR(MakeParents(path));
  const std::string tmp = core::StrCat(path, ".tmp.", RandomAlnum(8));
  {
    const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("create", tmp);
    absl::Cleanup close_fd = [fd] { close(fd); };
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        absl::Status s = Errno("write", tmp);
        unlink(tmp.c_str());
        return s;
      }
      done += static_cast<size_t>(n);
    }
    if (fsync(fd) != 0) {
      absl::Status s = Errno("fsync", tmp);
      unlink(tmp.c_str());
      return s;
    }
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = Errno("rename", tmp);
    unlink(tmp.c_str());
    return s;
  }
  const std::string dir = DirectoryOf(path);
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Errno("open", dir);
  absl::Cleanup close_dir = [dir_fd] { close(dir_fd); };
  if (fsync(dir_fd) != 0) return Errno("fsync", dir);
  return absl::OkStatus();
}

}  // namespace

std::string SigningKeyPathFor(std::string_view configured, std::string_view database_path) {
  if (!configured.empty()) return std::string(configured);
  std::string base(database_path);
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return base + "-signing.key";
}

absl::StatusOr<ServerSigningKey> ParseSigningKeyFile(std::string_view text) {
  std::optional<ServerSigningKey> first;
  size_t number = 0;
  while (!text.empty()) {
    ++number;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Fields(line).empty()) continue;
    CONCLAVE_ASSIGN_OR_RETURN(ServerSigningKey key, ParseLine(line, number));
    if (!first) first = std::move(key);
  }
  if (!first) return absl::InvalidArgumentError("no key in the file");
  return *std::move(first);
}

std::string FormatSigningKeyFile(const ServerSigningKey& key) {
  const std::string_view version = std::string_view(key.key_id).substr(kAlgorithm.size() + 1);
  return core::StrCat(kAlgorithm, " ", version, " ", UnpaddedBase64(key.pair.seed), "\n");
}

ServerSigningKey GenerateSigningKey() {
  auto pair = Ed25519FromSeed(RandomBytes(kSeedSize));
  // A 32-byte seed always makes a key; only a broken OpenSSL fails here.
  if (!pair.ok()) std::abort();
  return ServerSigningKey{core::StrCat(kAlgorithm, ":a_", RandomAlnum(4)), *std::move(pair)};
}

absl::StatusOr<boost::json::object> SignedServerKeys(std::string_view server_name,
                                                     const ServerSigningKey& key,
                                                     int64_t valid_until_ts) {
  boost::json::object keys{
      {"server_name", server_name},
      {"verify_keys",
       boost::json::object{
           {key.key_id, boost::json::object{{"key", UnpaddedBase64(key.pair.public_key)}}}}},
      {"old_verify_keys", boost::json::object()},
      {"valid_until_ts", valid_until_ts}};
  CONCLAVE_RETURN_IF_ERROR(SignJson(keys, server_name, key.key_id, key.pair.seed));
  return keys;
}

absl::StatusOr<ServerSigningKey> LoadOrCreateSigningKey(const std::string& path, bool* created) {
  if (created != nullptr) *created = false;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Errno("stat", path);
    ServerSigningKey key = GenerateSigningKey();
    CONCLAVE_RETURN_IF_ERROR(WriteDurably(path, FormatSigningKeyFile(key)));
    if (created != nullptr) *created = true;
    return key;
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  auto key = ParseSigningKeyFile(text);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        core::StrCat("signing key ", path, ": ", key.status().message(),
                     " (Synapse's format: \"ed25519 <version> <base64 seed>\")"));
  }
  return key;
}

}  // namespace conclave::service
