//! strata's output files under the artifacts directory (`.strata/` by default): the manifest,
//! the compiled SQL and the run results. The manifest and the run results take the shapes of
//! dbt's (manifest v12, run results v6; `manifest_nodes` says where strata's own facts go).
//! The manifest is deterministic: sorted maps, no timestamps, stable ids.
//!
//! Artifacts are replaced atomically (temp file + rename) and only when their content changes,
//! so unchanged files keep their timestamps. The manifest is serialized straight to disk while
//! being compared with the previous one, never held in memory whole. Compiled SQL files are
//! recorded in an index (`compiled/<target>/.index`: content hash, length, modification time
//! and inode of each file as written), so that a file the index vouches for costs one `stat`
//! instead of a read (made on another thread while the project compiles, see `IndexCheck`);
//! anything the index cannot vouch for is compared byte by byte.
//!
//! May import: `ir`, `project` (the loaded files, for sources, macros and doc blocks),
//! `compile` (its output), `execute` (node results), `graph`, `files` and the utilities.

pub mod junit;
pub mod manifest_blocks;
mod manifest_nodes;
pub mod run_results;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, IoSlice, Read, Seek, Write};
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};
use serde::Serialize;
use serde::ser::Serializer;
use sha2::{Digest, Sha256};

use crate::compile::Compiled;
use crate::diagnostics::display_path;
use crate::files::compiled_index::{
    FileStamp, INDEX_FILE, INDEX_HEADER, IndexEntry, PriorIndex, parse_index_line,
};
use crate::ir::CompiledNode;
use crate::project::properties::SourceProps;
use manifest_nodes::{NodeOut, Shape};

/// The schema the manifest follows: dbt's manifest v12, so that tools that read dbt's
/// manifest read strata's.
pub const MANIFEST_SCHEMA: &str = "https://schemas.getdbt.com/dbt/manifest/v12.json";

/// Buffer size for streaming large artifacts.
const CHUNK: usize = 256 * 1024;

/// The manifest's `metadata`. No `generated_at` or `invocation_id` (both optional in v12):
/// the manifest is a function of the project, byte for byte the same for the same project,
/// and written again only when its content changes; a time or a run's id would make every
/// compile a change. `dbt_version` is left out as well: this is not dbt.
#[derive(Serialize)]
struct ManifestMetadata<'a> {
    dbt_schema_version: &'static str,
    project_name: &'a str,
    adapter_type: &'a str,
    env: BTreeMap<(), ()>,
}

/// The manifest, serialized from the compiled project as it goes: every map is sorted by
/// unique id.
struct Manifest<'a> {
    c: &'a Compiled,
    /// False for `parse`: compiled SQL is left out.
    with_compiled: bool,
    /// Node indices sorted by unique id, one per id (the last, as a map insert keeps).
    order: Vec<usize>,
    /// The resource folders (models, seeds, tests, ...) written with `/`, longest first:
    /// `path`s are relative to the one that holds the file.
    roots: Vec<String>,
    /// The project's sources by name.
    sources: BTreeMap<&'a str, &'a SourceProps>,
}

impl<'a> Manifest<'a> {
    fn new(c: &'a Compiled, with_compiled: bool) -> Self {
        let id = |i: usize| c.nodes[i].unique_id.as_str();
        let mut order: Vec<usize> = (0..c.nodes.len()).collect();
        order.sort_by(|&a, &b| id(a).cmp(id(b)));
        let order = order
            .iter()
            .enumerate()
            .filter(|&(k, &i)| order.get(k + 1).is_none_or(|&j| id(j) != id(i)))
            .map(|(_, &i)| i)
            .collect();
        let paths = &c.project.paths;
        let mut roots: Vec<String> = [
            &paths.models,
            &paths.seeds,
            &paths.tests,
            &paths.macros,
            &paths.docs,
        ]
        .into_iter()
        .flatten()
        .map(|p| display_path(p))
        .filter(|p| !p.is_empty() && p != ".")
        .collect();
        // A package's node's `path` is relative to the package's own resource folder.
        for pkg in &c.project.packages {
            let folders = pkg.model_paths.iter().chain(&pkg.seed_paths);
            roots.extend(folders.map(|f| display_path(&pkg.dir.join(f))));
        }
        roots.sort_by_key(|p| std::cmp::Reverse(p.len()));
        let sources = c
            .project
            .properties
            .sources
            .iter()
            .map(|s| (s.name.as_str(), s))
            .collect();
        Self {
            c,
            with_compiled,
            order,
            roots,
            sources,
        }
    }

