#!/usr/bin/env bash
# Hot-reload benchmark for the conclave dev server (see bench/README.md).
#
#   bash bench/reload/run.sh [build_dir]        # build_dir defaults to build/dev
#
# Starts the dev server from a private temporary directory (database, runtime dir, a copy of the
# modules), then on loopback:
#   1. baseline: wrk keep-alive load on GET /_matrix/client/versions, no reloads;
#   2. the same load while the api module is hot-reloaded RELOADS times (alternating the
#      `variants/api` build and the original), one SIGUSR1 every ~RELOAD_INTERVAL_MS.
# Prints a summary table. Exits 1 if any request failed (non-2xx, socket error, server-reported
# failure), a reload failed or did not take effect, or the server did not stop cleanly; exits 2 on
# a setup problem. Timing/RSS goals only fail the run with STRICT=1.
#
# Tunables (environment): WRK_THREADS=2 WRK_CONNECTIONS=16 BASELINE_SECONDS=10 RELOAD_SECONDS=30
#   RELOADS=20 RELOAD_INTERVAL_MS=1000 GOAL_P50_MS=50 GOAL_RSS_KIB=1024 STRICT=0 KEEP_TMP=0
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$script_dir/../.." && pwd)
source "$repo/bench/lib.sh"
build_dir=${1:-$repo/build/dev}

WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-16}
BASELINE_SECONDS=${BASELINE_SECONDS:-10}
RELOAD_SECONDS=${RELOAD_SECONDS:-30}
RELOADS=${RELOADS:-20}
RELOAD_INTERVAL_MS=${RELOAD_INTERVAL_MS:-1000}
GOAL_P50_MS=${GOAL_P50_MS:-50}
GOAL_RSS_KIB=${GOAL_RSS_KIB:-1024}
STRICT=${STRICT:-0}
KEEP_TMP=${KEEP_TMP:-0}
RAMP_SECONDS=2          # load runs this long before the first reload
REPORT_TIMEOUT_MS=10000 # a reload whose report line takes longer than this counts as failed

