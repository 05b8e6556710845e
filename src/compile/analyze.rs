//! Stage `analyze`: every resolved SQL text parsed in the target's dialect, in parallel (even
//! when other files have errors, so that one run reports everything), for its output columns,
//! the relations it reads without `ref()`/`source()` (a warning) and functions the other engine
//! has and this one does not (an error). Lines are mapped back to the model files. Analyses of
//! an earlier compile are reused by the hash of the SQL: unchanged models are not parsed.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use rayon::prelude::*;

use super::column_refs::Shape;
use super::context::Context;
use super::prepare::Pending;
use super::relations::Relations;
use super::render::{Renders, spans_of};
use super::resolve::Resolved;
use super::source_map::{SourceMap, mark_text};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span};
use crate::ir::config::Materialized;
use crate::ir::{AdapterKind, Relation};
use crate::jinja;
use crate::sql;

/// What analysis found.
pub struct Analyzed {
    /// Output columns by pending node (empty when unknown).
    pub output_columns: Vec<Vec<String>>,
    /// How certain those columns are, and which parent each relation read is, by node.
    pub shapes: Vec<Shape>,
    /// This compile's analyses, for the cache.
    pub entries: Vec<(String, sql::Analysis)>,
    /// Analyses of renders that show a value read with `env_var()`: never cached.
    private: Vec<sql::Analysis>,
    /// Where each pending node's main analysis is: in `private` (true) or `entries`, at.
    located: Vec<Option<(bool, usize)>>,
}

impl Analyzed {
    /// The analysis of pending node `i`'s main SQL.
    pub fn of(&self, i: usize) -> Option<&sql::Analysis> {
        match self.located.get(i).copied().flatten()? {
            (true, at) => self.private.get(at),
            (false, at) => self.entries.get(at).map(|(_, a)| a),
        }
    }
}

/// What the analysis of one node gives.
struct AnalysisOutcome {
    /// Output columns (None when the SQL does not parse).
    cols: Option<Vec<String>>,
    shape: Shape,
    diags: Vec<Diagnostic>,
    /// The analysis to keep in the cache.
    keep: Option<(String, sql::Analysis)>,
}

/// What the checks of one node's analysis read.
struct Inputs<'a, 'c, 'r> {
    ctx: &'a Context<'c, 'r>,
    pending: &'a [Pending<'c>],
    relations: &'a Relations,
    /// Each node's parents through ref() and source(), in one flat list (by counts).
    parent_start: Vec<usize>,
    parent_list: Vec<usize>,
    ephemeral_names: BTreeSet<String>,
    /// What a hard-coded relation should have been written as, by lowercased schema and
    /// name: built for the first such warning only.
    known_relations: OnceLock<HashMap<(String, String), String>>,
}

