//! Plain data that every stage passes on: the engine kind and target, relations and their
//! quoting, node configs, compiled nodes, contracts and unit tests as compiled.
//!
//! Owns: types and their constructors, nothing that reads files, renders templates, parses SQL
//! or talks to a database. May import: `diagnostics` and the small utilities (`digest`,
//! `sorted`), nothing else of the crate. Every other module may import it.

pub mod config;
pub mod contract;
pub mod lineage;
pub mod node;
pub mod query;
pub mod relation;
pub mod target;
pub mod threshold;
pub mod unit;

pub use config::{Materialized, NodeConfig};
pub use node::{
    ColumnInfo, CompiledNode, ExposureInfo, Freshness, FreshnessThreshold, ModelFreshness,
    ResourceType, SourceInfo, TestInfo,
};
pub use query::{LateQuery, QueryAnswers, QueryTable};
pub use relation::{
    ColumnMeta, Quoting, QuotingProps, Relation, fold, push_quoted_ident, quote_ident,
    quote_literal,
};
pub use target::{AdapterKind, Target, TargetInfo};
