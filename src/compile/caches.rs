//! The render and analysis caches: read from the last compile in the background while the
//! project is prepared, and written for the next one on their own thread as soon as every
//! render and analysis is done.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::thread::JoinHandle;

use super::render::{Extra, Renders};
use crate::files::compiled_index::IndexCheck;
use crate::ir::Target;
use crate::jinja;
use crate::project::{LoadOptions, Project};
use crate::sql;

/// What rendering needs besides the project, and the caches of the last compile being read.
pub struct Inputs {
    /// Macro files as (name, text with `{% test %}` blocks rewritten).
    pub macro_sources: Vec<(String, String)>,
    /// The part of every render cache key that the whole project shares.
    pub render_global: String,
    /// The render cache, being read.
    pub render_read: Reading<jinja::cache::Cache>,
    /// The analysis cache, being read.
    pub analysis_read: Reading<sql::cache::Loaded>,
}

/// A cache being read on another thread.
pub struct Reading<T>(JoinHandle<T>);

impl<T: Default> Reading<T> {
    /// The cache as read (empty when reading it failed).
    pub fn wait(self) -> T {
        self.0.join().unwrap_or_default()
    }
}

/// The artifacts directory of a project.
pub fn artifacts_dir(project: &Project) -> PathBuf {
    project.root.join(&project.paths.artifacts)
}

/// Starts checking the files compiled last time against their index, on another thread, when
/// the command writes compiled SQL. Started once the nodes are assembled: it runs while the DAG
/// is built and wildcards are expanded (which leave a core idle), not earlier, where it would
/// compete with the read of the caches that the renders wait for.
pub fn check_compiled(opts: &LoadOptions, project: &Project, target: &Target) -> IndexCheck {
    if opts.check_compiled {
        IndexCheck::start(&artifacts_dir(project), &target.info.name)
    } else {
        IndexCheck::none()
    }
}

/// Starts reading the caches of the last compile while the project is prepared.
pub fn start(project: &Project, target: &Target) -> Inputs {
    let macro_sources = super::adhoc::macro_sources(project);
    let artifacts = artifacts_dir(project);
    let render_global = jinja::cache::global_key(project, &target.info, &macro_sources);
    let render_read = {
        let (dir, global) = (artifacts.clone(), render_global.clone());
        Reading(std::thread::spawn(move || {
            jinja::cache::load(&dir, &global)
        }))
    };
    let analysis_read = Reading(std::thread::spawn(move || sql::cache::load(&artifacts)));
    Inputs {
        macro_sources,
        render_global,
        render_read,
        analysis_read,
    }
}

/// Everything this compile leaves for the next one's caches.
pub struct Leftovers<'a> {
    /// The render cache as read.
    pub renders_read: jinja::cache::Cache,
    /// The analysis cache as read.
    pub analyses_read: sql::cache::Loaded,
    /// This compile's analyses.
    pub analyses: Vec<(String, sql::Analysis)>,
    /// Project-wide render key.
    pub render_global: String,
    /// The environment variables renders read.
    pub render_env: jinja::EnvReads,
    /// `generate_schema_name` results.
    pub schemas: BTreeMap<String, String>,
    /// The renders, whose texts move into the cache (the extra ones are dropped).
    pub renders: &'a mut Renders,
}

/// Moves the rendered texts (not needed any more) into the caches' entries and serializes the
/// caches on another thread. A cache whose file already holds them is not written again: a
/// compile where nothing changed writes neither. A render taken from the cache read no
/// environment variable this time: the reads it made before are kept.
pub fn save(l: Leftovers) -> CacheFiles {
    let Leftovers {
        renders_read,
        analyses_read,
        analyses,
        render_global,
        mut render_env,
        schemas,
        renders,
    } = l;
    // The incremental and hook renders are not needed after this.
    let mut extra: Vec<Extra> = std::mem::take(&mut renders.extra);
    let count = renders.main.iter().flatten().count()
        + extra
            .iter()
            .map(|x| x.hooks.len() + usize::from(x.incremental.is_some()))
            .sum::<usize>();
    let mut entries: Vec<(String, jinja::cache::Entry)> = Vec::with_capacity(count);
    for (r, x) in renders.main.iter_mut().zip(extra.iter_mut()) {
        let hooks = x.hooks.iter_mut().filter_map(|(_, _, r)| r.as_mut().ok());
        for r in r
            .iter_mut()
            .chain(x.incremental.iter_mut().filter_map(|r| (**r).as_mut().ok()))
            .chain(hooks)
        {
            if let Some(key) = r.cache_key.take() {
                entries.push((key, super::render::cache_entry(r)));
            }
        }
    }
    drop(extra);
    if renders.hits {
        for (k, v) in renders_read.env() {
            render_env.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    CacheFiles::serialize(CacheUpdate {
        analyses_read,
        analyses,
        renders_read,
        renders: entries,
        render_global,
        render_env,
        schemas,
    })
}

/// The analysis cache (see `sql::cache`) and the render cache (see `jinja::cache`) of a
/// compile, as the bytes of their files. They are serialized on their own thread as soon as
/// the compile has made them, while it goes on.
pub struct CacheFiles(std::sync::Mutex<Option<std::thread::JoinHandle<CacheBytes>>>);

/// The contents of the analysis cache file and of the render cache file; `None` for a file
/// that already holds what it would be written with.
pub struct CacheBytes {
    /// The analysis cache file.
    pub analysis: Option<Vec<u8>>,
    /// The render cache file.
    pub render: Option<Vec<u8>>,
}

/// What a compile leaves for the next one's caches: the caches as read and this compile's
/// entries (in any order).
struct CacheUpdate {
    analyses_read: sql::cache::Loaded,
    analyses: Vec<(String, sql::Analysis)>,
    renders_read: jinja::cache::Cache,
    renders: Vec<(String, jinja::cache::Entry)>,
    render_global: String,
    render_env: jinja::EnvReads,
    schemas: BTreeMap<String, String>,
}

impl CacheFiles {
    /// Sorts the entries and serializes each cache whose file does not already hold them, on
    /// another thread (where the caches as read are dropped too).
    fn serialize(u: CacheUpdate) -> Self {
        let job = std::thread::spawn(move || {
            let analyses = sql::cache::Entries::new(u.analyses);
            let analysis = (!sql::cache::holds(&u.analyses_read, &analyses))
                .then(|| sql::cache::to_bytes(&analyses));
            let renders = jinja::cache::Out {
                global: u.render_global,
                env: u.render_env,
                entries: jinja::cache::Entries::new(u.renders),
                schemas: u.schemas,
            };
            let render =
                (!u.renders_read.holds(&renders)).then(|| jinja::cache::to_bytes(&renders));
            CacheBytes { analysis, render }
        });
        Self(std::sync::Mutex::new(Some(job)))
    }

    /// The bytes, once: `None` when taken before (or when serializing panicked).
    pub fn take(&self) -> Option<CacheBytes> {
        let job = self.0.lock().ok()?.take()?;
        job.join().ok()
    }
}

impl std::fmt::Debug for CacheFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheFiles")
    }
}
