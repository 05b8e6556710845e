//! Stage `assemble`: the compiled nodes of models, seeds and singular tests, made in parallel
//! straight into the vector that already holds the tests and exposures, then put in index
//! order: models and seeds, sources, tests, exposures.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use super::context::Context;
use super::generic_tests::LaterNodes;
use super::prepare::Pending;
use super::relations::{Relations, column_info};
use super::resolve::ResolvedSql;
use crate::adapter::engine;
use crate::diagnostics::{Diagnostic, Diagnostics, display_path};
use crate::ir::config::NodeConfig;
use crate::ir::contract::ContractInfo;
use crate::ir::{ColumnInfo, CompiledNode, Relation, ResourceType, Target, TestInfo};
use crate::jinja;

/// Every node of the project, in index order.
#[allow(clippy::too_many_arguments)]
pub fn assemble(
    ctx: &Context,
    pending: Vec<Pending>,
    main: Vec<Option<jinja::Rendered>>,
    resolved: Vec<ResolvedSql>,
    relations: Relations,
    contracts: Vec<Option<ContractInfo>>,
    later: LaterNodes,
    diags: &mut Diagnostics,
) -> Vec<CompiledNode> {
    let descriptions = descriptions(ctx, &pending, diags);
    let n = pending.len();
    assert!(
        [
            descriptions.len(),
            main.len(),
            resolved.len(),
            relations.of_node.len(),
            contracts.len()
        ]
        .into_iter()
        .all(|len| len == n),
        "one entry per pending node"
    );
    let count_later = later.nodes.len();
    let mut nodes = later.nodes;
    nodes.par_extend(
        pending
            .into_par_iter()
            .zip(descriptions)
            .zip(main)
            .zip(resolved)
            .zip(relations.of_node)
            .zip(contracts)
            .map(
                |(((((p, description), rendered), sql), relation), contract)| {
                    node_of(p, description, rendered, sql, relation, contract, ctx)
                },
            ),
    );
    nodes.extend(relations.sources);
    // [tests, exposures, models and seeds, sources] -> [models and seeds, sources, tests, exposures]
    let first = nodes.len() - count_later;
    nodes.rotate_right(first);
    column_descriptions(ctx, &mut nodes, diags);
    nodes
}

/// Column descriptions that call doc() (or any Jinja), rendered like the nodes' own.
fn column_descriptions(ctx: &Context, nodes: &mut [CompiledNode], diags: &mut Diagnostics) {
    let found: Vec<Diagnostic> = nodes
        .par_iter_mut()
        .flat_map_iter(|n| {
            let mut errors = Vec::new();
            let file = display_path(&n.original_file_path);
            for c in &mut n.columns {
                let Some(d) = c.description.as_deref().filter(|d| d.contains("{{")) else {
                    continue;
                };
                match ctx.renderer.render_str(&file, d) {
                    Ok(text) => c.description = Some(text),
                    Err(e) => errors.push(jinja::jinja_diagnostic(
                        &e,
                        &n.original_file_path,
                        None,
                        ctx.sources(),
                    )),
                }
            }
            errors
        })
        .collect();
    diags.extend(found);
}

/// Descriptions, which may call doc(): rendered in parallel.
fn descriptions(
    ctx: &Context,
    pending: &[Pending],
    diags: &mut Diagnostics,
) -> Vec<Option<String>> {
    let rendered: Vec<Result<Option<String>, Diagnostic>> = pending
        .par_iter()
        .map(|p| {
            let Some(d) = &p.description else {
                return Ok(None);
            };
            let file: &Path = match &p.description_span {
                Some(s) => &s.file,
                None => &p.path,
            };
            ctx.renderer
                .render_str(&display_path(file), d)
                .map(Some)
                .map_err(|e| {
                    let mut d = jinja::jinja_diagnostic(&e, file, None, ctx.sources());
                    if let Some(span) = &p.description_span {
                        d.span = Some(span.clone());
                    }
                    d
                })
        })
        .collect();
    rendered
        .into_iter()
        .map(|d| {
            d.unwrap_or_else(|d| {
                diags.push(d);
                None
            })
        })
        .collect()
}

