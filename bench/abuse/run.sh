#!/usr/bin/env bash
# Load and abuse benchmark (see bench/README.md, "bench/abuse").
#
#   bash bench/abuse/run.sh [build_dir]        # build_dir defaults to build/release
#
# Starts the release server from a private temporary directory (fresh database, default settings,
# access log off) under the hard descriptor limit, then runs abuse.py: slowloris, header floods,
# 10,000 idle keep-alive connections, oversized bodies (Content-Length and chunked), 500 slow
# chunked uploads, /login and /register bursts, one after another, while a well-behaved client
# keeps sending requests. Prints the well-behaved client's latency and the
# server's VmRSS / VmHWM per phase. Exit status 1 if the server died or restarted, a well-behaved
# request failed, an attack was not answered as expected (431, 413 M_TOO_LARGE, 429 with
# retry_after_ms, slowloris connections closed by the idle timeout) or the server did not stop
# cleanly; 2 on a setup problem. Memory growth is reported (goal: RSS after the attacks <= RSS
# before + GOAL_RSS_GROWTH_KIB), MISSED fails the run only with STRICT=1.
#
# Knobs (environment): SLOWLORIS=2000 SLOWLORIS_SECONDS=70 IDLE=10000 IDLE_SECONDS=15
#   FLOOD_CONNECTIONS=16 FLOOD_SECONDS=10 BODY_CONNECTIONS=8 BODY_SECONDS=10 SLOW_BODIES=500
#   SLOW_BODY_SECONDS=10 BURST=100
#   BASELINE_SECONDS=5 GOAL_RSS_GROWTH_KIB=65536 STRICT=0 KEEP_TMP=0
#   NO_BUILD=0; server settings can be passed as CONCLAVE_* variables (e.g.
#   CONCLAVE_IDLE_TIMEOUT=10s SLOWLORIS_SECONDS=20 for a shorter slowloris phase).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$script_dir/../.." && pwd)
source "$repo/bench/lib.sh"
build_dir=${1:-$repo/build/release}

SLOWLORIS=${SLOWLORIS:-2000}
SLOWLORIS_SECONDS=${SLOWLORIS_SECONDS:-70}
IDLE=${IDLE:-10000}
IDLE_SECONDS=${IDLE_SECONDS:-15}
FLOOD_CONNECTIONS=${FLOOD_CONNECTIONS:-16}
FLOOD_SECONDS=${FLOOD_SECONDS:-10}
BODY_CONNECTIONS=${BODY_CONNECTIONS:-8}
BODY_SECONDS=${BODY_SECONDS:-10}
BURST=${BURST:-100}
SLOW_BODIES=${SLOW_BODIES:-500}
SLOW_BODY_SECONDS=${SLOW_BODY_SECONDS:-10}
BASELINE_SECONDS=${BASELINE_SECONDS:-5}
GOAL_RSS_GROWTH_KIB=${GOAL_RSS_GROWTH_KIB:-65536}
STRICT=${STRICT:-0}
KEEP_TMP=${KEEP_TMP:-0}
NO_BUILD=${NO_BUILD:-0}
PY=/usr/bin/python3

die() { echo "run.sh: $*" >&2; exit 2; }
for tool in curl "$PY"; do command -v "$tool" >/dev/null || die "$tool is not installed"; done

if [[ $NO_BUILD != 1 ]]; then
  if [[ ! -f $build_dir/CMakeCache.txt ]]; then
    [[ $build_dir == "$repo/build/release" ]] || die "$build_dir is not a configured build directory"
    echo "configuring: cmake --preset release"
    (cd "$repo" && cmake --preset release >/dev/null) || die "cmake --preset release failed"
  fi
  echo "building: cmake --build $build_dir --target conclave"
  build_log=$(mktemp)
  if ! cmake --build "$build_dir" --target conclave >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2; rm -f "$build_log"; die "build failed"
  fi
  rm -f "$build_log"
fi
build_dir=$(cd "$build_dir" && pwd)
[[ -x $build_dir/bin/conclave ]] || die "$build_dir/bin/conclave not found"

