//! Stage `introspect`: the nodes whose first render asked about relations
//! (`adapter.get_columns_in_relation`, `adapter.get_relation`) rendered again with the answers,
//! each after the nodes it asked about. Offline, as the whole compile: a relation's columns are
//! its seed's header, its declared columns (properties YAML, a source's tables), or its
//! analyzed select list, a `*` over one relation expanded from that relation. What cannot be
//! known so is the render's error, which says what to declare; a model's declared columns are
//! used when its select list does not tell. A project where no render
//! introspects skips this stage.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::context::Context;
use super::prepare::Pending;
use super::relations::Relations;
use super::render::{Renders, render_uncached};
use super::resolve::Scope;
use crate::diagnostics::{Diagnostics, Span};
use crate::ir::ResourceType;
use crate::ir::config::ConfigScope;
use crate::jinja::{self, Introspection, KnownColumn, RelationCall};
use crate::sql;

/// How many times a node is rendered again when each render asks about relations the one
/// before did not.
const MAX_RENDERS: usize = 4;

/// Renders again every node whose render introspected, with the answers.
pub fn settle(
    ctx: &Context,
    pending: &[Pending],
    renders: &mut Renders,
    relations: &Relations,
    scope: &Scope,
    diags: &mut Diagnostics,
) {
    let asking: Vec<usize> = (0..pending.len())
        .filter(|&i| {
            renders.main[i]
                .as_ref()
                .is_some_and(|r| r.recorded.introspected.is_some())
        })
        .collect();
    if asking.is_empty() {
        return;
    }
    let known: Vec<[Option<String>; 3]> = relations
        .of_node
        .iter()
        .flatten()
        .chain(relations.sources.iter().filter_map(|n| n.relation.as_ref()))
        .map(|r| [None, Some(r.schema.clone()), Some(r.identifier.clone())])
        .collect();
    let mut s = Settler {
        ctx,
        pending,
        renders,
        relations,
        scope,
        relations_known: Arc::new(known),
        memo: HashMap::new(),
        asking: asking.iter().copied().collect(),
        in_progress: HashSet::new(),
        diags: Diagnostics::new(),
    };
    for i in asking {
        s.settle(i);
    }
    diags.extend(s.diags);
}

struct Settler<'s, 'a, 'c, 'r> {
    ctx: &'s Context<'a, 'r>,
    pending: &'s [Pending<'c>],
    renders: &'s mut Renders,
    relations: &'s Relations,
    scope: &'s Scope<'s>,
    relations_known: Arc<Vec<[Option<String>; 3]>>,
    /// Columns by node (pending nodes, then sources).
    memo: HashMap<usize, Result<Vec<KnownColumn>, String>>,
    /// Introspecting nodes not rendered again yet.
    asking: HashSet<usize>,
    /// Nodes whose columns are being worked out: a node met again is a cycle.
    in_progress: HashSet<usize>,
    diags: Diagnostics,
}

impl Settler<'_, '_, '_, '_> {
    /// Renders node `i` again with the answers to what it asks, until it asks nothing new.
    fn settle(&mut self, i: usize) {
        if !self.asking.remove(&i) {
            return;
        }
        self.in_progress.insert(i);
        let pending = self.pending;
        let p = &pending[i];
        let mut asked: Vec<RelationCall> = self.renders.main[i]
            .as_ref()
            .and_then(|r| r.recorded.introspected.as_ref())
            .map(|x| x.columns_of.clone())
            .unwrap_or_default();
        let source = p.template.clone().unwrap_or_default();
        for _ in 0..MAX_RENDERS {
            let answers = asked
                .iter()
                .map(|call| (call.clone(), self.answer(p, call)))
                .collect();
            let introspection = Arc::new(Introspection {
                columns: answers,
                relations: self.relations_known.clone(),
            });
            let main = render_uncached(
                self.ctx,
                p,
                &source,
                p.scope(),
                false,
                jinja::Pass {
                    introspection: Some(introspection.clone()),
                    ..jinja::Pass::default()
                },
            );
            let r = match main {
                Ok(r) => r,
                Err(d) => {
                    self.diags.push(d);
                    self.renders.main[i] = None;
                    break;
                }
            };
            let now: Vec<RelationCall> = r
                .recorded
                .introspected
                .as_ref()
                .map(|x| x.columns_of.clone())
                .unwrap_or_default();
            let new: Vec<RelationCall> = now.into_iter().filter(|c| !asked.contains(c)).collect();
            self.renders.main[i] = Some(r);
            if new.is_empty() {
                if self.renders.extra[i].incremental.is_some() {
                    let inc = render_uncached(
                        self.ctx,
                        p,
                        &source,
                        ConfigScope::Model,
                        true,
                        jinja::Pass {
                            introspection: Some(introspection),
                            ..jinja::Pass::default()
                        },
                    );
                    self.renders.extra[i].incremental = Some(Box::new(inc));
                }
                break;
            }
            asked.extend(new);
        }
        self.in_progress.remove(&i);
    }

