//! Reading strata's own files (artifacts and caches) without copying them. A utility: imports
//! nothing of the crate.

pub mod compiled_index;

use std::fs::File;
use std::path::Path;

/// The contents of an artifact file, mapped into memory instead of read: the pages are the
/// operating system's cached copy, where reading would copy them into new memory (the caches
/// are ~100 MB at 100,000 models, and first touches of new memory are a large share of a
/// compile's time). None when the file cannot be opened or mapped.
pub fn map_file(path: &Path) -> Option<memmap2::Mmap> {
    let file = File::open(path).ok()?;
    // SAFETY: the map is only read, and strata never changes an artifact in place: it writes a
    // new file and renames it over the old one (`replace_file`), which leaves a mapped file as
    // it was. Another program truncating the file while it is mapped is the one way to break
    // this, as for any program that maps its inputs.
    unsafe { memmap2::Mmap::map(&file) }.ok()
}
