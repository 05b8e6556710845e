//! Stage `lineage`: each model's column-level lineage, in dependency order, from the lineage
//! of its query (made and cached with the analysis) and its parents' columns: a relation read
//! becomes the parent node it is, `*` is expanded from the parent's known columns (its own
//! lineage, the seed's header, the properties' `columns:` or the contract), an unqualified
//! column over several relations goes to the one that has it, and an ephemeral parent is
//! looked through to what it reads. What cannot be resolved is said in `unknown`, never guessed.

use std::collections::BTreeSet;

use rayon::prelude::*;

use super::analyze::Analyzed;
use crate::graph::Dag;
use crate::ir::config::Materialized;
use crate::ir::lineage::{ColumnLineage, InputField, NodeLineage};
use crate::ir::{CompiledNode, ResourceType};
use crate::sql::lineage::{CachedLineage, Origin, Output, QueryLineage};

/// The lineage of a node's query and which parent each relation it reads is.
pub struct Query {
    lineage: CachedLineage,
    /// By relation of the analysis: the parent (node index) it is, and how it is written.
    parents: Vec<(Option<usize>, String)>,
}

/// Takes what the stage needs from the analyses (before they go to the cache), by node.
pub fn queries(analyzed: &Analyzed, n: usize) -> Vec<Option<Query>> {
    (0..n)
        .map(|i| {
            let a = analyzed.of(i)?;
            let lineage = a.lineage.clone()?;
            let shape = analyzed.shapes.get(i)?;
            let parents = a
                .relations
                .iter()
                .enumerate()
                .map(|(r, read)| (shape.parent(r), read.text.clone()))
                .collect();
            Some(Query { lineage, parents })
        })
        .collect()
}

/// Fills `lineage` of every model that has a query: level by level of the DAG (a node's
/// parents are all on earlier levels), the nodes of one level in parallel.
pub fn lineage(nodes: &mut [CompiledNode], dag: &Dag, mut queries: Vec<Option<Query>>) {
    queries.resize_with(nodes.len(), || None);
    let mut level = vec![0usize; nodes.len()];
    let mut levels: Vec<Vec<usize>> = Vec::new();
    for &i in dag.topo_order() {
        level[i] = dag
            .parents(i)
            .iter()
            .map(|&p| level[p] + 1)
            .max()
            .unwrap_or(0);
        if nodes[i].resource_type == ResourceType::Model && queries[i].is_some() {
            if levels.len() <= level[i] {
                levels.resize_with(level[i] + 1, Vec::new);
            }
            levels[level[i]].push(i);
        }
    }
    for at in levels {
        let done: Vec<(usize, NodeLineage)> = {
            let nodes: &[CompiledNode] = nodes;
            at.par_iter()
                .filter_map(|&i| {
                    let q = queries[i].as_ref()?;
                    let lineage = q.lineage.read()?;
                    let r = Resolver {
                        nodes,
                        lineage: &lineage,
                        parents: &q.parents,
                    };
                    Some((i, r.node()))
                })
                .collect()
        };
        for (i, l) in done {
            nodes[i].lineage = Some(Box::new(l));
        }
    }
}

/// The known columns of node `n`: its own lineage's, else what its properties, contract or
/// seed header say; None when nothing is known.
fn known_columns(n: &CompiledNode) -> Option<Vec<&str>> {
    if let Some(l) = &n.lineage
        && l.unknown.is_none()
    {
        return Some(l.columns.iter().map(|c| c.name.as_str()).collect());
    }
    if n.columns.is_empty() {
        None
    } else {
        Some(n.columns.iter().map(|c| c.name.as_str()).collect())
    }
}

/// Column `name` of node `n` as the node spells it: `Some(None)` when its columns are known
/// and do not include it, None when they are not known.
fn find_column<'n>(n: &'n CompiledNode, name: &str) -> Option<Option<&'n str>> {
    if let Some(l) = &n.lineage
        && l.unknown.is_none()
    {
        return Some(
            l.columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| c.name.as_str()),
        );
    }
    if n.columns.is_empty() {
        return None;
    }
    Some(
        n.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map(|c| c.name.as_str()),
    )
}

fn is_ephemeral(n: &CompiledNode) -> bool {
    n.resource_type == ResourceType::Model && n.materialized() == Materialized::Ephemeral
}

/// Resolves one node's query against its parents.
struct Resolver<'a> {
    nodes: &'a [CompiledNode],
    lineage: &'a QueryLineage,
    /// By relation of the analysis: the parent it is, and how it is written.
    parents: &'a [(Option<usize>, String)],
}

/// What an origin resolves to.
struct Resolved {
    inputs: Vec<InputField>,
    /// Inputs that affect every row, from ephemeral parents looked through.
    rows: Vec<InputField>,
    unknown: Option<String>,
}

