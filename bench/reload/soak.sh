#!/usr/bin/env bash
# Reload soak: RELOADS forced hot reloads of EACH module (database, service, api, admin) under
# mixed Matrix load (sends, long-poll syncs, logins and logouts), on the dev build.
#
#   bash bench/reload/soak.sh [build_dir] [reloads_per_module]    (defaults: build/dev, 200)
#
# Like run.sh, it copies the server, libconclave_core.so, the four modules and the variant builds
# into a temporary directory (a rebuild of the build tree during the run cannot trigger a restart
# in place), starts the server there on 127.0.0.1 (port 0) with a fresh database and no rate
# limits, and runs bench/reload/soak_load.py against it (see its docstring for the load, the
# checks and the trigger: `!admin modules reload NAME` in the admin room, with the variant and the
# original build installed in turn for the modules that have a variant). Then it stops the server
# with SIGTERM, which must exit 0.
#
# Exits 1 if any check failed (a failed request, a failed or wrong reload, a lost or duplicated
# event, a stale mapping, descriptor or thread growth, an unclean stop); 2 on a setup problem.
# The RSS goal is reported ok/MISSED and fails the run only with STRICT=1. KEEP_TMP=1 keeps the
# temporary directory (server log); it is always kept on failure.
#
# Tunables (environment): INTERVAL_MS=100 (pause after each reload) SETTLE_SECONDS=3 (before each
#   measurement; use 12 with jemalloc's defaults, which keep freed pages 10 s) SEND_INTERVAL_MS=50
#   SENDERS=4 SYNCERS=4
#   LOGINERS=2 ROOMS=2 MODULES=database,service,api,admin (the phases, in order)
#   CONTROL_SECONDS=60 (load without reloads after the warm-up, for comparison; 0: none)
#   QUIET_RELOADS=reloads_per_module (reloads of each module with no load at the end; 0: none)
#   COMPACT=1 (`!admin database compact` before each measurement: flushes RocksDB's memtables,
#   which otherwise grow with what the load writes)
#   GOAL_RSS_MIB=2 STRICT=0 KEEP_TMP=0
#   MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0 (the server's jemalloc settings; see below)
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$script_dir/../.." && pwd)
source "$repo/bench/lib.sh"
build_dir=${1:-$repo/build/dev}
RELOADS=${2:-200}
INTERVAL_MS=${INTERVAL_MS:-100}
SETTLE_SECONDS=${SETTLE_SECONDS:-3}
SEND_INTERVAL_MS=${SEND_INTERVAL_MS:-50}
SENDERS=${SENDERS:-4}
SYNCERS=${SYNCERS:-4}
LOGINERS=${LOGINERS:-2}
ROOMS=${ROOMS:-2}
MODULES=${MODULES:-database,service,api,admin}
CONTROL_SECONDS=${CONTROL_SECONDS:-60}
QUIET_RELOADS=${QUIET_RELOADS:-$RELOADS}
COMPACT=${COMPACT:-1}
# jemalloc returns freed pages at once, so that VmRSS shows what the process keeps, not what the
# allocator caches: with its defaults (pages kept up to 10 s, and purged only when an arena is
# used again) VmRSS moves by +-3 MiB between two measurements with the same live heap. Set
# MALLOC_CONF= (empty) for jemalloc's defaults.
export MALLOC_CONF=${MALLOC_CONF-dirty_decay_ms:0,muzzy_decay_ms:0}
GOAL_RSS_MIB=${GOAL_RSS_MIB:-2}
STRICT=${STRICT:-0}
KEEP_TMP=${KEEP_TMP:-0}
python=/usr/bin/python3

die() { echo "soak.sh: $*" >&2; exit 2; }

[[ -x $python ]] || die "$python not found"
[[ -d $build_dir ]] || die "no build directory $build_dir (run: cmake --build --preset dev)"
build_dir=$(cd "$build_dir" && pwd)
bin=$build_dir/bin/conclave
[[ -x $bin ]] || die "$bin not found (run: cmake --build --preset dev)"
for m in core database service api admin; do
  [[ -f $build_dir/lib/libconclave_$m.so ]] ||
    die "$build_dir/lib/libconclave_$m.so not found (a dev build is needed)"
