#!/bin/bash
# Times the compile of api sources the way the dev loop runs it, without ccache: the exact
# command ninja runs for each object (`ninja -t commands`), the launcher and ccache stripped, the
# object written to a temporary file so the build tree is left alone. Prints wall and user CPU
# seconds and the 1-minute load average before each run (bench/README.md, bench/devloop).
#
#   bench/devloop/compile_time.sh [-n RUNS] [-b BUILD_DIR] [SOURCE...]
#
# RUNS defaults to 3, BUILD_DIR to build/dev, SOURCE to discovery keys rooms account (names of
# src/api/*.cc without the extension). Needs a configured and built BUILD_DIR (the precompiled
# header must exist) and /usr/bin/time.
set -euo pipefail
runs=3
build=build/dev
while getopts "n:b:" opt; do
  case $opt in
    n) runs=$OPTARG ;;
    b) build=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
sources=("$@")
[ ${#sources[@]} -gt 0 ] || sources=(discovery keys rooms account)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for name in "${sources[@]}"; do
  object=src/api/CMakeFiles/conclave_api.dir/$name.cc.o
  command=$(ninja -C "$build" -t commands "$object" | tail -n 1 |
    sed -e 's#^.*conclave_launcher\.sh [^ ]* ##' -e 's#^ccache ##' \
        -e "s# -o [^ ]*# -o $out/$name.o#" -e 's# -MD -MT [^ ]* -MF [^ ]*##')
  for _ in $(seq "$runs"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    times=$(cd "$build" && /usr/bin/time -f "%e %U" bash -c "$command" 2>&1 >/dev/null | tail -n 1)
    printf '%-12s wall %5s s  user %5s s  load %s\n' "$name.cc" ${times% *} ${times#* } "$load"
  done
done
