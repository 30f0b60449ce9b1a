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
    <functional>
    <map>
    <memory>
    <mutex>
    <optional>
    <string>
    <string_view>
    <vector>)
endfunction()
