//! Freshness checks as nodes of a run: a source's check before the models that read it, a
//! model's right after it builds. `error` is a failure like a failing test (its downstream is
//! skipped), `warn` lets the run go on (a failure with `--warn-error`), and a check that could
//! not say is an error.

use std::sync::Arc;

use super::{Executed, Status};
use crate::adapter::engine::engine;
use crate::adapter::{Connection, DbResult};
use crate::freshness::{self, FreshnessStatus, Spec};
use crate::materialize::Outcome;

fn status_of(s: FreshnessStatus, warn_error: bool) -> Status {
    match s {
        FreshnessStatus::Pass => Status::Pass,
        FreshnessStatus::Warn if warn_error => Status::Fail,
        FreshnessStatus::Warn => Status::Warn,
        FreshnessStatus::Error | FreshnessStatus::RuntimeError => Status::Fail,
    }
}

/// Checks a source.
pub(super) fn source(
    conn: &mut dyn Connection,
    spec: &Spec,
    mode: super::NodeMode,
) -> DbResult<Executed> {
    let r = freshness::check(conn, spec, engine(mode.engine))?;
    let warn_error = mode.warn_error;
    Ok(Executed {
        status: status_of(r.status, warn_error),
        outcome: Outcome {
            rows: None,
            message: format!("source {}: {}", spec.display, r.message),
        },
        failures: None,
        details: Vec::new(),
        freshness: Some(Arc::new(r)),
        late_code: None,
    })
}

/// Checks a model that was just built; its build's rows and message are kept.
pub(super) fn after_build(
    conn: &mut dyn Connection,
    spec: &Spec,
    built: Executed,
    mode: super::NodeMode,
) -> DbResult<Executed> {
    let warn_error = mode.warn_error;
    let r = freshness::check(conn, spec, engine(mode.engine)).map_err(|mut e| {
        e.message = format!("built, but its freshness check failed: {}", e.message);
        e
    })?;
    let status = match status_of(r.status, warn_error) {
        Status::Pass => Status::Success,
        other => other,
    };
    let message = match built.outcome.message.is_empty() {
        true => format!("freshness: {}", r.message),
        false => format!("{}; freshness: {}", built.outcome.message, r.message),
    };
    Ok(Executed {
        status,
        outcome: Outcome {
            rows: built.outcome.rows,
            message,
        },
        freshness: Some(Arc::new(r)),
        ..built
    })
}
