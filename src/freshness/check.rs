//! One freshness check: the query, the edge cases and the verdict.
//!
//! The query is the same on every engine: `extract(epoch from max(<loaded_at_field>))` beside
//! `extract(epoch from current_timestamp)`, so the age is measured on the database's clock,
//! never the client's. A `timestamp without time zone` has no zone to convert from: its epoch
//! is taken as if it were UTC (Postgres's and DuckDB's own rule for `extract(epoch ...)`), and
//! the result says so.

use std::time::Instant;

use serde::Serialize;

use crate::adapter::engine::Engine;
use crate::adapter::{AdapterError, Connection, DbResult, ErrorClass};
use crate::ir::{CompiledNode, Freshness, Relation, ResourceType, quote_ident};

use super::time::{age, rfc3339};

/// What one check is run on.
#[derive(Clone, Debug)]
pub struct Spec<'a> {
    /// The node's unique id.
    pub unique_id: &'a str,
    /// How users name it: `odoo.invoices` for a source table, the name of a model or seed.
    pub display: String,
    /// `source`, `model` or `seed`.
    pub resource_type: ResourceType,
    /// The relation read.
    pub relation: &'a Relation,
    /// The column (or expression) holding the load time.
    pub loaded_at_field: &'a str,
    /// Thresholds and filter.
    pub freshness: &'a Freshness,
}

/// The check of a node, when it has one: a source table or a model or seed with
/// `loaded_at_field` and a `freshness:` block with at least one threshold.
pub fn spec_of(node: &CompiledNode) -> Option<Spec<'_>> {
    let relation = node.relation.as_ref()?;
    let (display, field, freshness) = match node.resource_type {
        ResourceType::Source => {
            let s = node.source.as_deref()?;
            (
                format!("{}.{}", s.source_name, node.name),
                s.loaded_at_field.as_deref()?,
                s.freshness.as_ref()?,
            )
        }
        ResourceType::Model | ResourceType::Seed => {
            let f = node.freshness.as_deref()?;
            (node.name.clone(), f.loaded_at_field.as_str(), &f.freshness)
        }
        _ => return None,
    };
    if freshness.warn_after.is_none() && freshness.error_after.is_none() {
        return None;
    }
    Some(Spec {
        unique_id: &node.unique_id,
        display,
        resource_type: node.resource_type,
        relation,
        loaded_at_field: field,
        freshness,
    })
}

/// dbt's freshness statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FreshnessStatus {
    /// Younger than every threshold.
    #[serde(rename = "pass")]
    Pass,
    /// Older than `warn_after` (or loaded "in the future": a clock skew).
    #[serde(rename = "warn")]
    Warn,
    /// Older than `error_after`.
    #[serde(rename = "error")]
    Error,
    /// The check could not say: the query failed, the table is empty, the column is missing.
    #[serde(rename = "runtime error")]
    RuntimeError,
}

impl FreshnessStatus {
    /// `pass`, `warn`, `error`, `runtime error`.
    pub fn as_str(self) -> &'static str {
        match self {
            FreshnessStatus::Pass => "pass",
            FreshnessStatus::Warn => "warn",
            FreshnessStatus::Error => "error",
            FreshnessStatus::RuntimeError => "runtime error",
        }
    }

    /// Every status, for metrics that show one series per status.
    pub const ALL: [FreshnessStatus; 4] = [
        FreshnessStatus::Pass,
        FreshnessStatus::Warn,
        FreshnessStatus::Error,
        FreshnessStatus::RuntimeError,
    ];
}

/// The outcome of one check.
#[derive(Clone, Debug)]
pub struct FreshnessResult {
    /// Node id.
    pub unique_id: String,
    /// `odoo.invoices`, `mart_fact_sales`.
    pub display: String,
    /// The node's kind.
    pub resource_type: ResourceType,
    /// The verdict.
    pub status: FreshnessStatus,
    /// `max(loaded_at_field)`, seconds since the epoch (UTC); `None` on a runtime error.
    pub max_loaded_at: Option<f64>,
    /// The database's `current_timestamp` when checked (the client's clock when the query failed).
    pub snapshotted_at: f64,
    /// How long ago the newest row was loaded, in seconds, never negative.
    pub age_seconds: Option<f64>,
    /// How far in the future `max_loaded_at` is, when it is.
    pub future_by: Option<f64>,
    /// The column is a `timestamp without time zone`, read as UTC.
    pub read_as_utc: bool,
    /// The thresholds it was judged against.
    pub criteria: Freshness,
    /// The verdict in one line (the error on a runtime error).
    pub message: String,
    /// When it started and ended (RFC 3339 UTC) and seconds spent.
    pub started_at: String,
    /// See `started_at`.
    pub completed_at: String,
    /// Seconds spent.
    pub execution_time: f64,
}

impl FreshnessResult {
    /// True for `error` and `runtime error`: the command exits 1.
    pub fn is_failure(&self) -> bool {
        matches!(
            self.status,
            FreshnessStatus::Error | FreshnessStatus::RuntimeError
        )
    }
}

