#!/usr/bin/env bash
# Proves that a change to the compiler changed no compiled output: builds strata at BASE_REV and
# from the current working tree (uncommitted changes included), compiles the same projects with
# both binaries and compares the artifacts byte for byte.
#
#   bench/same-artifacts.sh BASE_REV          run from the repository root
#
# Cases (each compiled offline with `strata compile -t TARGET`, one fresh copy per binary):
#   example dev, example prod   the example project at the repository root (project.yml, models/,
#                               seeds/, macros/, contracts/, tests/singular/), as of BASE_REV
#   synthetic-N dev, prod       a project of N models (default 10000) written once by BASE_REV's
#                               examples/generate_project; both binaries compile copies of it
# Both binaries read the same input files, so only the compiler can make a difference.
#
# Compared per case: `manifest.json` and every file under `compiled/<target>/` in the artifacts
# directory (`artifacts-path:` of project.yml, `.strata` by default), except `compiled/<target>/.index`
# (inodes and modification times). The caches (render-cache.json, analysis-cache.json) are not
# compared. The manifest has no invocation-time field (no timestamp, invocation id or absolute
# path) and no version of strata. Nothing is filtered out of the files compared.
#
# Prints one line per case (`same: CASE` or `DIFFERENT: CASE` followed by the first differences).
# Exit status: 0 every case identical, 1 some case differs (or a compile failed), 2 usage or build
# error.
#
# Side effect: the working tree's src/lib.rs and src/main.rs are touched (modification time only;
# see build() below), so the target directory is left holding the working tree's build.
#
# Environment: CARGO_TARGET_DIR (one directory for both builds; default /work/strata-target-pg
# when /work is writable, as .ci/run does, else ./target), MODELS (synthetic project size,
# default 10000), KEEP_WORK=1 (keep the scratch directory for inspection).
set -euo pipefail
# Any unexpected failure (inside functions too) is an error, never mistaken for "different".
set -E
trap 'echo "same-artifacts: unexpected failure at line $LINENO" >&2; exit 2' ERR

if [ $# -ne 1 ] || [ "${1:0:1}" = "-" ]; then
  echo "usage: bench/same-artifacts.sh BASE_REV" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
ROOT="$(pwd -P)" # as cargo prints it
if ! BASE=$(git rev-parse --verify --quiet "$1^{commit}"); then
  echo "same-artifacts: $1 is not a commit" >&2
  exit 2
fi
MODELS="${MODELS:-10000}"

if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -d /work ] && [ -w /work ]; then
  CARGO_TARGET_DIR=/work/strata-target-pg
fi
# Absolute, so that both builds (run from different directories) share it.
CARGO_TARGET_DIR="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
export CARGO_TARGET_DIR

# Compile never connects, but the prod targets render a DSN from these: fixed dummy values, the
# same for both binaries, whatever the caller's environment holds.
export OFITEC_PG_DSN=postgresql://strata@127.0.0.1:1/ofitec
export SYNTH_PG_DSN=postgresql://strata@127.0.0.1:1/synthetic

