#!/usr/bin/env bash
# Blocking work off the I/O threads (see bench/README.md, "bench/blocking").
#
#   bash bench/blocking/run.sh [build_dir]      # build_dir defaults to build/release
#
# Starts the server of `build_dir` (used in place: a dev build needs its lib/) from a private
# temporary directory (fresh database, registration rate limit off, access log off), then runs
# blocking.py: ROUNDS bursts of CONCURRENT registrations (argon2 each) while a probe process
# sends GET /_matrix/client/versions on another connection. Prints the probe's p50/p99/max idle
# and during the bursts. Exit status 1 if a request failed, or with STRICT=1 if the p99 during the
# bursts is over GOAL_P99_MS; 2 on a setup problem.
#
# Knobs (environment): ROUNDS=3 CONCURRENT=100 BASELINE_SECONDS=3 GOAL_P99_MS=20 STRICT=0
#   KEEP_TMP=0 NO_BUILD=0
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$script_dir/../.." && pwd)
source "$repo/bench/lib.sh"
build_dir=${1:-$repo/build/release}
ROUNDS=${ROUNDS:-3}
CONCURRENT=${CONCURRENT:-100}
BASELINE_SECONDS=${BASELINE_SECONDS:-3}
GOAL_P99_MS=${GOAL_P99_MS:-20}
STRICT=${STRICT:-0}
KEEP_TMP=${KEEP_TMP:-0}
NO_BUILD=${NO_BUILD:-0}
PY=/usr/bin/python3

die() { echo "run.sh: $*" >&2; exit 2; }
if [[ $NO_BUILD != 1 ]]; then
  [[ -f $build_dir/CMakeCache.txt ]] || die "$build_dir is not a configured build directory"
  echo "building: cmake --build $build_dir --target conclave"
  cmake --build "$build_dir" --target conclave >/dev/null || die "build failed"
fi
build_dir=$(cd "$build_dir" && pwd)
[[ -x $build_dir/bin/conclave ]] || die "$build_dir/bin/conclave not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/conclave-bench-blocking.XXXXXX")
server_pid=
status=2
cleanup() {
  bench_stop "$server_pid"
  bench_cleanup_tmp "$tmp" "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp"/{work,out}
log=$tmp/server.log
(cd "$tmp/work" && exec env CONCLAVE_ADDRESS=127.0.0.1 CONCLAVE_PORT=0 CONCLAVE_LOG_LEVEL=info \
  CONCLAVE_ACCESS_LOG=false CONCLAVE_RC_REGISTRATION_PER_SECOND=0 \
  CONCLAVE_DATABASE_PATH="$tmp/db" CONCLAVE_RUNTIME_DIR="$tmp/run" \
  "$build_dir/bin/conclave" 2>"$log" >/dev/null </dev/null) &
server_pid=$!
port=$(bench_listening_port "$log" "$server_pid")
echo "$("$build_dir/bin/conclave" --version | head -1) from $build_dir"
echo "$(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

rc=0
goal=0
((STRICT)) && goal=$GOAL_P99_MS
"$PY" "$script_dir/blocking.py" run --port "$port" --rounds "$ROUNDS" --concurrent "$CONCURRENT" \
  --baseline-seconds "$BASELINE_SECONDS" --out-dir "$tmp/out" --goal-p99-ms "$goal" || rc=$?
echo "goal: p99 during the bursts <= $GOAL_P99_MS ms"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
status=$rc
exit $rc
