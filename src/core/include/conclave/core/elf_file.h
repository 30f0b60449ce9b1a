// Reads what the module host needs from an ELF shared object on disk or in memory: the GNU build
// id, SONAME, DT_NEEDED entries and STB_GNU_UNIQUE symbols. Thread-compatible free functions.
#ifndef CONCLAVE_CORE_ELF_FILE_H_
#define CONCLAVE_CORE_ELF_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace conclave::core {

struct ElfInfo {
  std::string build_id;  // lowercase hex of NT_GNU_BUILD_ID, empty if none
  std::string soname;
  std::vector<std::string> needed;  // DT_NEEDED, in order
  // Defined dynamic symbols with STB_GNU_UNIQUE binding (glibc never unloads such a library).
  std::vector<std::string> unique_symbols;
  uint64_t file_size = 0;
};

// Parses the 64-bit ELF file at `path`. Returns kNotFound if missing, kUnavailable if the file is
// truncated (a linker still writing it), kInvalidArgument if it is not a 64-bit ELF object.
absl::StatusOr<ElfInfo> ReadElfFile(const std::string& path);

// Returns the build id of an object already loaded in this process, found by `path` (as in the
// link map; empty = the main executable). kNotFound if not loaded or without a build id.
absl::StatusOr<std::string> LoadedBuildId(const std::string& path);

// Returns the path of the loaded object that contains `address` (e.g. a function of core).
absl::StatusOr<std::string> LoadedObjectPath(const void* address);

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_ELF_FILE_H_
