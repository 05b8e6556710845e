//! SQL that is no node of the project, rendered after a compile: an inline query
//! (`strata show --inline`) or a macro call (`strata run-operation`). It is rendered with the
//! project's macros, vars and target, and its `ref()`/`source()` calls resolve against the
//! compiled nodes exactly as a node's do (same errors, same did-you-mean); ephemeral models
//! are inlined as CTEs where the text is a query.
//!
//! Not a stage of `compile`: it takes the compile's output and changes nothing in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Compiled;
use super::ephemeral::{cte_name, inject_ctes};
use super::relations::{Relations, SourceIndex};
use super::resolve::{Own, Refable, Scope, call_span, substitute_tokens};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, display_path, suggest};
use crate::ir::ResourceType;
use crate::ir::config::{ConfigScope, Materialized, NodeConfig};
use crate::jinja::{self, RelationCall, Renderer, SourceTexts, THIS_TOKEN};
use crate::project::Project;

/// What an ad hoc render gives.
#[derive(Debug)]
pub struct AdhocSql {
    /// The rendered text with its relations resolved.
    pub sql: String,
    /// `log()` output, in call order.
    pub logs: Vec<String>,
    /// The nodes it reads (indices into `Compiled::nodes`), in call order.
    pub reads: Vec<usize>,
}

/// What the rendered text is, which decides what an ephemeral `ref()` becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdhocKind {
    /// One query: ephemeral models are inlined as CTEs.
    Query,
    /// Statements (a macro's output): an ephemeral model has no relation to name.
    Statements,
}

/// The text rendered again with the answers to what it asked of the adapter: the compiled
/// nodes' columns (none known is an error that says to declare them), the relations they
/// build; again while each render asks about relations the one before did not.
fn introspected(
    c: &Compiled,
    renderer: &Renderer,
    scope: &Scope,
    (name, template): (&str, &str),
    mut asked: jinja::Introspected,
) -> Result<jinja::Rendered, minijinja::Error> {
    let known: Vec<[Option<String>; 3]> = c
        .nodes
        .iter()
        .filter_map(|n| n.relation.as_ref())
        .map(|r| [None, Some(r.schema.clone()), Some(r.identifier.clone())])
        .collect();
    let known = Arc::new(known);
    for round in 1.. {
        let columns = asked
            .columns_of
            .iter()
            .map(|call| {
                let mut ignored = Diagnostics::new();
                let answer = match scope.resolve_call(call, &Span::file(name), &mut ignored) {
                    None => Err("it names no model, seed or source".to_string()),
                    Some((i, _)) if c.nodes[i].columns.is_empty() => {
                        Err("strata knows none of its columns".to_string())
                    }
                    Some((i, _)) => Ok(c.nodes[i]
                        .columns
                        .iter()
                        .map(|col| jinja::KnownColumn {
                            name: col.name.clone(),
                            data_type: col.data_type.clone(),
                        })
                        .collect()),
                };
                (call.clone(), answer)
            })
            .collect();
        let answers = Arc::new(jinja::Introspection {
            columns,
            relations: known.clone(),
        });
        let pass = jinja::Pass {
            introspection: Some(answers),
            ..jinja::Pass::default()
        };
        let r = renderer.render_pass(
            name,
            template,
            ConfigScope::Model,
            &NodeConfig::default(),
            false,
            &pass,
        )?;
        let now = r
            .recorded
            .introspected
            .as_deref()
            .cloned()
            .unwrap_or_default();
        let new: Vec<RelationCall> = now
            .columns_of
            .into_iter()
            .filter(|call| !asked.columns_of.contains(call))
            .collect();
        // Bounded as the compile's renders are (`compile::introspect`).
        if new.is_empty() || round == 4 {
            return Ok(r);
        }
        asked.columns_of.extend(new);
    }
    unreachable!("the loop returns by its fourth round")
}