done
[[ $RELOADS =~ ^[0-9]+$ ]] && ((RELOADS > 0)) || die "bad reloads_per_module '$RELOADS'"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/conclave-bench-soak.XXXXXX")
server_pid=
status=1
cleanup() {
  bench_stop "$server_pid"
  bench_cleanup_tmp "$tmp" "$status" "server log: $tmp/server.log" soak.sh
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- private copy of everything the server loads ---------------------------------------------
mkdir -p "$tmp"/{bin,core,modules,runtime,variants}
cp "$bin" "$tmp/bin/conclave"
cp "$build_dir/lib/libconclave_core.so" "$tmp/core/"
for m in database service api admin; do
  cp "$build_dir/lib/libconclave_$m.so" "$tmp/modules/"
  variant=$build_dir/variants/$m/libconclave_$m.so
  if [[ -f $variant ]]; then
    mkdir -p "$tmp/variants/$m"
    cp "$variant" "$tmp/variants/$m/"
    cp "$build_dir/lib/libconclave_$m.so" "$tmp/variants/$m/original.so"
  fi
done
variants=$(cd "$tmp/variants" && ls | tr '\n' ' ')
log=$tmp/server.log

# ---- start the server ------------------------------------------------------------------------
# No rate limits (0 disables each): the load must never see a 429. Two worker threads, as on the
# 2-core machines the figures come from.
CONCLAVE_ADDRESS=127.0.0.1 CONCLAVE_PORT=0 CONCLAVE_LOG_LEVEL=info \
  CONCLAVE_DATABASE_PATH="$tmp/db" CONCLAVE_MODULE_DIR="$tmp/modules" \
  CONCLAVE_RUNTIME_DIR="$tmp/runtime" CONCLAVE_RC_MESSAGE_PER_SECOND=0 \
  CONCLAVE_RC_LOGIN_PER_SECOND=0 CONCLAVE_RC_REGISTRATION_PER_SECOND=0 \
  LD_LIBRARY_PATH="$tmp/core${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$tmp/bin/conclave" 2>"$log" >/dev/null </dev/null &
server_pid=$!
port=$(bench_listening_port "$log" "$server_pid")

echo "conclave $("$tmp/bin/conclave" --version 2>/dev/null | sed 's/^conclave //') from $build_dir"
echo "server pid $server_pid on 127.0.0.1:$port; $(nproc) cores;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$RELOADS forced reloads of each module; variant builds alternated for: ${variants:-none}"
echo "MALLOC_CONF=$MALLOC_CONF; database compact before each measurement:" \
  "$( ((COMPACT)) && echo yes || echo no)"
started=$(date +%s)

rc=0
"$python" "$script_dir/soak_load.py" --port "$port" --pid "$server_pid" --log "$log" \
  --runtime-dir "$tmp/runtime" --module-dir "$tmp/modules" --variants "$tmp/variants" \
  --database-dir "$tmp/db" --reloads "$RELOADS" --interval-ms "$INTERVAL_MS" \
  --settle "$SETTLE_SECONDS" --send-interval-ms "$SEND_INTERVAL_MS" --senders "$SENDERS" \
  --syncers "$SYNCERS" --loginers "$LOGINERS" --rooms "$ROOMS" --goal-rss-mib "$GOAL_RSS_MIB" \
  --modules "$MODULES" --control "$CONTROL_SECONDS" --quiet-reloads "$QUIET_RELOADS" \
  $( ((COMPACT)) && echo --compact) | tee "$tmp/soak.txt" || rc=${PIPESTATUS[0]}

# ---- stop the server -------------------------------------------------------------------------
stop_rc=0
if kill -0 "$server_pid" 2>/dev/null; then
  kill -TERM "$server_pid"
  for _ in $(seq 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server_pid" 2>/dev/null; then
    stop_rc=timeout
  else
    wait "$server_pid" || stop_rc=$?
    server_pid=
  fi
else
  wait "$server_pid" || stop_rc=$?
  server_pid=
  stop_rc="$stop_rc (died before the end)"
fi
problems=$(grep -cE '^[^ ]+ (warn|error|critical) ' "$log" || true)
echo "server exit status on SIGTERM: $stop_rc; warn/error lines in its log: $problems"
((problems == 0)) || grep -E '^[^ ]+ (warn|error|critical) ' "$log" | head -20
echo "wall clock: $(($(date +%s) - started)) s"
if [[ $stop_rc != 0 ]]; then
  echo "FAIL: the server did not stop cleanly"
  tail -n 20 "$log"
  exit 1
fi
if ((rc != 0)); then
  tail -n 20 "$log"
  exit "$rc"
fi
if ((STRICT)) && grep -q '^RSS over .*: MISSED$' "$tmp/soak.txt"; then
  echo "STRICT=1: the RSS goal was missed"
  exit 1
fi
status=0