die() { echo "run.sh: $*" >&2; exit 2; }
# The clock is CLOCK_REALTIME in nanoseconds (as `date +%s%N`), read without forking when bash has
# EPOCHREALTIME, so that the poll loop below measures the server rather than process start-up.
if [[ -n ${EPOCHREALTIME:-} ]]; then
  now_ns() { local t=${EPOCHREALTIME/[.,]/}; now=$((10#$t * 1000)); }
else
  now_ns() { now=$(date +%s%N); }
fi
sleep_ms() { (($1 > 0)) && sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"; return 0; }

# ---- prerequisites ---------------------------------------------------------------------------
for tool in wrk curl; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
[[ -d $build_dir ]] || die "no build directory $build_dir (run: cmake --build --preset dev)"
build_dir=$(cd "$build_dir" && pwd)
bin=$build_dir/bin/conclave
variant=$build_dir/variants/api/libconclave_api.so
[[ -x $bin ]] || die "$bin not found (run: cmake --build --preset dev)"
[[ -f $variant ]] || die "$variant not found (the dev build makes it)"
for m in core database service api admin; do
  [[ -f $build_dir/lib/libconclave_$m.so ]] || die "$build_dir/lib/libconclave_$m.so not found"
done
((BASELINE_SECONDS > 0 && RELOADS > 0)) || die "bad BASELINE_SECONDS/RELOADS"
need=$((RAMP_SECONDS * 1000 + RELOADS * RELOAD_INTERVAL_MS + 2000))
((RELOAD_SECONDS * 1000 >= need)) ||
  die "RELOAD_SECONDS=$RELOAD_SECONDS is too short for $RELOADS reloads (needs >= $((need / 1000 + 1)))"

# ---- private copy of everything the server loads ---------------------------------------------
# The executable and libconclave_core.so are copied too (and core is found through
# LD_LIBRARY_PATH, which wins over the build's RUNPATH): a rebuild of the build tree during the
# run would otherwise make the server restart in place ("core or main changed").
tmp=$(mktemp -d "${TMPDIR:-/tmp}/conclave-bench-reload.XXXXXX")
server_pid=
wrk_pid=
status=1
cleanup() {
  if [[ -n $wrk_pid ]] && kill -0 "$wrk_pid" 2>/dev/null; then
    kill "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" 2>/dev/null || true
  fi
  bench_stop "$server_pid"
  bench_cleanup_tmp "$tmp" "$status" "server log: $tmp/server.log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp"/{bin,core,modules,runtime,api}
cp "$bin" "$tmp/bin/conclave"
cp "$build_dir/lib/libconclave_core.so" "$tmp/core/"
for m in database service api admin; do cp "$build_dir/lib/libconclave_$m.so" "$tmp/modules/"; done
cp "$build_dir/lib/libconclave_api.so" "$tmp/api/original.so"
cp "$variant" "$tmp/api/variant.so"
cmp -s "$tmp/api/original.so" "$tmp/api/variant.so" && die "the api variant is identical to the original"
log=$tmp/server.log

# Like a linker: write under a temporary name in the same directory, then rename over the module.
install_api() {
  cp "$tmp/api/$1.so" "$tmp/modules/.libconclave_api.so.tmp"
  mv -f "$tmp/modules/.libconclave_api.so.tmp" "$tmp/modules/libconclave_api.so"
}

# ---- start the server ------------------------------------------------------------------------
# Port 0: the kernel picks a free port and the server logs the one it got.
CONCLAVE_ADDRESS=127.0.0.1 CONCLAVE_PORT=0 CONCLAVE_LOG_LEVEL=info \
  CONCLAVE_DATABASE_PATH="$tmp/db" CONCLAVE_MODULE_DIR="$tmp/modules" \
  CONCLAVE_RUNTIME_DIR="$tmp/runtime" LD_LIBRARY_PATH="$tmp/core${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$tmp/bin/conclave" 2>"$log" >/dev/null </dev/null &
server_pid=$!
port=$(bench_listening_port "$log" "$server_pid")
base=http://127.0.0.1:$port
url=$base/_matrix/client/versions
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" || true)
[[ $code == 200 ]] || die "GET $url answered $code"

echo "conclave $("$tmp/bin/conclave" --version 2>/dev/null | sed 's/^conclave //') from $build_dir"
echo "server pid $server_pid on $base; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
rss_split() { awk '/^Rss(Anon|File):/ {v[$1] = $2} END {print v["RssAnon:"] " anon + " v["RssFile:"] " file"}' "/proc/$server_pid/status"; }

# wrk output -> "rps p99_ms non2xx socket_errors requests"
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    /Requests\/sec:/ { rps = $2 }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(",", ""); sock = $4 + $6 + $8 + $10 }
    / requests in / { reqs = $1 }
    END { printf "%s %.2f %d %d %d\n", rps, p99, non2xx, sock, reqs }' "$1"
}
run_wrk() {  # seconds outfile
  wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$1"s --latency "$url" >"$2" 2>&1
}

# ---- 1. baseline -----------------------------------------------------------------------------
echo "baseline: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${BASELINE_SECONDS}s --latency $url"
run_wrk "$BASELINE_SECONDS" "$tmp/wrk-baseline.txt" || { cat "$tmp/wrk-baseline.txt" >&2; die "wrk failed"; }
read -r b_rps b_p99 b_non2xx b_sock b_reqs < <(parse_wrk "$tmp/wrk-baseline.txt")

# ---- 2. under reloads ------------------------------------------------------------------------
echo "reloads: same load for ${RELOAD_SECONDS}s, $RELOADS api reloads every ${RELOAD_INTERVAL_MS} ms"
now_ns; wrk_start=$now
run_wrk "$RELOAD_SECONDS" "$tmp/wrk-reload.txt" &
wrk_pid=$!
sleep "$RAMP_SECONDS"
kill -0 "$wrk_pid" 2>/dev/null || { cat "$tmp/wrk-reload.txt" >&2; die "wrk exited early"; }

report_re='\[host\] (reloaded [0-9]+ modules? \(|nothing changed|not reloaded|reload failed|reload cancelled|core or main changed)'
ok_re='\[host\] reloaded 1 module \(api\) in ([0-9]+) ms; 0 requests failed$'
exec {log_fd}<"$log"
exec {nap_fd}<> <(:)
junk=
rss_before=$(rss_kib)
rss_before_split=$(rss_split)
wall_ms=()
server_ms=()
rss_seen=()
settle_s=-
reloads_ok=0
server_failed_requests=0
printf '\n  %3s  %-8s  %13s  %9s  %9s  %s\n' '#' installed 'signal->log' 'server' 'RSS KiB' 'report'
for i in $(seq "$RELOADS"); do
  if ((i % 2)); then which=variant; else which=original; fi
  install_api "$which"
  # Skip what the log already holds, signal, then poll the log for the report line.
  while IFS= read -r -u "$log_fd" junk; do :; done
  partial=$junk
  now_ns; t0=$now
  if ! kill -USR1 "$server_pid" 2>/dev/null; then
    echo "  the server is not running any more" >&2
    break
  fi
  line=
  while :; do
    if IFS= read -r -u "$log_fd" chunk; then
      chunk=$partial$chunk
      partial=
      if [[ $chunk =~ $report_re ]]; then line=$chunk; break; fi
      continue
    fi
    partial+=$chunk  # end of file inside a line that is still being written
    now_ns
    (((now - t0) / 1000000 < REPORT_TIMEOUT_MS)) || break
    kill -0 "$server_pid" 2>/dev/null || break
    read -r -t 0.001 -u "$nap_fd" _ || true  # a 1 ms sleep without forking
  done
  now_ns; t1=$now
  rss_now=$(rss_kib 2>/dev/null || echo -)
  [[ $rss_now != - ]] && rss_seen+=("$rss_now")
  wall=$(((t1 - t0) / 1000000))
  verdict=ok
  if [[ -z $line ]]; then
    verdict="FAILED: no report line within ${REPORT_TIMEOUT_MS} ms"
    line='(none)'
  elif [[ $line =~ $ok_re ]]; then
    server_ms+=("${BASH_REMATCH[1]}")
    wall_ms+=("$wall")
  else
    verdict="FAILED: unexpected report"
  fi
  if [[ $line =~ ([0-9]+)\ requests?\ failed ]]; then
    server_failed_requests=$((server_failed_requests + BASH_REMATCH[1]))
  fi
  # The new code must be the one answering.
  if [[ $verdict == ok ]]; then
    answer=$(curl -s --max-time 2 "$base/_conclave/server_version" || true)
    has_variant=no
    [[ $answer == *'"variant":"b"'* ]] && has_variant=yes
    if [[ $which == variant && $has_variant == no ]] || [[ $which == original && $has_variant == yes ]]; then
      verdict="FAILED: server_version answered $answer after installing the $which"
    fi
  fi
  [[ $verdict == ok ]] && reloads_ok=$((reloads_ok + 1))
  printf '  %3d  %-8s  %10d ms  %6s ms  %9s  %s%s\n' "$i" "$which" "$wall" \
    "$( [[ $line =~ \ in\ ([0-9]+)\ ms ]] && echo "${BASH_REMATCH[1]}" || echo -)" \
    "$rss_now" "${line#*\[host\] }" "$( [[ $verdict == ok ]] || echo "  <-- $verdict")"
  kill -0 "$server_pid" 2>/dev/null || { echo "  the server died" >&2; break; }
  now_ns
  sleep_ms $((RELOAD_INTERVAL_MS - (now - t0) / 1000000))
done
# RSS ~1 s after the last reload, then again shortly before the load ends ("settled"): each reload
# allocates transiently (see bench/README.md), and the allocator can keep such pages for seconds.
server_alive() { kill -0 "$server_pid" 2>/dev/null; }
rss_after_1s=-
rss_after=-
rss_after_split=-
if server_alive; then
  rss_after_1s=$(rss_kib)
  now_ns
  sleep_ms $((RELOAD_SECONDS * 1000 - 1000 - (now - wrk_start) / 1000000))
  if server_alive; then
    rss_after=$(rss_kib)
    rss_after_split=$(rss_split)
    now_ns
    settle_s=$(((now - t0) / 1000000000))
  fi
fi
wait "$wrk_pid" || true
wrk_pid=
read -r r_rps r_p99 r_non2xx r_sock r_reqs < <(parse_wrk "$tmp/wrk-reload.txt")

reload_failures=$((RELOADS - reloads_ok))  # includes reloads not attempted after a crash

# ---- stop the server -------------------------------------------------------------------------
stop_rc=0
died_early=0
if server_alive; then
  kill -TERM "$server_pid"
  for _ in $(seq 150); do server_alive || break; sleep 0.1; done
else
  died_early=1
fi
if server_alive; then
  stop_rc=timeout
else
  wait "$server_pid" || stop_rc=$?
  server_pid=
  if ((died_early)); then
    stop_rc="$stop_rc$( ((stop_rc > 128)) && echo " SIG$(kill -l $((stop_rc - 128)))"), early"
  fi
fi

# ---- summary ---------------------------------------------------------------------------------
pct() {  # nearest-rank percentile: pct P values...
  local p=$1; shift
  (($# == 0)) && { echo -; return; }
  printf '%s\n' "$@" | sort -n | awk -v p="$p" '{v[NR] = $1} END {r = int((p * NR + 99) / 100); if (r < 1) r = 1; print v[r]}'
}
wall_p50=$(pct 50 "${wall_ms[@]}")
wall_max=$(pct 100 "${wall_ms[@]}")
srv_p50=$(pct 50 "${server_ms[@]}")
srv_max=$(pct 100 "${server_ms[@]}")
rss_growth=-
rss_growth_1s=-
[[ $rss_after != - ]] && rss_growth=$((rss_after - rss_before))
[[ $rss_after_1s != - ]] && rss_growth_1s=$((rss_after_1s - rss_before))
rss_peak=$(pct 100 "${rss_seen[@]}")
problem_re='^[^ ]+ (warn|error|critical) '
log_problems=$(grep -cE "$problem_re" "$log" || true)

# Verdicts: correctness failures fail the run; goals are reported (and fail it with STRICT=1).
failed=0
((b_non2xx + b_sock + r_non2xx + r_sock + reload_failures + server_failed_requests == 0)) || failed=1
[[ $stop_rc == 0 ]] || failed=1
p50_ok=MISSED
[[ $wall_p50 != - ]] && ((wall_p50 <= GOAL_P50_MS)) && p50_ok=ok
rss_ok=MISSED
[[ $rss_growth != - ]] && ((rss_growth <= GOAL_RSS_KIB)) && rss_ok=ok
goal_missed=0
[[ $p50_ok == ok && $rss_ok == ok ]] || goal_missed=1
verdict() { if (($1)); then echo ok; else echo FAIL; fi; }
row() { printf '%-40s %-22s %-14s %s\n' "$@"; }

echo
row metric value goal result
row ------ ----- ---- ------
row "baseline requests/s" "$b_rps" - -
row "baseline p99 latency" "$b_p99 ms" - -
row "baseline non-2xx / socket errors" "$b_non2xx / $b_sock" "0 / 0" "$(verdict $((b_non2xx + b_sock == 0)))"
row "under reloads requests/s" "$r_rps" - -
row "under reloads p99 latency" "$r_p99 ms" - -
row "under reloads non-2xx / socket errors" "$r_non2xx / $r_sock" "0 / 0" "$(verdict $((r_non2xx + r_sock == 0)))"
row "reloads ok (1 module (api), took effect)" "$((RELOADS - reload_failures)) / $RELOADS" "all" "$(verdict $((reload_failures == 0)))"
row "failed requests (server reports)" "$server_failed_requests" "0" "$(verdict $((server_failed_requests == 0)))"
row "reload signal->log p50 / max" "$wall_p50 / $wall_max ms" "p50 <= $GOAL_P50_MS ms" "$p50_ok"
row "reload server-reported p50 / max" "$srv_p50 / $srv_max ms" - -
kib() { if [[ $1 == - ]]; then echo -; else echo "$1 KiB"; fi; }
row "RSS before first reload" "$(kib "$rss_before")" - -
row "RSS right after a report, max" "$(kib "$rss_peak")" - -
row "RSS growth, ~1 s after last reload" "$(kib "$rss_growth_1s")" - -
row "RSS growth, settled (${settle_s} s after)" "$(kib "$rss_growth")" "<= $GOAL_RSS_KIB KiB" "$rss_ok"
row "  RssAnon + RssFile before" "$rss_before_split" - -
row "  RssAnon + RssFile settled" "$rss_after_split" - -
row "server exit status (SIGTERM at end)" "$stop_rc" "0" "$( [[ $stop_rc == 0 ]] && echo ok || echo FAIL)"
row "warn/error lines in server log" "$log_problems" "0" "$( ((log_problems == 0)) && echo ok || echo see-below)"
echo "(requests: $b_reqs baseline, $r_reqs under reloads; wrk -t$WRK_THREADS -c$WRK_CONNECTIONS)"

if ((log_problems > 0)); then
  echo
  echo "warn/error lines in the server log:"
  grep -E "$problem_re" "$log" | head -20
fi
if ((failed)); then
  echo
  echo "FAIL: requests failed, a reload failed, or the server did not stop cleanly"
  echo "--- server log (last 20 lines) ---"
  tail -n 20 "$log"
  status=1
  exit 1
fi
if ((goal_missed)); then
  echo
  echo "PASS (correctness), but a timing/RSS goal was missed$( ((STRICT)) && echo '; STRICT=1: failing')"
  ((STRICT)) && { status=1; exit 1; }
else
  echo
  echo "PASS"
fi
status=0
