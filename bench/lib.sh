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
