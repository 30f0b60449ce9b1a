#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and benchmarking conclave need.
# Idempotent: packages already present are left alone. Needs root (or sudo).
# deps/README.md says what each package is for.
set -euo pipefail

packages=(
  # Toolchain and build
  build-essential cmake ninja-build ccache pkg-config git binutils
  # The dev and asan presets' linker (optional: GNU ld when it is missing)
  lld
  # Storage: RocksDB and the compression libraries its static archive needs
  librocksdb-dev libsnappy-dev liblz4-dev libzstd-dev libbz2-dev zlib1g-dev liburing-dev
  libgflags-dev
  # Core libraries
  libabsl-dev libboost1.81-dev libboost-json1.81-dev libjemalloc-dev libtomlplusplus-dev
  libcli11-dev libfmt-dev libargon2-dev libssl-dev
  # Media thumbnails (src/media/thumbnailer.cc); linked dynamically in every preset
  libvips-dev
  # URL previews' HTML parser (src/media/opengraph.cc); dynamic, the copy libvips loads
  libxml2-dev
  # Full-text search (src/service/search/xapian_index.cc); linked dynamically in every preset
  libxapian-dev
  # Tests and benchmarks
  libgtest-dev libgmock-dev python3-matrix-nio python3-olm wrk curl procps
  # The openssl command: tests make self-signed certificates (the TLS listener, https client)
  openssl
  # bench/http compares against nginx; systemd_test runs `systemd-analyze verify` on dist/
  nginx-light systemd
  # bench/media makes its 4000x3000 test JPEGs with the `vips` command
  libvips-tools
  # Fuzzing (the fuzz preset): clang with libFuzzer and the sanitizer runtimes, llvm-symbolizer
  clang-14 libclang-rt-14-dev llvm-14
)

# npm, only to install tests/integration/js's packages (matrix-js-sdk, Node 22) from the npm
# registry: Debian's `npm` unless some npm is already there (a nodesource nodejs brings its own,
# and Debian's npm would conflict with it).
command -v npm > /dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
