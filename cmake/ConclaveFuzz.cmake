# The fuzz build (CONCLAVE_FUZZ=ON; the `fuzz` preset): the libFuzzer targets of tests/fuzz and
# only the libraries they link (core, database, service, admin, all static), built with clang,
# libFuzzer's coverage instrumentation, AddressSanitizer and UBSan. tests/fuzz/README.md says how
# to run them.
#
# Every object gets `-fsanitize=fuzzer-no-link,address,undefined` (instrumented, no libFuzzer
# main); the fuzzer executables link with `-fsanitize=fuzzer,address,undefined`
# (CONCLAVE_FUZZ_LINK_OPTIONS), which brings libFuzzer's main. UB is fatal
# (-fno-sanitize-recover) so that the fuzzer stops on it like on a crash. UBSan's `function` check
# is left out: clang 14 cannot emit its prologue data for coroutines (http_server.cc fails with
# "Cannot represent a difference across sections").

if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "CONCLAVE_FUZZ needs clang and libFuzzer: use `cmake --preset fuzz` "
                      "(clang++-14), not ${CMAKE_CXX_COMPILER_ID}")
endif()
if(CONCLAVE_SHARED_MODULES OR CONCLAVE_SANITIZE)
  message(FATAL_ERROR "CONCLAVE_FUZZ builds static libraries with its own sanitizers: "
                      "turn CONCLAVE_SHARED_MODULES and CONCLAVE_SANITIZE off")
endif()

# -O1 as libFuzzer's documentation advises (fast enough, still debuggable); line tables are all
# the sanitizers' stack traces need and keep objects and links small on CI's 2 cores.
add_compile_options(-O1 -gline-tables-only -fno-omit-frame-pointer
                    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function
                    -fno-sanitize-recover=undefined)
set(CONCLAVE_FUZZ_LINK_OPTIONS -fsanitize=fuzzer,address,undefined)

# Clang's lock checking of Abseil's annotations (ABSL_GUARDED_BY and friends in core): the fuzz
# build is the clang build, and builds warning-free with it.
add_compile_options(-Wthread-safety)
