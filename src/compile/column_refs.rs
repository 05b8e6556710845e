//! Stage `column_refs`: the columns each node reads from its parents, and the columns generic
//! tests are declared on, checked against what those nodes are known to have. A node's columns
//! are certain from a seed's CSV header or from its analyzed SQL when every output name is
//! (no unnamed expression, a `*` only over one parent whose columns are certain); otherwise
//! they are declared at best (its properties' `columns:` and its contract). A column missing
//! from a certain list is an error, from a declared one a warning; nothing is said about what
//! cannot be attributed or is not known.

use std::borrow::Cow;

use super::analyze::Analyzed;
use super::context::Context;
use super::contract_schema;
use super::load::DeclaredTests;
use super::prepare::Pending;
use super::render::{Renders, spans_of};
use super::resolve::{Resolved, Scope};
use super::source_map::{SourceMap, mark_text, rendered_col};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, suggest};
use crate::ir::ResourceType;
use crate::sql;

/// How certain a node's output columns are, and which parent each relation it reads is.
#[derive(Default)]
pub struct Shape {
    /// Every output name is certain (a `*` aside, see `star_parent`).
    exact: bool,
    /// The parent a `*` among the output columns stands for.
    star_parent: Option<usize>,
    /// By relation of the analysis: the parent it is.
    parents: Vec<Option<usize>>,
}

impl Shape {
    /// The parent (pending index) that relation `rel` of the analysis is, when it is one.
    pub fn parent(&self, rel: usize) -> Option<usize> {
        self.parents.get(rel).copied().flatten()
    }

    /// The shape of an analysis; `parent_of` gives the parent a relation it reads is.
    pub fn of(a: &sql::Analysis, parent_of: impl Fn(&sql::RelationRead) -> Option<usize>) -> Self {
        let parents: Vec<Option<usize>> = a.relations.iter().map(parent_of).collect();
        Shape {
            exact: !a.inexact_columns,
            star_parent: a
                .star_relation
                .and_then(|r| parents.get(r).copied().flatten()),
            parents,
        }
    }
}

/// What is known of a node's columns.
enum Known<'a> {
    /// From a seed's header or the analyzed SQL.
    Certain(Cow<'a, [String]>),
    /// From the properties' `columns:` or the contract only.
    Declared(Vec<String>),
    Unknown,
}

impl Known<'_> {
    fn names(&self) -> Option<&[String]> {
        match self {
            Known::Certain(c) => Some(c),
            Known::Declared(c) => Some(c),
            Known::Unknown => None,
        }
    }
}

/// Each pending node's known columns, worked out when first asked for.
struct Columns<'a, 'c, 'r> {
    ctx: &'a Context<'c, 'r>,
    pending: &'a [Pending<'c>],
    outputs: &'a [Vec<String>],
    shapes: &'a [Shape],
    memo: Vec<Option<Known<'a>>>,
}

impl<'a> Columns<'a, '_, '_> {
    fn get(&mut self, i: usize) -> &Known<'a> {
        if i >= self.pending.len() {
            return &Known::Unknown;
        }
        if self.memo[i].is_some() {
            return self.memo[i].as_ref().unwrap_or(&Known::Unknown);
        }
        // Depth first along `*` parents, without recursion (chains of `select *` are long).
        let mut stack = vec![i];
        while let Some(&j) = stack.last() {
            if self.memo[j].is_some() {
                stack.pop();
                continue;
            }
            let star = self.shapes[j].star_parent.filter(|&k| {
                self.shapes[j].exact && k < self.pending.len() && self.memo[k].is_none()
            });
            match star {
                Some(k) if !stack.contains(&k) => stack.push(k),
                Some(_) => {
                    // A cycle (reported by the DAG stage): nothing is certain.
                    self.memo[j] = Some(self.declared(j));
                    stack.pop();
                }
                None => {
                    self.memo[j] = Some(self.compute(j));
                    stack.pop();
                }
            }
        }
        self.memo[i].as_ref().unwrap_or(&Known::Unknown)
    }

    /// Node `j`'s columns, its `*` parent's being known already.
    fn compute(&self, j: usize) -> Known<'a> {
        let pending: &'a [Pending] = self.pending;
        let p = &pending[j];
        match p.resource_type {
            ResourceType::Seed if !p.seed_columns.is_empty() => {
                return Known::Certain(Cow::Borrowed(&p.seed_columns));
            }
            ResourceType::Model => {}
            _ => return Known::Unknown,
        }
        let shape = &self.shapes[j];
        let outputs: &'a [String] = &self.outputs[j];
        if !shape.exact || outputs.is_empty() {
            return self.declared(j);
        }
        if shape.star_parent.is_none() {
            return Known::Certain(Cow::Borrowed(outputs));
        }
        let mut cols = Vec::with_capacity(outputs.len());
        for c in outputs {
            if c == "*" || c.ends_with(".*") {
                let parent = shape.star_parent.and_then(|k| self.memo.get(k)?.as_ref());
                match parent {
                    Some(Known::Certain(names)) => cols.extend(names.iter().cloned()),
                    _ => return self.declared(j),
                }
            } else {
                cols.push(c.clone());
            }
        }
        Known::Certain(Cow::Owned(cols))
    }

    /// What node `j`'s properties and contract declare.
    fn declared(&self, j: usize) -> Known<'a> {
        let p = &self.pending[j];
        let mut cols: Vec<String> = p.columns.iter().map(|c| c.name.clone()).collect();
        let schema = p.config.contract.as_ref().and_then(|c| c.schema.as_deref());
        if let Some(Ok(info)) =
            schema.map(|s| contract_schema::load(&self.ctx.project.root, s, true))
        {
            cols.extend(info.columns.into_keys());
        }
        if cols.is_empty() {
            Known::Unknown
        } else {
            Known::Declared(cols)
        }
    }
}

