//! Stage `project_facts`: the nodes whose render read what is known only once every node's
//! config is, rendered again with it, then resolved again: dbt's `graph` variable, and the
//! parts of relations (`ref('x').identifier`, `source(...).schema`, `this.name`). A first
//! render sees an empty graph (as dbt's parse does) and placeholders for the parts (which
//! print right, but `.upper()` of one would not), and records that it read them. The graph
//! holds `nodes` (models, seeds, tests) and `sources` by unique id, each with dbt's keys
//! (`unique_id`, `name`, `resource_type`, `package_name`, `path`, `original_file_path`, `fqn`,
//! `config`, `tags`, `meta`, `description`, `columns`, `depends_on`, `schema`, `alias`,
//! `relation_name`, `raw_code`; sources their `source_name` and `identifier`). The nodes that
//! read it are listed as they were before this stage (their own dependencies from the first
//! render). A project where no render reads `graph` skips this stage.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value as J, json};

use super::context::Context;
use super::prepare::Pending;
use super::relations::Relations;
use super::render::{Renders, render_uncached};
use super::resolve::{Resolved, Scope, resolve_again};
use crate::diagnostics::{Diagnostics, display_path};
use crate::ir::config::ConfigScope;
use crate::jinja;

/// What the stage reads besides the renders and the resolved SQL it replaces.
pub struct Inputs<'s, 'a, 'c, 'r> {
    /// The compile's context.
    pub ctx: &'s Context<'a, 'r>,
    /// The pending nodes.
    pub pending: &'s [Pending<'c>],
    /// Their relations and the source tables.
    pub relations: &'s Relations,
    /// ref() and source() resolution.
    pub scope: &'s Scope<'s>,
    /// The engine's cast type spellings.
    pub spellings: &'s [(&'s str, &'s str)],
}

/// Renders again, with the graph and the relations' parts, every node whose render read them.
pub fn settle(
    inputs: &Inputs,
    renders: &mut Renders,
    resolved: &mut Resolved,
    diags: &mut Diagnostics,
) {
    let readers: Vec<(usize, Read)> = (0..inputs.pending.len())
        .filter_map(|i| Some((i, reads(renders, i)?)))
        .collect();
    if readers.is_empty() {
        return;
    }
    let graph = readers
        .iter()
        .any(|(_, r)| r.graph)
        .then(|| jinja::to_value(&graph(inputs, resolved)));
    let names = Arc::new(names(inputs.scope));
    let ctx = inputs.ctx;
    for (i, _) in readers {
        let this = inputs.relations.of_node[i]
            .as_ref()
            .map(|r| [r.schema.clone(), r.identifier.clone()]);
        let pass = || jinja::Pass {
            graph: graph.clone(),
            names: Some((names.clone(), this.clone())),
            ..jinja::Pass::default()
        };
        let p = &inputs.pending[i];
        let source = p.template.as_deref().unwrap_or("");
        // A seed has no SQL of its own, only hooks.
        if p.template.is_some() && renders.main[i].is_some() {
            match render_uncached(ctx, p, source, p.scope(), false, pass()) {
                Ok(r) => renders.main[i] = Some(r),
                Err(d) => {
                    diags.push(d);
                    renders.main[i] = None;
                }
            }
        }
        let extra = &mut renders.extra[i];
        if extra.incremental.is_some() {
            let r = render_uncached(ctx, p, source, ConfigScope::Model, true, pass());
            extra.incremental = Some(Box::new(r));
        }
        for (_, hook, r) in &mut extra.hooks {
            *r = render_uncached(ctx, p, hook, ConfigScope::Model, false, pass());
        }
        resolve_again(
            i,
            p,
            renders,
            inputs.scope,
            inputs.spellings,
            resolved,
            diags,
        );
    }
}

/// What a node's renders read of the facts this stage brings.
#[derive(Clone, Copy, Default)]
struct Read {
    graph: bool,
}

/// What the renders of node `i` read (none when they read neither the graph nor parts).
fn reads(renders: &Renders, i: usize) -> Option<Read> {
    let extra = &renders.extra[i];
    let all = renders.main[i].iter().chain(
        extra
            .incremental
            .as_deref()
            .and_then(|r| r.as_ref().ok())
            .into_iter()
            .chain(extra.hooks.iter().filter_map(|(_, _, r)| r.as_ref().ok())),
    );
    let mut read: Option<Read> = None;
    for r in all {
        let rec = &r.recorded;
        if rec.read_graph || rec.read_names {
            let seen = read.get_or_insert_with(Read::default);
            seen.graph |= rec.read_graph;
        }
    }
    read
}

