// A module built in several variants (TMOD_VARIANT) to drive every path of the module host:
// good builds of two versions, a load hook that fails, one that throws, a wrong ABI fingerprint,
// an undefined symbol, a module that refuses reload, and one with an STB_GNU_UNIQUE symbol.
//
// It records what its hooks do into a vector the test parks under "test.events", serves GET
// /tmod with its version, so a test can see which code answers, and GET /tmod/throw and an admin
// command processor that throw an int (no std::exception), so a test can see that nothing
// escapes.
#include <string>
#include <vector>

#include "conclave/core/command_slot.h"
#include "conclave/core/exceptions.h"
#include "conclave/core/http.h"
#include "conclave/core/module.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"

#ifndef TMOD_VERSION
#define TMOD_VERSION 1
#endif

#if defined(TMOD_MISSING_SYMBOL)
extern "C" int conclave_test_symbol_that_does_not_exist();
#endif

#if defined(TMOD_UNIQUE)
// g++ makes the static local of an inline function with external linkage an STB_GNU_UNIQUE
// symbol (built here without -fno-gnu-unique on purpose). Outside the anonymous namespace: with
// internal linkage it would be a plain local symbol, and the test would depend on whichever
// library symbols (fmt's tables, say) happened to be unique in this build and in no library
// loaded before it.
namespace tmod_unique {
inline int& LoadCount() {
  static int count = 0;
  return count;
}
}  // namespace tmod_unique
#endif

namespace {

conclave::core::RouteHandle* g_route = nullptr;
conclave::core::RouteHandle* g_throwing_route = nullptr;
conclave::core::CommandHandle* g_commands = nullptr;
conclave::core::Server* g_server = nullptr;

void Record(conclave::core::Server& server, std::string event) {
  auto events = server.parking().Find<std::vector<std::string>>("test.events", "events/v1");
  if (events.ok()) (*events)->push_back(std::move(event));
}

absl::Status Startup(conclave::core::ModuleContext& context) {
  Record(context.server, "tmod:startup");
  return absl::OkStatus();
}

absl::Status Load(conclave::core::ModuleContext& context, std::string_view saved) {
#if defined(TMOD_MISSING_SYMBOL)
  conclave_test_symbol_that_does_not_exist();
#endif
#if defined(TMOD_UNIQUE)
  ++tmod_unique::LoadCount();
#endif
  Record(context.server, conclave::core::StrCat("tmod:load:", TMOD_VERSION, ":", saved));
#if defined(TMOD_FAIL_LOAD)
  return absl::InternalError("tmod refuses to load (test variant)");
#endif
#if defined(TMOD_THROW_LOAD)
  throw 42;
#endif
  g_server = &context.server;
  CONCLAVE_ASSIGN_OR_RETURN(auto route,
                            context.server.router().Add(
                                context.module_name, "GET", "/tmod", [](conclave::core::Request&) {
                                  return conclave::core::Response{
                                      200, "text/plain", std::to_string(TMOD_VERSION), {}, {}};
                                }));
  g_route = new conclave::core::RouteHandle(std::move(route));
  CONCLAVE_ASSIGN_OR_RETURN(
      auto throwing, context.server.router().Add(
                         context.module_name, "GET", "/tmod/throw",
                         [](conclave::core::Request&) -> conclave::core::Response { throw 42; }));
  g_throwing_route = new conclave::core::RouteHandle(std::move(throwing));
  CONCLAVE_ASSIGN_OR_RETURN(
      auto commands, context.server.commands().Install(
                         [](const conclave::core::CommandRequest&)
                             -> absl::StatusOr<conclave::core::CommandOutput> { throw 42; }));
  g_commands = new conclave::core::CommandHandle(std::move(commands));
  return absl::OkStatus();
}

absl::StatusOr<std::string> Unload(conclave::core::ModuleContext& context) {
  Record(context.server, "tmod:unload");
  delete g_commands;
  g_commands = nullptr;
  delete g_throwing_route;
  g_throwing_route = nullptr;
  delete g_route;
  g_route = nullptr;
  return conclave::core::StrCat("state-from-v", TMOD_VERSION);
}

absl::Status Shutdown(conclave::core::ModuleContext& context) {
  Record(context.server, "tmod:shutdown");
  return absl::OkStatus();
}

constexpr const char* kNoDependencies[] = {nullptr};

}  // namespace

// Called by the dependent test module, so that its dependency is a real link.
extern "C" int tmod_version() { return TMOD_VERSION; }

extern "C" const conclave::core::ModuleDescriptor* conclave_module_tmod() noexcept {
  static const conclave::core::ModuleDescriptor descriptor {
#if defined(TMOD_BAD_FINGERPRINT)
    .abi_fingerprint = "gcc 0.0 (a different compiler);cxx11abi=0",
#else
    .abi_fingerprint = CONCLAVE_ABI_FINGERPRINT,
#endif
    .name = "tmod", .dependencies = kNoDependencies,
#if defined(TMOD_REFUSE_RELOAD)
    .reloadable = false,
#else
    .reloadable = true,
#endif
    .startup = &conclave::core::GuardStartup<&Startup>, .load = &conclave::core::GuardLoad<&Load>,
    .unload = &conclave::core::GuardUnload<&Unload>,
    .shutdown = &conclave::core::GuardShutdown<&Shutdown>,
  };
  return &descriptor;
}
