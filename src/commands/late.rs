//! Models whose templates run queries while they render (`run_query`, `statement`), compiled
//! again as the run reaches them, as dbt renders a model just before building it: the query
//! the compile left (`CompiledNode::late_query`) runs on the worker's connection, its parents
//! being built, and the project is compiled again with every answer the run has found, until
//! the model's render asks for nothing new. The answers are shared by the run: a query two
//! models ask runs once per model, an answer found once is reused by later compiles.

use std::sync::{Arc, Mutex};

use crate::adapter::{AdapterError, Connection, DbResult};
use crate::compile::Compiled;
use crate::diagnostics::{Diagnostics, display_path};
use crate::execute::LateCompile;
use crate::ir::{CompiledNode, QueryAnswers};
use crate::project::LoadOptions;

/// How many queries one model's render may run one after the other (each answer may lead
/// its template to a new query).
const MAX_QUERIES: usize = 64;

/// The run's late compiles: the first compile and the answers found so far.
pub struct Late<'c> {
    c: &'c Compiled,
    /// The selected nodes compiled late.
    nodes: Vec<usize>,
    answers: Mutex<QueryAnswers>,
    /// `--empty`: the compiled again models read zero rows too.
    empty: bool,
}

impl<'c> Late<'c> {
    /// Late compiles for a run of the `selected` nodes of `c`.
    pub fn new(c: &'c Compiled, selected: &[usize], empty: bool) -> Late<'c> {
        Late {
            c,
            nodes: selected
                .iter()
                .copied()
                .filter(|&i| c.nodes[i].late_query.is_some())
                .collect(),
            answers: Mutex::default(),
            empty,
        }
    }

    /// What the scheduler compiles late nodes with; none when no selected node is one.
    pub fn compiler(&self) -> Option<&dyn LateCompile> {
        (!self.nodes.is_empty()).then_some(self as &dyn LateCompile)
    }

    /// The selected nodes compiled late (by index).
    pub fn into_nodes(self) -> Vec<usize> {
        self.nodes
    }

    /// The project compiled with the answers so far; `node` as it is there.
    fn compile_node(&self, unique_id: &str) -> DbResult<CompiledNode> {
        let answers = Arc::new(self.answers.lock().unwrap().clone());
        let opts = LoadOptions {
            answers,
            check_compiled: false,
            ..self.c.options.clone()
        };
        let compiled = crate::compile::compile(&self.c.project.root, &opts)
            .map_err(|diags| AdapterError::permanent(compile_errors(&diags)))?;
        let mut node = compiled
            .nodes
            .into_iter()
            .find(|n| n.unique_id == unique_id)
            .ok_or_else(|| {
                AdapterError::permanent(format!(
                    "compiled with its query's rows, the project no longer has {unique_id}"
                ))
            })?;
        if self.empty {
            super::empty::apply_node(&mut node);
        }
        Ok(node)
    }
}

impl LateCompile for Late<'_> {
    fn settle(&self, conn: &mut dyn Connection, node: &CompiledNode) -> DbResult<CompiledNode> {
        let kind = self.c.target.info.kind;
        let mut now: Option<CompiledNode> = None;
        for _ in 0..MAX_QUERIES {
            let Some(q) = now.as_ref().unwrap_or(node).late_query.as_deref() else {
                return Ok(now.unwrap_or_else(|| node.clone()));
            };
            let answer = super::run_query::run_statement(conn, &q.sql, kind).map_err(|mut e| {
                e.message = format!("run_query() while rendering: {}", e.message);
                e
            })?;
            self.answers
                .lock()
                .unwrap()
                .insert((q.template.clone(), q.text.clone()), answer);
            now = Some(self.compile_node(&node.unique_id)?);
        }
        Err(AdapterError::permanent(format!(
            "its template ran {MAX_QUERIES} queries while rendering and asks for more: each answer leads it to a new query"
        )))
    }
}

/// A failed compile's errors in one line each: `file:line: message`.
fn compile_errors(diags: &Diagnostics) -> String {
    let lines: Vec<String> = diags
        .items()
        .iter()
        .filter(|d| d.is_error())
        .map(|d| match &d.span {
            Some(s) => format!("{}:{}: {}", display_path(&s.file), s.line, d.message),
            None => d.message.clone(),
        })
        .collect();
    format!(
        "compiled again with its query's rows, it has errors: {}",
        lines.join("; ")
    )
}
