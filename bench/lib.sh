# Shared by the bench/*/run.sh scripts: `source "$repo/bench/lib.sh"`.

# bench_listening_port LOG PID [NAME]: waits up to 30 s for the server PID to log its
# "listening on http://127.0.0.1:PORT" line in LOG and prints PORT. Exits the script with status 2
# (the benches' setup-problem status), after printing LOG, when the server exits first or the
# line does not come.
bench_listening_port() {
  local log=$1 pid=$2 name=${3:-the server} port=
  for _ in $(seq 300); do
    port=$(grep -om1 'listening on http://127\.0\.0\.1:[0-9]*' "$log" | sed 's/.*://' || true)
    [[ -n $port ]] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "run.sh: $name exited during start-up" >&2; exit 2; }
    sleep 0.1
  done
  cat "$log" >&2
  echo "run.sh: $name: no 'listening on' line after 30 s" >&2
  exit 2
}

# bench_stop PID: stops the process PID (a server the script started): SIGTERM, then SIGKILL
# after 10 s, and reaps it. Nothing when PID is empty or already gone.
bench_stop() {
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

# bench_cleanup_tmp DIR STATUS [WHAT] [SCRIPT]: for the scripts' EXIT traps. Removes DIR after a
# run that exits 0, unless KEEP_TMP=1; otherwise keeps it for a look and says so on stderr
# ("SCRIPT: kept DIR (WHAT)"; SCRIPT defaults to run.sh).
bench_cleanup_tmp() {
  local dir=$1 status=$2 what=${3:-} script=${4:-run.sh}
  if [[ ${KEEP_TMP:-0} == 1 || $status != 0 ]]; then
    echo "$script: kept $dir${what:+ ($what)}" >&2
  else
    rm -rf "$dir"
  fi
}
