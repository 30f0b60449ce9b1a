// Facts about this build, for `--version` and `server build-info`.
#ifndef CONCLAVE_CORE_BUILD_INFO_H_
#define CONCLAVE_CORE_BUILD_INFO_H_

#include <string_view>

namespace conclave::core {

std::string_view Version();     // e.g. "0.1.0"
std::string_view Commit();      // git commit at configure time, or "unknown"
std::string_view BuildType();   // "dev", "release" or "asan"
std::string_view Compiler();    // e.g. "gcc 12.2.0"

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_BUILD_INFO_H_
