//! `sources.json` in dbt's v3 shape (`https://schemas.getdbt.com/dbt/sources/v3.json`): one
//! result per checked source, a runtime error in dbt's short form. Models and seeds checked by
//! `strata freshness` are written too, with their own unique ids (dbt has no model freshness;
//! the shape fits them unchanged).

use serde_json::{Value, json};

use super::check::{FreshnessResult, FreshnessStatus};
use super::time::rfc3339;

/// The schema the file follows.
pub const SOURCES_SCHEMA: &str = "https://schemas.getdbt.com/dbt/sources/v3.json";

/// Facts of the invocation the file records.
pub struct Invocation<'a> {
    /// A fresh id per invocation.
    pub invocation_id: &'a str,
    /// When the command started (RFC 3339 UTC).
    pub started_at: &'a str,
    /// Seconds the whole command took.
    pub elapsed: f64,
}

/// The whole document, results in the order given.
pub fn document(results: &[(FreshnessResult, usize)], inv: &Invocation) -> Value {
    json!({
        "metadata": {
            "dbt_schema_version": SOURCES_SCHEMA,
            "dbt_version": env!("CARGO_PKG_VERSION"),
            "generated_at": super::time::now_rfc3339(),
            "invocation_id": inv.invocation_id,
            "invocation_started_at": inv.started_at,
            "env": {},
        },
        "results": results.iter().map(|(r, thread)| result(r, *thread)).collect::<Vec<_>>(),
        "elapsed_time": inv.elapsed,
    })
}

/// One result: `SourceFreshnessOutput`, or `SourceFreshnessRuntimeError` when there is no age.
pub fn result(r: &FreshnessResult, thread: usize) -> Value {
    let (Some(max), Some(age)) = (r.max_loaded_at, r.age_seconds) else {
        return json!({
            "unique_id": r.unique_id,
            "error": r.message,
            "status": FreshnessStatus::RuntimeError,
        });
    };
    json!({
        "unique_id": r.unique_id,
        "max_loaded_at": rfc3339(max),
        "snapshotted_at": rfc3339(r.snapshotted_at),
        "max_loaded_at_time_ago_in_s": age,
        "status": r.status,
        "criteria": {
            "warn_after": r.criteria.warn_after.as_ref().map(|t| json!({"count": t.count, "period": t.period})),
            "error_after": r.criteria.error_after.as_ref().map(|t| json!({"count": t.count, "period": t.period})),
            "filter": r.criteria.filter,
        },
        "adapter_response": {"_message": r.message},
        "timing": [
            {"name": "compile", "started_at": r.started_at, "completed_at": r.started_at},
            {"name": "execute", "started_at": r.started_at, "completed_at": r.completed_at},
        ],
        "thread_id": format!("Thread-{}", thread + 1),
        "execution_time": r.execution_time,
    })
}

/// The fields a JSON log line shows of a check.
pub fn log_fields(r: &FreshnessResult) -> Value {
    json!({
        "status": r.status,
        "max_loaded_at": r.max_loaded_at.map(rfc3339),
        "snapshotted_at": rfc3339(r.snapshotted_at),
        "age_seconds": r.age_seconds,
        "read_as_utc": r.read_as_utc,
        "message": r.message,
    })
}
