#!/usr/bin/env bash
# The Spark run benchmark: a generated project of N models (every one a table) run on a local
# Spark cluster (a standalone master, two workers of one core each, a Spark Connect server,
# all from pyspark), `strata run --target spark --threads T` against the floor of sending the
# statements strata sends for the models (build under a temporary name, drop, rename) with the
# same parallelism straight through a Spark Connect session (`examples/spark_floor.rs`), paired
# run by run with farm-bench, which also reports strata's peak memory.
#
#   bench/spark.sh [MODELS]        default 200
#
# Environment: RUNS (pairs, default 5), THREADS (default 4), WORK (scratch dir, default a temp
# dir), SPARK_REMOTE (use that server instead of starting a cluster), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS="${1:-200}"
RUNS="${RUNS:-5}"
THREADS="${THREADS:-4}"
WORK="${WORK:-$(mktemp -d /tmp/strata-bench-spark.XXXXXX)}"
if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -d /work ] && [ -w /work ]; then
  export CARGO_TARGET_DIR=/work/strata-target-pg
fi
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet --bin strata --example generate_project --example spark_floor
STRATA="$TARGET/release/strata"
command -v farm-bench >/dev/null || { echo "bench: farm-bench is required" >&2; exit 2; }

if [ -z "${SPARK_REMOTE:-}" ]; then
  SPARK_HOME=$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))') || {
    echo 'bench: pyspark is missing: python3 -m pip install "pyspark[connect]>=4,<5"' >&2; exit 2; }
  export SPARK_HOME SPARK_LOG_DIR="$WORK/logs" SPARK_PID_DIR="$WORK/pids"
  # pyspark ships spark-daemon.sh but not start-master.sh or start-worker.sh.
  daemon="$SPARK_HOME/sbin/spark-daemon.sh"
  master=org.apache.spark.deploy.master.Master
  worker=org.apache.spark.deploy.worker.Worker
  stop() {
    "$SPARK_HOME/sbin/stop-connect-server.sh" >/dev/null 2>&1 || true
    "$daemon" stop "$worker" 1 >/dev/null 2>&1 || true
    "$daemon" stop "$worker" 2 >/dev/null 2>&1 || true
    "$daemon" stop "$master" 1 >/dev/null 2>&1 || true
  }
  trap stop EXIT
  "$daemon" start "$master" 1 --host 127.0.0.1 --port 17077 --webui-port 18080 >/dev/null
  for n in 1 2; do
    "$daemon" start "$worker" "$n" --host 127.0.0.1 --cores 1 --memory 1g \
      --webui-port $((18080 + n)) --work-dir "$WORK/worker-$n" spark://127.0.0.1:17077 >/dev/null
  done
  "$SPARK_HOME/sbin/start-connect-server.sh" --master spark://127.0.0.1:17077 \
    --driver-memory 1g --conf spark.executor.memory=768m --conf spark.ui.enabled=false \
    --conf spark.connect.grpc.binding.address=127.0.0.1 --conf spark.connect.grpc.binding.port=15012 \
    --conf "spark.sql.warehouse.dir=$WORK/warehouse" --conf spark.sql.shuffle.partitions=4 >/dev/null
  export SPARK_REMOTE=sc://127.0.0.1:15012
  for _ in $(seq 180); do
    (exec 3<>/dev/tcp/127.0.0.1/15012) 2>/dev/null && break
    sleep 1
  done
fi

dir="$WORK/spark-$MODELS"
"$TARGET/release/examples/generate_project" --models "$MODELS" --out "$dir" --materialized table >/dev/null
# A Spark target (the server at SPARK_REMOTE) beside the generated DuckDB and Postgres ones.
python3 - "$dir/project.yml" <<'EOF'
import sys
path = sys.argv[1]
text = open(path).read()
spark = "  spark:\n    type: spark\n    method: connect\n    schema: bench\n    threads: 4\n"
text = text.replace("targets:\n", "targets:\n" + spark, 1)
open(path, "w").write(text)
EOF
"$STRATA" --project-dir "$dir" seed --target spark >/dev/null
"$STRATA" --project-dir "$dir" compile --target spark >/dev/null
"$STRATA" --project-dir "$dir" run --target spark --threads "$THREADS" >/dev/null

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); strata $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d)"
echo "$MODELS table models, $THREADS threads, server $SPARK_REMOTE"
farm-bench -n "$RUNS" --warmup 1 --timeout 3600 \
  --vs "$TARGET/release/examples/spark_floor $dir $SPARK_REMOTE $THREADS" \
  -- "$STRATA" --project-dir "$dir" run --target spark --threads "$THREADS"
