# Third-party dependencies as INTERFACE targets `conclave_dep::<name>`.
#
# dev/asan link Debian's shared libraries (one copy per process, shared by the modules);
# release links Debian's static archives so the binary needs nothing beyond glibc.
# deps/README.md says what each one is for.

set(CONCLAVE_LIBDIR /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE})

find_package(Threads REQUIRED)
find_package(absl REQUIRED CONFIG)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS json)
find_package(GTest REQUIRED CONFIG)

function(conclave_static_archive out name)
  find_file(${out} NAMES lib${name}.a PATHS ${CONCLAVE_LIBDIR} NO_DEFAULT_PATH REQUIRED)
endfunction()

add_library(conclave_dep_absl INTERFACE)
add_library(conclave_dep::absl ALIAS conclave_dep_absl)
add_library(conclave_dep_rocksdb INTERFACE)
add_library(conclave_dep::rocksdb ALIAS conclave_dep_rocksdb)
add_library(conclave_dep_boost_json INTERFACE)
add_library(conclave_dep::boost_json ALIAS conclave_dep_boost_json)
add_library(conclave_dep_jemalloc INTERFACE)
add_library(conclave_dep::jemalloc ALIAS conclave_dep_jemalloc)
add_library(conclave_dep_argon2 INTERFACE)
add_library(conclave_dep::argon2 ALIAS conclave_dep_argon2)
add_library(conclave_dep_crypto INTERFACE)
add_library(conclave_dep::crypto ALIAS conclave_dep_crypto)
# OpenSSL's TLS (core's outbound HTTP client); libcrypto comes with it.
add_library(conclave_dep_ssl INTERFACE)
add_library(conclave_dep::ssl ALIAS conclave_dep_ssl)
# libresolv (glibc's DNS resolver library: SRV lookups of federation's server discovery,
# service/federation/server_discovery.cc): part of libc6-dev, shared in dev, static in release.
add_library(conclave_dep_resolv INTERFACE)
add_library(conclave_dep::resolv ALIAS conclave_dep_resolv)
# libvips (media thumbnails): shared in every preset, release included. Debian has no static
# libvips nor static archives for most of its chain (deps/README.md says why this is the choice).
find_package(PkgConfig REQUIRED)
pkg_check_modules(CONCLAVE_VIPS REQUIRED IMPORTED_TARGET vips)
add_library(conclave_dep_vips INTERFACE)
add_library(conclave_dep::vips ALIAS conclave_dep_vips)
target_link_libraries(conclave_dep_vips INTERFACE PkgConfig::CONCLAVE_VIPS)
# libxml2's HTML parser (media's URL previews): shared in every preset too, because libvips
# already loads libxml2.so and a process must hold one copy of a library.
pkg_check_modules(CONCLAVE_XML2 REQUIRED IMPORTED_TARGET libxml-2.0)
add_library(conclave_dep_xml2 INTERFACE)
add_library(conclave_dep::xml2 ALIAS conclave_dep_xml2)
target_link_libraries(conclave_dep_xml2 INTERFACE PkgConfig::CONCLAVE_XML2)
# Xapian (the search index, src/service/search/xapian_index.cc only): shared in every preset,
# release included. Debian ships no static libxapian (deps/README.md says why this is the choice).
pkg_check_modules(CONCLAVE_XAPIAN REQUIRED IMPORTED_TARGET xapian-core)
add_library(conclave_dep_xapian INTERFACE)
add_library(conclave_dep::xapian ALIAS conclave_dep_xapian)
target_link_libraries(conclave_dep_xapian INTERFACE PkgConfig::CONCLAVE_XAPIAN)
# Header-only libraries.
add_library(conclave_dep_headers INTERFACE)
add_library(conclave_dep::headers ALIAS conclave_dep_headers)
# toml++ header-only (TOML_HEADER_ONLY in config.cc): its compiled library would be a shared
# dependency of the release binary.
target_link_libraries(conclave_dep_headers INTERFACE Boost::headers)

if(CONCLAVE_SHARED_MODULES)
  target_link_libraries(conclave_dep_absl INTERFACE
    absl::status absl::statusor absl::strings absl::str_format absl::time absl::synchronization
    absl::flat_hash_map absl::hash absl::random_random absl::cleanup)
  target_link_libraries(conclave_dep_rocksdb INTERFACE ${CONCLAVE_LIBDIR}/librocksdb.so)
  target_link_libraries(conclave_dep_boost_json INTERFACE Boost::json)
  target_link_libraries(conclave_dep_jemalloc INTERFACE ${CONCLAVE_LIBDIR}/libjemalloc.so)
  target_link_libraries(conclave_dep_argon2 INTERFACE ${CONCLAVE_LIBDIR}/libargon2.so)
  target_link_libraries(conclave_dep_crypto INTERFACE ${CONCLAVE_LIBDIR}/libcrypto.so)
  target_link_libraries(conclave_dep_ssl INTERFACE ${CONCLAVE_LIBDIR}/libssl.so conclave_dep_crypto)
  target_link_libraries(conclave_dep_resolv INTERFACE resolv)
else()
  # Abseil's archives depend on each other in an order its CMake files only give for the shared
  # build; a link group resolves them in any order.
  file(GLOB _absl_archives ${CONCLAVE_LIBDIR}/libabsl_*.a)
  target_include_directories(conclave_dep_absl SYSTEM INTERFACE /usr/include)
  target_link_libraries(conclave_dep_absl INTERFACE
    "-Wl,--start-group" ${_absl_archives} "-Wl,--end-group")
  foreach(_lib rocksdb snappy lz4 zstd bz2 z gflags uring boost_json jemalloc argon2
           crypto ssl)
    conclave_static_archive(CONCLAVE_A_${_lib} ${_lib})
  endforeach()
  target_link_libraries(conclave_dep_rocksdb INTERFACE
    ${CONCLAVE_A_rocksdb} ${CONCLAVE_A_snappy} ${CONCLAVE_A_lz4} ${CONCLAVE_A_zstd}
    ${CONCLAVE_A_bz2} ${CONCLAVE_A_z} ${CONCLAVE_A_gflags} ${CONCLAVE_A_uring} Threads::Threads)
  target_link_libraries(conclave_dep_boost_json INTERFACE Boost::headers ${CONCLAVE_A_boost_json})
  target_link_libraries(conclave_dep_jemalloc INTERFACE ${CONCLAVE_A_jemalloc} Threads::Threads
    ${CMAKE_DL_LIBS} m)
  target_link_libraries(conclave_dep_argon2 INTERFACE ${CONCLAVE_A_argon2} Threads::Threads)
  target_link_libraries(conclave_dep_crypto INTERFACE ${CONCLAVE_A_crypto} Threads::Threads
    ${CMAKE_DL_LIBS})
  target_link_libraries(conclave_dep_ssl INTERFACE ${CONCLAVE_A_ssl} conclave_dep_crypto)
  target_link_libraries(conclave_dep_resolv INTERFACE ${CONCLAVE_LIBDIR}/libresolv.a)
endif()
