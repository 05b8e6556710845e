//! `run_results.json`: what the last `seed`/`run`/`build` did to each node, and how it was
//! invoked, so that `strata retry` can rerun exactly what did not succeed.
//!
//! The file is written while the run goes on ([`Live`]), not only at its end: with its
//! `state` `running` until then, and the ids of every selected node, a run that was killed
//! (SIGKILL, a crash, a closed terminal) still tells `retry` what finished. Every write
//! replaces the file atomically (temp file + rename), so a reader never sees half of one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::execute::NodeResult;

/// How the run was invoked (enough to run it again).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Invocation {
    /// `seed`, `run`, `test` or `build`.
    pub command: String,
    /// `--target`.
    pub target: Option<String>,
    /// `--vars`.
    pub vars: Option<String>,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--full-refresh`.
    pub full_refresh: bool,
    /// `--fail-fast`.
    pub fail_fast: bool,
    /// `--select`.
    pub select: Vec<String>,
    /// `--exclude`.
    pub exclude: Vec<String>,
    /// `--indirect-selection`.
    #[serde(default)]
    pub indirect_selection: crate::graph::select::IndirectSelection,
    /// `--state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<std::path::PathBuf>,
    /// `--junit-xml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub junit_xml: Option<std::path::PathBuf>,
    /// `--profiles-dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles_dir: Option<std::path::PathBuf>,
    /// `--profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `--empty`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty: bool,
    /// `--warn-error`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warn_error: bool,
}

/// Where a run is: `running` until it ends, then `finished`, or `interrupted` when it was
/// stopped (Ctrl-C, a closed output). A file left `running` belongs to a run that was killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Under way, or killed before it could say otherwise.
    Running,
    /// Ended: every selected node has a result.
    Finished,
    /// Stopped before the end; the nodes that were running rolled back.
    Interrupted,
}

#[derive(Serialize)]
struct RunResults<'a> {
    metadata: Metadata<'a>,
    elapsed_time: f64,
    results: &'a [NodeResult],
}

#[derive(Serialize)]
struct Metadata<'a> {
    strata_version: &'a str,
    generated_at: String,
    invocation: &'a Invocation,
    target_name: &'a str,
    state: RunState,
    selected: &'a [String],
}

/// What every write of one run's results shares.
#[derive(Clone, Debug)]
pub struct RunHeader {
    /// The artifacts directory.
    pub dir: PathBuf,
    /// How the run was invoked.
    pub invocation: Invocation,
    /// The target's name.
    pub target: String,
    /// Ids of every node the run was to run, in selection order.
    pub selected: Vec<String>,
}

/// The parts of a previous run that `retry` needs.
#[derive(Debug, Deserialize)]
pub struct PreviousRun {
    /// Its metadata.
    pub metadata: PreviousMetadata,
    /// Its node results.
    pub results: Vec<PreviousResult>,
}

/// Metadata of a previous run.
#[derive(Debug, Deserialize)]
pub struct PreviousMetadata {
    /// How it was invoked.
    pub invocation: Invocation,
    /// Where it was when the file was written (absent in files of older versions).
    #[serde(default)]
    pub state: Option<RunState>,
    /// Every node it was to run (absent in files of older versions).
    #[serde(default)]
    pub selected: Vec<String>,
}

impl PreviousRun {
    /// The nodes `retry` runs: those of the selection without a result that says it succeeded
    /// (failed, skipped, interrupted, or not reached before the run was killed). A file of an
    /// older version, without the selection, gives its failed and skipped nodes.
    pub fn not_done(&self) -> std::collections::BTreeSet<String> {
        if self.metadata.selected.is_empty() {
            return self
                .results
                .iter()
                .filter(|r| matches!(r.status.as_str(), "error" | "skipped" | "fail"))
                .map(|r| r.unique_id.clone())
                .collect();
        }
        let done: std::collections::BTreeSet<&str> = self
            .results
            .iter()
            .filter(|r| matches!(r.status.as_str(), "success" | "pass" | "warn"))
            .map(|r| r.unique_id.as_str())
            .collect();
        self.metadata
            .selected
            .iter()
            .filter(|id| !done.contains(id.as_str()))
            .cloned()
            .collect()
    }
}

/// One node of a previous run.
#[derive(Debug, Deserialize)]
pub struct PreviousResult {
    /// Node id.
    pub unique_id: String,
    /// Status as written.
    pub status: String,
}

/// Writes `run_results.json` into the header's directory, atomically.
pub fn write(
    header: &RunHeader,
    state: RunState,
    results: &[NodeResult],
    elapsed: f64,
) -> Result<PathBuf> {
    let dir = &header.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let doc = RunResults {
        metadata: Metadata {
            strata_version: env!("CARGO_PKG_VERSION"),
            generated_at: crate::execute::now_rfc3339(),
            invocation: &header.invocation,
            target_name: &header.target,
            state,
            selected: &header.selected,
        },
        elapsed_time: elapsed,
        results,
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    let path = dir.join("run_results.json");
    super::replace_atomically(&path, text.as_bytes())?;
    Ok(path)
}

/// The results of a run under way, written again as nodes finish: on a thread of their own,
/// so that no worker waits for the disk, each write holding every result so far. Writes are
/// spaced by at least four times the last one's duration (and 20 ms), which keeps their cost
/// a small share of a long run's time while a short run's file follows it node by node.
pub struct Live {
    shared: Arc<(Mutex<LiveState>, Condvar)>,
    writer: Option<std::thread::JoinHandle<()>>,
}

struct LiveState {
    results: Vec<NodeResult>,
    dirty: bool,
    closing: bool,
}

impl Live {
    /// Writes the run's file with no result yet, then follows the run.
    pub fn start(header: RunHeader, started: Instant) -> Result<Live> {
        write(&header, RunState::Running, &[], 0.0)?;
        let shared = Arc::new((
            Mutex::new(LiveState {
                results: Vec::new(),
                dirty: false,
                closing: false,
            }),
            Condvar::new(),
        ));
        let writer = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || follow(&header, &shared, started))
        };
        Ok(Live {
            shared,
            writer: Some(writer),
        })
    }

    /// Records a finished node's result.
    pub fn record(&self, result: &NodeResult) {
        let (lock, wake) = &*self.shared;
        let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
        s.results.push(result.clone());
        s.dirty = true;
        wake.notify_one();
    }

    /// Stops following; the caller writes the final file.
    pub fn stop(mut self) {
        self.close();
    }

    fn close(&mut self) {
        let (lock, wake) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).closing = true;
        wake.notify_one();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread: writes the results whenever new ones came, spaced as `Live` says.
fn follow(header: &RunHeader, shared: &(Mutex<LiveState>, Condvar), started: Instant) {
    let (lock, wake) = shared;
    loop {
        let results = {
            let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
            while !s.dirty && !s.closing {
                s = wake.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            if s.closing {
                return;
            }
            s.dirty = false;
            s.results.clone()
        };
        let t0 = Instant::now();
        // A failed write is retried with the next result; the final write reports errors.
        let _ = write(
            header,
            RunState::Running,
            &results,
            started.elapsed().as_secs_f64(),
        );
        std::thread::sleep((t0.elapsed() * 4).max(Duration::from_millis(20)));
    }
}

/// Reads the previous run's results.
pub fn read(dir: &Path) -> Result<PreviousRun> {
    let path = dir.join("run_results.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("no previous run to retry: cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a strata run_results.json", path.display()))
}
