#!/usr/bin/env bash
# Long fuzzing runs of the libFuzzer targets in tests/fuzz (the CI suite fuzzes each for 20 s
# only). Builds the `fuzz` preset, then fuzzes each target for MINUTES with JOBS worker processes
# (libFuzzer's -fork mode: one crash does not end the run, every reproducer is kept), keeping the
# inputs it finds in build/fuzz/long/<target>/corpus across runs. Then minimizes that corpus
# (-merge) and prints per target: executions, exec/s, edges and features the corpus reaches,
# crashes. bench/fuzz/coverage.sh then gives line coverage per source file.
#
# Usage: bench/fuzz/run.sh [-m MINUTES] [-j JOBS] [-u] [TARGET...]
#   -m MINUTES  per target (default 10)
#   -j JOBS     fuzzing processes (default 2, one per core of a CI machine)
#   -u          also merge into the committed seed corpus tests/fuzz/<target>/ the inputs that
#               add coverage over it (review them, and keep that corpus small, before committing)
#   TARGET      http_request, event_json, admin_command, config (default: all)
# Crash reproducers are left in build/fuzz/long/<target>/artifacts/; tests/fuzz/README.md says
# how to turn one into a regression test. Exits 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/../.."

minutes=10
jobs=2
update_seeds=0
while getopts "m:j:u" opt; do
  case "$opt" in
    m) minutes="$OPTARG" ;;
    j) jobs="$OPTARG" ;;
    u) update_seeds=1 ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http_request event_json admin_command config)

export CCACHE_BASEDIR="$PWD"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

declare -A max_len=([http_request]=8192 [event_json]=4096 [admin_command]=1024 [config]=2048)
crashed=0
summary=()
for target in "${targets[@]}"; do
  bin="build/fuzz/bin/fuzz_$target"
  seeds="tests/fuzz/$target"
  out="build/fuzz/long/$target"
  [ -x "$bin" ] || { echo "no fuzz target $target" >&2; exit 2; }
  mkdir -p "$out/corpus" "$out/artifacts"
  dict=()
  [ -f "tests/fuzz/$target.dict" ] && dict=("-dict=tests/fuzz/$target.dict")
  echo "== $target: $minutes min, $jobs jobs"
  # -fork writes new inputs to the first corpus directory (ours, never the committed one).
  "$bin" -fork="$jobs" -ignore_crashes=1 -max_total_time=$((minutes * 60)) -timeout=25 \
    -max_len="${max_len[$target]:-4096}" -artifact_prefix="$out/artifacts/" "${dict[@]}" \
    "$out/corpus" "$seeds" 2>"$out/fuzz.log" || true
  status=$(grep -E '^#[0-9]+' "$out/fuzz.log" | tail -1 || true)
  # The corpus, minimized: the smallest set of inputs with the same coverage.
  rm -rf "$out/minimized" && mkdir -p "$out/minimized"
  "$bin" -merge=1 -max_len="${max_len[$target]:-4096}" "$out/minimized" "$seeds" "$out/corpus" \
    >/dev/null 2>"$out/merge.log" || true
  rm -rf "$out/corpus" && mv "$out/minimized" "$out/corpus"
  # Edges (cov) and features (ft) the minimized corpus reaches, counted as the ctest run counts
  # them (the -fork status line counts differently). Line coverage: bench/fuzz/coverage.sh.
  "$bin" -runs=0 "$out/corpus" 2>"$out/coverage.log" >/dev/null || true
  if [ "$update_seeds" = 1 ]; then
    before=$(find "$seeds" -maxdepth 1 -type f | wc -l)
    "$bin" -merge=1 -max_len="${max_len[$target]:-4096}" "$seeds" "$out/corpus" \
      >/dev/null 2>>"$out/merge.log" || true
    after=$(find "$seeds" -maxdepth 1 -type f | wc -l)
    echo "   seeds: $before -> $after files in $seeds"
  fi
  crashes=$(find "$out/artifacts" -type f | wc -l)
  [ "$crashes" -eq 0 ] || crashed=1
  reached=$(grep -Eo 'INITED cov: [0-9]+ ft: [0-9]+' "$out/coverage.log" | tail -1 | sed 's/INITED //')
  echo "   fuzzing: $status"
  echo "   corpus: $(find "$out/corpus" -type f | wc -l) inputs, $reached;" \
       "reproducers: $crashes in $out/artifacts"
  summary+=("$target: $(grep -Eo 'exec/s [0-9]+' <<<"$status"), corpus $reached, reproducers $crashes")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$crashed"
