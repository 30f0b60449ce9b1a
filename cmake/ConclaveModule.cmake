# conclave_subsystem(NAME SOURCES... [MODULE] [DEPENDS targets...])
#
# Declares the CMake target `conclave_<name>` (alias `conclave::<name>`) for one subsystem under
# src/<name>, with public headers in src/<name>/include.
#   - MODULE subsystems are reloadable: in dev they are shared libraries
#     `lib/libconclave_<name>.so` with SONAME `libconclave_<name>.so` (the module host matches
#     dependencies between shadow copies by SONAME); in release static libraries.
#   - core is shared in dev (one copy, permanent) and static in release.
# Every target of a MODULE subsystem gets CONCLAVE_MODULE_NAME="<name>".
function(conclave_subsystem name)
  cmake_parse_arguments(ARG "MODULE" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  if(CONCLAVE_SHARED_MODULES)
    add_library(conclave_${name} SHARED ${ARG_SOURCES})
  else()
    add_library(conclave_${name} STATIC ${ARG_SOURCES})
  endif()
  add_library(conclave::${name} ALIAS conclave_${name})
  target_include_directories(conclave_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>)
  target_include_directories(conclave_${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(conclave_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  if(ARG_MODULE)
    target_compile_definitions(conclave_${name} PRIVATE CONCLAVE_MODULE_NAME="${name}")
    if(CONCLAVE_SHARED_MODULES)
      # A module binds its own definitions to itself. Modules are dlopened RTLD_GLOBAL, so
      # without this a later module's calls to an inline or template function (say
      # std::initializer_list<std::string>::begin) bind to the copy in an earlier module, and
      # glibc then keeps that earlier module mapped after its dlclose: it could never reload.
      target_link_options(conclave_${name} PRIVATE -Wl,-Bsymbolic)
    endif()
    set_property(GLOBAL APPEND PROPERTY CONCLAVE_MODULES ${name})
  endif()
endfunction()
