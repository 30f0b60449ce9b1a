// dlopen/dlclose with the checks the module host needs. Private to core.
#ifndef CONCLAVE_CORE_SHARED_LIBRARY_H_
#define CONCLAVE_CORE_SHARED_LIBRARY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace conclave::core::internal {

// dlopen(`path`, RTLD_NOW | RTLD_GLOBAL). kFailedPrecondition with dlerror() (e.g. an undefined
// symbol) on failure.
absl::StatusOr<void*> OpenLibrary(const std::string& path);

// dlsym. kNotFound naming `symbol` if absent.
absl::StatusOr<void*> FindSymbol(void* handle, const std::string& symbol, const std::string& path);

// dlclose(`handle`), then checks that `path` is no longer mapped (dlopen RTLD_NOLOAD and the link
// map). kFailedPrecondition with the likely cause (STB_GNU_UNIQUE symbols, another object that
// still needs it) if it stays.
absl::Status CloseAndVerify(void* handle, const std::string& path);

// True if `path` is in this process's link map.
bool IsMapped(const std::string& path);

// Loads the third-party libraries `sonames` (if not yet loaded) and marks them RTLD_NODELETE:
// unloading the last module that needed them must not unmap code that parked state still uses,
// and loading them before the module keeps them from binding to the module's symbols.
void PinLibraries(const std::vector<std::string>& sonames);

}  // namespace conclave::core::internal

#endif  // CONCLAVE_CORE_SHARED_LIBRARY_H_
