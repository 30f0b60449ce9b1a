// RuntimeDir: the per-process directory that holds shadow copies of modules.
#ifndef CONCLAVE_CORE_RUNTIME_DIR_H_
#define CONCLAVE_CORE_RUNTIME_DIR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace conclave::core {

// `<base>/<pid>/`. Create() removes directories of processes that no longer exist (and an old one
// of this very pid, left by the image before an exec restart); the destructor removes its own.
// Thread-compatible.
class RuntimeDir {
 public:
  // `base` empty: $XDG_RUNTIME_DIR/conclave, else /tmp/conclave-<uid>. Returns kInternal or
  // kPermissionDenied if the directory cannot be made. `removed_stale`, if not null, receives the
  // stale directories removed.
  static absl::StatusOr<RuntimeDir> Create(std::string base,
                                           std::vector<std::string>* removed_stale = nullptr);
  RuntimeDir(RuntimeDir&& other) noexcept;
  RuntimeDir& operator=(RuntimeDir&&) = delete;
  ~RuntimeDir();

  const std::string& path() const { return path_; }
  // Path of a shadow copy: `<dir>/<module>.<generation>.so`.
  std::string ShadowPath(const std::string& module, int generation) const;

 private:
  explicit RuntimeDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Copies `from` to `to` (overwriting). kUnavailable with the cause on I/O error.
absl::Status CopyFile(const std::string& from, const std::string& to);

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_RUNTIME_DIR_H_
