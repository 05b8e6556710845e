//! Freshness and metrics: how old the newest row of a source, model or seed is
//! (`max(loaded_at_field)` against the database's clock), judged against its `freshness:`
//! thresholds; `sources.json` in dbt's v3 shape; Prometheus metrics (textfile, pushgateway,
//! the `serve-metrics` exporter) and alerting rules made from the project's freshness config.
//!
//! May import: `ir` and `adapter` (a check runs one query on a connection it is given). It
//! never opens a connection of its own choosing nor matches on the engine: the check's SQL is
//! the same on every engine (`extract(epoch from ...)` and `current_timestamp`).

pub mod check;
pub mod metrics;
pub mod push;
pub mod rules;
pub mod runner;
pub mod sources_json;
pub mod state;
pub mod time;

pub use check::{FreshnessResult, FreshnessStatus, Spec, check, spec_of};
