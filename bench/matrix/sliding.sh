#!/usr/bin/env bash
# Simplified sliding sync (MSC4186) next to /sync for one user in many rooms (see
# bench/README.md, "bench/matrix: sliding sync").
#
#   bash bench/matrix/sliding.sh [build_dir]        # build_dir defaults to build/release
#
# Builds `conclave` in build_dir (NO_BUILD=1 skips it), starts a fresh server from a private
# temporary directory with the rate limits off, runs sliding.py (ROOMS, TOP, RUNS, WAKE_ROUNDS,
# WAKE_SETTLE_MS are passed on) and prints its figures against the goals: first sliding sync
# response for the top rooms <= GOAL_FIRST_MS (50), wake-up p50 <= GOAL_WAKE_P50_MS (2), /sync
# at scale with lazy members <= GOAL_SCALE_LAZY_MS (50; SCALE_USERS=0 skips it). Exits 1
# on a wrong answer or a server that did not stop cleanly, 2 on a setup problem; a missed goal
# fails the run only with STRICT=1.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$script_dir/../.." && pwd)
source "$repo/bench/lib.sh"
build_dir=${1:-$repo/build/release}
NO_BUILD=${NO_BUILD:-0}
STRICT=${STRICT:-0}
GOAL_FIRST_MS=${GOAL_FIRST_MS:-50}
GOAL_WAKE_P50_MS=${GOAL_WAKE_P50_MS:-2}
GOAL_SCALE_LAZY_MS=${GOAL_SCALE_LAZY_MS:-50}
PY=/usr/bin/python3

die() { echo "sliding.sh: $*" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/conclave-bench-sliding.XXXXXX")
server_pid=
status=1
cleanup() {
  bench_stop "$server_pid"
  bench_cleanup_tmp "$tmp" "$status" "server log: $tmp/server.log" sliding.sh
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $NO_BUILD != 1 ]]; then
  if [[ ! -f $build_dir/build.ninja ]]; then
    [[ $build_dir == "$repo/build/release" ]] || die "$build_dir is not a configured build directory"
    (cd "$repo" && cmake --preset release >/dev/null) || die "cmake --preset release failed"
  fi
  echo "building: cmake --build $build_dir --target conclave"
  cmake --build "$build_dir" --target conclave >"$tmp/build.log" 2>&1 ||
    { tail -n 40 "$tmp/build.log" >&2; die "build failed"; }
fi
build_dir=$(cd "$build_dir" && pwd)
[[ -x $build_dir/bin/conclave ]] || die "$build_dir/bin/conclave not found"
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$build_dir/CMakeCache.txt" 2>/dev/null ||
  echo "sliding.sh: warning: $build_dir is not a Release build; the goals are for release" >&2

mkdir -p "$tmp"/{bin,work}
# A release binary is copied (a rebuild during the run cannot change it); a dev one loads its
# modules from the build directory, so it runs in place.
if [[ -d $build_dir/lib ]] && ls "$build_dir"/lib/libconclave_*.so >/dev/null 2>&1; then
  ln -s "$build_dir/bin/conclave" "$tmp/bin/conclave"
else
  cp "$build_dir/bin/conclave" "$tmp/bin/"
fi
log=$tmp/server.log
(cd "$tmp/work" && exec env CONCLAVE_ADDRESS=127.0.0.1 CONCLAVE_PORT=0 CONCLAVE_LOG_LEVEL=info \
  CONCLAVE_DATABASE_PATH="$tmp/db" CONCLAVE_RC_MESSAGE_PER_SECOND=0 \
  CONCLAVE_RC_REGISTRATION_PER_SECOND=0 CONCLAVE_RC_LOGIN_PER_SECOND=0 \
  "$tmp/bin/conclave" 2>"$log" >/dev/null </dev/null) &
server_pid=$!
port=$(bench_listening_port "$log" "$server_pid")
echo "$("$tmp/bin/conclave" --version 2>/dev/null | head -1) from $build_dir on port $port;" \
  "$(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" "$script_dir/sliding.py" "$port" | tee "$tmp/figures.txt" || { tail -20 "$log" >&2; exit 1; }
value() { tr ' ' '\n' <"$tmp/figures.txt" | sed -n "s/^$1=//p" | head -1; }

kill -TERM "$server_pid"
stop_rc=0
wait "$server_pid" || stop_rc=$?
server_pid=
missed=0
judge() {  # judge LABEL VALUE GOAL
  if awk -v v="$2" -v g="$3" 'BEGIN {exit !(v <= g)}'; then
    printf '%-52s %10s ms  goal <= %s ms  ok\n' "$1" "$2" "$3"
  else
    printf '%-52s %10s ms  goal <= %s ms  MISSED\n' "$1" "$2" "$3"; missed=1
  fi
}
echo
judge "sliding sync: first response, top ${TOP:-20} (p50)" "$(value sliding_first_p50_ms)" "$GOAL_FIRST_MS"
judge "sliding sync: wake-up after a send (p50)" "$(value sliding_wake_p50_ms)" "$GOAL_WAKE_P50_MS"
printf '%-52s %10s ms\n' "sliding sync: wake-up after a send (p99)" "$(value sliding_wake_p99_ms)"
printf '%-52s %10s ms  (%s bytes)\n' "/sync: initial, timeline 1, lazy members (p50)" \
  "$(value sync_initial_p50_ms)" "$(value sync_initial_bytes)"
printf '%-52s %10s ms\n' "/sync: wake-up after a send (p50)" "$(value sync_wake_p50_ms)"
printf '%-52s %10s ms\n' "/sync: wake-up after a send (p99)" "$(value sync_wake_p99_ms)"
if [[ -n $(value scale_sync_lazy_p50_ms) ]]; then
  judge "/sync at scale: $(value scale_users) users x $(value scale_rooms) rooms, lazy (p50)" \
    "$(value scale_sync_lazy_p50_ms)" "$GOAL_SCALE_LAZY_MS"
  printf '%-52s %10s bytes\n' "  its size" "$(value scale_sync_lazy_bytes)"
  printf '%-52s %10s ms  (%s bytes)\n' "/sync at scale, all members (p50)" \
    "$(value scale_sync_full_p50_ms)" "$(value scale_sync_full_bytes)"
fi
if ((stop_rc != 0)); then echo "FAIL: server exit status on SIGTERM: $stop_rc"; exit 1; fi
status=0
if ((missed && STRICT)); then status=1; exit 1; fi
echo "PASS$( ((missed)) && echo ' (a goal was missed)')"
