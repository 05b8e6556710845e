//! strata: a declarative SQL pipeline compiler.
//!
//! Data flows one way: files → [`project`] (load) → [`jinja`] (render) → [`sql`] (analyze) →
//! [`graph`] (DAG, selection) → [`compiler`] (compiled nodes) → [`artifacts`] (manifest,
//! compiled SQL). Everything here is offline and deterministic.

pub mod artifacts;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod compiler;
pub mod diagnostics;
pub mod graph;
pub mod jinja;
pub mod project;
pub mod sql;
