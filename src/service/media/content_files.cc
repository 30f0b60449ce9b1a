#include "content_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/crypto.h"

namespace conclave::service {
namespace {

constexpr size_t kHashBlock = size_t{1} << 20;

absl::Status Errno(std::string_view what, std::string_view path) {
  return absl::InternalError(core::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Closes a descriptor at scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status MakeDirectory(const std::string& path) {
  if (mkdir(path.c_str(), 0750) != 0 && errno != EEXIST) return Errno("cannot create", path);
  return absl::OkStatus();
}

// fsync of a directory, so that a rename or a new entry in it survives a power cut.
absl::Status SyncDirectory(const std::string& path) {
  Fd dir(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return Errno("cannot open", path);
  if (fsync(dir.get()) != 0) return Errno("cannot fsync", path);
  return absl::OkStatus();
}

// The names in `dir` (not . and ..); a missing directory has none.
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), &closedir);
  if (d == nullptr) return names;
  while (dirent* entry = readdir(d.get())) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  return names;
}

uint64_t SizeOf(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

absl::StatusOr<std::string> Sha256OfFile(const std::string& path, uint64_t* size) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("cannot open", path);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("SHA-256 is not available");
  }
  std::vector<char> block(kHashBlock);
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = read(fd.get(), block.data(), block.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read", path);
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), block.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  if (size != nullptr) *size = total;
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

ContentFiles::ContentFiles(std::string root) : root_(std::move(root)) {}

std::string ContentFiles::tmp_dir() const { return root_ + "/tmp"; }

std::string ContentFiles::thumbnail_dir() const { return root_ + "/thumbnails"; }

std::string ContentFiles::PathOf(std::string_view sha256) const {
  return core::StrCat(root_, "/content/", sha256.substr(0, 2), "/", sha256);
}

absl::Status ContentFiles::Prepare() const {
  // Parents of the root too (it defaults to beside the database, which may not exist yet).
  for (size_t at = root_.find('/', 1); at != std::string::npos; at = root_.find('/', at + 1)) {
    CONCLAVE_RETURN_IF_ERROR(MakeDirectory(root_.substr(0, at)));
  }
  for (const std::string& dir : {root_, root_ + "/content", tmp_dir()}) {
    CONCLAVE_RETURN_IF_ERROR(MakeDirectory(dir));
  }
  return absl::OkStatus();
}

absl::StatusOr<CommittedContent> ContentFiles::Hash(const std::string& tmp_path) const {
  CommittedContent out;
  auto hash = Sha256OfFile(tmp_path, &out.size);
  if (!hash.ok()) return hash.status();
  out.sha256 = *std::move(hash);
  Fd fd(open(tmp_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("cannot open", tmp_path);
  if (fsync(fd.get()) != 0) return Errno("cannot fsync", tmp_path);
  return out;
}

absl::Status ContentFiles::Place(const std::string& tmp_path, CommittedContent& content) const {
  const std::string target = PathOf(content.sha256);
  struct stat st {};
  if (stat(target.c_str(), &st) == 0) {
    // Stored already (and durable: it was committed the same way). The bytes are the same.
    unlink(tmp_path.c_str());
    content.deduplicated = true;
    return absl::OkStatus();
  }
  const std::string shard = core::StrCat(root_, "/content/", content.sha256.substr(0, 2));
  if (mkdir(shard.c_str(), 0750) == 0) {
    CONCLAVE_RETURN_IF_ERROR(SyncDirectory(root_ + "/content"));
  } else if (errno != EEXIST) {
    return Errno("cannot create", shard);
  }
  if (rename(tmp_path.c_str(), target.c_str()) != 0) return Errno("cannot rename", tmp_path);
  return SyncDirectory(shard);
}

uint64_t ContentFiles::Remove(std::string_view sha256) const {
  uint64_t freed = 0;
  const std::string path = PathOf(sha256);
  const uint64_t size = SizeOf(path);
  if (unlink(path.c_str()) == 0) freed += size;
  // Thumbnails are named "<sha256>-<size>...": a scan of the cache, once per removed content.
  const std::string thumbnails = thumbnail_dir();
  for (const std::string& name : Entries(thumbnails)) {
    if (name.size() > sha256.size() && name.compare(0, sha256.size(), sha256) == 0 &&
        name[sha256.size()] == '-') {
      const std::string thumb = core::StrCat(thumbnails, "/", name);
      const uint64_t thumb_size = SizeOf(thumb);
      if (unlink(thumb.c_str()) == 0) freed += thumb_size;
    }
  }
  return freed;
}

ContentFiles::LockHandle::~LockHandle() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

absl::StatusOr<ContentFiles::LockHandle> ContentFiles::Lock() const {
  const std::string path = root_ + "/.lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("cannot open", path);
  LockHandle handle(fd);
  while (flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return Errno("cannot lock", path);
  }
  return handle;
}

std::vector<std::string> ContentFiles::ContentNames() const {
  std::vector<std::string> out;
  const std::string content = root_ + "/content";
  for (const std::string& shard : Entries(content)) {
    for (std::string& name : Entries(core::StrCat(content, "/", shard))) {
      // PathOf(name) must find it again; anything else here is not ours.
      if (name.compare(0, 2, shard) == 0) out.push_back(std::move(name));
    }
  }
  return out;
}

absl::StatusOr<OrphanStats> ContentFiles::RemoveOrphans(
    const absl::flat_hash_set<std::string>& referenced) const {
  OrphanStats stats;
  for (const std::string& name : Entries(tmp_dir())) {
    const std::string path = core::StrCat(tmp_dir(), "/", name);
    stats.bytes += SizeOf(path);
    if (unlink(path.c_str()) != 0) return Errno("cannot remove", path);
    ++stats.temporaries;
  }
  for (const std::string& name : Entries(thumbnail_dir())) {
    // "<sha256>-<size>..." and ".tmp-*" (a thumbnail being written when the process died).
    const size_t dash = name.find('-');
    if (dash != std::string::npos && name[0] != '.' && referenced.contains(name.substr(0, dash))) {
      continue;
    }
    const std::string path = core::StrCat(thumbnail_dir(), "/", name);
    stats.bytes += SizeOf(path);
    if (unlink(path.c_str()) == 0) ++stats.thumbnails;
  }
  for (const std::string& name : ContentNames()) {
    if (referenced.contains(name)) continue;
    const std::string path = PathOf(name);
    stats.bytes += SizeOf(path);
    if (unlink(path.c_str()) != 0) return Errno("cannot remove", path);
    ++stats.unreferenced;
  }
  return stats;
}

}  // namespace conclave::service
