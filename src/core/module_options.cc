#include "conclave/core/module_options.h"

#include <dlfcn.h>

#include <algorithm>

#include "conclave/core/config_sections.h"
#include "conclave/core/module.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

absl::StatusOr<ModuleEntry> OpenEntry(const std::string& dir, const std::string& name) {
  const std::string path = core::StrCat(dir, "/libconclave_", name, ".so");
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::FailedPreconditionError(core::StrCat("cannot open ", path, ": ", dlerror()));
  }
  void* entry = dlsym(handle, core::StrCat("conclave_module_", name).c_str());
  if (entry == nullptr) {
    return absl::FailedPreconditionError(core::StrCat(path, ": no entry symbol"));
  }
  return reinterpret_cast<ModuleEntry>(entry);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CheckModuleOptions(const ModuleHostOptions& options,
                                                            const RawConfig& raw) {
  std::vector<ModuleEntry> entries;
  if (options.dynamic) {
    for (const std::string& name : options.modules) {
      auto entry = OpenEntry(options.module_dir, name);
      if (!entry.ok()) return entry.status();
      entries.push_back(*entry);
    }
  } else {
    for (const StaticModule& m : options.static_modules) entries.push_back(m.entry);
  }
  std::vector<std::string> keys;
  for (ModuleEntry entry : entries) {
    const ModuleDescriptor* d = entry();
    // A module built against another interface must not be asked: its descriptor may differ.
    if (d == nullptr || d->abi_fingerprint == nullptr ||
        std::string_view(d->abi_fingerprint) != CONCLAVE_ABI_FINGERPRINT) {
      return absl::FailedPreconditionError(
          core::StrCat("module ", d != nullptr && d->name != nullptr ? d->name : "?",
                       " was built with another ABI"));
    }
    if (d->check_options == nullptr) continue;
    if (absl::Status s = d->check_options(raw, &keys); !s.ok()) return s;
  }
  return UnknownKeyWarnings(raw, [&](std::string_view key) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  });
}

}  // namespace conclave::core
