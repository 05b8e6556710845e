//! Stage `relations_sources`: the relation each model and seed builds (its schema from the
//! project's `generate_schema_name` macro when there is one), and one node per source table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use super::context::Context;
use super::prepare::Pending;
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span};
use crate::ir::config::Materialized;
use crate::ir::{ColumnInfo, CompiledNode, Relation, ResourceType, SourceInfo, fold};
use crate::jinja;
use crate::project::properties::{ColumnProps, SourceProps, SourceTableProps};

/// (source, table) → (node index, relation).
pub type SourceIndex = BTreeMap<(String, String), (usize, Relation)>;

/// The relations of the project's nodes.
pub struct Relations {
    /// What each pending node builds (None for tests, ephemeral models and failures).
    pub of_node: Vec<Option<Relation>>,
    /// One node per source table; their indices follow the pending nodes'.
    pub sources: Vec<CompiledNode>,
    /// Source tables by name.
    pub source_index: SourceIndex,
    /// Names of disabled nodes, for clearer ref errors.
    pub disabled: BTreeSet<String>,
    /// Source tables disabled in the project file's `sources:`, by (source, table).
    pub disabled_sources: BTreeSet<(String, String)>,
}

impl Relations {
    /// The relation of node `idx` (a pending node or a source).
    pub fn of(&self, idx: usize) -> Option<&Relation> {
        let base = self.of_node.len();
        if idx < base {
            self.of_node[idx].as_ref()
        } else {
            self.sources
                .get(idx - base)
                .and_then(|n| n.relation.as_ref())
        }
    }
}

/// The node `generate_schema_name` gets: serialized as the JSON object with these keys would
/// be (keys sorted), without building one for every node.
#[derive(Serialize)]
struct SchemaNode<'a> {
    fqn: &'a [String],
    name: &'a str,
    original_file_path: std::borrow::Cow<'a, str>,
    resource_type: &'a str,
}

type WithSchemaMemo = (Option<Relation>, Option<(String, String)>);

/// `generate_schema_name` results by cache key, for the render cache.
pub type SchemaNames = BTreeMap<String, String>;

/// Relations of models and seeds, then the source nodes.
pub fn relations(
    ctx: &Context,
    cache: &jinja::cache::Cache,
    pending: &[Pending],
    disabled: BTreeSet<String>,
    diags: &mut Diagnostics,
) -> (Relations, SchemaNames) {
    let has_schema_macro = ctx.renderer.has_macro("generate_schema_name");
    let engine = ctx.target.info.kind;
    let quoting = ctx.project.quoting;
    let relations: Vec<Result<WithSchemaMemo, Diagnostic>> = pending
        .par_iter()
        .map(|p| {
            if p.resource_type == ResourceType::Test
                || p.config.materialized == Some(Materialized::Ephemeral)
            {
                return Ok((None, None));
            }
            let (schema, memo) = if has_schema_macro {
                let (schema, memo) = custom_schema(ctx, cache, p)?;
                (schema, Some(memo))
            } else {
                let schema = match &p.config.schema {
                    Some(custom) => format!("{}_{}", ctx.target.info.schema, custom.trim()),
                    None => ctx.target.info.schema.clone(),
                };
                (schema, None)
            };
            let identifier = p.config.alias.as_deref().unwrap_or(&p.name);
            Ok((
                Some(Relation {
                    database: None,
                    schema: fold(engine, &schema, quoting.schema),
                    identifier: fold(engine, identifier, quoting.identifier),
                }),
                memo,
            ))
        })
        .collect();
    let mut of_node: Vec<Option<Relation>> = Vec::with_capacity(pending.len());
    let mut schema_entries: BTreeMap<String, String> = BTreeMap::new();
    for r in relations {
        match r {
            Ok((rel, memo)) => {
                of_node.push(rel);
                if let Some((k, v)) = memo {
                    schema_entries.insert(k, v);
                }
            }
            Err(d) => {
                diags.push(d);
                of_node.push(None);
            }
        }
    }
    let (sources, source_index, disabled_sources) = source_nodes(ctx, pending.len(), diags);
    let relations = Relations {
        of_node,
        sources,
        source_index,
        disabled,
        disabled_sources,
    };
    (relations, schema_entries)
}

/// The schema `generate_schema_name` gives a node, and the cache entry that remembers it (a
/// pure function of the macros, the target and these arguments: cached too).
fn custom_schema(
    ctx: &Context,
    cache: &jinja::cache::Cache,
    p: &Pending,
) -> Result<(String, (String, String)), Diagnostic> {
    let node = SchemaNode {
        fqn: &p.fqn,
        name: &p.name,
        original_file_path: crate::diagnostics::display_path_cow(&p.path),
        resource_type: p.resource_type.as_str(),
    };
    let key = jinja::cache::key(
        ctx.render_global,
        "generate_schema_name",
        &serde_json::to_string(&node).unwrap_or_default(),
        &serde_json::to_string(&p.config.schema).unwrap_or_default(),
        0,
    );
    let schema = match cache.schema(&key) {
        Some(s) => s.clone(),
        None => {
            let custom = match &p.config.schema {
                Some(s) => minijinja::Value::from(s.clone()),
                None => minijinja::Value::from(()),
            };
            ctx.renderer
                .call_macro(
                    "generate_schema_name",
                    &[
                        custom,
                        jinja::to_value(&serde_json::to_value(&node).unwrap_or_default()),
                    ],
                )
                .map(|s| s.trim().to_string())
                .map_err(|e| jinja::jinja_diagnostic(&e, &p.path, Some(&p.path), ctx.sources()))?
        }
    };
    Ok((schema.clone(), (key, schema)))
}

