//! `run_results.json`: what the last `seed`/`run`/`build` did to each node, and how it was
//! invoked, so that `strata retry` can rerun exactly what did not succeed.
//!
//! The file has the shape of dbt's run results v6. dbt's shape is closed but for two objects,
//! and strata's own facts go there: the run's `args` hold the invocation as `retry` reuses it
//! (dbt's names where dbt has one: `which` is the command) and, under `args.strata`, the run's
//! state and selection; each result's `adapter_response` holds `rows_affected` (dbt's key) and,
//! under `strata`, the attempts made, a test's failing rows and strata's own status where
//! dbt's has no word for it (`interrupted`, shown to dbt's readers as `error`).
//!
//! The file is written while the run goes on ([`Live`]), not only at its end: with its
//! `run_state` `running` until then, and the ids of every selected node, a run that was killed
//! (SIGKILL, a crash, a closed terminal) still tells `retry` what finished. Every write
//! replaces the file atomically (temp file + rename), so a reader never sees half of one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::execute::{NodeResult, Status};

/// The schema the file follows: dbt's run results v6.
pub const RUN_RESULTS_SCHEMA: &str = "https://schemas.getdbt.com/dbt/run-results/v6.json";

/// How the run was invoked (enough to run it again): the file's `args`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Invocation {
    /// `seed`, `run`, `test` or `build` (dbt's `which`; `command` in files of older versions).
    #[serde(rename = "which", alias = "command")]
    pub command: String,
    /// `--target`.
    pub target: Option<String>,
    /// `--vars`, as given.
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
    /// `--skip-freshness`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_freshness: bool,
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
    results: ResultsOut<'a>,
    elapsed_time: f64,
    args: Args<'a>,
}

/// dbt's `BaseArtifactMetadata`.
#[derive(Serialize)]
struct Metadata<'a> {
    dbt_schema_version: &'static str,
    generated_at: String,
    invocation_id: &'a str,
    invocation_started_at: &'a str,
    env: BTreeMap<(), ()>,
}

/// `args`: the invocation, and strata's facts of the run.
#[derive(Serialize)]
struct Args<'a> {
    #[serde(flatten)]
    invocation: &'a Invocation,
    strata: RunFacts<'a>,
}

/// `args.strata`.
#[derive(Serialize)]
struct RunFacts<'a> {
    version: &'static str,
    target_name: &'a str,
    run_state: RunState,
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
    /// A new random UUID for this run.
    pub invocation_id: String,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
}

impl RunHeader {
    /// The header of a run starting now.
    pub fn new(
        dir: PathBuf,
        invocation: Invocation,
        target: String,
        selected: Vec<String>,
    ) -> Self {
        RunHeader {
            dir,
            invocation,
            target,
            selected,
            invocation_id: uuid::Uuid::new_v4().to_string(),
            started_at: crate::execute::now_rfc3339(),
        }
    }
}

/// The results as dbt's `RunResultOutput`s.
struct ResultsOut<'a>(&'a [NodeResult]);

impl Serialize for ResultsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ResultOut))
    }
}

/// The status dbt's readers know: strata's, but `interrupted` (a node stopped while running,
/// rolled back) is an `error`.
fn dbt_status(s: Status) -> &'static str {
    match s {
        Status::Success => "success",
        Status::Error | Status::Interrupted => "error",
        Status::Skipped => "skipped",
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Warn => "warn",
    }
}

/// One result.
struct ResultOut<'a>(&'a NodeResult);

impl Serialize for ResultOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Timing<'a> {
            name: &'static str,
            started_at: &'a str,
            completed_at: Option<&'a str>,
        }
        let r = self.0;
        let timing: Vec<Timing> = r
            .started_at
            .as_deref()
            .map(|started_at| Timing {
                name: "execute",
                started_at,
                completed_at: r.completed_at.as_deref(),
            })
            .into_iter()
            .collect();
        let thread_id = match r.thread {
            Some(t) => format!("Thread-{}", t + 1),
            None => "main".to_string(),
        };
        let mut m = s.serialize_map(Some(12))?;
        m.serialize_entry("status", dbt_status(r.status))?;
        m.serialize_entry("timing", &timing)?;
        m.serialize_entry("thread_id", &thread_id)?;
        m.serialize_entry("execution_time", &r.execution_time)?;
        m.serialize_entry("adapter_response", &AdapterResponse(r))?;
        m.serialize_entry("message", &r.message)?;
        m.serialize_entry("failures", &r.failures)?;
        m.serialize_entry("unique_id", &r.unique_id)?;
        m.serialize_entry("compiled", &r.compiled_code.is_some())?;
        m.serialize_entry("compiled_code", &r.compiled_code.as_deref())?;
        m.serialize_entry("relation_name", &r.relation_name)?;
        m.serialize_entry("batch_results", &None::<()>)?;
        m.end()
    }
}