    /// A file's path (written with `/`) relative to the resource folder that holds it.
    fn relative<'p>(&self, file: &'p str) -> &'p str {
        manifest_nodes::relative_to(&self.roots, file)
    }
}

/// The package a file (relative to the project) belongs to, and its path in that package
/// (written with `/`): the project's name and the path as given for the project's own files.
fn in_package<'p>(project: &'p crate::project::Project, file: &Path) -> (&'p str, String) {
    match project.package_of(file) {
        Some(pkg) => (
            pkg.name.as_str(),
            display_path(file.strip_prefix(&pkg.dir).unwrap_or(file)),
        ),
        None => (project.name.as_str(), display_path(file)),
    }
}

impl Manifest<'_> {
    /// Writes the manifest as compact JSON, its top-level keys in dbt's order, with the node
    /// maps serialized in parallel.
    fn write<W: Write + Send>(&self, w: &mut W) -> io::Result<()> {
        // The edge maps are serialized while the node maps are written.
        let (nodes, edges) = rayon::join(
            || self.write_node_maps(w),
            || -> io::Result<(Vec<u8>, Vec<u8>)> {
                let (mut parents, mut children) = (Vec::new(), Vec::new());
                to_json(&mut parents, &Edges(self, false))?;
                to_json(&mut children, &Edges(self, true))?;
                Ok((parents, children))
            },
        );
        nodes?;
        let (parent_map, child_map) = edges?;
        w.write_all(b",\"parent_map\":")?;
        w.write_all(&parent_map)?;
        w.write_all(b",\"child_map\":")?;
        w.write_all(&child_map)?;
        w.write_all(b",\"group_map\":{},\"saved_queries\":{},\"semantic_models\":{}")?;
        w.write_all(b",\"unit_tests\":")?;
        self.write_nodes(w, Group::UnitTests)?;
        w.write_all(b"}")
    }

    /// The metadata and the maps before the edges.
    fn write_node_maps<W: Write + Send>(&self, w: &mut W) -> io::Result<()> {
        let c = self.c;
        w.write_all(b"{\"metadata\":")?;
        serde_json::to_writer(
            &mut *w,
            &ManifestMetadata {
                dbt_schema_version: MANIFEST_SCHEMA,
                project_name: &c.project.name,
                adapter_type: c.target.info.kind.as_str(),
                env: BTreeMap::new(),
            },
        )?;
        w.write_all(b",\"nodes\":")?;
        self.write_nodes(w, Group::Nodes)?;
        w.write_all(b",\"sources\":")?;
        self.write_nodes(w, Group::Sources)?;
        w.write_all(b",\"macros\":")?;
        serde_json::to_writer(&mut *w, &manifest_blocks::MacrosOut(self))?;
        w.write_all(b",\"docs\":")?;
        serde_json::to_writer(&mut *w, &manifest_blocks::DocBlocksOut(self))?;
        w.write_all(b",\"exposures\":")?;
        self.write_nodes(w, Group::Exposures)?;
        w.write_all(b",\"metrics\":{},\"groups\":{},\"selectors\":{},\"disabled\":{}")
    }

    /// One node map (`{"id":node,...}`, sorted by id). Nodes are serialized in parallel, a
    /// batch at a time so that memory stays bounded, each thread into its own buffer; a batch
    /// is written while the next one is serialized. The buffers of a batch are those of the
    /// batch before the last, cleared: memory touched once is reused, not asked for again
    /// (first touches of fresh pages were a large part of the manifest's cost).
    fn write_nodes<W: Write + Send>(&self, w: &mut W, group: Group) -> io::Result<()> {
        use rayon::prelude::*;
        const BATCH: usize = 4096;
        const PER_THREAD: usize = 64;
        let ids: Vec<usize> = self
            .order
            .iter()
            .copied()
            .filter(|&i| Group::of(&self.c.nodes[i]) == group)
            .collect();
        let serialize = |batch: &[usize], bufs: &mut Vec<Vec<u8>>| -> io::Result<()> {
            bufs.resize_with(batch.len().div_ceil(PER_THREAD), Vec::new);
            bufs.par_iter_mut()
                .zip(batch.par_chunks(PER_THREAD))
                .try_for_each(|(out, chunk)| {
                    out.clear();
                    for (k, &i) in chunk.iter().enumerate() {
                        let n = &self.c.nodes[i];
                        if k > 0 {
                            out.push(b',');
                        }
                        to_json(out, n.unique_id.as_str())?;
                        out.push(b':');
                        to_json(out, &NodeOut { m: self, n, i })?;
                    }
                    Ok(())
                })
        };
        let write = |w: &mut W, parts: &[Vec<u8>], first: bool| -> io::Result<()> {
            for (k, part) in parts.iter().enumerate() {
                if !first || k > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(part)?;
            }
            Ok(())
        };
        w.write_all(b"{")?;
        let mut batches = ids.chunks(BATCH);
        let (mut ready, mut spare) = (Vec::new(), Vec::new());
        let mut pending = match batches.next() {
            Some(b) => {
                serialize(b, &mut ready)?;
                true
            }
            None => false,
        };
        let mut first = true;
        while pending {
            let next = batches.next();
            let (written, following) = rayon::join(
                || write(w, &ready, first),
                || next.map(|b| serialize(b, &mut spare)).transpose(),
            );
            written?;
            pending = following?.is_some();
            std::mem::swap(&mut ready, &mut spare);
            first = false;
        }
        w.write_all(b"}")
    }
}

