#include "shared_library.h"

#include <dlfcn.h>
#include <link.h>

#include "conclave/core/str_cat.h"
#include "absl/strings/str_join.h"
#include "conclave/core/elf_file.h"

namespace conclave::core::internal {

absl::StatusOr<void*> OpenLibrary(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    return absl::FailedPreconditionError(core::StrCat("dlopen: ", error ? error : path));
  }
  return handle;
}

absl::StatusOr<void*> FindSymbol(void* handle, const std::string& symbol, const std::string& path) {
  dlerror();
  void* address = dlsym(handle, symbol.c_str());
  if (address == nullptr) {
    return absl::NotFoundError(core::StrCat(path, ": no entry symbol ", symbol));
  }
  return address;
}

bool IsMapped(const std::string& path) {
  struct Search {
    const std::string* path;
    bool found = false;
  } search{&path};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* arg) {
        auto* s = static_cast<Search*>(arg);
        if (info->dlpi_name != nullptr && *s->path == info->dlpi_name) s->found = true;
        return s->found ? 1 : 0;
      },
      &search);
  return search.found;
}

absl::Status CloseAndVerify(void* handle, const std::string& path) {
  if (dlclose(handle) != 0) {
    const char* error = dlerror();
    return absl::InternalError(core::StrCat("dlclose ", path, ": ", error ? error : "failed"));
  }
  void* again = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (again != nullptr) dlclose(again);
  if (again == nullptr && !IsMapped(path)) return absl::OkStatus();

  std::string cause = "it is still referenced (another loaded library needs it, or a thread_local "
                      "destructor is pending)";
  if (auto elf = ReadElfFile(path); elf.ok() && !elf->unique_symbols.empty()) {
    std::vector<std::string> some(elf->unique_symbols.begin(),
                                  elf->unique_symbols.begin() +
                                      std::min<size_t>(3, elf->unique_symbols.size()));
    cause = core::StrCat("it has ", elf->unique_symbols.size(),
                         " STB_GNU_UNIQUE symbols (e.g. ", absl::StrJoin(some, ", "),
                         "), which glibc never unloads; build it with -fno-gnu-unique");
  }
  return absl::FailedPreconditionError(
      core::StrCat(path, " stayed mapped after dlclose: ", cause));
}

void PinLibraries(const std::vector<std::string>& sonames) {
  for (const auto& soname : sonames) {
    // Found by the normal search (their SONAMEs are on the system path, or already loaded).
    void* handle = dlopen(soname.c_str(), RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    if (handle != nullptr) dlclose(handle);
  }
}

}  // namespace conclave::core::internal
