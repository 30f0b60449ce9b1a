// Keeping exceptions inside the subsystem that threw them: no exception crosses a module
// boundary (a hook, a handler, a command, a thread's entry), whatever its type.
#ifndef CONCLAVE_CORE_EXCEPTIONS_H_
#define CONCLAVE_CORE_EXCEPTIONS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/core/log.h"
#include "conclave/core/module.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {

// What the exception being handled says: what() for a std::exception, a fixed text for any
// other type (`throw 42;`). Call only inside a catch block.
std::string CurrentExceptionMessage();

// Runs `fn` (returning absl::Status or absl::StatusOr<T>) and turns an exception of any type
// into kInternal "<what> threw: <message>", logged as an error under `component`. For module
// hooks, which are noexcept (module.h): wrap the hook's body in it.
template <typename Fn>
auto CatchAll(std::string_view component, std::string_view what, Fn&& fn) noexcept
    -> decltype(fn()) {
  try {
    return fn();
  } catch (...) {
    std::string message = core::StrCat(what, " threw: ", CurrentExceptionMessage());
    CONCLAVE_LOG(kError, component, "{}", message);
    return absl::InternalError(message);
  }
}

// Hook adaptors for a ModuleDescriptor: `.load = &core::GuardLoad<&Load>` with `Load` a plain
// (not noexcept) function. The adaptor is the noexcept hook the host calls; an exception from
// the function becomes kInternal "<module>: <hook> hook threw: ...", logged, so a load that
// throws fails (and is rolled back) like one that returns an error.
template <absl::Status (*kHook)(ModuleContext&)>
absl::Status GuardStartup(ModuleContext& context) noexcept {
  return CatchAll(context.module_name, core::StrCat(context.module_name, ": startup hook"),
                  [&] { return kHook(context); });
}
template <absl::Status (*kHook)(ModuleContext&, std::string_view)>
absl::Status GuardLoad(ModuleContext& context, std::string_view saved) noexcept {
  return CatchAll(context.module_name, core::StrCat(context.module_name, ": load hook"),
                  [&] { return kHook(context, saved); });
}
template <absl::StatusOr<std::string> (*kHook)(ModuleContext&)>
absl::StatusOr<std::string> GuardUnload(ModuleContext& context) noexcept {
  return CatchAll(context.module_name, core::StrCat(context.module_name, ": unload hook"),
                  [&] { return kHook(context); });
}
template <absl::Status (*kHook)(ModuleContext&)>
absl::Status GuardShutdown(ModuleContext& context) noexcept {
  return CatchAll(context.module_name, core::StrCat(context.module_name, ": shutdown hook"),
                  [&] { return kHook(context); });
}

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_EXCEPTIONS_H_