/// The query of a check: the newest load, the database's now, the row count and the count of
/// non-null loads (to tell an empty table from a column of nulls).
pub fn query(spec: &Spec, engine: &Engine) -> String {
    let field = if is_identifier(spec.loaded_at_field) {
        quote_ident(spec.loaded_at_field)
    } else {
        spec.loaded_at_field.to_string()
    };
    let filter = spec
        .freshness
        .filter
        .as_deref()
        .map(|f| format!("\nwhere {f}"))
        .unwrap_or_default();
    format!(
        "select {} as max_loaded_at, {} as snapshotted_at, count(*) as row_count, \
count({field}) as loaded_count, {} as loaded_at_type\nfrom {}{filter}",
        (engine.epoch_seconds)(&format!("max({field})")),
        (engine.epoch_seconds)("current_timestamp"),
        (engine.type_name_of)(&format!("max({field})")),
        spec.relation.quoted()
    )
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// What the column's type says about time zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Zone {
    /// `timestamp with time zone`: an instant.
    Aware,
    /// `timestamp` / `date`: read as UTC.
    Naive,
}

/// The zone rule of a type as the database names it; an error for a type that is no time.
fn zone_of(type_name: &str, spec: &Spec) -> DbResult<Zone> {
    let t = type_name.trim().to_ascii_lowercase();
    if t.contains("with time zone") || t.starts_with("timestamptz") {
        Ok(Zone::Aware)
    } else if t.starts_with("timestamp") || t.starts_with("datetime") || t == "date" {
        Ok(Zone::Naive)
    } else {
        Err(AdapterError::permanent(format!(
            "loaded_at_field `{}` of {} is of type {type_name}, not a timestamp",
            spec.loaded_at_field,
            spec.relation.quoted()
        )))
    }
}

/// Why the check's query failed, in the user's terms when the relation or the column is
/// missing (looked up only then: the common case is one query per check).
fn explain_failure(conn: &mut dyn Connection, spec: &Spec, e: AdapterError) -> AdapterError {
    if e.class != ErrorClass::Permanent || !is_identifier(spec.loaded_at_field) {
        return e;
    }
    let Ok(columns) = conn.columns(spec.relation) else {
        return e;
    };
    if columns.is_empty() {
        return AdapterError::permanent(format!(
            "{} {} does not exist: there is nothing to check the freshness of",
            spec.resource_type.as_str(),
            spec.relation.quoted()
        ));
    }
    let field = spec.loaded_at_field;
    if columns.iter().any(|c| c.name.eq_ignore_ascii_case(field)) {
        return e;
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    AdapterError::permanent(format!(
        "loaded_at_field `{field}` is not a column of {}; its columns are: {}",
        spec.relation.quoted(),
        names.join(", ")
    ))
}

fn number(v: &Option<String>) -> Option<f64> {
    v.as_deref().and_then(|s| s.trim().parse::<f64>().ok())
}

/// Runs the check on `conn`. `Err` is a runtime error: the query failed, or it cannot give an
/// age (an empty table, no row passing the filter, only nulls); its message says which.
pub fn check(conn: &mut dyn Connection, spec: &Spec, engine: &Engine) -> DbResult<FreshnessResult> {
    let started_at = super::time::now_rfc3339();
    let t0 = Instant::now();
    let rows = match conn.query(&query(spec, engine)) {
        Ok(rows) => rows,
        Err(e) => return Err(explain_failure(conn, spec, e)),
    };
    let row = rows
        .first()
        .ok_or_else(|| AdapterError::new(ErrorClass::Permanent, "the check returned no row"))?;
    let get = |k: usize| row.get(k).and_then(number);
    let type_name = row.get(4).cloned().flatten().unwrap_or_default();
    let zone = zone_of(&type_name, spec)?;
    let now = get(1).ok_or_else(|| AdapterError::permanent("the database gave no current time"))?;
    let field = spec.loaded_at_field;
    let Some(max) = get(0) else {
        let message = match (get(2).unwrap_or(0.0) as u64, &spec.freshness.filter) {
            (0, Some(f)) => format!(
                "no row of {} passes the freshness filter `{f}`: there is no load time to take the age of",
                spec.relation.quoted()
            ),
            (0, None) => format!(
                "{} is empty: no row, so no load time to take the age of (max({field}) is null)",
                spec.relation.quoted()
            ),
            (n, _) => format!(
                "every one of the {n} rows of {} has a null {field}: no load time to take the age of",
                spec.relation.quoted()
            ),
        };
        return Err(AdapterError::permanent(message));
    };
    let raw_age = now - max;
    let age_seconds = raw_age.max(0.0);
    let future_by = (raw_age < 0.0).then_some(-raw_age);
    let status = judge(age_seconds, spec.freshness, future_by.is_some());
    let mut message = verdict(spec, status, age_seconds, future_by, max);
    if zone == Zone::Naive {
        message.push_str(&format!(
            " ({field} is a timestamp without time zone, read as UTC)"
        ));
    }
    Ok(FreshnessResult {
        unique_id: spec.unique_id.to_string(),
        display: spec.display.clone(),
        resource_type: spec.resource_type,
        status,
        max_loaded_at: Some(max),
        snapshotted_at: now,
        age_seconds: Some(age_seconds),
        future_by,
        read_as_utc: zone == Zone::Naive,
        criteria: spec.freshness.clone(),
        message,
        started_at,
        completed_at: super::time::now_rfc3339(),
        execution_time: t0.elapsed().as_secs_f64(),
    })
}

/// A runtime error as a result (the command's shape for a check that could not say).
pub fn runtime_error(
    spec: &Spec,
    e: &AdapterError,
    started_at: String,
    t0: Instant,
) -> FreshnessResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    FreshnessResult {
        unique_id: spec.unique_id.to_string(),
        display: spec.display.clone(),
        resource_type: spec.resource_type,
        status: FreshnessStatus::RuntimeError,
        max_loaded_at: None,
        snapshotted_at: now,
        age_seconds: None,
        future_by: None,
        read_as_utc: false,
        criteria: spec.freshness.clone(),
        message: e.message.clone(),
        started_at,
        completed_at: super::time::now_rfc3339(),
        execution_time: t0.elapsed().as_secs_f64(),
    }
}

