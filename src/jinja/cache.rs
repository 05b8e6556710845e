//! Renders of earlier compiles, kept in the artifacts folder next to the analysis cache: after
//! SQL parsing, rendering every template is the largest part of a compile, and most templates
//! do not change between two compiles.
//!
//! A render is a pure function of its inputs: the template's text and name, whether
//! `is_incremental()` is true, the config project.yml and properties give the node (what
//! `config.get` sees), and what every render shares — macros, vars, the target, doc blocks,
//! the strata version. The shared part is hashed once per compile ([`global_key`]); an entry's
//! key hashes it with the node's own inputs. Environment variables are the one outside input:
//! the file records every `env_var()` read with the sha256 of its value (never the value: it
//! may be a secret), and the whole cache is ignored when one of them changed. A render whose
//! output shows a value it read is not stored at all (see `compile::render`). Renders that fail are never stored; a file from another version, for
//! other shared inputs, or that does not read back is ignored. Only this compile's renders are
//! written, so the file never grows past the project.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use sha2::{Digest, Sha256};

use super::{EnvReads, RelationCall, TargetInfo};
use crate::project::Project;

/// File name in the artifacts folder.
pub const FILE: &str = "render-cache.json";

/// What a cache file must say to be used: the crate version and this format's number, which
/// also changes when the same template renders differently (4: lists and dicts written in
/// templates change in place; two relations compare equal only when they are the same).
fn stamp() -> String {
    format!("strata {} render 4", env!("CARGO_PKG_VERSION"))
}

/// One stored render.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Rendered text, with placeholders.
    pub text: String,
    /// Relations asked for, by placeholder number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<RelationCall>,
    /// Where each relation was asked for: line, column, length in the template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at: Vec<(usize, usize, usize)>,
    /// `config()` entries in call order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<(String, J)>,
    /// `log()` messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
    /// The macros the template called itself, as (template file, name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub macros: Vec<(String, String)>,
}

/// Entries by key, as written (ordered, so that the file is the same for the same project).
pub type Entries = crate::sorted::SortedEntries<Entry>;

#[derive(Deserialize)]
struct CacheFile {
    stamp: String,
    global: String,
    env: EnvReads,
    entries: crate::sorted::Taken<Entry>,
    #[serde(default)]
    schemas: HashMap<String, String>,
}

/// The renders a compile may reuse; each is taken (moved out) by the render it serves.
#[derive(Default)]
pub struct Cache {
    entries: crate::sorted::Taken<Entry>,
    schemas: HashMap<String, String>,
    env: EnvReads,
    /// Whether it was read from a file (for `holds`).
    loaded: bool,
}

impl Cache {
    /// The stored render under `key`, moved out (a second request for the same key gets none).
    pub fn take(&self, key: &str) -> Option<Entry> {
        self.entries.take(key)
    }

    /// The stored `generate_schema_name` result under `key` (see [`key`]).
    pub fn schema(&self, key: &str) -> Option<&String> {
        self.schemas.get(key)
    }

    /// The environment variables the stored renders read (checked unchanged at load).
    pub fn env(&self) -> &EnvReads {
        &self.env
    }

    /// Whether `out` is what the file this cache was read from holds, so that writing it
    /// again would change nothing: the same environment reads, `generate_schema_name` results
    /// and render keys (a render is a function of its key and the environment reads, and the
    /// shared inputs were checked when the file was read).
    pub fn holds(&self, out: &Out) -> bool {
        self.loaded
            && out.env == self.env
            && out.schemas.len() == self.schemas.len()
            && out
                .schemas
                .iter()
                .all(|(k, v)| self.schemas.get(k) == Some(v))
            && out.entries.len() == self.entries.len()
            && out.entries.keys().all(|k| self.entries.contains_key(k))
    }
}

/// The hash of everything all renders of a compile share.
pub fn global_key(project: &Project, target: &TargetInfo, macros: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    let mut part = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    part(stamp().as_bytes());
    part(project.name.as_bytes());
    part(serde_json::to_string(target).unwrap_or_default().as_bytes());
    part(
        serde_json::to_string(&project.vars)
            .unwrap_or_default()
            .as_bytes(),
    );
    for (name, text) in macros {
        part(name.as_bytes());
        part(text.as_bytes());
    }
    // Which package a macro file belongs to, and dispatch's search orders, decide what a
    // macro call renders too.
    for p in &project.packages {
        part(p.name.as_bytes());
        part(p.dir.as_os_str().as_encoded_bytes());
    }
    for (namespace, order) in &project.dispatch {
        part(namespace.as_bytes());
        part(order.join(",").as_bytes());
    }
    for (name, doc) in &project.docs {
        part(name.as_bytes());
        part(doc.text.as_bytes());
    }
    // A package's nodes read its vars and doc blocks.
    part(
        serde_json::to_string(&project.package_vars)
            .unwrap_or_default()
            .as_bytes(),
    );
    for (package, docs) in &project.package_docs {
        for (name, doc) in docs {
            part(package.as_bytes());
            part(name.as_bytes());
            part(doc.text.as_bytes());
        }
    }
    crate::digest::hex(&h.finalize()[..16])
}

/// The key of one render: the shared inputs, the template and the node's own inputs.
pub fn key(global: &str, name: &str, source: &str, base_config: &str, flags: u8) -> String {
    let mut h = Sha256::new();
    for b in [
        global.as_bytes(),
        name.as_bytes(),
        base_config.as_bytes(),
        source.as_bytes(),
    ] {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    }
    h.update([flags]);
    crate::digest::hex(&h.finalize()[..16])
}

/// Where the cache of an artifacts folder lives.
pub fn path(artifacts: &Path) -> PathBuf {
    artifacts.join(FILE)
}

/// The stored renders for `global`, or none when the file is missing, unreadable, from another
/// version or other shared inputs, or when an environment variable a render read has changed.
pub fn load(artifacts: &Path, global: &str) -> Cache {
    let Some(bytes) = crate::files::map_file(&path(artifacts)) else {
        return Cache::default();
    };
    match serde_json::from_slice::<CacheFile>(&bytes) {
        Ok(f)
            if f.stamp == stamp()
                && f.global == global
                && f.env.iter().all(|(name, digest)| {
                    std::env::var(name)
                        .ok()
                        .map(|v| super::env_digest(name, &v))
                        == *digest
                }) =>
        {
            Cache {
                entries: f.entries,
                schemas: f.schemas,
                env: f.env,
                loaded: true,
            }
        }
        _ => Cache::default(),
    }
}

/// What the next compile may reuse: this compile's renders and environment reads.
#[derive(Debug, Default)]
pub struct Out {
    /// The shared inputs' hash.
    pub global: String,
    /// Environment variables read, with the digests of their values.
    pub env: EnvReads,
    /// Renders by key.
    pub entries: Entries,
    /// `generate_schema_name` results by key.
    pub schemas: BTreeMap<String, String>,
}

/// The cache file's contents.
pub fn to_bytes(out: &Out) -> Vec<u8> {
    #[derive(Serialize)]
    struct File<'a> {
        stamp: String,
        global: &'a str,
        env: &'a EnvReads,
        entries: &'a Entries,
        schemas: &'a BTreeMap<String, String>,
    }
    // Strings, numbers and JSON values only: serializing cannot fail.
    serde_json::to_vec(&File {
        stamp: stamp(),
        global: &out.global,
        env: &out.env,
        entries: &out.entries,
        schemas: &out.schemas,
    })
    .unwrap_or_default()
}
