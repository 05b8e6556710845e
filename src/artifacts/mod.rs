//! strata's output files under the artifacts directory (`.strata/` by default): the manifest,
//! the compiled SQL and the run results. The manifest is deterministic: sorted maps, no
//! timestamps, stable ids.

pub mod junit;
pub mod run_results;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::compiler::{Compiled, CompiledNode};
use crate::diagnostics::display_path;

/// The manifest's format version; bumped when its shape changes.
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Serialize)]
struct Metadata<'a> {
    manifest_version: u32,
    strata_version: &'a str,
    project_name: &'a str,
    project_version: Option<&'a str>,
    target_name: &'a str,
    adapter_type: &'a str,
    target_schema: &'a str,
}

#[derive(Serialize)]
struct Manifest<'a> {
    metadata: Metadata<'a>,
    nodes: BTreeMap<&'a str, &'a CompiledNode>,
    sources: BTreeMap<&'a str, &'a CompiledNode>,
    exposures: BTreeMap<&'a str, &'a CompiledNode>,
    parent_map: BTreeMap<&'a str, Vec<&'a str>>,
    child_map: BTreeMap<&'a str, Vec<&'a str>>,
    vars: &'a BTreeMap<String, serde_json::Value>,
}

/// The artifacts directory of a compiled project.
pub fn artifacts_dir(c: &Compiled) -> PathBuf {
    c.project.root.join(&c.project.paths.artifacts)
}

/// The manifest as pretty JSON. `with_compiled` leaves compiled SQL out when false (`parse`).
pub fn manifest_json(c: &Compiled, with_compiled: bool) -> String {
    let stripped: Vec<CompiledNode>;
    let nodes: &[CompiledNode] = if with_compiled {
        &c.nodes
    } else {
        stripped = c
            .nodes
            .iter()
            .map(|n| {
                let mut n = n.clone();
                if n.raw_code.is_some() {
                    n.compiled_code = None;
                    n.compiled_checksum = None;
                }
                n
            })
            .collect();
        &stripped
    };
    let mut m = Manifest {
        metadata: Metadata {
            manifest_version: MANIFEST_VERSION,
            strata_version: env!("CARGO_PKG_VERSION"),
            project_name: &c.project.name,
            project_version: c.project.version.as_deref(),
            target_name: &c.target.info.name,
            adapter_type: c.target.info.kind.as_str(),
            target_schema: &c.target.info.schema,
        },
        nodes: BTreeMap::new(),
        sources: BTreeMap::new(),
        exposures: BTreeMap::new(),
        parent_map: BTreeMap::new(),
        child_map: BTreeMap::new(),
        vars: &c.project.vars,
    };
    for (i, n) in nodes.iter().enumerate() {
        let id = n.unique_id.as_str();
        match n.resource_type {
            crate::graph::ResourceType::Source => m.sources.insert(id, n),
            crate::graph::ResourceType::Exposure => m.exposures.insert(id, n),
            _ => m.nodes.insert(id, n),
        };
        let mut parents: Vec<&str> = c
            .dag
            .parents(i)
            .iter()
            .map(|p| nodes[*p].unique_id.as_str())
            .collect();
        parents.sort_unstable();
        let mut children: Vec<&str> = c
            .dag
            .children(i)
            .iter()
            .map(|p| nodes[*p].unique_id.as_str())
            .collect();
        children.sort_unstable();
        m.parent_map.insert(id, parents);
        m.child_map.insert(id, children);
    }
    let mut s = serde_json::to_string_pretty(&m).expect("manifest serializes");
    s.push('\n');
    s
}

/// Writes `manifest.json` into the artifacts directory, returning its path.
pub fn write_manifest(c: &Compiled, with_compiled: bool) -> Result<PathBuf> {
    let dir = artifacts_dir(c);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("manifest.json");
    write_if_changed(&path, manifest_json(c, with_compiled).as_bytes())?;
    write_if_changed(
        &crate::sql::cache::path(&dir),
        &crate::sql::cache::to_bytes(&c.analyses),
    )?;
    write_if_changed(
        &crate::jinja::cache::path(&dir),
        &crate::jinja::cache::to_bytes(&c.renders),
    )?;
    Ok(path)
}

/// Where a node's compiled SQL is written: `compiled/<target>/<file path>`; generic tests go
/// under the properties file's folder, named after the test.
pub fn compiled_path(c: &Compiled, n: &CompiledNode) -> PathBuf {
    let base = artifacts_dir(c).join("compiled").join(&c.target.info.name);
    if n.raw_code.is_some() {
        base.join(&n.original_file_path)
    } else {
        let folder = n.original_file_path.parent().unwrap_or(Path::new(""));
        base.join(folder).join(format!("{}.sql", n.name))
    }
}

/// Writes the compiled SQL of `selected` nodes, in parallel; returns how many files were written.
pub fn write_compiled(c: &Compiled, selected: &[usize]) -> Result<usize> {
    use rayon::prelude::*;
    let jobs: Vec<(PathBuf, &str)> = selected
        .iter()
        .filter_map(|&i| {
            let n = &c.nodes[i];
            n.compiled_code
                .as_deref()
                .map(|code| (compiled_path(c, n), code))
        })
        .collect();
    let mut dirs: Vec<&Path> = jobs.iter().filter_map(|(p, _)| p.parent()).collect();
    dirs.sort_unstable();
    dirs.dedup();
    for d in dirs {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    jobs.par_iter().try_for_each(|(path, code)| {
        let mut text = code.trim_end().to_string();
        text.push('\n');
        write_if_changed(path, text.as_bytes())
    })?;
    Ok(jobs.len())
}

/// Writes atomically (temp file + rename) and only when the content differs, so timestamps of
/// unchanged artifacts stay put.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    // Compare sizes first: reading a large old file only pays off when it may be equal.
    let same_len = std::fs::metadata(path).is_ok_and(|m| m.len() == bytes.len() as u64);
    if same_len && std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A path for messages: relative to the project when inside it.
pub fn shown(root: &Path, p: &Path) -> String {
    display_path(p.strip_prefix(root).unwrap_or(p))
}