/// Analyzes the SQL of every pending node whose relations resolved.
pub fn analyze(
    ctx: &Context,
    pending: &[Pending],
    renders: &Renders,
    relations: &Relations,
    resolved: &Resolved,
    cache: &sql::cache::Loaded,
    diags: &mut Diagnostics,
) -> Analyzed {
    let (parent_start, parent_list) = parents(pending.len(), resolved);
    let inputs = Inputs {
        ctx,
        pending,
        relations,
        parent_start,
        parent_list,
        ephemeral_names: pending
            .iter()
            .filter(|p| p.config.materialized == Some(Materialized::Ephemeral))
            .map(|p| super::ephemeral::cte_name(&p.name))
            .collect(),
        known_relations: OnceLock::new(),
    };
    let analyses: Vec<Option<AnalysisOutcome>> = pending
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            // A node whose query waits for the run has its SQL only then: analyzed then.
            if resolved.nodes[i].query.is_some() {
                return None;
            }
            let code = resolved.nodes[i].sql.as_ref()?;
            let r = renders.main[i].as_ref()?;
            Some(analyze_node(&inputs, cache, i, p, r, code))
        })
        .collect();
    // The incremental variant must parse too.
    let kind = ctx.target.info.kind;
    let incremental_checked: Vec<Result<Option<(String, sql::Analysis)>, Diagnostic>> = pending
        .par_iter()
        .enumerate()
        .filter(|(i, _)| resolved.nodes[*i].query.is_none())
        .filter_map(|(i, p)| {
            let code = resolved.nodes[i].incremental.as_ref()?;
            let r = renders.extra[i].incremental.as_deref()?.as_ref().ok()?;
            let checked = check_incremental(ctx, cache, kind, p, r, code);
            Some(checked.map(|entry| (!r.secret).then_some(entry)))
        })
        .collect();
    let mut output_columns: Vec<Vec<String>> = vec![Vec::new(); pending.len()];
    let mut shapes: Vec<Shape> = Vec::with_capacity(pending.len());
    let (mut private, mut located) = (Vec::new(), vec![None; pending.len()]);
    let mut entries: Vec<(String, sql::Analysis)> =
        Vec::with_capacity(pending.len() + incremental_checked.len());
    for checked in incremental_checked {
        match checked {
            Ok(entry) => entries.extend(entry),
            Err(d) => diags.push(d),
        }
    }
    for (i, a) in analyses.into_iter().enumerate() {
        let Some(a) = a else {
            shapes.push(Shape::default());
            continue;
        };
        diags.extend(a.diags);
        // A render that shows a value read with env_var() is not cached, nor its analysis.
        let secret = renders.main[i].as_ref().is_some_and(|r| r.secret);
        match a.keep {
            Some((_, analysis)) if secret => {
                located[i] = Some((true, private.len()));
                private.push(analysis);
            }
            Some(entry) => {
                located[i] = Some((false, entries.len()));
                entries.push(entry);
            }
            None => {}
        }
        if let Some(cols) = a.cols {
            output_columns[i] = cols;
        }
        shapes.push(a.shape);
    }
    Analyzed {
        output_columns,
        shapes,
        entries,
        private,
        located,
    }
}

/// Each pending node's parents through ref() and source(): (start of each node's list, the
/// lists one after the other).
fn parents(n: usize, resolved: &Resolved) -> (Vec<usize>, Vec<usize>) {
    let mut start = vec![0usize; n + 1];
    for e in &resolved.edges {
        if e.child < n {
            start[e.child + 1] += 1;
        }
    }
    for k in 1..start.len() {
        start[k] += start[k - 1];
    }
    let mut list = vec![0usize; start[n]];
    let mut filled = start.clone();
    for e in &resolved.edges {
        if e.child < n {
            list[filled[e.child]] = e.parent;
            filled[e.child] += 1;
        }
    }
    (start, list)
}

/// Whether two names are equal once lowercased (without building the lowercase strings).
fn same_lowercase(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

impl Inputs<'_, '_, '_> {
    fn parents_of(&self, i: usize) -> &[usize] {
        &self.parent_list[self.parent_start[i]..self.parent_start[i + 1]]
    }

    fn known_relations(&self) -> &HashMap<(String, String), String> {
        self.known_relations.get_or_init(|| {
            let key_of = |r: &Relation| (r.schema.to_lowercase(), r.identifier.to_lowercase());
            let mut known = HashMap::new();
            for (i, p) in self.pending.iter().enumerate() {
                if let Some(r) = &self.relations.of_node[i] {
                    known
                        .entry(key_of(r))
                        .or_insert_with(|| format!("ref('{}')", p.name));
                }
            }
            for n in &self.relations.sources {
                if let (Some(r), Some(s)) = (&n.relation, &n.source) {
                    known
                        .entry(key_of(r))
                        .or_insert_with(|| format!("source('{}', '{}')", s.source_name, n.name));
                }
            }
            known
        })
    }
}

