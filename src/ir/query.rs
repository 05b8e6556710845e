//! Queries a model's template runs while it renders (`run_query`, `statement`), as dbt runs
//! them: against the warehouse, just before the model is built. The compile is offline, so
//! a render that asks a query it has no answer for is rendered with `execute` false instead
//! (dbt's parse-time render) and keeps the query; the run answers it once the model's parents
//! are built and compiles the model again with the answer (`execute::LateCompile`).

use std::collections::BTreeMap;

use super::ColumnMeta;

/// A query a node's render asked and had no answer for: the first one, since later ones may
/// depend on its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateQuery {
    /// The template that asked it (the node's file, as renders name it).
    pub template: String,
    /// The SQL as the template passed it (with relation placeholders): the answer's key.
    pub text: String,
    /// The SQL ready to run on the target.
    pub sql: String,
}

/// A query's rows: its columns as the database describes them and each value as text
/// (`None` for NULL). `None` as an answer: the statement returns no rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryTable {
    /// Columns.
    pub columns: Vec<ColumnMeta>,
    /// Rows.
    pub rows: Vec<Vec<Option<String>>>,
}

/// The answers known to a compile, by (template, SQL as the template passed it).
pub type QueryAnswers = BTreeMap<(String, String), Option<QueryTable>>;