/// Appends `value` as compact JSON: the bytes `serde_json::to_writer` writes (see the test
/// `fast_json_is_serde_json`), with string escaping that scans 32 bytes at a time instead of
/// one (sonic-rs): most of the manifest is SQL text, and escaping it byte by byte was a quarter
/// of the time spent writing the manifest.
fn to_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> io::Result<()> {
    sonic_rs::to_writer(out, value).map_err(io::Error::other)
}

/// Which top-level map of the manifest holds a node.
#[derive(Clone, Copy, PartialEq)]
enum Group {
    Nodes,
    Sources,
    Exposures,
    UnitTests,
}

impl Group {
    fn of(n: &CompiledNode) -> Self {
        match Shape::of(n) {
            Shape::Source => Group::Sources,
            Shape::Exposure => Group::Exposures,
            Shape::UnitTest => Group::UnitTests,
            _ => Group::Nodes,
        }
    }
}

/// `parent_map` (false) or `child_map` (true): each node's neighbours' ids, sorted.
struct Edges<'a>(&'a Manifest<'a>, bool);

impl Serialize for Edges<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (m, children) = (self.0, self.1);
        let dag = &m.c.dag;
        s.collect_map(m.order.iter().map(|&i| {
            let next = if children {
                dag.children(i)
            } else {
                dag.parents(i)
            };
            let mut ids: Vec<&str> = next
                .iter()
                .map(|&j| m.c.nodes[j].unique_id.as_str())
                .collect();
            ids.sort_unstable();
            (m.c.nodes[i].unique_id.as_str(), ids)
        }))
    }
}

/// The artifacts directory of a compiled project.
pub fn artifacts_dir(c: &Compiled) -> PathBuf {
    c.project.root.join(&c.project.paths.artifacts)
}

/// Writes the manifest as compact JSON with a trailing newline. `with_compiled` leaves compiled
/// SQL out when false (`parse`).
fn write_manifest_to<W: Write + Send>(
    c: &Compiled,
    with_compiled: bool,
    mut w: W,
) -> io::Result<()> {
    Manifest::new(c, with_compiled).write(&mut w)?;
    w.write_all(b"\n")
}

