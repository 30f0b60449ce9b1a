#include "conclave/core/runtime_dir.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {

namespace fs = std::filesystem;

absl::StatusOr<RuntimeDir> RuntimeDir::Create(std::string base,
                                              std::vector<std::string>* removed_stale) {
  if (base.empty()) {
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    base = xdg != nullptr && *xdg != '\0' ? core::StrCat(xdg, "/conclave")
                                          : core::StrCat("/tmp/conclave-", getuid());
  }
  std::error_code ec;
  fs::create_directories(base, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        core::StrCat("runtime dir ", base, ": cannot create: ", ec.message()));
  }
  const pid_t self = getpid();
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    int pid;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid) || pid <= 0) continue;
    bool alive = pid != self && (kill(pid, 0) == 0 || errno == EPERM);
    if (alive) continue;
    fs::remove_all(entry.path(), ec);
    if (removed_stale != nullptr) removed_stale->push_back(entry.path().string());
  }
  std::string path = core::StrCat(base, "/", self);
  fs::create_directories(path, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        core::StrCat("runtime dir ", path, ": cannot create: ", ec.message()));
  }
  return RuntimeDir(std::move(path));
}

RuntimeDir::RuntimeDir(RuntimeDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

RuntimeDir::~RuntimeDir() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string RuntimeDir::ShadowPath(const std::string& module, int generation) const {
  return core::StrCat(path_, "/", module, ".", generation, ".so");
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return absl::UnavailableError(core::StrCat("copy ", from, " -> ", to, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace conclave::core