    /// The columns of the relation `call` names, asked from node `p`.
    fn answer(&mut self, p: &Pending, call: &RelationCall) -> Result<Vec<KnownColumn>, String> {
        let mut ignored = Diagnostics::new();
        // A call that names nothing is reported where the calls are resolved.
        let Some((parent, _)) =
            self.scope
                .resolve_call_from(p.package, call, &Span::file(&p.path), &mut ignored)
        else {
            return Err("it names no model, seed or source".into());
        };
        self.columns_of(parent)
    }

    /// The columns of node `i` (a pending node or a source), worked out once.
    fn columns_of(&mut self, i: usize) -> Result<Vec<KnownColumn>, String> {
        if let Some(known) = self.memo.get(&i) {
            return known.clone();
        }
        if self.in_progress.contains(&i) {
            return Err("its columns depend on the node asking for them".into());
        }
        self.in_progress.insert(i);
        let found = self.work_out(i);
        self.in_progress.remove(&i);
        self.memo.insert(i, found.clone());
        found
    }

    fn work_out(&mut self, i: usize) -> Result<Vec<KnownColumn>, String> {
        let base = self.pending.len();
        if i >= base {
            let source = &self.relations.sources[i - base];
            if source.columns.is_empty() {
                return Err("the source table declares no columns".into());
            }
            return Ok(source
                .columns
                .iter()
                .map(|c| KnownColumn {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                })
                .collect());
        }
        let pending = self.pending;
        let p = &pending[i];
        let declared = |name: &str| {
            p.columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .and_then(|c| c.data_type.clone())
        };
        if p.resource_type == ResourceType::Seed {
            return Ok(p
                .seed_columns
                .iter()
                .map(|c| KnownColumn {
                    name: c.clone(),
                    data_type: declared(c),
                })
                .collect());
        }
        self.in_progress.remove(&i);
        self.settle(i);
        self.in_progress.insert(i);
        // What its SQL makes; else what its properties declare.
        match self.analyzed_columns(i) {
            Ok(cols) => Ok(cols
                .into_iter()
                .map(|c| KnownColumn {
                    data_type: declared(&c.name),
                    ..c
                })
                .collect()),
            Err(_) if !p.columns.is_empty() => Ok(p
                .columns
                .iter()
                .map(|c| KnownColumn {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                })
                .collect()),
            Err(why) => Err(why),
        }
    }

    /// A model's columns from its rendered select list.
    fn analyzed_columns(&mut self, i: usize) -> Result<Vec<KnownColumn>, String> {
        let Some(r) = self.renders.main[i].as_ref() else {
            return Err("it did not render".into());
        };
        let text = r.text.clone();
        let calls = r.recorded.relations.clone();
        let analysis = sql::analyze(&text, self.ctx.target.info.kind)
            .map_err(|_| "its SQL does not parse".to_string())?;
        if analysis.inexact_columns {
            return Err("its select list has a column whose name is not certain (an expression without `as`, or a `*` over several relations)".into());
        }
        let mut out = Vec::new();
        for c in &analysis.columns {
            if c != "*" && !c.ends_with(".*") {
                out.push(KnownColumn {
                    name: c.clone(),
                    data_type: None,
                });
                continue;
            }
            let call = analysis
                .star_relation
                .and_then(|k| analysis.relations.get(k))
                .and_then(|read| placeholder_number(&read.text))
                .and_then(|n| calls.get(n))
                .ok_or_else(|| {
                    "its `*` reads a relation not named with ref() or source()".to_string()
                })?;
            let pending = self.pending;
            out.extend(self.answer(&pending[i], call)?);
        }
        Ok(out)
    }
}

/// `n` of a relation placeholder `__strata_rel_<n>__`.
fn placeholder_number(text: &str) -> Option<usize> {
    text.trim_matches('"')
        .strip_prefix("__strata_rel_")?
        .strip_suffix("__")?
        .parse()
        .ok()
}
