# conclave_precompile_third_party(target)
#
# Dev builds (CONCLAVE_SHARED_MODULES): precompiles the heavy third-party headers every source of
# `target` reaches through conclave's public headers — Boost.JSON, fmt's declarations (its
# implementation is compiled once, in core: src/core/fmt_impl.cc), Abseil's status and time, the
# common standard headers — once per target, instead of parsing them in each translation unit
# (an api source reached ~880 headers, 180k preprocessed lines). The PCH is built with the
# target's own flags, -fno-gnu-unique included. ccache reuses PCH builds only with
# `sloppiness = pch_defines,time_macros`, which cmake/conclave_launcher.sh sets for every step.
# Release keeps plain compiles: its objects are built once per release, not once per edit.
function(conclave_precompile_third_party target)
  if(NOT CONCLAVE_SHARED_MODULES)
    return()
  endif()
  target_precompile_headers(${target} PRIVATE
    <boost/json.hpp>
    <fmt/format.h>
    <absl/status/status.h>
    <absl/status/statusor.h>
    <absl/time/time.h>
    <absl/container/flat_hash_map.h>
    <absl/synchronization/mutex.h>
    <functional>
    <map>
    <memory>
    <mutex>
    <optional>
    <string>
    <string_view>
    <vector>)
endfunction()

# conclave_precompile_own_headers(target header...)
#
# Dev builds: adds conclave headers that most sources of `target` include, and that change far
# less often than those sources, to the target's precompiled header (after the third-party ones).
# An api handler includes routes.h, which brings core's HTTP types, the Homeserver and the
# service interfaces it calls: parsing them took more CPU than compiling the handler itself
# (bench/README.md, bench/devloop). Editing one of these headers rebuilds the PCH (a few
# seconds) before the target's sources, which include it anyway. Release, which has no PCH,
# still checks that each source includes what it uses.
function(conclave_precompile_own_headers target)
  if(NOT CONCLAVE_SHARED_MODULES)
    return()
  endif()
  target_precompile_headers(${target} PRIVATE ${ARGN})
endfunction()