/// The manifest as compact JSON, exactly as `write_manifest` writes it. `with_compiled` leaves
/// compiled SQL out when false (`parse`).
pub fn manifest_json(c: &Compiled, with_compiled: bool) -> String {
    let mut out = Vec::new();
    write_manifest_to(c, with_compiled, &mut out).expect("manifest serializes");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Writes `manifest.json` into the artifacts directory, returning its path.
pub fn write_manifest(c: &Compiled, with_compiled: bool) -> Result<PathBuf> {
    let dir = artifacts_dir(c);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("manifest.json");
    // The manifest is serialized on one thread; the caches are written meanwhile on another.
    let (manifest, caches) = rayon::join(
        || {
            (|| -> io::Result<()> {
                let mut w = io::BufWriter::with_capacity(CHUNK, ReplaceIfChanged::new(&path));
                write_manifest_to(c, with_compiled, &mut w)?;
                w.into_inner().map_err(|e| e.into_error())?.finish()?;
                Ok(())
            })()
            .with_context(|| format!("cannot write {}", path.display()))
        },
        || -> Result<()> {
            let Some(caches) = c.caches.take() else {
                return Ok(());
            };
            if let Some(bytes) = &caches.analysis {
                write_if_changed(&crate::sql::cache::path(&dir), bytes)?;
            }
            if let Some(bytes) = &caches.render {
                write_if_changed(&crate::jinja::cache::path(&dir), bytes)?;
            }
            Ok(())
        },
    );
    manifest?;
    caches?;
    Ok(path)
}

/// The compiled SQL folder of the target: `compiled/<target>` in the artifacts directory.
fn compiled_dir(c: &Compiled) -> PathBuf {
    artifacts_dir(c).join("compiled").join(&c.target.info.name)
}

/// Where a node's compiled SQL is written: `compiled/<target>/<file path>`; generic tests go
/// under the properties file's folder, named after the test.
pub fn compiled_path(c: &Compiled, n: &CompiledNode) -> PathBuf {
    let (dir, name) = compiled_file_name(n);
    compiled_dir(c).join(dir).join(name)
}

/// An index entry with its folder (relative to `compiled_dir`) and file name.
type Keyed<'a> = (&'a str, &'a str, IndexEntry);

/// Matches the previous index `text`, written at `written`, with this compile's `files` (both
/// sorted by folder and name): a file whose entry has its content hash gets that entry as a
/// candidate, vouched for when `intact` (by file line) says the file is as the entry records,
/// unless the entry was modified no earlier than the index itself (a change within
/// the file system's timestamp granularity would not show): then `recheck` is set, so that the
/// index is written again once the file is checked (unless the entry is dated in the future,
/// which a new index would not fix). Returns the
/// entries of files not in `files`, or `None` (and no candidates) when the text is not a
/// complete index of this format.
fn match_index<'t>(
    text: &'t str,
    written: u64,
    intact: Option<&[bool]>,
    files: &mut [CompiledFile],
    recheck: &mut bool,
) -> Option<Vec<Keyed<'t>>> {
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let matched = (|| {
        let body = text.strip_prefix(INDEX_HEADER)?.strip_prefix('\n')?;
        if !body.is_empty() && !body.ends_with('\n') {
            return None;
        }
        let mut others = Vec::new();
        let mut dir = None;
        let mut next = 0;
        let mut line_no = 0;
        for line in body.split_terminator('\n') {
            if let Some(d) = line.strip_prefix("D\t") {
                dir = Some(d);
                continue;
            }
            let (name, e) = parse_index_line(line)?;
            let checked = intact.and_then(|i| i.get(line_no).copied());
            line_no += 1;
            let key = (dir?, name);
            loop {
                let Some(f) = files.get_mut(next) else {
                    others.push((key.0, key.1, e));
                    break;
                };
                match f.key().map(|k| k.cmp(&key)) {
                    None | Some(std::cmp::Ordering::Less) => next += 1,
                    Some(std::cmp::Ordering::Equal) => {
                        if f.hash == e.hash {
                            if e.stamp.mtime < written {
                                f.entry = Some(e);
                                f.vouched = checked == Some(true);
                            } else if e.stamp.mtime < now {
                                *recheck = true;
                            }
                        }
                        next += 1;
                        break;
                    }
                    Some(std::cmp::Ordering::Greater) => {
                        others.push((key.0, key.1, e));
                        break;
                    }
                }
            }
        }
        Some(others)
    })();
    if matched.is_none() {
        files.iter_mut().for_each(|f| {
            f.entry = None;
            f.vouched = false;
        });
        *recheck = false;
    }
    matched
}