/// A node per enabled source table (each numbered from `base`), their index by (source,
/// table), and the tables the project file's `sources:` disables.
fn source_nodes(
    ctx: &Context,
    base: usize,
    diags: &mut Diagnostics,
) -> (Vec<CompiledNode>, SourceIndex, BTreeSet<(String, String)>) {
    let project = ctx.project;
    let pname = &project.name;
    let mut nodes: Vec<CompiledNode> = Vec::new();
    let mut index: SourceIndex = BTreeMap::new();
    let mut disabled = BTreeSet::new();
    let mut seen: BTreeMap<(String, String), Span> = BTreeMap::new();
    for s in &project.properties.sources {
        for t in &s.tables {
            let key = (s.name.clone(), t.name.clone());
            if let Some(first) = seen.get(&key) {
                diags.push(
                    Diagnostic::error(
                        Code::DuplicateName,
                        format!("source table `{}.{}` is declared twice", s.name, t.name),
                    )
                    .at(t.span.clone())
                    .with_related(first.clone(), "first declared here"),
                );
                continue;
            }
            seen.insert(key.clone(), t.span.clone());
            // `sources:` in the project file (by source, then table), then the YAML's
            // `config:` of the source, then of the table.
            let mut config = project
                .source_configs
                .resolve(std::slice::from_ref(&s.name), &t.name);
            config.merge(&s.config);
            config.merge(&t.config);
            if !config.is_enabled() {
                disabled.insert(key);
                continue;
            }
            let relation = match source_relation(ctx, s, t) {
                Ok(r) => r,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            for tag in s.tags.iter().chain(&t.tags) {
                if !config.tags.contains(tag) {
                    config.tags.push(tag.clone());
                }
            }
            config.meta.extend(s.meta.clone());
            config.meta.extend(t.meta.clone());
            index.insert(key, (base + nodes.len(), relation.clone()));
            let mut node = CompiledNode::new(
                format!("source.{pname}.{}.{}", s.name, t.name),
                ResourceType::Source,
                t.name.clone(),
                t.span.file.to_path_buf(),
                vec![pname.clone(), s.name.clone(), t.name.clone()],
                Arc::new(config),
            );
            node.description = t.description.clone().or_else(|| s.description.clone());
            node.columns = t.columns.iter().map(column_info).collect();
            node.relation = Some(relation);
            node.line = t.span.line;
            node.checksum = crate::digest::sha256_fmt(format_args!("{}.{}", s.name, t.name));
            node.source = Some(Box::new(SourceInfo {
                source_name: s.name.clone(),
                loaded_at_field: t
                    .loaded_at_field
                    .clone()
                    .or_else(|| s.loaded_at_field.clone()),
                freshness: match &t.freshness {
                    Some(table_own) => table_own.clone(),
                    None => s.freshness.clone(),
                },
            }));
            nodes.push(node);
        }
    }
    (nodes, index, disabled)
}

/// A source table's relation: its `database`, `schema` and `identifier` rendered (they may
/// use `var()`, `env_var()`, `target`, as in dbt), then named as `quoting:` says.
fn source_relation(
    ctx: &Context,
    s: &SourceProps,
    t: &SourceTableProps,
) -> Result<Relation, Diagnostic> {
    let file = crate::diagnostics::display_path(&t.span.file);
    let render = |what: &str, text: &str, span: &Span| {
        ctx.renderer.render_str(&file, text).map_err(|e| {
            let detail = e
                .detail()
                .map_or_else(|| e.kind().to_string(), str::to_string);
            Diagnostic::error(
                Code::JinjaError,
                format!("`{what}` of source `{}` does not render: {detail}", s.name),
            )
            .at(span.clone())
        })
    };
    let quoting = ctx.project.quoting.with(&s.quoting).with(&t.quoting);
    let engine = ctx.target.info.kind;
    let database = match &s.database {
        Some(d) => Some(fold(
            engine,
            &render("database", d, &s.span)?,
            quoting.database,
        )),
        None => None,
    };
    Ok(Relation {
        database,
        schema: fold(
            engine,
            &render("schema", &s.schema, &s.span)?,
            quoting.schema,
        ),
        identifier: fold(
            engine,
            &render("identifier", &t.identifier, &t.span)?,
            quoting.identifier,
        ),
    })
}

/// A documented column as the manifest shows it.
pub fn column_info(c: &ColumnProps) -> ColumnInfo {
    ColumnInfo {
        name: c.name.clone(),
        description: c.description.clone(),
        data_type: c.data_type.clone(),
        meta: c.meta.clone(),
        tags: c.tags.clone(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_node_serializes_as_its_json_object() {
        let fqn = vec!["proj".to_string(), "staging".into(), "m \"1\"".into()];
        let node = super::SchemaNode {
            fqn: &fqn,
            name: "m \"1\"",
            original_file_path: "models/staging/m.sql".into(),
            resource_type: "model",
        };
        let object = serde_json::json!({
            "name": "m \"1\"", "resource_type": "model", "fqn": fqn,
            "original_file_path": "models/staging/m.sql",
        });
        assert_eq!(
            serde_json::to_string(&node).unwrap(),
            serde_json::to_string(&object).unwrap()
        );
    }
}
