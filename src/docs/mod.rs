//! The docs site: a static folder that opens from disk (`index.html`, no server, no network),
//! made from the compiled project, the last run's results and freshness checks, and the
//! warehouse's catalog when there is one.
//!
//! Scripts, styles and data all ship in the folder. Data is sharded into script files
//! (`data/<kind>-<k>.js`, each under 1 MiB) that call `strata.load(...)`, because browsers
//! refuse `fetch` on `file://`; the first page loads only `data/meta.js`. The browser side is
//! `assets/app.js`: routes, node pages, the selector engine (the same syntax and results as
//! `strata ls -s`), the DAG and column lineage views, search.
//!
//! May import: `ir`, `compile`, `graph`, `artifacts` (macro blocks), `adapter` (catalog rows).

pub mod catalog;
pub mod markdown;
mod page;
mod rows;
pub mod shard;
pub mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde_json::json;

use crate::compile::Compiled;
use crate::diagnostics::display_path;
use crate::ir::ResourceType;
use catalog::Catalog;
use shard::Shards;
use state::RunState;

/// The files every site has, from `src/docs/assets/`.
const ASSETS: &[(&str, &str)] = &[
    ("index.html", include_str!("assets/index.html")),
    ("assets/app.js", include_str!("assets/app.js")),
    ("assets/graph.js", include_str!("assets/graph.js")),
    ("assets/select.js", include_str!("assets/select.js")),
    ("assets/style.css", include_str!("assets/style.css")),
];

/// What was written.
#[derive(Debug)]
pub struct Generated {
    /// The site's folder.
    pub dir: PathBuf,
    /// Files written.
    pub files: usize,
    /// The largest data file, in bytes.
    pub largest: usize,
}

/// Writes the site for `c` into `out` (replaced as a whole: the new site is written beside it
/// and then put in its place).
pub fn generate(
    c: &Compiled,
    state: &RunState,
    catalog: Option<&Catalog>,
    generated_at: &str,
    out: &Path,
) -> Result<Generated> {
    let tmp = out.with_file_name(format!(
        "{}.new",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("docs")
    ));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    std::fs::create_dir_all(tmp.join("data"))
        .with_context(|| format!("creating {}", tmp.display()))?;
    std::fs::create_dir_all(tmp.join("assets"))?;
    let mut written = Written {
        dir: tmp.clone(),
        meta: serde_json::Map::new(),
        files: 0,
        largest: 0,
    };
    let macros = macros(c);
    let index: rows::Index = c
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.unique_id.as_str(), i))
        .collect();
    write_graph(c, &mut written)?;
    write_pages(c, state, catalog, &macros, &index, &mut written)?;
    write_search_and_lineage(c, &macros, &index, &mut written)?;
    let mut meta = std::mem::take(&mut written.meta);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &c.nodes {
        *counts.entry(n.resource_type.as_str()).or_default() += 1;
    }
    counts.insert("macro", macros.len());
    meta.insert("project".into(), json!(c.project.name));
    meta.insert("generated_at".into(), json!(generated_at));
    meta.insert(
        "target".into(),
        json!({"name": c.target.info.name, "type": c.target.info.kind}),
    );
    meta.insert("counts".into(), json!(counts));
    meta.insert("nodes".into(), json!(c.nodes.len()));
    meta.insert("run".into(), json!(state.run));
    meta.insert("catalog".into(), json!(catalog.is_some()));
    meta.insert(
        "resource_types".into(),
        json!(
            ResourceType::ALL
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
        ),
    );
    let meta_text = format!("strata.meta({});\n", serde_json::Value::Object(meta));
    std::fs::write(tmp.join("data/meta.js"), &meta_text)?;
    written.add(meta_text.len());
    for (name, text) in ASSETS {
        std::fs::write(tmp.join(name), text)?;
        written.files += 1;
    }
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
    }
    std::fs::rename(&tmp, out)
        .with_context(|| format!("moving {} to {}", tmp.display(), out.display()))?;
    Ok(Generated {
        dir: out.to_path_buf(),
        files: written.files,
        largest: written.largest,
    })
}