fn node_of(
    p: Pending,
    description: Option<String>,
    rendered: Option<jinja::Rendered>,
    sql: ResolvedSql,
    relation: Option<Relation>,
    contract: Option<ContractInfo>,
    ctx: &Context,
) -> CompiledNode {
    let (project, target) = (ctx.project, ctx.target);
    let mut columns: Vec<ColumnInfo> = p.columns.iter().map(column_info).collect();
    for c in &p.seed_columns {
        if !columns.iter().any(|x| x.name.eq_ignore_ascii_case(c)) {
            columns.push(ColumnInfo {
                name: c.clone(),
                data_type: p.config.column_types.get(c).cloned(),
                ..Default::default()
            });
        }
    }
    for c in &mut columns {
        if c.data_type.is_none() {
            c.data_type = p.config.column_types.get(&c.name).cloned();
        }
    }
    let test = (p.resource_type == ResourceType::Test).then(|| {
        Box::new(TestInfo {
            test_name: "singular".into(),
            test_type: "singular",
            kwargs: BTreeMap::new(),
            column_name: None,
            attached_node: None,
            audit_relation: audit_relation(target, &p.config, &p.name),
            unit: None,
        })
    });
    let mut node = CompiledNode::new(
        p.id,
        p.resource_type,
        p.name,
        p.path,
        p.fqn,
        Arc::new(p.config),
    );
    node.test = test;
    node.description = description;
    node.columns = columns;
    node.relation = relation;
    node.raw_code = p.template;
    node.compiled_code = sql.sql;
    node.checksum = p.checksum;
    node.compiled_incremental_code = sql.incremental;
    node.pre_hooks = sql.pre_hooks;
    node.post_hooks = sql.post_hooks;
    node.late_query = sql.query.map(Box::new);
    node.contract = contract.map(Box::new);
    node.freshness = p.props.and_then(|pp| pp.freshness.clone()).map(Box::new);
    if let Some(r) = rendered {
        node.depends_on_macros = r
            .recorded
            .macros
            .iter()
            .map(|(template, name)| jinja::macro_id(project, template, name))
            .collect();
        node.depends_on_macros.sort_unstable();
        node.depends_on_macros.dedup();
        node.logs = r.recorded.logs;
    }
    node
}
/// The table a test's failing rows are kept in when `store_failures` is on: the audit schema
/// (`<target schema>_audit`, or `<target schema>_<schema>` with a `schema` config), named after
/// the test, cut to the engine's identifier limit with a hash suffix when longer.
pub fn audit_relation(target: &Target, config: &NodeConfig, name: &str) -> Option<Relation> {
    let target_schema = &target.info.schema;
    let limit = engine::engine(target.info.kind).identifier_limit;
    if config.store_failures != Some(true) {
        return None;
    }
    let schema = format!(
        "{target_schema}_{}",
        config.schema.as_deref().unwrap_or("audit").trim()
    );
    let identifier = if name.len() > limit {
        let hash = &crate::digest::sha256_hex(name.as_bytes())[..8];
        // Room for `_` and the hash.
        let mut cut = limit - 9;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}_{hash}", &name[..cut])
    } else {
        name.to_string()
    };
    Some(Relation::new(schema, identifier))
}

/// The sha256 of each model's and test's final SQL.
pub fn checksums(nodes: &mut [CompiledNode]) {
    nodes.par_iter_mut().for_each(|n| {
        if n.resource_type == ResourceType::Model || n.resource_type == ResourceType::Test {
            n.compiled_checksum = n
                .compiled_code
                .as_deref()
                .map(|s| crate::digest::sha256_hex(s.as_bytes()));
        }
    });
}
