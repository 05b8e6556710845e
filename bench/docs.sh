#!/usr/bin/env bash
# The docs site at scale: generates a 10,000-model project (examples/generate_project.rs),
# compiles it once (the caches warm), then times `strata docs generate --empty-catalog` (warm:
# compile + manifest + site) with farm-bench, prints the number and the largest data file, and
# times the first page, a node page and a graph page in headless Chromium from file://
# (examples/docs_first_page.rs).
#
# Usage: bench/docs.sh [MODELS]     (default 10000)
# Environment: RUNS (default 11), WORK (scratch dir, default a temp dir), CARGO_TARGET_DIR.
# Needs farm-bench, chromium and chromium-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
RUNS="${RUNS:-11}"
WORK="${WORK:-$(mktemp -d)}"
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet --bin strata --example generate_project --example docs_first_page
STRATA="$TARGET/release/strata"
dir="$WORK/docs-$N"
rm -rf "$dir"
"$TARGET/release/examples/generate_project" --models "$N" --out "$dir" >/dev/null
"$STRATA" --project-dir "$dir" docs generate --empty-catalog >/dev/null
farm-bench -n "$RUNS" --warmup 1 -- "$STRATA" --project-dir "$dir" docs generate --empty-catalog
"$STRATA" --project-dir "$dir" docs generate --empty-catalog
echo "data files: $(ls "$dir/.strata/docs/data" | wc -l), largest:"
ls -lS "$dir/.strata/docs/data" | sed -n 2p
echo "first page's data: $(stat -c %s "$dir/.strata/docs/data/meta.js") bytes"
"$TARGET/release/examples/docs_first_page" "$dir/.strata/docs" "$RUNS" \
  "" "#!/n/5000" "#!/graph/%2Bm_009999" "#!/graph/tag%3Amarts"
