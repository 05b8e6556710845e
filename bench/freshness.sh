#!/usr/bin/env bash
# Freshness of 100 sources in one command on DuckDB: generates a project with N source tables
# (each 1,000 rows with a load time), then times `strata source freshness` RUNS times and
# prints the median wall time. Rerun: bench/freshness.sh [N]; RUNS=21 by default.
set -euo pipefail
N=${1:-100}
RUNS=${RUNS:-21}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${STRATA_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/strata}
[ -x "$BIN" ] || { echo "build first: cargo build --release (or set STRATA_BIN)" >&2; exit 2; }
DIR=${BENCH_DIR:-$(mktemp -d)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$DIR"' EXIT
mkdir -p "$DIR/models" "$DIR/warehouse"
cat > "$DIR/project.yml" <<YML
name: fresh_bench
version: "1.0"
target: dev
targets:
  dev: {type: duckdb, path: warehouse/bench.duckdb, schema: main, threads: 4}
YML
{
  echo "version: 2"
  echo "sources:"
  echo "  - name: landing"
  echo "    loaded_at_field: loaded_at"
  echo "    freshness: {warn_after: {count: 20, period: minute}, error_after: {count: 60, period: minute}}"
  echo "    tables:"
  for i in $(seq 1 "$N"); do echo "      - name: t$i"; done
} > "$DIR/models/_sources.yml"
# The tables, through the binary's own `run-operation` (no DuckDB CLI needed).
mkdir -p "$DIR/macros"
{
  echo "{% macro setup() %}"
  echo "create schema if not exists landing;"
  for i in $(seq 1 "$N"); do
    echo "create or replace table landing.t$i as select range as id, make_timestamp(epoch_us(current_timestamp) - range * 1000000) as loaded_at from range(1000);"
  done
  echo "{% endmacro %}"
} > "$DIR/macros/setup.sql"
"$BIN" --project-dir "$DIR" -q run-operation setup
times=()
for _ in $(seq 1 "$RUNS"); do
  s=$(date +%s.%N)
  "$BIN" --project-dir "$DIR" -q source freshness > /dev/null
  e=$(date +%s.%N)
  times+=("$(echo "$e - $s" | bc -l)")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$RUNS" -v s="$N" '
  {a[NR]=$1} END {printf "source freshness of %d sources: median %.3f s, min %.3f s, max %.3f s over %d runs\n", s, a[int((n+1)/2)], a[1], a[n], n}'