# 10,000 connections need as many descriptors in the client and the server: both run under the
# hard limit (the server also raises its own soft limit to the hard one at start).
hard=$(ulimit -Hn)
ulimit -n "$hard"
need=$((IDLE > SLOWLORIS ? IDLE : SLOWLORIS))
((hard >= need + 500)) || die "the hard descriptor limit ($hard) is too low for $need connections"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/conclave-bench-abuse.XXXXXX")
server_pid=
status=2
cleanup() {
  bench_stop "$server_pid"
  bench_cleanup_tmp "$tmp" "$status" "server log, probe latencies"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp"/{bin,work,out}
cp "$build_dir/bin/conclave" "$tmp/bin/"
log=$tmp/server.log
(cd "$tmp/work" && exec env CONCLAVE_ADDRESS=127.0.0.1 CONCLAVE_PORT=0 CONCLAVE_LOG_LEVEL=info \
  CONCLAVE_ACCESS_LOG="${CONCLAVE_ACCESS_LOG:-false}" \
  CONCLAVE_DATABASE_PATH="$tmp/db" CONCLAVE_RUNTIME_DIR="$tmp/run" \
  "$tmp/bin/conclave" 2>"$log" >/dev/null </dev/null) &
server_pid=$!
port=$(bench_listening_port "$log" "$server_pid")
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/_matrix/client/versions" || true)
[[ $code == 200 ]] || die "GET /_matrix/client/versions answered $code"
grep -m1 'at most .* client connections' "$log" | sed 's/^.*\] /server: /' || true

echo "$("$tmp/bin/conclave" --version | head -1) from $build_dir"
echo "server pid $server_pid on 127.0.0.1:$port; descriptor limit $(ulimit -n) (server and client);" \
  "$(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
awk '{exit !($1 > 0.5)}' /proc/loadavg &&
  echo "run.sh: warning: load average $(cut -d' ' -f1 /proc/loadavg) before the run: other processes compete for the cores, expect noisy latencies" >&2

rc=0
"$PY" "$script_dir/abuse.py" run --port "$port" --pid "$server_pid" --out-dir "$tmp/out" \
  --baseline "$BASELINE_SECONDS" --slowloris "$SLOWLORIS" --slowloris-seconds "$SLOWLORIS_SECONDS" \
  --flood-connections "$FLOOD_CONNECTIONS" --flood-seconds "$FLOOD_SECONDS" --idle "$IDLE" \
  --idle-seconds "$IDLE_SECONDS" --body-connections "$BODY_CONNECTIONS" \
  --body-seconds "$BODY_SECONDS" --slow-bodies "$SLOW_BODIES" \
  --slow-body-seconds "$SLOW_BODY_SECONDS" --burst "$BURST" | tee "$tmp/out/report.txt" || rc=$?

failures=()
((rc == 0)) || failures+=("abuse.py reported failures (exit status $rc)")
restarts=$(grep -c 'listening on http' "$log" || true)
((restarts == 1)) || failures+=("the server restarted ($restarts 'listening on' lines)")
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || echo)
# RSS growth: the baseline phase's RSS against the final one.
before=$(sed -n 's/^rss_baseline_kib=//p' "$tmp/out/report.txt" | head -1)
goal_missed=0
if [[ -n $before && -n $rss ]]; then
  growth=$((rss - before))
  if ((growth <= GOAL_RSS_GROWTH_KIB)); then judge=ok; else judge=MISSED; goal_missed=1; fi
  echo "RSS growth over all attacks: $growth KiB ($before -> $rss; goal <= $GOAL_RSS_GROWTH_KIB: $judge)"
fi
problem_re='^[^ ]+ (warn|error|critical) '
echo "warn/error lines in the server log: $(grep -cE "$problem_re" "$log" || true)"
grep -E "$problem_re" "$log" | sort | uniq -c | sort -rn | head -10 || true

stop_rc=0
kill -TERM "$server_pid"
for _ in $(seq 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
wait "$server_pid" || stop_rc=$?
server_pid=
((stop_rc == 0)) || failures+=("server exit status on SIGTERM: $stop_rc")
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if ((${#failures[@]})); then
  echo; echo "FAIL:"; printf '  %s\n' "${failures[@]}"
  status=1; exit 1
fi
if ((goal_missed)); then
  echo; echo "PASS (no errors), but a goal was missed$( ((STRICT)) && echo '; STRICT=1: failing')"
  if ((STRICT)); then status=1; exit 1; fi
else
  echo; echo "PASS"
fi
status=0