/// What the check reads.
pub struct Inputs<'a, 'c, 'r> {
    /// The compile's context.
    pub ctx: &'a Context<'c, 'r>,
    /// The pending nodes.
    pub pending: &'a [Pending<'c>],
    /// Their renders (for positions).
    pub renders: &'a Renders,
    /// Their resolved SQL (what was analyzed).
    pub resolved: &'a Resolved,
    /// What analysis found.
    pub analyzed: &'a Analyzed,
    /// What ref() reaches.
    pub scope: &'a Scope<'a>,
    /// The generic tests declared in properties.
    pub tests: &'a DeclaredTests,
}

/// Checks the columns nodes read from their parents and the columns tests are declared on.
pub fn check(inputs: &Inputs, diags: &mut Diagnostics) {
    let analyzed = inputs.analyzed;
    let mut columns = Columns {
        ctx: inputs.ctx,
        pending: inputs.pending,
        outputs: &analyzed.output_columns,
        shapes: &analyzed.shapes,
        memo: (0..inputs.pending.len()).map(|_| None).collect(),
    };
    for (i, shape) in analyzed.shapes.iter().enumerate() {
        let Some(a) = analyzed.of(i) else { continue };
        for sql::RelationColumns(rel, names) in &a.column_reads {
            let Some(parent) = shape.parents.get(*rel).copied().flatten() else {
                continue;
            };
            let known = columns.get(parent);
            let Some(have) = known.names() else { continue };
            for name in names {
                if has_column(have, name) {
                    continue;
                }
                let certain = matches!(known, Known::Certain(_));
                let read = Read {
                    node: i,
                    parent,
                    relation: *rel,
                    name,
                };
                diags.push(missing_column(inputs, &read, have, certain));
            }
        }
    }
    tested_columns(inputs, &mut columns, diags);
    freshness_columns(inputs, &mut columns, diags);
}

/// `loaded_at_field` of a model or seed naming a column it certainly does not have.
fn freshness_columns(inputs: &Inputs, columns: &mut Columns, diags: &mut Diagnostics) {
    let props = &inputs.ctx.project.properties;
    for entry in props.models.iter().chain(&props.seeds) {
        let Some(f) = &entry.freshness else { continue };
        let column = f.loaded_at_field.as_str();
        let Some(node) = inputs.scope.refable.get(entry.name.as_str()) else {
            continue;
        };
        let Some(names) = certainly_lacks(columns, node.index, column) else {
            continue;
        };
        let what = inputs.pending[node.index].resource_type.as_str();
        diags.push(
            Diagnostic::error(
                Code::FreshnessUnknownColumn,
                format!(
                    "`loaded_at_field: {column}` of {what} `{}` names a column it does not have",
                    entry.name
                ),
            )
            .at(entry
                .freshness_span
                .clone()
                .unwrap_or_else(|| entry.span.clone()))
            .with_label(format!("`{}` has no column `{column}`", entry.name))
            .with_help(columns_help(column, names)),
        );
    }
}