/// `adapter_response`: dbt's `rows_affected`, and strata's own facts of the result.
struct AdapterResponse<'a>(&'a NodeResult);

impl Serialize for AdapterResponse<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Facts<'a> {
            /// Attempts made (0 for a node that never ran).
            attempts: u32,
            /// A sample of a test's failing rows, a unit test's differences.
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            details: &'a [String],
            /// strata's status where dbt's says less (`interrupted`).
            #[serde(skip_serializing_if = "Option::is_none")]
            status: Option<Status>,
            /// The freshness check made with this result (a source's, or a model's right
            /// after it built): what the docs site shows against the SLO.
            #[serde(skip_serializing_if = "Option::is_none")]
            freshness: Option<FreshnessFacts<'a>>,
        }
        #[derive(Serialize)]
        struct FreshnessFacts<'a> {
            status: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            max_loaded_at: Option<String>,
            snapshotted_at: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            age_seconds: Option<f64>,
            criteria: &'a crate::ir::Freshness,
        }
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(rows) = r.rows_affected {
            m.serialize_entry("rows_affected", &rows)?;
        }
        let status = (r.status == Status::Interrupted).then_some(r.status);
        m.serialize_entry(
            "strata",
            &Facts {
                attempts: r.attempts,
                details: &r.details,
                status,
                freshness: r.freshness.as_deref().map(|f| FreshnessFacts {
                    status: f.status.as_str(),
                    max_loaded_at: f.max_loaded_at.map(crate::freshness::time::rfc3339),
                    snapshotted_at: crate::freshness::time::rfc3339(f.snapshotted_at),
                    age_seconds: f.age_seconds,
                    criteria: &f.criteria,
                }),
            },
        )?;
        m.end()
    }
}

/// The parts of a previous run that `retry` needs.
#[derive(Debug)]
pub struct PreviousRun {
    /// How it was invoked.
    pub invocation: Invocation,
    /// Where it was when the file was written (absent in files of older versions).
    pub state: Option<RunState>,
    /// Every node it was to run (absent in files of older versions).
    pub selected: Vec<String>,
    /// Its node results.
    pub results: Vec<PreviousResult>,
}

/// A run results file as `retry` reads it: this version's, or an older one's (the invocation,
/// state and selection under `metadata`).
#[derive(Deserialize)]
struct PreviousFile {
    #[serde(default)]
    args: Option<PreviousArgs>,
    #[serde(default)]
    metadata: Option<OlderMetadata>,
    results: Vec<PreviousResult>,
}

#[derive(Deserialize)]
struct PreviousArgs {
    #[serde(flatten)]
    invocation: Invocation,
    #[serde(default)]
    strata: Option<PreviousFacts>,
}

#[derive(Deserialize)]
struct PreviousFacts {
    #[serde(default)]
    run_state: Option<RunState>,
    #[serde(default)]
    selected: Vec<String>,
}

#[derive(Deserialize)]
struct OlderMetadata {
    #[serde(default)]
    invocation: Option<Invocation>,
    #[serde(default)]
    state: Option<RunState>,
    #[serde(default)]
    selected: Vec<String>,
}

impl PreviousFile {
    fn into_run(self) -> Option<PreviousRun> {
        let results = self.results;
        if let Some(args) = self.args {
            let facts = args.strata;
            return Some(PreviousRun {
                invocation: args.invocation,
                state: facts.as_ref().and_then(|f| f.run_state),
                selected: facts.map(|f| f.selected).unwrap_or_default(),
                results,
            });
        }
        let older = self.metadata?;
        Some(PreviousRun {
            invocation: older.invocation?,
            state: older.state,
            selected: older.selected,
            results,
        })
    }
}

