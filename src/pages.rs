//! Memory pages: a compile of a large project asks Linux for no transparent huge pages.
//!
//! A compile writes most of the memory it uses once, and every page touched for the first time
//! is zeroed by the kernel. On the benchmark machine (BENCHMARKS.md), the memory of a large
//! compile costs about twice the kernel time in 2 MiB pages (which mimalloc asks for) as in
//! 4 KiB pages: at 100,000 models 4.9 against 2.5 s of kernel time, 5.6 against 4.3 s of wall
//! time; at 60,000 3.0 against 1.7 s. A small compile goes the other way (10,000 models: 0.38 s
//! with huge pages, 0.44 s without), so only projects of `LARGE_PROJECT` model files or more
//! turn them off, from the moment the files are listed on. Setting `MIMALLOC_ALLOW_THP`
//! (mimalloc's own option: `1` allows huge pages, `0` forbids them) leaves the choice to it.
//! A utility: imports nothing of the crate.

/// The number of model files from which a compile runs without huge pages.
pub const LARGE_PROJECT: usize = 20_000;

/// Whether a compile of `model_files` model files turns huge pages off, with
/// `MIMALLOC_ALLOW_THP` set to `allow_thp`.
pub fn small_pages_for(model_files: usize, allow_thp: Option<&std::ffi::OsStr>) -> bool {
    model_files >= LARGE_PROJECT && allow_thp.is_none()
}

/// Turns transparent huge pages off for the rest of this process when a project of
/// `model_files` model files calls for it (see the module's documentation); returns whether
/// they are off afterwards. Only Linux has them; elsewhere nothing changes.
pub fn fit_to(model_files: usize) -> bool {
    #[cfg(target_os = "linux")]
    {
        if small_pages_for(
            model_files,
            std::env::var_os("MIMALLOC_ALLOW_THP").as_deref(),
        ) {
            let _ = rustix::thread::disable_transparent_huge_pages(true);
        }
        rustix::thread::transparent_huge_pages_are_disabled().unwrap_or(false)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = model_files;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_pages_are_turned_off_for_large_projects_unless_the_allocator_is_told_otherwise() {
        assert!(!small_pages_for(LARGE_PROJECT - 1, None));
        assert!(small_pages_for(LARGE_PROJECT, None));
        assert!(!small_pages_for(LARGE_PROJECT, Some("1".as_ref())));
        assert!(!small_pages_for(LARGE_PROJECT, Some("0".as_ref())));
        #[cfg(target_os = "linux")]
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            assert!(fit_to(LARGE_PROJECT));
        }
    }
}