/// Node `index`'s certain columns when they do not include `column`; None when they do, when
/// they are not certain, or when `column` is an expression (`lower(email)`: not checked).
fn certainly_lacks<'c>(
    columns: &'c mut Columns,
    index: usize,
    column: &str,
) -> Option<&'c [String]> {
    if !column.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    match columns.get(index) {
        Known::Certain(names) if !has_column(names, column) => Some(names),
        _ => None,
    }
}

/// Whether `name` is one of `names`, case aside (the same spelling is the common case).
fn has_column(names: &[String], name: &str) -> bool {
    names.iter().any(|n| n == name) || names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// A column read from a parent.
struct Read<'a> {
    node: usize,
    parent: usize,
    /// The relation's index in the node's analysis.
    relation: usize,
    name: &'a str,
}

/// A column read that the parent does not have, at its place in the child's template.
fn missing_column(inputs: &Inputs, u: &Read, names: &[String], certain: bool) -> Diagnostic {
    let p = &inputs.pending[u.node];
    let parent = &inputs.pending[u.parent].name;
    let message = format!(
        "`{}` reads column `{}` of `{parent}`, which has no such column",
        p.name, u.name
    );
    let (d, label) = if certain {
        (
            Diagnostic::error(Code::UnknownColumn, message),
            format!("not a column of `{parent}`"),
        )
    } else {
        (
            Diagnostic::warning(Code::UnknownColumn, message),
            format!("not among the columns `{parent}` declares"),
        )
    };
    let at = position(inputs, u).unwrap_or_else(|| Span::file(&p.path));
    let d = d
        .at(at)
        .with_label(label)
        .with_help(columns_help(u.name, names));
    if certain {
        return d;
    }
    d.with_note(format!(
        "the columns of `{parent}` are known from its properties (`columns:`) or its contract only: its SQL's output could not be worked out"
    ))
}

/// A did-you-mean, or the list of columns when none is close.
fn columns_help(name: &str, names: &[String]) -> String {
    suggest(name, names.iter().map(String::as_str)).unwrap_or_else(|| {
        let shown: Vec<&str> = names.iter().take(12).map(String::as_str).collect();
        let more = if names.len() > shown.len() {
            ", ..."
        } else {
            ""
        };
        format!("its columns are: {}{more}", shown.join(", "))
    })
}

/// Where a column read is written in the node's template.
fn position(inputs: &Inputs, u: &Read) -> Option<Span> {
    let i = u.node;
    let p = &inputs.pending[i];
    let r = inputs.renders.main[i].as_ref()?;
    let code = inputs.resolved.nodes[i].sql.as_deref()?;
    let kind = inputs.ctx.target.info.kind;
    let (line, col) = sql::column_read_at(code, kind, u.relation, u.name)?;
    let code_line = code.lines().nth(line.checked_sub(1)?)?;
    let rendered_line = r.text.lines().nth(line - 1)?;
    let col = rendered_col(code_line, rendered_line, col);
    let spans = spans_of(inputs.ctx, p, r, false);
    let source = p.template.as_deref().unwrap_or("");
    let map = SourceMap {
        spans: &spans,
        rendered: &r.text,
        source,
        file: &p.path,
    };
    Some(mark_text(map.at_line_col(line, col), source, u.name))
}

/// Generic tests declared on a column that a model or seed certainly does not have.
fn tested_columns(inputs: &Inputs, columns: &mut Columns, diags: &mut Diagnostics) {
    let props = &inputs.ctx.project.properties;
    let entries = props.models.iter().chain(&props.seeds);
    let tests = inputs.tests.models.iter().chain(&inputs.tests.seeds);
    for (entry, tests) in entries.zip(tests) {
        let Some(node) = inputs.scope.refable.get(entry.name.as_str()) else {
            continue;
        };
        for def in tests {
            let Some(column) = def.column.as_deref() else {
                continue;
            };
            let Some(names) = certainly_lacks(columns, node.index, column) else {
                continue;
            };
            let what = inputs.pending[node.index].resource_type.as_str();
            diags.push(
                Diagnostic::error(
                    Code::TestUnknownColumn,
                    format!(
                        "test `{}` is declared on column `{column}` of {what} `{}`, which has no such column",
                        def.test_name, entry.name
                    ),
                )
                .at(def.span.clone())
                .with_label(format!("`{}` has no column `{column}`", entry.name))
                .with_help(columns_help(column, names)),
            );
        }
    }
}
