#!/usr/bin/env bash
# The mutation run at full size: N (default 100,000) mutated copies of the example project's
# files, each compiled in process; fails on the first panic, hang, or rejection without an
# error at a file and line (see tests/mutation.rs). Prints the number rejected and compiled.
#
#   bench/mutation.sh [N] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -d /work ] && [ -w /work ]; then
  export CARGO_TARGET_DIR=/work/strata-target-pg
fi
export STRATA_MUTATIONS="${1:-100000}"
export STRATA_MUTATION_SEED="${2:-1}"
start=$(date +%s)
cargo test --release --test mutation -- --nocapture 2>&1 | grep -E 'mutations|panicked|case|test result'
echo "took $(( $(date +%s) - start )) s"
