# Compiler and linker flags shared by every conclave target.

add_compile_options(-Wall -Wextra -Wno-unused-parameter)
# fmt is compiled once, in core (src/core/fmt_impl.cc), for every preset: Debian ships no static
# libfmt and release links no third-party shared library, and one mode everywhere keeps one ABI
# (no FMT_HEADER_ONLY here, no -lfmt anywhere: a TU in header-only mode would define inline what
# core defines out of line). spdlog is not used (core/log.cc writes the lines itself).
# Every ELF output gets a GNU build id: the module host compares them to detect changes.
add_link_options(-Wl,--build-id=sha1)

if(CONCLAVE_SHARED_MODULES)
  # g++ makes STB_GNU_UNIQUE symbols of static locals in inline functions and template statics;
  # glibc never unloads a library holding one. Modules must be unloadable (DESIGN.md section 4).
  add_compile_options(-fno-gnu-unique)
  # Debug info in a .dwo file beside each object: the compiler writes less and the linker copies
  # only line tables and skeletons into the libraries (an api source compiles ~0.3 s faster).
  # gdb reads the .dwo files from the build tree, which must still hold the same build
  # (docs/hot-reload.md, "Debugging").
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-gsplit-dwarf)
  endif()
  set(CMAKE_POSITION_INDEPENDENT_CODE ON)
  # A rebuilt libconclave_core.so does not relink the modules and executables that link it: the
  # link would write the same bytes (a shared library is resolved at load time), only later.
  # Their own objects changing still relinks them.
  set(CMAKE_LINK_DEPENDS_NO_SHARED ON)
  # LLVM's linker (Debian package lld), when installed: it links libconclave_api.so in 0.3-0.4 s
  # where GNU ld takes 1.0-1.5 s (2 busy cores), and writes the output to a temporary file
  # renamed into place, so a watcher never sees it half written. ld.lld is the name that
  # `g++ -fuse-ld=lld` runs.
  find_program(CONCLAVE_LLD NAMES ld.lld)
  if(CONCLAVE_LLD)
    add_link_options(-fuse-ld=lld)
  endif()
  # Every compile and link step runs through conclave_launcher.sh, which records a failed step in
  # <build dir>/.conclave-build-failed for watch mode (src/main/watcher.h). ccache, when the
  # preset names it, still runs the compiler and sees the same command line.
  set(_launcher ${CMAKE_SOURCE_DIR}/cmake/conclave_launcher.sh
      ${CMAKE_BINARY_DIR}/.conclave-build-failed)
  set(CMAKE_C_COMPILER_LAUNCHER ${_launcher} ${CMAKE_C_COMPILER_LAUNCHER})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${_launcher} ${CMAKE_CXX_COMPILER_LAUNCHER})
  set(CMAKE_C_LINKER_LAUNCHER ${_launcher})
  set(CMAKE_CXX_LINKER_LAUNCHER ${_launcher})
  # Find libconclave_core.so next to the binary without LD_LIBRARY_PATH.
  set(CMAKE_BUILD_RPATH "${CMAKE_BINARY_DIR}/lib")
  set(CMAKE_INSTALL_RPATH "$ORIGIN/../lib")
else()
  # One static binary: libstdc++ and libgcc linked in, glibc stays dynamic.
  add_link_options(-static-libstdc++ -static-libgcc)
endif()

if(CONCLAVE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# The release binary: link-time optimization of conclave's own code (Debian's archives are plain
# objects) and full debug info, which bin/conclave.debug keeps after the binary is stripped
# (src/main/CMakeLists.txt). Objects are "fat" (machine code beside the LTO bytecode), so the
# test executables link them without paying for LTO; only bin/conclave links with -flto.
if(NOT CONCLAVE_SHARED_MODULES AND NOT CONCLAVE_SANITIZE AND CMAKE_BUILD_TYPE STREQUAL "Release"
   AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set(CONCLAVE_LTO ON)
  add_compile_options(-g -flto=auto -ffat-lto-objects)
endif()
