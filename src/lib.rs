//! strata: a declarative SQL pipeline compiler.
//!
//! Data flows one way: files → [`project`] (load) → [`compile`] (the stages: render with
//! [`jinja`], analyze with [`sql`], the DAG with [`graph`]) → compiled nodes ([`ir`]) →
//! [`artifacts`] (manifest, compiled SQL) → [`execute`] (the scheduler) running
//! [`materialize`] and [`checks`] on an [`adapter`] (the only code that talks to a database).
//! ARCHITECTURE.md has the module map and the rule of which module may import which.

pub mod adapter;
pub mod artifacts;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod compile;
pub mod diagnostics;
pub mod digest;
pub mod docs;
pub mod execute;
pub mod files;
pub mod freshness;
pub mod graph;
pub mod ir;
pub mod jinja;
pub mod lineage;
pub mod materialize;
pub mod pages;
pub mod project;
pub mod rows;
pub mod sorted;
pub mod sql;
pub mod timing;
