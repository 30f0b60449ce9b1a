#!/usr/bin/env bash
# Source-based line coverage of the fuzz corpora: builds the regression runners
# (fuzz_<target>_regress, no libFuzzer, no sanitizers) with clang's -fprofile-instr-generate
# -fcoverage-mapping in build/fuzz-coverage, replays each target's committed corpus plus what
# bench/fuzz/run.sh found (build/fuzz/long/<target>/corpus, if any), and prints llvm-cov's
# per-file line and branch coverage of the files under src/ each target is meant to reach.
#
# Usage: bench/fuzz/coverage.sh [TARGET...]   (default: all four)
# Needs clang-14 and llvm-14 (llvm-profdata-14, llvm-cov-14). The HTML report of each target is
# left in build/fuzz-coverage/report/<target>/index.html.
set -euo pipefail
cd "$(dirname "$0")/../.."

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http_request event_json admin_command config)
build=build/fuzz-coverage
# The files each target is written for (the rest is linked in but not its business).
declare -A files=(
  [http_request]='src/core/(http_server|http_session|router|percent)\.cc|src/api/handler\.cc'
  [event_json]='src/service/(protocol/(canonical_json|event_hash|redaction|identifiers|auth_rules|power_levels|filter|crypto|room_versions)|storage/(stored_json|schema))\.cc'
  [admin_command]='src/admin/(tree|reply|format|commands|server_commands|debug_commands)\.cc|src/service/admin_room/admin_room_impl\.cc'
  [config]='src/core/(config|options)\.cc'
)

export CCACHE_BASEDIR="$PWD"
cmake --preset release -B "$build" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
  -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null
runners=()
for target in "${targets[@]}"; do runners+=("fuzz_${target}_regress"); done
cmake --build "$build" --target "${runners[@]}"

for target in "${targets[@]}"; do
  profiles="$build/profiles/$target"
  rm -rf "$profiles" && mkdir -p "$profiles"
  inputs=("tests/fuzz/$target")
  [ -d "build/fuzz/long/$target/corpus" ] && inputs+=("build/fuzz/long/$target/corpus")
  LLVM_PROFILE_FILE="$profiles/%p.profraw" "$build/bin/fuzz_${target}_regress" "${inputs[@]}" \
    2>"$profiles/run.log" || { echo "$target: an input failed, see $profiles/run.log" >&2; exit 1; }
  llvm-profdata-14 merge -sparse "$profiles"/*.profraw -o "$profiles/merged.profdata"
  echo "== $target ($(grep -Eo '[0-9]+ inputs' "$profiles/run.log"))"
  llvm-cov-14 report "$build/bin/fuzz_${target}_regress" -instr-profile="$profiles/merged.profdata" \
      --show-region-summary=false --show-instantiation-summary=false 2>/dev/null |
    awk -v pattern="${files[$target]}" 'NR == 1 || $1 ~ pattern {
        sub(/.*\/src\//, "src/", $1); print }' | column -t
  llvm-cov-14 show "$build/bin/fuzz_${target}_regress" -instr-profile="$profiles/merged.profdata" \
    -format=html -output-dir="$build/report/$target" >/dev/null 2>&1 || true
done