/// The index text for `entries`, sorted by folder and name.
fn format_index(entries: &[Keyed]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(INDEX_HEADER.len() + 1 + entries.len() * 80);
    text.push_str(INDEX_HEADER);
    text.push('\n');
    let mut last_dir = None;
    for &(dir, name, e) in entries {
        if last_dir != Some(dir) {
            let _ = writeln!(text, "D\t{dir}");
            last_dir = Some(dir);
        }
        let mut hash = [0u8; 32];
        hex::encode_to_slice(e.hash, &mut hash).expect("32 hex digits");
        let hash = std::str::from_utf8(&hash).expect("hex is ASCII");
        let FileStamp { len, mtime, ino } = e.stamp;
        let _ = writeln!(text, "{hash}\t{len}\t{mtime}\t{ino}\t{name}");
    }
    text
}

/// A node's compiled SQL file as (folder relative to `compiled_dir`, file name); the same file as
/// `compiled_path`.
fn compiled_file_name(n: &CompiledNode) -> (Cow<'_, Path>, Cow<'_, OsStr>) {
    let p = &n.original_file_path;
    let (dir, name) = if n.raw_code.is_some() {
        match (p.parent(), p.file_name()) {
            (Some(d), Some(f)) => (d, Cow::Borrowed(f)),
            _ => (Path::new(""), Cow::Borrowed(p.as_os_str())),
        }
    } else {
        let folder = p.parent().unwrap_or(Path::new(""));
        (folder, Cow::Owned(format!("{}.sql", n.name).into()))
    };
    let mut parts = Path::new(&name).components();
    if matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    ) {
        return (Cow::Borrowed(dir), name);
    }
    // A name of several components: split the joined path instead.
    let full = dir.join(&name);
    match (full.parent(), full.file_name()) {
        (Some(d), Some(f)) => (Cow::Owned(d.to_path_buf()), Cow::Owned(f.to_os_string())),
        _ => (
            Cow::Borrowed(Path::new("")),
            Cow::Owned(full.into_os_string()),
        ),
    }
}

/// One compiled SQL file to write.
struct CompiledFile<'a> {
    /// Folder relative to `compiled_dir`.
    dir: Cow<'a, Path>,
    name: Cow<'a, OsStr>,
    /// The content without its final newline.
    code: &'a str,
    /// Position in the selection.
    pos: usize,
    hash: [u8; 16],
    /// The file's index entry, once written, checked or vouched for.
    entry: Option<IndexEntry>,
    /// Whether the index vouched for the file as it is.
    vouched: bool,
}

impl CompiledFile<'_> {
    /// Its key in the index, when it can have one.
    fn key(&self) -> Option<(&str, &str)> {
        let dir = self.dir.to_str().filter(|d| !d.contains('\n'))?;
        let name = self
            .name
            .to_str()
            .filter(|n| !n.is_empty() && !n.contains('\n'))?;
        Some((dir, name))
    }

    fn order(&self, other: &Self) -> std::cmp::Ordering {
        (self.dir.as_os_str(), &*self.name).cmp(&(other.dir.as_os_str(), &*other.name))
    }
}

/// The first 128 bits of the sha256 of a node's compiled SQL, from which its file's content
/// follows: the node's `compiled_checksum` when the compiler set it, else computed.
fn content_hash(n: &CompiledNode, code: &str) -> [u8; 16] {
    let mut hash = [0u8; 16];
    match n.compiled_checksum.as_deref().and_then(|c| c.get(..32)) {
        Some(hex) if hex::decode_to_slice(hex, &mut hash).is_ok() => hash,
        _ => Sha256::digest(code.as_bytes())[..16]
            .try_into()
            .expect("16 bytes"),
    }
}