/// The site being written: its folder, the index of its data files, and counts.
struct Written {
    dir: PathBuf,
    meta: serde_json::Map<String, serde_json::Value>,
    files: usize,
    largest: usize,
}

impl Written {
    fn add(&mut self, size: usize) {
        self.files += 1;
        self.largest = self.largest.max(size);
    }

    /// Writes `shards` and records them in `meta.js` under `kind`: their files and the first
    /// item of each.
    fn shards(&mut self, shards: Shards, kind: &str) -> Result<()> {
        let (names, firsts, largest) = shards.write(&self.dir)?;
        self.files += names.len();
        self.largest = self.largest.max(largest);
        self.meta
            .insert(kind.into(), json!({"files": names, "firsts": firsts}));
        Ok(())
    }
}

/// A macro of the project: name, path, package, its text.
struct Macro {
    name: String,
    path: String,
    package: String,
    sql: String,
}

fn macros(c: &Compiled) -> Vec<Macro> {
    let mut out = Vec::new();
    for f in &c.project.macro_files {
        for (name, sql) in crate::artifacts::manifest_blocks::macro_blocks(&f.text) {
            out.push(Macro {
                name,
                path: display_path(&f.path),
                package: c.project.name.clone(),
                sql: sql.to_string(),
            });
        }
    }
    out
}

fn write_graph(c: &Compiled, written: &mut Written) -> Result<()> {
    let configs = rows::configs(c);
    let mut graph = Shards::new("graph");
    for i in 0..c.nodes.len() {
        graph.push(&rows::graph_row(c, i, configs.of_node[i]));
    }
    written.shards(graph, "graph")?;
    let mut config = Shards::new("config");
    for t in &configs.texts {
        config.push(t);
    }
    written.shards(config, "config")
}

fn write_pages(
    c: &Compiled,
    state: &RunState,
    catalog: Option<&Catalog>,
    macros: &[Macro],
    index: &rows::Index,
    written: &mut Written,
) -> Result<()> {
    let mut tests_of: BTreeMap<usize, Vec<(usize, Option<String>)>> = BTreeMap::new();
    for (t, n) in c.nodes.iter().enumerate() {
        let Some(info) = n.test.as_deref() else {
            continue;
        };
        let on = info
            .attached_node
            .as_deref()
            .and_then(|a| index.get(a).copied());
        if let Some(on) = on {
            tests_of
                .entry(on)
                .or_default()
                .push((t, info.column_name.clone()));
        }
    }
    let inputs = page::PageInputs {
        state,
        catalog,
        tests_of: &tests_of,
    };
    let pages: Vec<String> = (0..c.nodes.len())
        .into_par_iter()
        .map(|i| page::node_page(c, i, &inputs))
        .collect();
    let mut shards = Shards::new("page");
    for p in &pages {
        shards.push(p);
    }
    written.shards(shards, "page")?;
    let mut shards = Shards::new("macro");
    for (k, m) in macros.iter().enumerate() {
        shards.push(&page::macro_page(k, &m.name, &m.path, &m.package, &m.sql));
    }
    written.shards(shards, "macro")
}

fn write_search_and_lineage(
    c: &Compiled,
    macros: &[Macro],
    index: &rows::Index,
    written: &mut Written,
) -> Result<()> {
    let mut search = Shards::new("search");
    for (i, n) in c.nodes.iter().enumerate() {
        if n.resource_type == ResourceType::Test {
            // Tests are found from the columns they test; thousands of them would drown the
            // results.
            continue;
        }
        search.push(&rows::search_row(i, n));
    }
    for (k, m) in macros.iter().enumerate() {
        search.push(&rows::macro_search_row(k, &m.name, &m.path));
    }
    written.shards(search, "search")?;
    let mut lineage = Shards::new("lineage");
    for (i, n) in c.nodes.iter().enumerate() {
        if let Some(row) = rows::lineage_row(index, i, n) {
            lineage.push(&row);
        }
    }
    written.shards(lineage, "lineage")
}
