//! The compact rows the site's scripts read: one graph row per node (what selectors match on
//! and the DAG's edges), one search row per node and macro, one lineage row per node with
//! column lineage. Rows are JSON arrays, not objects: at 10,000 models the keys would be most
//! of the bytes.

use std::collections::HashMap;

use serde_json::{Value as J, json};

use crate::compile::Compiled;
use crate::diagnostics::display_path;
use crate::graph::Node;
use crate::ir::CompiledNode;
use crate::ir::lineage::InputField;

/// Node indices by unique id.
pub type Index<'c> = HashMap<&'c str, usize>;

/// The configs of the nodes, each distinct one once (nodes of a folder share theirs).
pub struct Configs {
    /// Each distinct config as JSON text.
    pub texts: Vec<String>,
    /// The config of each node, as an index into `texts`.
    pub of_node: Vec<usize>,
}

/// Every node's config, deduplicated.
pub fn configs(c: &Compiled) -> Configs {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut by_ptr: HashMap<*const crate::ir::NodeConfig, usize> = HashMap::new();
    let mut texts = Vec::new();
    let mut of_node = Vec::with_capacity(c.nodes.len());
    for n in &c.nodes {
        let ptr = std::sync::Arc::as_ptr(&n.config);
        if let Some(&k) = by_ptr.get(&ptr) {
            of_node.push(k);
            continue;
        }
        let text = serde_json::to_string(&*n.config).unwrap_or_else(|_| "{}".into());
        let k = *seen.entry(text.clone()).or_insert_with(|| {
            texts.push(text);
            texts.len() - 1
        });
        by_ptr.insert(ptr, k);
        of_node.push(k);
    }
    Configs { texts, of_node }
}

/// `[id, type, name, path, fqn, tags, source name, test type, materialized, config, parents]`.
pub fn graph_row(c: &Compiled, i: usize, config: usize) -> String {
    let n = &c.nodes[i];
    json!([
        n.unique_id,
        n.resource_type.as_str(),
        n.name,
        display_path(&n.original_file_path),
        n.fqn,
        n.config.tags,
        n.source_name(),
        n.test_type(),
        n.materialized().as_str(),
        config,
        c.dag.parents(i),
    ])
    .to_string()
}

/// `["n", index, name, type, description, columns, path]` for a node.
pub fn search_row(i: usize, n: &CompiledNode) -> String {
    let columns: Vec<&str> = n.columns.iter().map(|c| c.name.as_str()).collect();
    let name = match &n.source {
        Some(s) => format!("{}.{}", s.source_name, n.name),
        None => n.name.clone(),
    };
    json!([
        "n",
        i,
        name,
        n.resource_type.as_str(),
        clip(n.description.as_deref().unwrap_or(""), 400),
        columns,
        display_path(&n.original_file_path),
    ])
    .to_string()
}

/// `["m", index, name, "macro", "", [], path]` for a macro.
pub fn macro_search_row(k: usize, name: &str, path: &str) -> String {
    json!(["m", k, name, "macro", "", [], path]).to_string()
}

/// `[index, [[column, [[from node, from column, type, subtype]...], unknown]...], dataset
/// inputs, unknown]`, or None for a node without column lineage.
pub fn lineage_row(index: &Index, i: usize, n: &CompiledNode) -> Option<String> {
    let l = n.lineage.as_deref()?;
    let input = |f: &InputField| -> J {
        json!([
            index.get(f.node.as_str()).copied(),
            f.column,
            f.kind().as_str(),
            f.subtype.as_str()
        ])
    };
    let columns: Vec<J> = l
        .columns
        .iter()
        .map(|c| {
            json!([
                c.name,
                c.inputs.iter().map(input).collect::<Vec<_>>(),
                c.unknown
            ])
        })
        .collect();
    let dataset: Vec<J> = l.dataset.iter().map(input).collect();
    Some(json!([i, columns, dataset, l.unknown]).to_string())
}

/// `s` cut to about `max` bytes on a character boundary.
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