impl PreviousRun {
    /// The nodes `retry` runs: those of the selection without a result that says it succeeded
    /// (failed, skipped, interrupted, or not reached before the run was killed). A file of an
    /// older version, without the selection, gives its failed and skipped nodes.
    pub fn not_done(&self) -> std::collections::BTreeSet<String> {
        if self.selected.is_empty() {
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
        self.selected
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
            dbt_schema_version: RUN_RESULTS_SCHEMA,
            generated_at: crate::execute::now_rfc3339(),
            invocation_id: &header.invocation_id,
            invocation_started_at: &header.started_at,
            env: BTreeMap::new(),
        },
        results: ResultsOut(results),
        elapsed_time: elapsed,
        args: Args {
            invocation: &header.invocation,
            strata: RunFacts {
                version: env!("CARGO_PKG_VERSION"),
                target_name: &header.target,
                run_state: state,
                selected: &header.selected,
            },
        },
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
    let not_ours = || format!("{} is not a strata run_results.json", path.display());
    let file: PreviousFile = serde_json::from_str(&text).with_context(not_ours)?;
    file.into_run().with_context(not_ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, status: Status) -> NodeResult {
        NodeResult {
            unique_id: id.into(),
            status,
            thread: Some(0),
            started_at: Some(crate::execute::now_rfc3339()),
            completed_at: Some(crate::execute::now_rfc3339()),
            execution_time: 0.5,
            rows_affected: Some(3),
            failures: None,
            details: Vec::new(),
            message: "done".into(),
            attempts: 1,
            relation_name: Some("\"main\".\"a\"".into()),
            compiled_code: Some(Arc::from("select 1")),
            line: None,
            start_instant: None,
            end_instant: None,
            freshness: None,
        }
    }

    #[test]
    fn a_run_is_read_back_for_retry() {
        let dir = tempfile::tempdir().unwrap();
        let invocation = Invocation {
            command: "build".into(),
            threads: Some(3),
            select: vec!["+c".into()],
            junit_xml: Some("junit.xml".into()),
            ..Default::default()
        };
        let selected: Vec<String> = ["model.p.a", "model.p.b", "model.p.c"]
            .map(String::from)
            .into();
        let header = RunHeader::new(
            dir.path().to_path_buf(),
            invocation.clone(),
            "dev".into(),
            selected,
        );
        let results = [
            result("model.p.a", Status::Success),
            result("model.p.b", Status::Interrupted),
        ];
        write(&header, RunState::Interrupted, &results, 1.0).unwrap();
        let text = std::fs::read_to_string(dir.path().join("run_results.json")).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["args"]["which"], "build");
        assert_eq!(doc["results"][0]["thread_id"], "Thread-1");
        assert_eq!(doc["results"][1]["status"], "error");
        assert_eq!(
            doc["results"][1]["adapter_response"]["strata"]["status"],
            "interrupted"
        );
        let prev = read(dir.path()).unwrap();
        assert_eq!(prev.invocation, invocation);
        assert_eq!(prev.state, Some(RunState::Interrupted));
        let not_done: Vec<String> = prev.not_done().into_iter().collect();
        assert_eq!(not_done, ["model.p.b", "model.p.c"]);
    }

    #[test]
    fn a_run_of_an_older_version_is_read_for_retry() {
        let dir = tempfile::tempdir().unwrap();
        let older = r#"{"metadata": {"strata_version": "0.1.0", "generated_at": "2026-01-01T00:00:00Z",
            "invocation": {"command": "run", "target": null, "vars": null, "threads": null,
                "full_refresh": false, "fail_fast": true, "select": ["m"], "exclude": []},
            "target_name": "dev", "state": "finished", "selected": ["model.p.m", "model.p.n"]},
            "elapsed_time": 1.0,
            "results": [{"unique_id": "model.p.m", "status": "success"},
                        {"unique_id": "model.p.n", "status": "interrupted"}]}"#;
        std::fs::write(dir.path().join("run_results.json"), older).unwrap();
        let prev = read(dir.path()).unwrap();
        assert_eq!(prev.invocation.command, "run");
        assert!(prev.invocation.fail_fast);
        assert_eq!(prev.state, Some(RunState::Finished));
        let not_done: Vec<String> = prev.not_done().into_iter().collect();
        assert_eq!(not_done, ["model.p.n"]);
        std::fs::write(dir.path().join("run_results.json"), r#"{"results": []}"#).unwrap();
        assert!(read(dir.path()).is_err());
    }
}
