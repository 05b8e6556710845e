#!/usr/bin/env bash
# The benchmark harness: builds the release binaries, generates synthetic projects and prints a
# table of medians. Needs hyperfine and GNU time (/usr/bin/time).
#
#   bench/run.sh [SIZES...]        default sizes: 1000 10000 100000
#
# Environment: RUNS (hyperfine runs per compile, default 5), WORK (scratch dir, default a temp
# dir), CARGO_TARGET_DIR (as for the build).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1000 10000 100000}")
read -r -a SIZES <<<"${SIZES[*]}"
RUNS="${RUNS:-5}"
WORK="${WORK:-$(mktemp -d /tmp/strata-bench.XXXXXX)}"
if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -d /work ] && [ -w /work ]; then
  export CARGO_TARGET_DIR=/work/strata-target-pg
fi
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet --bin strata --example generate_project --example run_floor
STRATA="$TARGET/release/strata"
GEN="$TARGET/release/examples/generate_project"
FLOOR="$TARGET/release/examples/run_floor"
for tool in hyperfine /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 2; }
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "strata $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo +changes), $(date -u +%Y-%m-%d)"
echo
# Three compiles per size: warm (nothing changed since the last compile: the usual case in CI
# and after a `git pull` that touched nothing), one model edited before each run (the edit
# loop of a developer), and cold (no artifacts and no caches: a fresh clone).
times() { python3 -c "import json,statistics as s;r=json.load(open('$1'))['results'][0]['times'];print(f'{s.median(r):.3f} {min(r):.3f} {max(r):.3f}')"; }
echo "| project | nodes | compile | median (s) | min | max | peak memory (MiB) |"
echo "|---|---|---|---|---|---|---|"
for n in "${SIZES[@]}"; do
  dir="$WORK/synth-$n"
  "$GEN" --models "$n" --out "$dir" >/dev/null 2>&1
  # The generated files are flushed first: writeback running under the timed compiles would
  # be measured with them.
  sync
  runs=$RUNS
  [ "$n" -ge 100000 ] && runs=$(( RUNS < 3 ? RUNS : 3 ))
  edited="$dir/models/staging/group_00/m_000000.sql"
  hyperfine --style none --warmup 1 --runs "$runs" --export-json "$WORK/compile-$n.json" \
    "$STRATA --project-dir $dir compile" >/dev/null 2>>"$WORK/hyperfine.log"
  read -r med lo hi < <(times "$WORK/compile-$n.json")
  peak=$( (/usr/bin/time -f '%M' "$STRATA" --project-dir "$dir" compile >/dev/null) 2>&1 | tail -1)
  nodes=$(python3 -c "import json;m=json.load(open('$dir/.strata/manifest.json'));print(sum(len(m.get(k, {})) for k in ('nodes', 'sources', 'exposures', 'unit_tests')))")
  echo "| $n models | $nodes | warm | $med | $lo | $hi | $((peak / 1024)) |"
  hyperfine --style none --runs "$runs" --export-json "$WORK/compile-edit-$n.json" \
    --prepare "echo '-- edited' >> $edited" \
    "$STRATA --project-dir $dir compile" >/dev/null 2>>"$WORK/hyperfine.log"
  read -r med lo hi < <(times "$WORK/compile-edit-$n.json")
  echo "-- edited" >>"$edited"
  peak=$( (/usr/bin/time -f '%M' "$STRATA" --project-dir "$dir" compile >/dev/null) 2>&1 | tail -1)
  echo "| $n models | $nodes | one model edited | $med | $lo | $hi | $((peak / 1024)) |"
  cold_runs=$runs
  [ "$n" -ge 100000 ] && cold_runs=1
  hyperfine --style none --runs "$cold_runs" --export-json "$WORK/compile-cold-$n.json" \
    --prepare "rm -rf $dir/.strata" \
    "$STRATA --project-dir $dir compile" >/dev/null 2>>"$WORK/hyperfine.log"
  read -r med lo hi < <(times "$WORK/compile-cold-$n.json")
  rm -rf "$dir/.strata"
  peak=$( (/usr/bin/time -f '%M' "$STRATA" --project-dir "$dir" compile >/dev/null) 2>&1 | tail -1)
  echo "| $n models | $nodes | cold | $med | $lo | $hi | $((peak / 1024)) |"
done

echo
echo "| run | strata run median (s) | floor median (s) | ratio | overhead per model (ms) |"
echo "|---|---|---|---|---|"
for spec in "1000 view" "200 table"; do
  read -r n kind <<<"$spec"
  dir="$WORK/run-$kind-$n"
  "$GEN" --models "$n" --out "$dir" --materialized "$kind" >/dev/null 2>&1
  sync
  "$STRATA" --project-dir "$dir" seed >/dev/null
  "$STRATA" --project-dir "$dir" compile >/dev/null
  db="$dir/warehouse/synthetic.duckdb"
  s_times=(); f_times=()
  for _ in $(seq 1 "$RUNS"); do
    t0=$(date +%s.%N); "$STRATA" --project-dir "$dir" run --threads 1 >/dev/null; t1=$(date +%s.%N)
    s_times+=("$(echo "$t1 - $t0" | bc)")
    t0=$(date +%s.%N); "$FLOOR" "$dir" "$db" >/dev/null; t1=$(date +%s.%N)
    f_times+=("$(echo "$t1 - $t0" | bc)")
  done
  s_med=$(printf '%s\n' "${s_times[@]}" | median)
  f_med=$(printf '%s\n' "${f_times[@]}" | median)
  ratio=$(echo "scale=2; $s_med / $f_med" | bc)
  per=$(echo "scale=3; ($s_med - $f_med) * 1000 / $n" | bc)
  echo "| $n ${kind}s | $s_med | $f_med | $ratio | $per |"
done

echo
echo "| example project | strata build median (s) | min | max |"
echo "|---|---|---|---|"
ex="$WORK/example"
mkdir -p "$ex/tests"
cp -r project.yml models seeds macros contracts "$ex/"
cp -r tests/singular "$ex/tests/"
"$STRATA" --project-dir "$ex" build >/dev/null
hyperfine --style none --warmup 1 --runs "$RUNS" --export-json "$WORK/example.json" \
  "$STRATA --project-dir $ex build" >/dev/null 2>>"$WORK/hyperfine.log"
read -r med lo hi < <(times "$WORK/example.json")
echo "| seeds, 32 models, 155 tests, once built | $med | $lo | $hi |"