/// The parts of every relation ref() and source() can name.
fn names(scope: &Scope) -> jinja::Names {
    let parts = |r: &super::resolve::Refable, name: &str| -> jinja::Parts {
        match (&r.relation, r.ephemeral) {
            (Some(rel), false) => [rel.schema.clone(), rel.identifier.clone()],
            _ => [String::new(), super::ephemeral::cte_name(name)],
        }
    };
    jinja::Names {
        refs: scope
            .refable
            .iter()
            .map(|(name, r)| (name.to_string(), parts(r, name)))
            .collect(),
        package_refs: scope
            .by_package
            .iter()
            .map(|((p, name), r)| ((p.to_string(), name.to_string()), parts(r, name)))
            .collect(),
        sources: scope
            .relations
            .source_index
            .iter()
            .map(|(key, (_, rel))| (key.clone(), [rel.schema.clone(), rel.identifier.clone()]))
            .collect(),
    }
}

/// The graph: `nodes` and `sources` by unique id (the other members empty).
fn graph(inputs: &Inputs, resolved: &Resolved) -> J {
    let (pending, relations) = (inputs.pending, inputs.relations);
    let n = pending.len();
    let id_of = |k: usize| -> &str {
        match k < n {
            true => &pending[k].id,
            false => &relations.sources[k - n].unique_id,
        }
    };
    let mut parents: Vec<Vec<&str>> = vec![Vec::new(); n];
    for e in &resolved.edges {
        if e.child < n {
            parents[e.child].push(id_of(e.parent));
        }
    }
    let mut nodes = serde_json::Map::new();
    for (i, p) in pending.iter().enumerate() {
        let deps = &mut parents[i];
        deps.sort_unstable();
        deps.dedup();
        nodes.insert(p.id.clone(), node(inputs, i, deps));
    }
    let sources: serde_json::Map<String, J> = relations
        .sources
        .iter()
        .map(|s| (s.unique_id.clone(), source(s)))
        .collect();
    let mut g = serde_json::Map::new();
    for key in jinja::GRAPH_KEYS {
        g.insert(key.to_string(), json!({}));
    }
    g.insert("nodes".into(), J::Object(nodes));
    g.insert("sources".into(), J::Object(sources));
    J::Object(g)
}

/// One model, seed or test as `graph.nodes` holds it.
fn node(inputs: &Inputs, i: usize, deps: &[&str]) -> J {
    let p = &inputs.pending[i];
    let relation = inputs.relations.of_node[i].as_ref();
    let columns: BTreeMap<&str, J> = p
        .columns
        .iter()
        .map(|c| {
            let col = json!({"name": c.name, "description": c.description.clone().unwrap_or_default(),
                "data_type": c.data_type, "meta": c.meta, "tags": c.tags});
            (c.name.as_str(), col)
        })
        .collect();
    json!({
        "unique_id": p.id,
        "name": p.name,
        "resource_type": p.resource_type.as_str(),
        "package_name": p.package,
        "path": resource_path(inputs, &p.path),
        "original_file_path": display_path(&p.path),
        "fqn": p.fqn,
        "config": p.config,
        "tags": p.config.tags,
        "meta": p.config.meta,
        "description": p.description.clone().unwrap_or_default(),
        "columns": columns,
        "depends_on": {"nodes": deps, "macros": []},
        "database": J::Null,
        "schema": relation.map(|r| r.schema.as_str()),
        "alias": relation.map_or(p.name.as_str(), |r| r.identifier.as_str()),
        "relation_name": relation.map(|r| r.quoted()),
        "raw_code": p.template.as_deref().unwrap_or(""),
        "language": "sql",
    })
}

/// One source table as `graph.sources` holds it.
fn source(s: &crate::ir::CompiledNode) -> J {
    let info = s.source.as_deref();
    let columns: BTreeMap<&str, J> = s
        .columns
        .iter()
        .map(|c| {
            let col = json!({"name": c.name, "description": c.description.clone().unwrap_or_default(),
                "data_type": c.data_type});
            (c.name.as_str(), col)
        })
        .collect();
    json!({
        "unique_id": s.unique_id,
        "name": s.name,
        "resource_type": "source",
        "package_name": s.fqn.first(),
        "source_name": info.map(|i| i.source_name.as_str()),
        "path": display_path(&s.original_file_path),
        "original_file_path": display_path(&s.original_file_path),
        "fqn": s.fqn,
        "config": &*s.config,
        "tags": s.config.tags,
        "meta": s.config.meta,
        "description": s.description.clone().unwrap_or_default(),
        "columns": columns,
        "loaded_at_field": info.and_then(|i| i.loaded_at_field.as_deref()),
        "database": J::Null,
        "schema": s.relation.as_ref().map(|r| r.schema.as_str()),
        "identifier": s.relation.as_ref().map(|r| r.identifier.as_str()),
        "relation_name": s.relation.as_ref().map(|r| r.quoted()),
    })
}

/// A node's `path`: its file relative to the resource folder it is in (`marts/orders.sql`).
fn resource_path(inputs: &Inputs, file: &Path) -> String {
    let paths = &inputs.ctx.project.paths;
    let dirs = paths.models.iter().chain(&paths.seeds).chain(&paths.tests);
    dirs.filter_map(|d| file.strip_prefix(d).ok())
        .next()
        .map_or_else(|| display_path(file), display_path)
}
