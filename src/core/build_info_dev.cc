// build_info for dev builds (CONCLAVE_SHARED_MODULES): nothing here changes with the commit.
//
// The commit is read at run time from the stamp file the build rewrites at every build
// (cmake/ConclaveBuildInfo.cmake, CONCLAVE_BUILD_STAMP names it). Compiled in, as release does,
// the first edit after a commit would turn `<sha>` into `<sha>-dirty`, recompile core, relink
// every module and make the next reload an exec restart instead of reloading one module.
#include <fstream>
#include <string>

#include "conclave/core/build_info.h"

namespace conclave::core {
namespace {

std::string ReadStamp() {
  std::ifstream in(CONCLAVE_BUILD_STAMP);
  std::string commit;
  if (!(in >> commit)) return "unknown";
  return commit;
}

}  // namespace

std::string_view Version() { return CONCLAVE_VERSION; }
std::string_view Commit() {
  // Read once: the commit of the build tree's last build before the first call (start-up).
  static const std::string commit = ReadStamp();
  return commit;
}
std::string_view BuildType() { return CONCLAVE_BUILD_FLAVOR; }
std::string_view Compiler() { return "gcc " __VERSION__; }

}  // namespace conclave::core
