//! What the last runs left in the artifacts directory, per node: `run_results.json` (status,
//! duration, rows, a freshness check made in the run) and `sources.json` (the last
//! `strata source freshness`). Both are optional; a file that cannot be read is reported as a
//! warning and the site is made without it.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value as J;

/// The last result of one node.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LastResult {
    /// `success`, `error`, `pass`, `fail`, `warn`, `skipped`...
    pub status: String,
    /// Seconds.
    pub execution_time: f64,
    /// Rows affected, when the database said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The result's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it ended (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// Failing rows of a test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<u64>,
}

/// The last freshness check of one node.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LastFreshness {
    /// `pass`, `warn`, `error`, `runtime error`.
    pub status: String,
    /// Seconds since the newest row was loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<f64>,
    /// The newest load time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_loaded_at: Option<String>,
    /// When it was checked (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshotted_at: Option<String>,
}

/// What the last runs said.
#[derive(Debug, Default)]
pub struct RunState {
    /// By unique id.
    pub results: HashMap<String, LastResult>,
    /// By unique id: the newer of the run's check and `sources.json`'s.
    pub freshness: HashMap<String, LastFreshness>,
    /// The last run: command, when, elapsed seconds.
    pub run: Option<J>,
    /// Files that could not be read.
    pub problems: Vec<String>,
}

/// Reads both files from `dir` (the artifacts directory).
pub fn read(dir: &Path) -> RunState {
    let mut state = RunState::default();
    if let Some(doc) = read_json(&dir.join("run_results.json"), &mut state.problems) {
        run_results(&doc, &mut state);
    }
    if let Some(doc) = read_json(&dir.join("sources.json"), &mut state.problems) {
        sources(&doc, &mut state);
    }
    state
}

fn read_json(path: &Path, problems: &mut Vec<String>) -> Option<J> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            problems.push(format!("{}: {e}", path.display()));
            return None;
        }
    };
    match serde_json::from_str(&text) {
        Ok(doc) => Some(doc),
        Err(e) => {
            problems.push(format!("{}: not JSON ({e})", path.display()));
            None
        }
    }
}

fn run_results(doc: &J, state: &mut RunState) {
    let Some(results) = doc["results"].as_array() else {
        return;
    };
    for r in results {
        let Some(id) = r["unique_id"].as_str() else {
            continue;
        };
        let completed_at = r["timing"]
            .as_array()
            .and_then(|t| t.last())
            .and_then(|t| t["completed_at"].as_str())
            .map(str::to_string);
        state.results.insert(
            id.to_string(),
            LastResult {
                status: r["status"].as_str().unwrap_or("unknown").to_string(),
                execution_time: r["execution_time"].as_f64().unwrap_or(0.0),
                rows: r["adapter_response"]["rows_affected"].as_u64(),
                message: r["message"].as_str().map(str::to_string),
                completed_at,
                failures: r["failures"].as_u64(),
            },
        );
        let f = &r["adapter_response"]["strata"]["freshness"];
        if let Some(status) = f["status"].as_str() {
            offer(
                &mut state.freshness,
                id,
                LastFreshness {
                    status: status.to_string(),
                    age_seconds: f["age_seconds"].as_f64(),
                    max_loaded_at: f["max_loaded_at"].as_str().map(str::to_string),
                    snapshotted_at: f["snapshotted_at"].as_str().map(str::to_string),
                },
            );
        }
    }
    let args = &doc["args"];
    state.run = Some(serde_json::json!({
        "which": args["which"],
        "generated_at": doc["metadata"]["generated_at"],
        "elapsed_time": doc["elapsed_time"],
        "target": args["strata"]["target_name"],
    }));
}

fn sources(doc: &J, state: &mut RunState) {
    let Some(results) = doc["results"].as_array() else {
        return;
    };
    for r in results {
        let (Some(id), Some(status)) = (r["unique_id"].as_str(), r["status"].as_str()) else {
            continue;
        };
        offer(
            &mut state.freshness,
            id,
            LastFreshness {
                status: status.to_string(),
                age_seconds: r["max_loaded_at_time_ago_in_s"].as_f64(),
                max_loaded_at: r["max_loaded_at"].as_str().map(str::to_string),
                snapshotted_at: r["snapshotted_at"].as_str().map(str::to_string),
            },
        );
    }
}

/// Keeps the newer of two checks of a node (RFC 3339 UTC times compare as text).
fn offer(map: &mut HashMap<String, LastFreshness>, id: &str, f: LastFreshness) {
    match map.get(id) {
        Some(old) if old.snapshotted_at >= f.snapshotted_at => {}
        _ => {
            map.insert(id.to_string(), f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newer_check_wins_and_bad_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("run_results.json"),
            r#"{"metadata": {"generated_at": "2026-01-01T00:00:10Z"}, "elapsed_time": 1.5,
                "args": {"which": "build", "strata": {"target_name": "dev"}},
                "results": [{"unique_id": "source.p.s.t", "status": "pass", "execution_time": 0.1,
                  "adapter_response": {"strata": {"freshness": {"status": "pass", "age_seconds": 5,
                  "snapshotted_at": "2026-01-01T00:00:05Z"}}}},
                  {"unique_id": "model.p.m", "status": "success", "execution_time": 0.2,
                  "adapter_response": {"rows_affected": 7},
                  "timing": [{"name": "execute", "completed_at": "2026-01-01T00:00:09Z"}]}]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("sources.json"),
            r#"{"results": [{"unique_id": "source.p.s.t", "status": "warn",
                "max_loaded_at_time_ago_in_s": 1900, "snapshotted_at": "2026-01-01T00:01:00Z"}]}"#,
        )
        .unwrap();
        let s = read(dir.path());
        assert_eq!(s.freshness["source.p.s.t"].status, "warn");
        assert_eq!(s.results["model.p.m"].rows, Some(7));
        assert_eq!(
            s.results["model.p.m"].completed_at.as_deref(),
            Some("2026-01-01T00:00:09Z")
        );
        assert!(s.problems.is_empty());
        std::fs::write(dir.path().join("sources.json"), "{").unwrap();
        let s = read(dir.path());
        assert_eq!(s.freshness["source.p.s.t"].status, "pass");
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
    }
}
