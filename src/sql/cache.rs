//! Analyses of earlier compiles, kept in the artifacts folder: parsing the SQL is the largest
//! part of a compile, and most models do not change between two compiles. An entry is keyed by
//! the hash of the engine and the exact SQL analyzed, so any change to a model (or to what its
//! Jinja renders) misses the cache; the file records the strata version that wrote it and is
//! ignored when it differs or does not read back. Only analyses of this compile are written,
//! so the file never grows past the project.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::Analysis;
use crate::ir::AdapterKind;

/// Analyses by key, as written (ordered, so that the file is the same for the same project).
pub type Entries = crate::sorted::SortedEntries<Analysis>;

/// Analyses by key, as read; each is taken (moved out) by the node it serves.
pub type Loaded = crate::sorted::Taken<Analysis>;

/// File name in the artifacts folder.
pub const FILE: &str = "analysis-cache.json";

/// What a cache file must say to be used: the crate version and this format's number.
fn stamp() -> String {
    format!("strata {} analysis 4", env!("CARGO_PKG_VERSION"))
}

#[derive(serde::Deserialize)]
struct CacheFile {
    stamp: String,
    entries: Loaded,
}

/// The key of an analysis of `sql` for `kind`.
pub fn key(kind: AdapterKind, sql: &str) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_str().as_bytes());
    h.update([0]);
    h.update(sql.as_bytes());
    crate::digest::hex(&h.finalize()[..16])
}

/// Where the cache of an artifacts folder lives.
pub fn path(artifacts: &Path) -> PathBuf {
    artifacts.join(FILE)
}

/// The cached analyses, or none when the file is missing, unreadable or from another version.
pub fn load(artifacts: &Path) -> Loaded {
    let Some(bytes) = crate::files::map_file(&path(artifacts)) else {
        return Loaded::default();
    };
    match serde_json::from_slice::<CacheFile>(&bytes) {
        Ok(f) if f.stamp == stamp() => f.entries,
        _ => Loaded::default(),
    }
}

/// Whether a cache file that held `loaded` holds `entries` too, so that writing it again would
/// change nothing: the same keys (an analysis is a function of its key).
pub fn holds(loaded: &Loaded, entries: &Entries) -> bool {
    loaded.len() == entries.len() && entries.keys().all(|k| loaded.contains_key(k))
}

/// The cache file's contents for `entries`.
pub fn to_bytes(entries: &Entries) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Out<'a> {
        stamp: String,
        entries: &'a Entries,
    }
    // Strings and numbers only: serializing cannot fail.
    serde_json::to_vec(&Out {
        stamp: stamp(),
        entries,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let sql = "select a, b from t";
        let a = super::super::analyze(sql, AdapterKind::Duckdb).unwrap();
        let e = Entries::new(vec![(key(AdapterKind::Duckdb, sql), a.clone())]);
        std::fs::write(path(dir.path()), to_bytes(&e)).unwrap();
        let loaded = load(dir.path());
        assert!(holds(&loaded, &e));
        // Taken once: the analysis as stored, then none.
        let k = key(AdapterKind::Duckdb, sql);
        assert_eq!(loaded.take(&k), Some(a));
        assert_eq!(loaded.take(&k), None);
        assert!(holds(&loaded, &e), "a taken entry still counts as read");
        assert!(!holds(&loaded, &Entries::new(Vec::new())));
        // Another engine, other SQL: other keys.
        assert_ne!(
            key(AdapterKind::Postgres, sql),
            key(AdapterKind::Duckdb, sql)
        );
        assert_ne!(
            key(AdapterKind::Duckdb, "select a from t"),
            key(AdapterKind::Duckdb, sql)
        );
        // A file from another version is ignored.
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        std::fs::write(
            dir.path().join(FILE),
            text.replace(&stamp(), "strata 0.0.0 analysis 1"),
        )
        .unwrap();
        assert!(load(dir.path()).is_empty());
        // So is a damaged one.
        std::fs::write(dir.path().join(FILE), "{not json").unwrap();
        assert!(load(dir.path()).is_empty());
    }
}