fn analyze_node(
    inputs: &Inputs,
    cache: &sql::cache::Loaded,
    i: usize,
    p: &Pending,
    r: &jinja::Rendered,
    code: &str,
) -> AnalysisOutcome {
    let ctx = inputs.ctx;
    let kind = ctx.target.info.kind;
    let source = p.template.as_deref().unwrap_or("");
    // Positions are needed only for diagnostics (rare): map them lazily.
    let at_line_col = |line: usize, col: usize| {
        let spans = spans_of(ctx, p, r, false);
        SourceMap {
            spans: &spans,
            rendered: &r.text,
            source,
            file: &p.path,
        }
        .at_line_col(line, col)
    };
    let key = sql::cache::key(kind, code);
    let analyzed = match cache.take(&key) {
        Some(a) => Ok(a),
        None => sql::analyze(code, kind),
    };
    match analyzed {
        Ok(a) => {
            let mut found = hard_coded_relations(inputs, i, p, &a, &at_line_col);
            if a.statements == 0 {
                found.push(empty(p));
            }
            if let Some((line, col)) = sql::second_statement(code, kind) {
                found.push(several_statements(p, at_line_col(line, col), false));
            }
            for f in &a.foreign_functions {
                let mut d = Diagnostic::error(
                    Code::DialectFunction,
                    format!(
                        "`{}` calls `{}()`, which {} has and {} does not",
                        p.name,
                        f.name,
                        f.only_in.as_str(),
                        kind.as_str()
                    ),
                )
                .at(mark_text(at_line_col(f.line, f.col), source, &f.name))
                .with_label(format!("not a {} function", kind.as_str()));
                d = match &f.instead {
                    Some(i) => d.with_help(format!("write it so that both engines run it: {i}")),
                    None => d.with_help("call it from a macro dispatched per engine (adapter.dispatch), with a variant for each".to_string()),
                };
                found.push(d);
            }
            AnalysisOutcome {
                cols: Some(a.columns.clone()),
                shape: Shape::of(&a, |rel| parent_reading(inputs, i, rel)),
                diags: found,
                keep: Some((key, a)),
            }
        }
        Err(e) => AnalysisOutcome {
            cols: None,
            shape: Shape::default(),
            diags: vec![
                Diagnostic::error(
                    Code::SqlSyntax,
                    format!("SQL syntax error ({} dialect): {}", kind.as_str(), e.message),
                )
                .at(at_line_col(e.line, e.col))
                .with_label("the rendered SQL does not parse here")
                .with_note(format!(
                    "line {} of the rendered SQL; the rendered SQL is what `strata compile` writes once the project is valid",
                    e.line
                )),
            ],
            keep: None,
        },
    }
}

/// The parent of node `i` that a relation it reads is: by schema and name, or an ephemeral
/// parent by its CTE name.
fn parent_reading(inputs: &Inputs, i: usize, rel: &sql::RelationRead) -> Option<usize> {
    let parents = inputs.parents_of(i);
    let (schema, table) = match rel.parts.as_slice() {
        [.., s, t] => (s.as_str(), t.as_str()),
        [t] => {
            let ephemeral = parents.iter().copied().find(|&parent| {
                let p = inputs.pending.get(parent);
                p.is_some_and(|p| {
                    p.config.materialized == Some(Materialized::Ephemeral)
                        && same_lowercase(&super::ephemeral::cte_name(&p.name), t)
                })
            });
            if ephemeral.is_some() {
                return ephemeral;
            }
            (inputs.ctx.target.info.schema.as_str(), t.as_str())
        }
        [] => return None,
    };
    parents.iter().copied().find(|&parent| {
        inputs.relations.of(parent).is_some_and(|r| {
            same_lowercase(&r.identifier, table) && same_lowercase(&r.schema, schema)
        })
    })
}

/// A model or singular test whose rendered SQL holds no statement: it would fail when run.
fn empty(p: &Pending) -> Diagnostic {
    let what = p.resource_type.as_str();
    Diagnostic::error(
        Code::EmptyModel,
        format!("{what} `{}` has no SQL statement", p.name),
    )
    .at(Span::file(&p.path))
    .with_label("only whitespace and comments once rendered")
    .with_help(format!(
        "write the {what}'s query, delete the file, or disable it with `{{{{ config(enabled=false) }}}}`"
    ))
}