WORK="$(realpath "$(mktemp -d /tmp/strata-same.XXXXXX)")"
cleanup() {
  if [ -d "$WORK/base-src" ]; then
    git -C "$ROOT" worktree remove --force "$WORK/base-src" || true
  fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then
    echo "scratch kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
mkdir -p "$WORK/bin/base" "$WORK/bin/current"

# build SOURCE_DIR NAME: release-builds strata and the generator in SOURCE_DIR and copies both to
# $WORK/bin/NAME before anything else can overwrite them in the shared target directory.
# Cargo finds a build fresh when no source file (a path relative to the package) is newer than
# its last build of the package in the target directory, whichever checkout that build came
# from: right after the BASE_REV build, the working tree's build would be skipped and the
# BASE_REV binary taken for it. So the crate roots are touched first (their modification time
# only), and the build must say it compiled strata from SOURCE_DIR.
build() {
  local log="$WORK/build-$2.log"
  echo "building $2 ($1) into $CARGO_TARGET_DIR" >&2
  touch -c "$1/src/lib.rs" "$1/src/main.rs"
  if ! (cd "$1" && cargo build --release --bin strata --example generate_project) 2>&1 |
    tee "$log" >&2; then
    echo "same-artifacts: the $2 build failed" >&2
    exit 2
  fi
  if ! awk -v dir="($1)" '/Compiling strata v/ && index($0, dir) { found = 1 } END { exit !found }' "$log"; then
    echo "same-artifacts: cargo did not compile strata from $1 (another build in $CARGO_TARGET_DIR at the same time?)" >&2
    exit 2
  fi
  cp "$CARGO_TARGET_DIR/release/strata" "$WORK/bin/$2/strata"
  cp "$CARGO_TARGET_DIR/release/examples/generate_project" "$WORK/bin/$2/generate_project"
}

if ! git worktree add --quiet --detach "$WORK/base-src" "$BASE"; then
  echo "same-artifacts: cannot check out $BASE in a worktree" >&2
  exit 2
fi
build "$WORK/base-src" base
build "$ROOT" current

# The inputs, written once and only read from here on.
mkdir -p "$WORK/input/example/tests"
(cd "$WORK/base-src" && cp -r project.yml models seeds macros contracts "$WORK/input/example/")
cp -r "$WORK/base-src/tests/singular" "$WORK/input/example/tests/"
if ! "$WORK/bin/base/generate_project" --models "$MODELS" --out "$WORK/input/synthetic-$MODELS" >/dev/null; then
  echo "same-artifacts: generate_project failed" >&2
  exit 2
fi

# The artifacts directory of a project: `artifacts-path:` of its project.yml, else .strata.
artifacts_of() {
  local p
  p=$(sed -n 's/^artifacts-path:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$1/project.yml" | tr -d "\"'")
  echo "${p:-.strata}"
}

# A few bytes of FILE from byte OFFSET (1-based), on one line.
excerpt() { { tail -c +"$2" "$1" || true; } | head -c 80 | tr '\n' ' '; }

status=0
# compare PROJECT TARGET: compiles a copy of $WORK/input/PROJECT with each binary and compares
# the artifacts; prints the case's line (and what differs) and sets status=1 when they differ.
compare() {
  local project=$1 target=$2 name="$1 $2" who dir rc
  for who in base current; do
    dir="$WORK/$who/$project-$target"
    mkdir -p "$WORK/$who"
    cp -r "$WORK/input/$project" "$dir"
    rc=0
    "$WORK/bin/$who/strata" --project-dir "$dir" compile -t "$target" >"$dir.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
      echo "DIFFERENT: $name (the $who binary's compile failed, exit $rc):"
      tail -n 5 "$dir.log" | sed 's/^/    /'
      status=1
      return
    fi
  done

  local art a b report="$WORK/$project-$target.report"
  art=$(artifacts_of "$WORK/input/$project")
  a="$WORK/base/$project-$target/$art"
  b="$WORK/current/$project-$target/$art"
  : >"$report"

  # manifest.json: one line of JSON, so the first differing byte and what surrounds it.
  local cmp_out byte from
  if ! cmp_out=$(cmp "$a/manifest.json" "$b/manifest.json" 2>&1); then
    byte=$(sed -n 's/.* differ: byte \([0-9]*\),.*/\1/p' <<<"$cmp_out")
    if [ -n "$byte" ]; then
      from=$((byte > 30 ? byte - 30 : 1))
      echo "  manifest.json: first difference at byte $byte" >>"$report"
      echo "    base:    ...$(excerpt "$a/manifest.json" "$from")" >>"$report"
      echo "    current: ...$(excerpt "$b/manifest.json" "$from")" >>"$report"
    else
      echo "  manifest.json: ${cmp_out//$WORK\//}" >>"$report"
    fi
  fi

  # compiled/<target>/: every file but the index.
  local ca="$a/compiled/$target" cb="$b/compiled/$target" total differing
  if [ ! -d "$ca" ] || [ ! -d "$cb" ]; then
    echo "  compiled/$target/ is missing in base or current" >>"$report"
  elif ! diff -rq -x .index "$ca" "$cb" >"$WORK/files.diff" 2>&1; then
    total=$(find "$ca" -type f ! -name .index | wc -l)
    differing=$(wc -l <"$WORK/files.diff")
    echo "  compiled/$target/: $differing of $total files differ or exist on one side only; first differences:" >>"$report"
    diff -r -x .index "$ca" "$cb" 2>&1 |
      sed -e "s|$ca|base|g" -e "s|$cb|current|g" -e 's|^diff -r -x \.index base/\([^ ]*\) .*|\1:|' |
      head -n 12 | cut -c 1-160 | sed 's/^/    /' >>"$report" || true
  fi

  if [ -s "$report" ]; then
    echo "DIFFERENT: $name"
    cat "$report"
    status=1
  else
    echo "same: $name ($(find "$ca" -type f ! -name .index | wc -l) compiled files and manifest.json)"
  fi
}

for project in example "synthetic-$MODELS"; do
  for target in dev prod; do
    compare "$project" "$target"
  done
done
exit "$status"
