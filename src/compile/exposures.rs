//! Exposures (dashboards, applications): a node each, with edges from the models and sources
//! they depend on.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::context::Context;
use super::generic_tests::LaterNodes;
use super::resolve::Scope;
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span};
use crate::graph::Edge;
use crate::ir::config::NodeConfig;
use crate::ir::{CompiledNode, ExposureInfo, ResourceType};
use crate::jinja::RelationCall;
use crate::project::properties::{DependsOn, ExposureProps};

/// Adds a node per exposure to `later`.
pub fn exposures(ctx: &Context, scope: &Scope, later: &mut LaterNodes, diags: &mut Diagnostics) {
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for e in &ctx.project.properties.exposures {
        if let Some(first) = seen.get(&e.name) {
            diags.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("exposure `{}` is declared twice", e.name),
                )
                .at(e.span.clone())
                .with_related(first.clone(), "first declared here"),
            );
            continue;
        }
        seen.insert(e.name.clone(), e.span.clone());
        let index = later.next_index();
        for (dep, span) in &e.depends_on {
            let call = match dep {
                DependsOn::Ref(name) => RelationCall::Ref {
                    project: None,
                    name: name.clone(),
                },
                DependsOn::Source(source, table) => RelationCall::Source {
                    source: source.clone(),
                    table: table.clone(),
                },
            };
            if let Some((parent, _)) = scope.resolve_call(&call, span, diags) {
                later.edges.push(Edge {
                    parent,
                    child: index,
                    span: Some(span.clone()),
                });
            }
        }
        later.nodes.push(exposure_node(ctx.project_name(), e));
    }
}

fn exposure_node(pname: &str, e: &ExposureProps) -> CompiledNode {
    let mut config = NodeConfig {
        tags: e.tags.clone(),
        meta: e.meta.clone(),
        ..Default::default()
    };
    config.owner = e.owner_email.clone().or_else(|| e.owner_name.clone());
    let mut node = CompiledNode::new(
        format!("exposure.{pname}.{}", e.name),
        ResourceType::Exposure,
        e.name.clone(),
        e.span.file.to_path_buf(),
        vec![pname.to_string(), e.name.clone()],
        Arc::new(config),
    );
    node.description = e.description.clone();
    node.line = e.span.line;
    node.checksum = crate::digest::sha256_fmt(format_args!("{e:?}"));
    node.exposure = Some(Box::new(ExposureInfo {
        exposure_type: e.exposure_type.clone(),
        owner_name: e.owner_name.clone(),
        owner_email: e.owner_email.clone(),
        url: e.url.clone(),
        maturity: e.maturity.clone(),
        label: e.label.clone(),
    }));
    node
}
