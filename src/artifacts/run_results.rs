//! `run_results.json`: what the last `seed`/`run`/`build` did to each node, and how it was
//! invoked, so that `strata retry` can rerun exactly what failed or was skipped.

use std::path::Path;

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
}

/// One node of a previous run.
#[derive(Debug, Deserialize)]
pub struct PreviousResult {
    /// Node id.
    pub unique_id: String,
    /// Status as written.
    pub status: String,
}

/// Writes `run_results.json` into `dir`.
pub fn write(
    dir: &Path,
    invocation: &Invocation,
    target: &str,
    results: &[NodeResult],
    elapsed: f64,
) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let doc = RunResults {
        metadata: Metadata {
            strata_version: env!("CARGO_PKG_VERSION"),
            generated_at: crate::execute::now_rfc3339(),
            invocation,
            target_name: target,
        },
        elapsed_time: elapsed,
        results,
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    let path = dir.join("run_results.json");
    super::write_if_changed(&path, text.as_bytes())?;
    Ok(path)
}

/// Reads the previous run's results.
pub fn read(dir: &Path) -> Result<PreviousRun> {
    let path = dir.join("run_results.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("no previous run to retry: cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a strata run_results.json", path.display()))
}
