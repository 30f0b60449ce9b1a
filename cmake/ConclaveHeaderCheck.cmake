# conclave_header_check(SUBSYSTEMS core database ...)
#
# Self-contained public headers (issue 10; STYLE.md "each public header compiles on its own",
# after Seastar's checkheaders): for every header under src/<sub>/include, one generated
# translation unit that includes only that header, compiled in an OBJECT library
# `conclave_header_check_<sub>` that links `conclave::<sub>` and nothing else. A header that
# needs an include it does not have, or a header of a subsystem it does not link (a layering
# violation), fails that TU. `conclave_header_check` builds them all; it is part of `all`, so
# the dev workflow (build preset dev-tests) runs it, but not the dev loop's build preset.
function(conclave_header_check)
  cmake_parse_arguments(ARG "" "" "SUBSYSTEMS" ${ARGN})
  add_custom_target(conclave_header_check ALL)
  foreach(sub ${ARG_SUBSYSTEMS})
    set(include_dir ${CMAKE_SOURCE_DIR}/src/${sub}/include)
    # No CONFIGURE_DEPENDS: it would re-glob at every build, the dev loop's included; a new
    # public header is checked from the next configure on.
    file(GLOB_RECURSE headers RELATIVE ${include_dir} ${include_dir}/*.h)
    set(sources "")
    foreach(header ${headers})
      string(REGEX REPLACE "[/.]" "_" stem ${header})
      set(tu ${CMAKE_BINARY_DIR}/header_check/${sub}/${stem}.cc)
      # file(CONFIGURE) rewrites the file only when its content changes: no rebuild otherwise.
      file(CONFIGURE OUTPUT ${tu} CONTENT "#include \"${header}\"  // and nothing else\n")
      list(APPEND sources ${tu})
    endforeach()
    if(sources)
      add_library(conclave_header_check_${sub} OBJECT ${sources})
      target_link_libraries(conclave_header_check_${sub} PRIVATE conclave::${sub})
      add_dependencies(conclave_header_check conclave_header_check_${sub})
    endif()
  endforeach()
endfunction()