/// Warnings for relations a node reads that none of its ref() or source() calls gave it.
fn hard_coded_relations(
    inputs: &Inputs,
    i: usize,
    p: &Pending,
    a: &sql::Analysis,
    at_line_col: &dyn Fn(usize, usize) -> crate::diagnostics::Span,
) -> Vec<Diagnostic> {
    let source = p.template.as_deref().unwrap_or("");
    let mut warnings = Vec::new();
    for rel in &a.relations {
        let (schema, table) = match rel.parts.as_slice() {
            [.., s, t] => (s.as_str(), t.as_str()),
            [t] => {
                if inputs.ephemeral_names.contains(&t.to_lowercase()) {
                    continue;
                }
                (inputs.ctx.target.info.schema.as_str(), t.as_str())
            }
            [] => continue,
        };
        let own = inputs.parents_of(i).iter().any(|&parent| {
            inputs.relations.of(parent).is_some_and(|r| {
                same_lowercase(&r.identifier, table) && same_lowercase(&r.schema, schema)
            })
        });
        if own {
            continue;
        }
        let key = (schema.to_lowercase(), table.to_lowercase());
        let help = match inputs.known_relations().get(&key) {
            Some(call) => format!("write {{{{ {call} }}}} so strata knows the dependency"),
            None => {
                "declare it as a source in a properties file and read it with source()".to_string()
            }
        };
        warnings.push(
            Diagnostic::warning(
                Code::HardCodedRelation,
                format!(
                    "`{}` reads `{}`, which is neither a ref() nor a source()",
                    p.name, rel.text
                ),
            )
            .at(mark_text(at_line_col(rel.line, rel.col), source, &rel.text))
            .with_label("hard-coded relation")
            .with_help(help),
        );
    }
    warnings
}

/// Parses the SQL of an incremental model's later runs.
fn check_incremental(
    ctx: &Context,
    cache: &sql::cache::Loaded,
    kind: AdapterKind,
    p: &Pending,
    r: &jinja::Rendered,
    code: &str,
) -> Result<(String, sql::Analysis), Diagnostic> {
    let spans = || spans_of(ctx, p, r, true);
    let map = |spans| SourceMap {
        spans,
        rendered: &r.text,
        source: p.template.as_deref().unwrap_or(""),
        file: &p.path,
    };
    if let Some((line, col)) = sql::second_statement(code, kind) {
        let at = map(&spans()).at_line_col(line, col);
        return Err(several_statements(p, at, true));
    }
    let key = sql::cache::key(kind, code);
    if let Some(a) = cache.take(&key) {
        return Ok((key, a));
    }
    let e = match sql::analyze(code, kind) {
        Ok(a) => return Ok((key, a)),
        Err(e) => e,
    };
    Err(Diagnostic::error(
        Code::SqlSyntax,
        format!(
            "SQL syntax error ({} dialect) when is_incremental() is true: {}",
            kind.as_str(),
            e.message
        ),
    )
    .at(map(&spans()).at_line_col(e.line, e.col))
    .with_label("the rendered SQL does not parse here"))
}

/// A model or singular test whose rendered SQL goes on after its statement: refused before
/// anything runs, since a second statement would run with the model's rights.
fn several_statements(p: &Pending, at: Span, incremental: bool) -> Diagnostic {
    let what = p.resource_type.as_str();
    let when = if incremental {
        " when is_incremental() is true"
    } else {
        ""
    };
    Diagnostic::error(
        Code::SeveralStatements,
        format!("{what} `{}` is more than one SQL statement{when}", p.name),
    )
    .at(at)
    .with_label("a second statement starts here")
    .with_help(format!(
        "a {what} is exactly one query (a trailing `;` is fine): remove what follows it, or move other statements to a pre_hook or post_hook"
    ))
}
