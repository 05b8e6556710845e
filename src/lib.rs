//! strata: a declarative SQL pipeline compiler.
//!
//! Data flows one way: files → [`project`] (load) → [`jinja`] (render) → [`sql`] (analyze) →
//! [`graph`] (DAG, selection) → [`compiler`] (compiled nodes) → [`artifacts`] (manifest,
//! compiled SQL) → [`materialize`] and [`execute`] (statements per node, the scheduler) on an
//! [`adapter`] (the only code that talks to a database).

pub mod adapter;
pub mod artifacts;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod compiler;
pub mod diagnostics;
pub mod digest;
pub mod execute;
pub mod graph;
pub mod jinja;
pub mod materialize;
pub mod pages;
pub mod project;
pub mod sorted;
pub mod sql;
pub mod timing;