/// Writes the compiled SQL of `selected` nodes, in parallel; returns how many files were written.
///
/// A file that the index (`compiled/<target>/.index`) vouches for is left alone after one `stat`
/// (see `PriorIndex::check` and `match_index`; made while the project compiled when the compile
/// started an `IndexCheck`); any other is compared with its new content and replaced when it differs.
/// The index is written again, atomically, only when it changes.
pub fn write_compiled(c: &Compiled, selected: &[usize]) -> Result<usize> {
    use rayon::prelude::*;
    let base = compiled_dir(c);
    let mut files: Vec<CompiledFile> = selected
        .par_iter()
        .enumerate()
        .filter_map(|(pos, &i)| {
            let n = &c.nodes[i];
            let full = n.compiled_code.as_deref()?;
            let (dir, name) = compiled_file_name(n);
            Some(CompiledFile {
                dir,
                name,
                code: full.trim_end(),
                pos,
                hash: content_hash(n, full),
                entry: None,
                vouched: false,
            })
        })
        .collect();
    let count = files.len();
    // Sorted by folder and name, one job per file (the last node's: two writers would race).
    files.par_sort_unstable_by(|a, b| a.order(b).then(b.pos.cmp(&a.pos)));
    files.dedup_by(|a, b| a.order(b).is_eq());

    let index_path = base.join(INDEX_FILE);
    // The index as checked while the project compiled, else as it is now.
    let prior = c
        .compiled_index
        .take(&base)
        .or_else(|| PriorIndex::read(base.clone()));
    let (old_text, intact) = match prior {
        Some(prior) => (Some((prior.text, prior.written)), prior.intact),
        None => (None, None),
    };
    let mut recheck = false;
    let others = old_text.as_ref().and_then(|(text, written)| {
        match_index(text, *written, intact.as_deref(), &mut files, &mut recheck)
    });
    files
        .par_chunk_by_mut(|a, b| a.dir.as_os_str() == b.dir.as_os_str())
        .try_for_each(|group| -> Result<()> {
            // A candidate whose file did not stay as written is not one.
            for f in group.iter_mut().filter(|f| !f.vouched) {
                f.entry = None;
            }
            if group.iter().any(|f| !f.vouched) {
                let dir = base.join(&group[0].dir);
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            Ok(())
        })?;
    files
        .par_iter_mut()
        .filter(|f| !f.vouched)
        .try_for_each(|f| -> Result<()> {
            let path = base.join(&f.dir).join(&f.name);
            let stamp = write_parts_if_changed(&path, &[f.code.as_bytes(), b"\n"])
                .with_context(|| format!("cannot write {}", path.display()))?;
            f.entry = stamp.map(|stamp| IndexEntry {
                hash: f.hash,
                stamp,
            });
            Ok(())
        })?;

    if others.as_ref().is_some_and(Vec::is_empty) && !recheck && files.iter().all(|f| f.vouched) {
        // The index vouched for every file and holds no other: it stays as it is.
        return Ok(count);
    }
    let mut entries: Vec<Keyed> = files
        .iter()
        .filter_map(|f| {
            let (dir, name) = f.key()?;
            Some((dir, name, f.entry?))
        })
        .collect();
    // Entries of files this compile did not write stay while a node still compiles to them.
    if let Some(others) = others.filter(|o| !o.is_empty()) {
        let project: Vec<_> = c
            .nodes
            .iter()
            .filter(|n| n.compiled_code.is_some())
            .map(compiled_file_name)
            .collect();
        let project: HashSet<(&str, &str)> = project
            .iter()
            .filter_map(|(d, n)| Some((d.to_str()?, n.to_str()?)))
            .collect();
        entries.extend(
            others
                .into_iter()
                .filter(|(d, n, _)| project.contains(&(*d, *n))),
        );
    }
    if entries.is_empty() && old_text.is_none() {
        return Ok(count);
    }
    // This compile's entry first for a file listed twice.
    entries.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    entries.dedup_by(|a, b| (a.0, a.1) == (b.0, b.1));
    let text = format_index(&entries);
    if recheck || old_text.as_ref().map(|(t, _)| t.as_str()) != Some(text.as_str()) {
        std::fs::create_dir_all(&base)
            .with_context(|| format!("cannot create {}", base.display()))?;
        replace_file(&index_path, &[text.as_bytes()])
            .with_context(|| format!("cannot write {}", index_path.display()))?;
    }
    Ok(count)
}

/// Writes atomically (temp file + rename) and only when the content differs, so timestamps of
/// unchanged artifacts stay put.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    write_parts_if_changed(path, &[bytes])
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Replaces `path` by `bytes` atomically (temp file + rename): a reader sees the old file or
/// the new one, never half of one.
pub fn replace_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    replace_file(path, &[bytes]).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `write_if_changed` for content in parts; returns the file's stamp afterwards, when known.
fn write_parts_if_changed(path: &Path, parts: &[&[u8]]) -> io::Result<Option<FileStamp>> {
    let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
    if let Ok(mut f) = File::open(path)
        && let Ok(m) = f.metadata()
        && m.is_file()
        && m.len() == len
        && same_content(&mut f, parts)
    {
        return Ok(FileStamp::of(&m));
    }
    replace_file(path, parts)
}

/// Whether the rest of `f` is exactly `parts`, read in chunks.
fn same_content(f: &mut File, parts: &[&[u8]]) -> bool {
    let mut buf = [0u8; 16 * 1024];
    for part in parts {
        let mut rest = *part;
        while !rest.is_empty() {
            let n = rest.len().min(buf.len());
            if f.read_exact(&mut buf[..n]).is_err() || buf[..n] != rest[..n] {
                return false;
            }
            rest = &rest[n..];
        }
    }
    matches!(f.read(&mut buf[..1]), Ok(0))
}

/// The temp file written next to `path` before it is renamed over it.
fn tmp_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".tmp");
    PathBuf::from(p)
}