impl Resolver<'_> {
    fn node(&self) -> NodeLineage {
        let mut out = NodeLineage::default();
        let mut rows: BTreeSet<InputField> = BTreeSet::new();
        let mut merged: Vec<ColumnLineage> = Vec::new();
        for (b, branch) in self.lineage.branches.iter().enumerate() {
            let mut cols = Vec::new();
            for o in branch {
                match self.output(o, &mut cols, &mut rows) {
                    Ok(()) => {}
                    Err(reason) => {
                        out.unknown.get_or_insert(reason);
                    }
                }
            }
            if b == 0 {
                merged = cols;
            } else {
                for (m, c) in merged.iter_mut().zip(cols) {
                    m.inputs.extend(c.inputs);
                    if m.unknown.is_none() {
                        m.unknown = c.unknown;
                    }
                }
            }
        }
        for c in &mut merged {
            c.inputs.sort();
            c.inputs.dedup();
        }
        out.columns = merged;
        for d in &self.lineage.dataset {
            let r = self.origin(d);
            rows.extend(r.inputs);
            rows.extend(r.rows);
        }
        out.dataset = rows.into_iter().collect();
        out
    }

    /// Adds the columns of one select-list item.
    fn output(
        &self,
        o: &Output,
        cols: &mut Vec<ColumnLineage>,
        rows: &mut BTreeSet<InputField>,
    ) -> Result<(), String> {
        match o {
            Output::Column {
                name,
                inputs,
                unknown,
            } => {
                let mut c = ColumnLineage {
                    name: name.clone(),
                    inputs: Vec::new(),
                    unknown: unknown.clone(),
                };
                for i in inputs {
                    let r = self.origin(i);
                    c.inputs.extend(r.inputs);
                    rows.extend(r.rows);
                    if c.unknown.is_none() {
                        c.unknown = r.unknown;
                    }
                }
                cols.push(c);
                Ok(())
            }
            Output::Star {
                rel,
                except,
                replace,
                unknown,
            } => {
                if let Some(u) = unknown {
                    return Err(u.clone());
                }
                let Some(r) = *rel else {
                    return Err("`*` over something whose columns are not known".into());
                };
                let (parent, text) = &self.parents[r];
                let Some(j) = *parent else {
                    return Err(format!(
                        "`*` over `{text}`, which is not a ref() or source()"
                    ));
                };
                let p = &self.nodes[j];
                let Some(names) = known_columns(p) else {
                    return Err(format!(
                        "`*` over `{}`, whose columns are not known (declare them under `columns:` in its properties)",
                        p.name
                    ));
                };
                for name in names {
                    let lower = name.to_lowercase();
                    if except.contains(&lower) {
                        continue;
                    }
                    let mut c = ColumnLineage {
                        name: name.to_string(),
                        ..Default::default()
                    };
                    let origins: Vec<Origin> = match replace.iter().find(|(n, _)| *n == lower) {
                        Some((_, inputs)) => inputs.clone(),
                        None => vec![Origin {
                            rels: vec![r],
                            column: name.to_string(),
                            subtype: crate::ir::lineage::TransformSubtype::Identity,
                        }],
                    };
                    for origin in &origins {
                        let res = self.origin(origin);
                        c.inputs.extend(res.inputs);
                        rows.extend(res.rows);
                        if c.unknown.is_none() {
                            c.unknown = res.unknown;
                        }
                    }
                    cols.push(c);
                }
                Ok(())
            }
        }
    }

    /// The parent node an origin's column comes from, among its candidate relations.
    fn origin(&self, o: &Origin) -> Resolved {
        let mut candidates: Vec<(usize, Option<String>)> = Vec::new();
        for &r in &o.rels {
            let (parent, text) = &self.parents[r];
            let Some(j) = *parent else {
                if o.rels.len() == 1 {
                    return unknown(format!("`{text}` is read without ref() or source()"));
                }
                continue;
            };
            match find_column(&self.nodes[j], &o.column) {
                Some(Some(name)) => candidates.push((j, Some(name.to_string()))),
                Some(None) if o.rels.len() == 1 => {
                    // The SQL says the column is there: keep it as written.
                    candidates.push((j, None));
                }
                Some(None) => {}
                None => candidates.push((j, None)),
            }
        }
        candidates.dedup_by_key(|c| c.0);
        let (j, name) = match candidates.as_slice() {
            [one] => (one.0, one.1.clone().unwrap_or_else(|| o.column.clone())),
            [] => {
                return unknown(format!(
                    "column `{}` is in none of the relations its select reads",
                    o.column
                ));
            }
            many => {
                let names: Vec<&str> = many.iter().map(|c| self.nodes[c.0].name.as_str()).collect();
                return unknown(format!(
                    "column `{}` may come from {} (qualify it, or declare their columns)",
                    o.column,
                    names.join(" or ")
                ));
            }
        };
        self.through(j, &name, o.subtype)
    }

    /// Column `name` of node `j`, used as `sub`: the node itself, or what an ephemeral node's
    /// column comes from.
    fn through(&self, j: usize, name: &str, sub: crate::ir::lineage::TransformSubtype) -> Resolved {
        let p = &self.nodes[j];
        if !is_ephemeral(p) {
            return Resolved {
                inputs: vec![InputField {
                    node: p.unique_id.clone(),
                    column: name.to_string(),
                    subtype: sub,
                }],
                rows: Vec::new(),
                unknown: None,
            };
        }
        let Some(l) = &p.lineage else {
            return unknown(format!("the ephemeral model `{}` has no lineage", p.name));
        };
        let Some(c) = l.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)) else {
            return unknown(match &l.unknown {
                Some(u) => format!("the ephemeral model `{}`: {u}", p.name),
                None => format!("the ephemeral model `{}` has no column `{name}`", p.name),
            });
        };
        Resolved {
            inputs: c
                .inputs
                .iter()
                .map(|i| InputField {
                    node: i.node.clone(),
                    column: i.column.clone(),
                    subtype: crate::sql::lineage::compose(sub, i.subtype),
                })
                .collect(),
            rows: l.dataset.clone(),
            unknown: c.unknown.clone(),
        }
    }
}

fn unknown(reason: String) -> Resolved {
    Resolved {
        inputs: Vec::new(),
        rows: Vec::new(),
        unknown: Some(reason),
    }
}
