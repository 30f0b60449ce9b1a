// Facts about this build, for `--version` and `server build-info`.
#ifndef CONCLAVE_CORE_BUILD_INFO_H_
#define CONCLAVE_CORE_BUILD_INFO_H_

#include <string_view>

namespace conclave::core {

std::string_view Version();     // e.g. "0.1.0"
// The git commit built, with "-dirty" when tracked files differed from it, or "unknown".
// Release: stamped into the binary at build time. Dev (shared modules): read at the first call
// from the build tree's stamp, i.e. the commit of the last build before the process started.
std::string_view Commit();
std::string_view BuildType();   // "dev", "release" or "asan"
std::string_view Compiler();    // e.g. "gcc 12.2.0"

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_BUILD_INFO_H_