/// Replaces `path` by `parts` atomically (temp file + rename); returns the new file's stamp.
fn replace_file(path: &Path, parts: &[&[u8]]) -> io::Result<Option<FileStamp>> {
    let tmp = tmp_path(path);
    let written = (|| {
        let mut f = File::create(&tmp)?;
        write_all_parts(&mut f, parts)?;
        f.metadata()
    })()
    .and_then(|m| std::fs::rename(&tmp, path).map(|()| m));
    match written {
        Ok(m) => Ok(FileStamp::of(&m)),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Writes `parts` one after the other, in one system call when they fit.
fn write_all_parts(f: &mut File, parts: &[&[u8]]) -> io::Result<()> {
    let mut done = match parts {
        [a, b] => f.write_vectored(&[IoSlice::new(a), IoSlice::new(b)])?,
        _ => 0,
    };
    for p in parts {
        let skip = done.min(p.len());
        done -= skip;
        f.write_all(&p[skip..])?;
    }
    Ok(())
}

/// A file's new content, written through `Write`, that replaces the file only when it differs.
/// While the bytes match the current file they are only compared with it (streaming, nothing
/// written); at the first difference a temp file is started with the matching prefix copied
/// from the current file, and `finish` renames it over the file.
struct ReplaceIfChanged {
    path: PathBuf,
    /// The current file and its length, while all bytes so far match it.
    old: Option<(File, u64)>,
    /// How many bytes matched the current file.
    matched: u64,
    /// The temp file and its path, once the content differs.
    tmp: Option<(File, PathBuf)>,
    /// Where the current file is read into for comparing.
    scratch: Vec<u8>,
}

impl ReplaceIfChanged {
    fn new(path: &Path) -> Self {
        let old = File::open(path).ok().and_then(|f| {
            let m = f.metadata().ok()?;
            m.is_file().then_some((f, m.len()))
        });
        Self {
            path: path.to_path_buf(),
            old,
            matched: 0,
            tmp: None,
            scratch: Vec::new(),
        }
    }

    /// The temp file, started with the bytes that matched so far.
    fn diverge(&mut self) -> io::Result<&mut File> {
        if self.tmp.is_none() {
            let path = tmp_path(&self.path);
            let file = File::create(&path)?;
            let (file, _) = self.tmp.insert((file, path));
            if let Some((mut old, _)) = self.old.take()
                && self.matched > 0
            {
                old.rewind()?;
                let copied = io::copy(&mut old.take(self.matched), file)?;
                if copied != self.matched {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file changed while being compared",
                    ));
                }
            }
        }
        Ok(&mut self.tmp.as_mut().expect("started").0)
    }

    /// Ends the content; returns whether the file was replaced.
    fn finish(mut self) -> io::Result<bool> {
        if let Some((_, len)) = &self.old
            && self.matched == *len
        {
            return Ok(false);
        }
        self.diverge()?;
        let (file, tmp) = self.tmp.take().expect("started");
        drop(file);
        if let Err(e) = std::fs::rename(&tmp, &self.path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(true)
    }
}

impl Write for ReplaceIfChanged {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        if let Some((old, len)) = &mut self.old {
            if self.scratch.is_empty() {
                self.scratch = vec![0; CHUNK];
            }
            while !data.is_empty() {
                let n = data.len().min(self.scratch.len());
                if self.matched + n as u64 > *len
                    || old.read_exact(&mut self.scratch[..n]).is_err()
                    || self.scratch[..n] != data[..n]
                {
                    break;
                }
                self.matched += n as u64;
                data = &data[n..];
            }
            if data.is_empty() {
                return Ok(());
            }
        }
        self.diverge()?.write_all(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ReplaceIfChanged {
    fn drop(&mut self) {
        // Unfinished (an error on the way): the temp file goes.
        if let Some((file, tmp)) = self.tmp.take() {
            drop(file);
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// A path for messages: relative to the project when inside it.
pub fn shown(root: &Path, p: &Path) -> String {
    display_path(p.strip_prefix(root).unwrap_or(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_json_is_serde_json() {
        // Every ASCII character and some multi-byte ones, at every offset around the 32-byte
        // blocks the escaping scans, in strings, keys and nested values.
        let ascii: String = (0u8..=0x7f).map(char::from).collect();
        let mut strings = vec![
            String::new(),
            ascii.clone(),
            "é中😀\u{2028}\u{feff}".to_string(),
        ];
        for pad in 0..70 {
            for special in ['"', '\\', '\n', '\u{1}', '\u{1f}', '\u{7f}', 'é', '😀'] {
                strings.push(format!(
                    "{}{special}{}",
                    "x".repeat(pad),
                    "y".repeat(pad % 7)
                ));
            }
        }
        let numbers = [
            0.0,
            -0.0,
            0.1,
            1.0,
            1.5,
            -2.25,
            1e21,
            1e-7,
            1.5e-7,
            123_456_789.0,
            1e15,
            1e16,
            1e17,
            f64::MAX,
            f64::MIN_POSITIVE,
            1_234.567_890_123_4,
        ];
        let value = serde_json::json!({
            "strings": strings,
            ascii.clone(): {"nested": [1, -2, u64::MAX, i64::MIN, true, false, null]},
            "numbers": numbers,
            "empty": {},
            "list": [],
        });
        for v in [
            value,
            serde_json::json!(ascii),
            serde_json::json!(numbers),
            serde_json::json!(null),
        ] {
            let mut fast = Vec::new();
            to_json(&mut fast, &v).unwrap();
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                serde_json::to_string(&v).unwrap()
            );
        }
        #[derive(Serialize)]
        struct S<'a> {
            a: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            b: Option<u8>,
            c: (u8, char, f32),
            d: std::collections::BTreeMap<&'a str, Vec<f64>>,
        }
        let s = S {
            a: Some(&ascii),
            b: None,
            c: (7, '"', 0.1),
            d: [("k\t", vec![0.5, 2.0])].into_iter().collect(),
        };
        let mut fast = Vec::new();
        to_json(&mut fast, &s).unwrap();
        assert_eq!(fast, serde_json::to_vec(&s).unwrap());
    }

    #[test]
    fn a_mapped_artifact_keeps_its_contents_when_the_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        write_if_changed(&path, b"{\"old\": 1}").unwrap();
        let mapped = crate::files::map_file(&path).unwrap();
        write_if_changed(&path, b"{\"new\": 22}").unwrap();
        assert_eq!(&mapped[..], b"{\"old\": 1}");
        assert_eq!(
            &crate::files::map_file(&path).unwrap()[..],
            b"{\"new\": 22}"
        );
        assert!(crate::files::map_file(&dir.path().join("missing.json")).is_none());
    }
}