/// The project's macro files as `Renderer::new` takes them (`{% test %}` blocks rewritten).
pub fn macro_sources(project: &Project) -> Vec<(String, String)> {
    project
        .macro_files
        .iter()
        .map(|f| (display_path(&f.path), jinja::rewrite_test_blocks(&f.text)))
        .collect()
}

/// Renders `template` (named `file` in diagnostics) with `renderer`, a renderer of `c`'s
/// project and target, and resolves its relations against `c`'s nodes.
pub fn render(
    c: &Compiled,
    renderer: &Renderer,
    file: &Path,
    template: &str,
    kind: AdhocKind,
) -> Result<AdhocSql, Diagnostics> {
    let name = display_path(file);
    let sources = source_texts(&c.project, file, template);
    let rendered = renderer
        .render_node(
            &name,
            template,
            ConfigScope::Model,
            &NodeConfig::default(),
            false,
        )
        .map_err(|e| one(jinja::jinja_diagnostic(&e, file, None, &sources)))?;
    let relations = relations_of(c);
    let packages = c.project.packages.iter().map(|p| p.name.as_str()).collect();
    let scope = Scope::of_nodes(&c.project.name, packages, refable_of(c), &relations);
    let rendered = match rendered.recorded.introspected.as_deref() {
        None => rendered,
        Some(asked) => introspected(c, renderer, &scope, (&name, template), asked.clone())
            .map_err(|e| one(jinja::jinja_diagnostic(&e, file, None, &sources)))?,
    };
    let mut diags = Diagnostics::new();
    let mut reads = Vec::new();
    let mut texts = Vec::new();
    let mut ephemeral = Vec::new();
    for call in &rendered.recorded.relations {
        let span = where_called(&sources, file, call);
        let Some((parent, text)) = scope.resolve_call(call, &span, &mut diags) else {
            continue;
        };
        if c.nodes[parent].materialized() == Materialized::Ephemeral {
            if kind == AdhocKind::Statements {
                diags.push(
                    Diagnostic::error(
                        Code::MissingRef,
                        format!(
                            "ref('{}') is an ephemeral model, which builds no relation a statement can name",
                            c.nodes[parent].name
                        ),
                    )
                    .at(span)
                    .with_help("make it a view or a table (`materialized`), or ref() what it reads"),
                );
                continue;
            }
            ephemeral.push(parent);
        }
        reads.push(parent);
        texts.push(Own::of(text, scope.relations.of(parent)));
    }
    if rendered.text.contains(THIS_TOKEN) {
        diags.push(
            Diagnostic::error(
                Code::JinjaError,
                "`this` is the relation of the node being built, and there is none here",
            )
            .at(Span::file(file))
            .with_help("name the relation with ref() or source()"),
        );
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let mut sql = substitute_tokens(&rendered.text, &Own::default(), &texts);
    if !ephemeral.is_empty() {
        ephemeral.sort_unstable();
        ephemeral.dedup();
        let ctes: Vec<String> = ephemeral
            .iter()
            .map(|&e| {
                let body = c.nodes[e].compiled_code.as_deref().unwrap_or_default();
                format!(
                    "{} as (\n{}\n)",
                    cte_name(&c.nodes[e].name),
                    body.trim().trim_end_matches(';')
                )
            })
            .collect();
        sql = inject_ctes(&sql, &ctes);
    }
    Ok(AdhocSql {
        sql,
        logs: rendered.recorded.logs,
        reads,
    })
}

/// What each `ref()` and `source()` of the project resolves to, owned: for SQL run while a
/// macro renders (`run_query`), whose placeholders cannot wait for the render to end.
#[derive(Clone, Debug, Default)]
pub struct RelationTexts {
    refs: BTreeMap<String, Result<Own, String>>,
    sources: BTreeMap<(String, String), Own>,
}

impl RelationTexts {
    /// The relations of `c`'s models, seeds and source tables.
    pub fn of(c: &Compiled) -> RelationTexts {
        let mut refs = BTreeMap::new();
        for (package, name, r) in refable_of(c) {
            // By name alone, the root project's node wins over a package's.
            if refs.contains_key(name) && package != c.project.name {
                continue;
            }
            let text = match (&r.relation, r.ephemeral) {
                (Some(rel), false) => Ok(Own::of(rel.quoted(), Some(rel))),
                _ => Err(format!(
                    "ref('{name}') is an ephemeral model, which builds no relation a statement can name"
                )),
            };
            refs.insert(name.to_string(), text);
        }
        let sources = relations_of(c)
            .source_index
            .into_iter()
            .map(|(key, (_, rel))| (key, Own::of(rel.quoted(), Some(&rel))))
            .collect();
        RelationTexts { refs, sources }
    }

    /// `text` with the placeholders of `calls` (a render's relations so far) replaced.
    pub fn substitute(&self, text: &str, calls: &[RelationCall]) -> Result<String, String> {
        let mut texts = Vec::with_capacity(calls.len());
        for call in calls {
            texts.push(match call {
                RelationCall::Ref { name, .. } => match self.refs.get(name) {
                    Some(t) => t.clone()?,
                    None => {
                        let help = suggest(name, self.refs.keys().map(String::as_str))
                            .map(|h| format!(" ({h})"))
                            .unwrap_or_default();
                        return Err(format!(
                            "ref('{name}') names a model or seed that does not exist{help}"
                        ));
                    }
                },
                RelationCall::Source { source, table } => self
                    .sources
                    .get(&(source.clone(), table.clone()))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "source('{source}', '{table}') is not declared in any properties file"
                        )
                    })?,
            });
        }
        Ok(substitute_tokens(text, &Own::default(), &texts))
    }
}

