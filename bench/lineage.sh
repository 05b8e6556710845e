#!/usr/bin/env bash
# What OpenLineage events cost a run: `strata run --threads 1` of a generated 1,000-view project
# with the http transport to a receiver on this machine (A) against the same run without
# lineage (B), paired by farm-bench (A B A B ...), medians and the median of the pair ratios.
# Then the same A with the receiver down (events kept in the spool) against B.
#
# Usage: bench/lineage.sh [MODELS]          (default 1000)
# Environment: RUNS (pairs, default 11), WORK (scratch dir, default a temp dir),
# CARGO_TARGET_DIR (where the release binaries are built).
# Needs farm-bench and python3 (the receiver: a threaded HTTP/1.1 server that answers 201).
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-1000}"
RUNS="${RUNS:-11}"
WORK="${WORK:-$(mktemp -d)}"
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet --bin strata --example generate_project
STRATA="$TARGET/release/strata"
GEN="$TARGET/release/examples/generate_project"
for tool in farm-bench python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

dir="$WORK/run-view-$N"
rm -rf "$dir"
"$GEN" --models "$N" --out "$dir" --materialized view >/dev/null 2>&1
sync
"$STRATA" --project-dir "$dir" seed >/dev/null
"$STRATA" --project-dir "$dir" compile >/dev/null

# The receiver counts the events it gets (printed when it stops).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/receiver.py" <<'EOF'
import http.server, signal, sys
count = 0
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        count += 1
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
def stop(*_):
    print(count, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
srv.serve_forever()
EOF
python3 "$WORK/receiver.py" "$port" >"$WORK/receiver.count" &
receiver=$!
trap 'kill $receiver 2>/dev/null || true' EXIT
sleep 0.5

run=("$STRATA" --project-dir "$dir" run --threads 1)
echo "== http transport to a local receiver (A) vs no lineage (B), $N views"
farm-bench -n "$RUNS" --warmup 1 --timeout 1800 \
  --vs "env OPENLINEAGE_DISABLED=true ${run[*]}" -- \
  env OPENLINEAGE_URL="http://127.0.0.1:$port" "${run[@]}"
kill "$receiver"; wait "$receiver" 2>/dev/null || true
trap - EXIT
echo "events received: $(cat "$WORK/receiver.count")"

echo "== receiver down: events kept in the spool (A) vs no lineage (B)"
farm-bench -n "$RUNS" --warmup 1 --timeout 1800 \
  --vs "env OPENLINEAGE_DISABLED=true ${run[*]}" -- \
  env OPENLINEAGE_URL="http://127.0.0.1:$port" "${run[@]}"
echo "events kept: $(wc -l <"$dir/.strata/lineage-spool.jsonl")"
