# Script mode (cmake -P), run at every build by the `conclave_build_info` target.
#  - release and fuzz: writes build_info.cc with the current commit (the binary carries it).
#    configure_file leaves the file untouched when nothing changed, so a build without a new
#    commit recompiles nothing.
#      -DSOURCE_DIR=... -DINPUT=build_info.cc.in -DOUTPUT=.../build_info.cc
#      -DPROJECT_VERSION=... -DCONCLAVE_BUILD_FLAVOR=...
#  - dev and asan (shared modules): writes only the commit, to the stamp file core reads at run
#    time (build_info_dev.cc). No source changes, so a commit, or the first edit after one,
#    leaves core and main as they are and a reload stays a reload.
#      -DSOURCE_DIR=... -DSTAMP=.../build_commit
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE CONCLAVE_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                RESULT_VARIABLE _rev_failed)
if(_rev_failed OR NOT CONCLAVE_COMMIT)
  set(CONCLAVE_COMMIT unknown)
else()
  # Tracked files changed since the commit: say so, the binary is not that commit.
  execute_process(COMMAND git diff --quiet HEAD -- WORKING_DIRECTORY ${SOURCE_DIR}
                  RESULT_VARIABLE _dirty ERROR_QUIET)
  if(_dirty EQUAL 1)
    string(APPEND CONCLAVE_COMMIT "-dirty")
  endif()
endif()
if(STAMP)
  set(_old "")
  if(EXISTS ${STAMP})
    file(READ ${STAMP} _old)
  endif()
  if(NOT _old STREQUAL "${CONCLAVE_COMMIT}\n")
    file(WRITE ${STAMP} "${CONCLAVE_COMMIT}\n")
  endif()
else()
  configure_file(${INPUT} ${OUTPUT} @ONLY)
endif()