fn one(d: Diagnostic) -> Diagnostics {
    let mut diags = Diagnostics::new();
    diags.push(d);
    diags
}

/// The template and the macro files by path, for positions in diagnostics.
fn source_texts(project: &Project, file: &Path, template: &str) -> SourceTexts {
    let mut texts: SourceTexts = project
        .macro_files
        .iter()
        .map(|f| (f.path.clone(), f.text.clone()))
        .collect();
    texts.insert(PathBuf::from(file), Arc::from(template));
    texts
}

/// Where a relation call is written: in the template, else in the first macro file that
/// writes it, else the template as a whole.
fn where_called(sources: &SourceTexts, file: &Path, call: &RelationCall) -> Span {
    // `call_span` answers the file's first character when the call is not written in it.
    let found = |s: &Span| (s.line, s.col, s.len) != (1, 1, 1);
    let template = sources.get(file).map(|src| call_span(src, file, call));
    template
        .filter(found)
        .or_else(|| {
            sources
                .iter()
                .filter(|(path, _)| path.as_path() != file)
                .map(|(path, src)| call_span(src, path, call))
                .find(found)
        })
        .unwrap_or_else(|| Span::file(file))
}

/// What `ref()` reaches: the models and seeds of the compile, by name (the first of each).
/// The compiled models and seeds as (package, name, what ref() reaches).
fn refable_of(c: &Compiled) -> impl Iterator<Item = (&str, &str, Refable)> {
    c.nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n.resource_type, ResourceType::Model | ResourceType::Seed))
        .map(|(i, n)| {
            let package = n
                .fqn
                .first()
                .map_or(c.project.name.as_str(), String::as_str);
            let r = Refable {
                index: i,
                relation: n.relation.clone(),
                ephemeral: n.materialized() == Materialized::Ephemeral,
            };
            (package, n.name.as_str(), r)
        })
}

/// What `source()` reaches: the source tables of the compile.
fn relations_of(c: &Compiled) -> Relations {
    let source_index: SourceIndex = c
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let s = n.source.as_ref()?;
            let rel = n.relation.clone()?;
            Some(((s.source_name.clone(), n.name.clone()), (i, rel)))
        })
        .collect();
    Relations {
        of_node: Vec::new(),
        sources: Vec::new(),
        source_index,
        disabled: Default::default(),
        disabled_sources: Default::default(),
    }
}