/// The status for an age: error after `error_after`, warn after `warn_after`; a load in the
/// future is a warning (age 0 otherwise passes).
pub fn judge(age_seconds: f64, f: &Freshness, in_future: bool) -> FreshnessStatus {
    let over = |t: &Option<crate::ir::FreshnessThreshold>| {
        t.as_ref().is_some_and(|t| age_seconds > t.seconds() as f64)
    };
    if over(&f.error_after) {
        FreshnessStatus::Error
    } else if over(&f.warn_after) || in_future {
        FreshnessStatus::Warn
    } else {
        FreshnessStatus::Pass
    }
}

fn verdict(
    spec: &Spec,
    status: FreshnessStatus,
    age_seconds: f64,
    future_by: Option<f64>,
    max: f64,
) -> String {
    let f = spec.freshness;
    let field = spec.loaded_at_field;
    if let Some(ahead) = future_by {
        return format!(
            "max({field}) is {} in the future ({} UTC): the loader's clock or time zone is skewed; age taken as 0",
            age(ahead),
            rfc3339(max)
        );
    }
    let ago = age(age_seconds);
    let limit = |t: &Option<crate::ir::FreshnessThreshold>, key: &str| {
        t.as_ref()
            .map(|t| format!("{key} {}", t.describe()))
            .unwrap_or_default()
    };
    match status {
        FreshnessStatus::Error => format!(
            "stale: last loaded {ago} ago, more than error_after ({})",
            limit(&f.error_after, "").trim()
        ),
        FreshnessStatus::Warn => format!(
            "stale: last loaded {ago} ago, more than warn_after ({})",
            limit(&f.warn_after, "").trim()
        ),
        _ => {
            let limits: Vec<String> = [
                limit(&f.warn_after, "warn after"),
                limit(&f.error_after, "error after"),
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
            format!("fresh: last loaded {ago} ago ({})", limits.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::FreshnessThreshold;

    fn f(warn: Option<u64>, error: Option<u64>) -> Freshness {
        let t = |c: u64| FreshnessThreshold {
            count: c,
            period: "minute".into(),
        };
        Freshness {
            warn_after: warn.map(t),
            error_after: error.map(t),
            filter: None,
        }
    }

    #[test]
    fn ages_are_judged_against_the_thresholds() {
        let both = f(Some(20), Some(60));
        assert_eq!(judge(60.0, &both, false), FreshnessStatus::Pass);
        assert_eq!(judge(1200.0, &both, false), FreshnessStatus::Pass);
        assert_eq!(judge(1201.0, &both, false), FreshnessStatus::Warn);
        assert_eq!(judge(3601.0, &both, false), FreshnessStatus::Error);
        assert_eq!(judge(0.0, &both, true), FreshnessStatus::Warn);
        assert_eq!(
            judge(99_999.0, &f(Some(20), None), false),
            FreshnessStatus::Warn
        );
        assert_eq!(
            judge(99_999.0, &f(None, Some(60)), false),
            FreshnessStatus::Error
        );
    }

    #[test]
    fn the_query_quotes_a_column_and_leaves_an_expression_alone() {
        let rel = Relation::new("raw", "orders");
        let mut fresh = f(Some(1), None);
        fresh.filter = Some("region = 'cl'".into());
        let spec = Spec {
            unique_id: "source.p.s.orders",
            display: "s.orders".into(),
            resource_type: ResourceType::Source,
            relation: &rel,
            loaded_at_field: "load_ts",
            freshness: &fresh,
        };
        let pg = crate::adapter::engine::engine(crate::ir::AdapterKind::Postgres);
        let q = query(&spec, pg);
        assert!(q.contains("extract(epoch from max(\"load_ts\"))"), "{q}");
        assert!(
            q.ends_with("from \"raw\".\"orders\"\nwhere region = 'cl'"),
            "{q}"
        );
        let spec = Spec {
            loaded_at_field: "cast(ts as timestamp)",
            ..spec
        };
        assert!(query(&spec, pg).contains("max(cast(ts as timestamp))"));
    }
}
