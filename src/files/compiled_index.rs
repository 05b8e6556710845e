//! The index of compiled SQL files (`compiled/<target>/.index`): its format, and the check of
//! a previous index against the disk, started on another thread while a project compiles
//! (`IndexCheck`) so that writing the compiled files later costs a `stat` per file. Imports
//! nothing of the crate; `artifacts` writes the index.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The index of compiled SQL files, in `compiled_dir`.
pub const INDEX_FILE: &str = ".index";
/// The index's first line: its format. Then, for each folder (sorted), a line `D<TAB>folder`
/// followed by a line per file in it (sorted by name): `hash<TAB>length<TAB>mtime<TAB>inode<TAB>name`.
pub const INDEX_HEADER: &str = "strata compiled index 1";

/// What identifies a file's current version without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    /// Length in bytes.
    pub len: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime: u64,
    /// Inode (0 where unknown).
    pub ino: u64,
}

impl FileStamp {
    /// The stamp of a file's metadata.
    pub fn of(m: &Metadata) -> Option<Self> {
        let since = m.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(m);
        #[cfg(not(unix))]
        let ino = 0;
        Some(Self {
            len: m.len(),
            mtime: u64::try_from(since.as_nanos()).ok()?,
            ino,
        })
    }
}

/// A compiled file as strata last wrote (or checked) it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The first 128 bits of the sha256 of the compiled SQL the file holds (see `content_hash`).
    pub hash: [u8; 16],
    /// The file as written.
    pub stamp: FileStamp,
}

/// One file line of the index: name and entry.
pub fn parse_index_line(line: &str) -> Option<(&str, IndexEntry)> {
    let mut f = line.splitn(5, '\t');
    let mut hash = [0u8; 16];
    hex::decode_to_slice(f.next()?, &mut hash).ok()?;
    let mut num = || f.next()?.parse::<u64>().ok();
    let stamp = FileStamp {
        len: num()?,
        mtime: num()?,
        ino: num()?,
    };
    let name = f.next().filter(|n| !n.is_empty())?;
    Some((name, IndexEntry { hash, stamp }))
}

/// An index file's text and modification time (nanoseconds since the epoch), if readable.
pub fn read_index(path: &Path) -> Option<(String, u64)> {
    let mut f = File::open(path).ok()?;
    let written = FileStamp::of(&f.metadata().ok()?)?.mtime;
    let mut text = String::new();
    f.read_to_string(&mut text).ok()?;
    Some((text, written))
}

/// The index of a compiled folder as found, with the files it lists checked against the disk.
pub struct PriorIndex {
    /// The compiled folder.
    pub base: PathBuf,
    /// The index as read.
    pub text: String,
    /// When the index was written (nanoseconds since the epoch).
    pub written: u64,
    /// For each file line of the index, in order: whether the file still has the length,
    /// modification time and inode the line records. `None` when the text is not an index.
    pub intact: Option<Vec<bool>>,
}

impl PriorIndex {
    /// Reads the index of `base` and checks its files: one listing per folder, and one `stat`
    /// relative to it per listed file.
    pub fn read(base: PathBuf) -> Option<Self> {
        let (text, written) = read_index(&base.join(INDEX_FILE))?;
        let intact = Self::check(&base, &text);
        Some(Self {
            base,
            text,
            written,
            intact,
        })
    }

    fn check(base: &Path, text: &str) -> Option<Vec<bool>> {
        let body = text.strip_prefix(INDEX_HEADER)?.strip_prefix('\n')?;
        let mut intact = Vec::new();
        // (file name, recorded stamp) of the folder being read.
        let mut folder: Vec<(&str, FileStamp)> = Vec::new();
        let mut flush = |dir: Option<&str>, folder: &mut Vec<(&str, FileStamp)>| {
            let start = intact.len();
            intact.resize(start + folder.len(), false);
            let listing = dir.and_then(|d| std::fs::read_dir(base.join(d)).ok());
            for de in listing.into_iter().flatten().flatten() {
                let name = de.file_name();
                let Some(name) = name.to_str() else { continue };
                // Names are sorted within a folder.
                if let Ok(k) = folder.binary_search_by(|(n, _)| (*n).cmp(name)) {
                    let now = de.metadata().ok();
                    intact[start + k] = now.as_ref().and_then(FileStamp::of) == Some(folder[k].1);
                }
            }
            folder.clear();
        };
        let mut dir = None;
        for line in body.split_terminator('\n') {
            if let Some(d) = line.strip_prefix("D\t") {
                flush(dir, &mut folder);
                dir = Some(d);
                continue;
            }
            let (name, e) = parse_index_line(line)?;
            if folder.last().is_some_and(|(last, _)| *last >= name) {
                return None;
            }
            folder.push((name, e.stamp));
        }
        flush(dir, &mut folder);
        Some(intact)
    }
}

/// The previous index of the compiled folder, checked on another thread while the project
/// compiles (see `write_compiled`).
pub struct IndexCheck(std::sync::Mutex<Option<std::thread::JoinHandle<Option<PriorIndex>>>>);

impl IndexCheck {
    /// Starts checking the index of the compiled folder `compiled/<target>` in `artifacts`.
    pub fn start(artifacts: &Path, target: &str) -> Self {
        let base = artifacts.join("compiled").join(target);
        Self(std::sync::Mutex::new(Some(std::thread::spawn(move || {
            PriorIndex::read(base)
        }))))
    }

    /// Nothing to check: `write_compiled` reads the index itself.
    pub fn none() -> Self {
        Self(std::sync::Mutex::new(None))
    }

    /// The checked index of `base`, once.
    pub fn take(&self, base: &Path) -> Option<PriorIndex> {
        let job = self.0.lock().ok()?.take()?;
        job.join().ok().flatten().filter(|p| p.base == base)
    }
}

impl std::fmt::Debug for IndexCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexCheck")
    }
}
