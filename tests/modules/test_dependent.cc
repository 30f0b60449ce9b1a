// A module that depends on `tmod` (links it, so the host sees the edge in DT_NEEDED).
#include <string>
#include <vector>

#include "conclave/core/exceptions.h"
#include "conclave/core/module.h"
#include "conclave/core/server.h"
#include "conclave/core/str_cat.h"

extern "C" int tmod_version();

namespace {

void Record(conclave::core::Server& server, std::string event) {
  auto events = server.parking().Find<std::vector<std::string>>("test.events", "events/v1");
  if (events.ok()) (*events)->push_back(std::move(event));
}

absl::Status Load(conclave::core::ModuleContext& context, std::string_view) {
  Record(context.server, conclave::core::StrCat("tdep:load:sees-tmod-", tmod_version()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> Unload(conclave::core::ModuleContext& context) {
  Record(context.server, "tdep:unload");
  return std::string();
}

constexpr const char* kDependencies[] = {"tmod", nullptr};

}  // namespace

extern "C" const conclave::core::ModuleDescriptor* conclave_module_tdep() noexcept {
  static const conclave::core::ModuleDescriptor descriptor{
      .abi_fingerprint = CONCLAVE_ABI_FINGERPRINT,
      .name = "tdep",
      .dependencies = kDependencies,
      .load = &conclave::core::GuardLoad<&Load>,
      .unload = &conclave::core::GuardUnload<&Unload>,
  };
  return &descriptor;
}
