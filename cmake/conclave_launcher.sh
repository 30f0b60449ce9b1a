#!/bin/sh
# Launcher of every compile and link step of the dev and asan builds (cmake/ConclaveFlags.cmake).
# Runs the step (with ccache's settings for precompiled headers); when it fails, writes what it was building to MARKER, which watch mode reads
# (src/main/watcher.h) to report the build as failed instead of reloading half of it.
# Usage: conclave_launcher.sh MARKER COMMAND...
marker=$1
shift
# Precompiled headers (cmake/ConclavePch.cmake): ccache hits need these two.
CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:+$CCACHE_SLOPPINESS,}pch_defines,time_macros"
export CCACHE_SLOPPINESS
# Paths relative to the checkout, and the build directory kept out of the hash (-g would hash
# it): objects are then shared by checkouts of the tree (git worktrees, the copy that
# integration.devloop builds under build/dev).
CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(cd "$(dirname "$0")/.." && pwd)}"
CCACHE_NOHASHDIR=1
export CCACHE_BASEDIR CCACHE_NOHASHDIR
"$@" && exit 0
status=$?
out=
prev=
for arg in "$@"; do
  [ "$prev" = "-o" ] && out=$arg
  prev=$arg
done
echo "${out:-a build step} (exit status $status)" > "$marker"
exit $status
