// `--check-config` for the modules' options: each module validates its own section of the raw
// config through its descriptor's `check_options` hook, without being started or loaded, so that
// a bad value is caught before an exec restart (main's preflight) instead of failing the load.
#ifndef CONCLAVE_CORE_MODULE_OPTIONS_H_
#define CONCLAVE_CORE_MODULE_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/core/module_host.h"
#include "conclave/core/options.h"

namespace conclave::core {

// Runs `check_options` of every module `options` names: the static table (release), or each
// `<module_dir>/libconclave_<name>.so`, opened with RTLD_LOCAL and in the listed order, no hook
// but check_options called (dev; the libraries stay mapped: call it in a process that exits
// next). Returns the unknown-key warnings (UnknownKeyWarnings, config_sections.h), or the first
// module's kInvalidArgument naming the key, or kFailedPrecondition for a library that cannot be
// opened.
absl::StatusOr<std::vector<std::string>> CheckModuleOptions(const ModuleHostOptions& options,
                                                            const RawConfig& raw);

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_MODULE_OPTIONS_H_
