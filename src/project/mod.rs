//! Loading a project from disk: `project.yml`, discovery of models, seeds, macros, singular tests
//! and properties files, doc blocks, and folder configs. Owns files and their positions; knows
//! nothing about Jinja, SQL or databases.
//!
//! May import: `ir`, `adapter::engine` (target types and fields), `diagnostics`, utilities.

pub mod lineage;
pub mod packages;
pub mod properties;
pub mod targets;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::Value as J;

use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, display_path, suggest};
use crate::ir::AdapterKind;
use crate::ir::config::{ConfigScope, NodeConfig};
use properties::Properties;
use yaml::{MapReader, Node};

/// The name of strata's project file.
pub const PROJECT_FILE: &str = "project.yml";
/// The name of dbt's project file, read when there is no project.yml.
pub const DBT_PROJECT_FILE: &str = "dbt_project.yml";

/// What a caller can override when loading.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--target`: the target to use instead of the default one.
    pub target: Option<String>,
    /// `--vars`: values that override the project's vars.
    pub vars: BTreeMap<String, J>,
    /// `--profiles-dir`: the only folder profiles.yml is looked for in.
    pub profiles_dir: Option<PathBuf>,
    /// `--profile`: the profile to use instead of the project's `profile:`.
    pub profile: Option<String>,
    /// The command writes compiled SQL: the compile checks the files written last time on
    /// another thread meanwhile (see `artifacts::IndexCheck`).
    pub check_compiled: bool,
    /// What the queries templates run while rendering returned (`run_query`): known during
    /// a run, for the models compiled again once their queries are answered.
    pub answers: std::sync::Arc<crate::ir::QueryAnswers>,
}

/// A source file of the project (a model, a singular test or a macro file).
#[derive(Clone, Debug)]
pub struct SqlFile {
    /// Node name: the file stem.
    pub name: String,
    /// Path relative to the project root.
    pub path: PathBuf,
    /// Folders between the resource path and the file (for folder configs and `path:` selection).
    pub folders: Vec<String>,
    /// File contents.
    pub text: Arc<str>,
    /// sha256 of the contents.
    pub checksum: String,
}

/// A CSV seed: its header is read at load time, its rows when it is loaded into a database.
#[derive(Clone, Debug)]
pub struct SeedFile {
    /// Seed name: the file stem.
    pub name: String,
    /// Path relative to the project root.
    pub path: PathBuf,
    /// Folders between the seed path and the file.
    pub folders: Vec<String>,
    /// Column names from the header row.
    pub columns: Vec<String>,
    /// sha256 of the contents.
    pub checksum: String,
}

/// A `{% docs name %}` block.
#[derive(Clone, Debug)]
pub struct DocBlock {
    /// Its text, trimmed.
    pub text: String,
    /// Where it is defined.
    pub span: Span,
}

/// A target as written in project.yml: values may hold Jinja (`env_var`), rendered only for the
/// target in use.
#[derive(Clone, Debug)]
pub struct TargetDef {
    /// Target name.
    pub name: String,
    /// Adapter type.
    pub kind: AdapterKind,
    /// Raw field values (path, dsn, schema, threads), with their positions.
    pub fields: BTreeMap<String, (String, Span)>,
    /// Where the target is defined.
    pub span: Span,
}

/// The folder config tree of `models:` / `seeds:` in project.yml.
#[derive(Clone, Debug, Default)]
pub struct ConfigTree {
    /// Config set at this level.
    pub config: NodeConfig,
    /// Sub-folders (or node names).
    pub children: BTreeMap<String, ConfigTree>,
    /// Where this level's key is written.
    pub span: Option<Span>,
    /// At the top of the root project's tree: the trees written under a package's name
    /// (`models: {jaffle_utils: {...}}`), which configure that package's nodes.
    pub packages: BTreeMap<String, ConfigTree>,
    /// At the top of a project's tree: the config written outside the project's name, which
    /// reaches every node, packages' included (`config` adds what is under the name).
    pub top: NodeConfig,
}

impl ConfigTree {
    /// True when nothing is configured at any level.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty() && self.packages.is_empty() && self.config == NodeConfig::default()
    }

    /// The merged config of a node of package `package` whose own tree is `own` (dbt's order):
    /// the package's dbt_project.yml, then this (the root project's) top level, then what the
    /// root writes under the package's name.
    pub fn resolve_in_package(
        &self,
        own: &ConfigTree,
        package: &str,
        folders: &[String],
        name: &str,
    ) -> NodeConfig {
        let mut out = own.resolve(folders, name);
        out.merge(&self.top);
        if let Some(tree) = self.packages.get(package) {
            out.merge(&tree.resolve(folders, name));
        }
        out
    }

    /// The merged config for a node in `folders` named `name`, from the root down.
    pub fn resolve(&self, folders: &[String], name: &str) -> NodeConfig {
        let mut out = self.config.clone();
        let mut level = self;
        for part in folders
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(name))
        {
            match level.children.get(part) {
                Some(child) => {
                    out.merge(&child.config);
                    level = child;
                }
                None => break,
            }
        }
        out
    }

    /// Reports folder paths that match no resource (dbt's most confusing silent no-op).
    fn check_paths(
        &self,
        prefix: &mut Vec<String>,
        known: &[Vec<String>],
        diags: &mut Diagnostics,
    ) {
        for (name, child) in &self.children {
            prefix.push(name.clone());
            let matches = known.iter().any(|k| k.starts_with(prefix));
            if !matches {
                let candidates: Vec<String> = known
                    .iter()
                    .filter(|k| {
                        k.len() >= prefix.len()
                            && k[..prefix.len() - 1] == prefix[..prefix.len() - 1]
                    })
                    .map(|k| k[prefix.len() - 1].clone())
                    .collect();
                let help = suggest(name, candidates.iter().map(String::as_str));
                let mut d = Diagnostic::warning(
                    Code::UnusedConfigPath,
                    format!("config path `{}` matches no resource", prefix.join(".")),
                )
                .with_help_opt(help);
                if let Some(span) = &child.span {
                    d = d.at(span.clone());
                }
                diags.push(d);
            } else {
                child.check_paths(prefix, known, diags);
            }
            prefix.pop();
        }
    }
}

/// Where each kind of file lives, relative to the project root.
#[derive(Clone, Debug)]
pub struct Paths {
    /// Model folders.
    pub models: Vec<PathBuf>,
    /// Seed folders.
    pub seeds: Vec<PathBuf>,
    /// Macro folders.
    pub macros: Vec<PathBuf>,
    /// Singular test folders.
    pub tests: Vec<PathBuf>,
    /// Data contract folders.
    pub contracts: Vec<PathBuf>,
    /// Folders searched for `{% docs %}` blocks.
    pub docs: Vec<PathBuf>,
    /// strata's own output (manifest, compiled SQL, run results).
    pub artifacts: PathBuf,
    /// What `strata clean` removes (`clean-targets` of a dbt project, else the artifacts).
    pub clean: Vec<PathBuf>,
    /// Where packages are installed (`packages-install-path`, default `dbt_packages`).
    pub packages: PathBuf,
}

/// A loaded project: every file read once, nothing rendered yet.
#[derive(Clone, Debug)]
pub struct Project {
    /// The project directory.
    pub root: PathBuf,
    /// The project file, relative to `root` (project.yml or dbt_project.yml).
    pub file: PathBuf,
    /// Which of the two it is.
    pub flavor: Flavor,
    /// Project name.
    pub name: String,
    /// Project version.
    pub version: Option<String>,
    /// Folders.
    pub paths: Paths,
    /// Every target as written.
    pub targets: BTreeMap<String, TargetDef>,
    /// The target in use (default or `--target`).
    pub target_name: String,
    /// Project vars merged with `--vars`.
    pub vars: BTreeMap<String, J>,
    /// The project file's `vars:` mapping as written (global vars and the mappings scoped to
    /// packages by name).
    pub vars_written: BTreeMap<String, J>,
    /// The vars of each package's nodes and macros, by package name ([`package_vars`]).
    pub package_vars: BTreeMap<String, BTreeMap<String, J>>,
    /// `models:` folder configs.
    pub model_configs: ConfigTree,
    /// `seeds:` folder configs.
    pub seed_configs: ConfigTree,
    /// `data_tests:` (or dbt's older `tests:`) folder configs.
    pub test_configs: ConfigTree,
    /// `sources:` configs, by source name then table name.
    pub source_configs: ConfigTree,
    /// Lines to tell the user once: where the target comes from, keys accepted and not acted on.
    pub notes: Vec<String>,
    /// `quoting:`: which parts of relation names are quoted (all, by default).
    pub quoting: crate::ir::Quoting,
    /// The packages read (local ones and those installed), in order.
    pub packages: Vec<packages::Package>,
    /// `dispatch:` search orders by macro namespace.
    pub dispatch: BTreeMap<String, Vec<String>>,
    /// `on-run-start` statements.
    pub on_run_start: Vec<String>,
    /// `on-run-end` statements.
    pub on_run_end: Vec<String>,
    /// Model files, sorted by path.
    pub models: Vec<SqlFile>,
    /// Seed files, sorted by path.
    pub seeds: Vec<SeedFile>,
    /// Singular test files, sorted by path.
    pub singular_tests: Vec<SqlFile>,
    /// Macro files, sorted by path.
    pub macro_files: Vec<SqlFile>,
    /// Properties from every YAML file.
    pub properties: Properties,
    /// `{% docs %}` blocks by name.
    pub docs: BTreeMap<String, DocBlock>,
    /// Packages' `{% docs %}` blocks: by package name, then by block name.
    pub package_docs: BTreeMap<String, BTreeMap<String, DocBlock>>,
    /// Contract files (JSON Schema) by path relative to the project.
    pub contracts: BTreeMap<String, Arc<str>>,
    /// `lineage:` (OpenLineage events), when project.yml has it.
    pub lineage: Option<lineage::LineageConfig>,
}

impl Project {
    /// The target definition in use.
    pub fn target_def(&self) -> &TargetDef {
        &self.targets[&self.target_name]
    }

    /// The package a file (path relative to the root) belongs to; none for the root project's.
    pub fn package_of(&self, path: &Path) -> Option<&packages::Package> {
        self.packages.iter().find(|p| path.starts_with(&p.dir))
    }

    /// The package name a file's nodes belong to: its package's, else the project's.
    pub fn package_name_of(&self, path: &Path) -> &str {
        self.package_of(path)
            .map_or(self.name.as_str(), |p| p.name.as_str())
    }

    /// The folder config of a model (or, with `seeds`, a seed) in `path`: the project's tree,
    /// or for a package's node the package's own tree below the root project's.
    pub fn folder_config(
        &self,
        seeds: bool,
        path: &Path,
        folders: &[String],
        name: &str,
    ) -> NodeConfig {
        let root = if seeds {
            &self.seed_configs
        } else {
            &self.model_configs
        };
        match self.package_of(path) {
            Some(p) => {
                let own = if seeds {
                    &p.seed_configs
                } else {
                    &p.model_configs
                };
                root.resolve_in_package(own, &p.name, folders, name)
            }
            None => root.resolve(folders, name),
        }
    }
}

/// Which file a project was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `project.yml`.
    Strata,
    /// `dbt_project.yml`, read with dbt's meaning.
    Dbt,
}

/// The project file in `root`: project.yml, else dbt_project.yml; a line when both are there.
fn project_file(
    root: &Path,
    diags: &mut Diagnostics,
) -> Option<(&'static str, Flavor, Vec<String>)> {
    if root.join(PROJECT_FILE).exists() {
        let notes = if root.join(DBT_PROJECT_FILE).exists() {
            vec![format!(
                "both {PROJECT_FILE} and {DBT_PROJECT_FILE} are here: strata reads {PROJECT_FILE} and leaves {DBT_PROJECT_FILE} alone"
            )]
        } else {
            Vec::new()
        };
        return Some((PROJECT_FILE, Flavor::Strata, notes));
    }
    if root.join(DBT_PROJECT_FILE).exists() {
        return Some((DBT_PROJECT_FILE, Flavor::Dbt, Vec::new()));
    }
    diags.push(
        Diagnostic::error(
            Code::ProjectMissing,
            format!(
                "{} has no {PROJECT_FILE} and no {DBT_PROJECT_FILE}",
                root.display()
            ),
        )
        .with_help("run strata in a project directory, pass --project-dir, or create one with `strata init NAME`"),
    );
    None
}

/// Loads the project in `root`. Every problem found is returned, not just the first: the project
/// comes back with its diagnostics (errors included) unless the project file itself is unusable.
pub fn load(root: &Path, opts: &LoadOptions) -> Result<(Project, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::new();
    let Some((name, flavor, notes)) = project_file(root, &mut diags) else {
        return Err(diags);
    };
    let file = Path::new(name);
    let text = match std::fs::read_to_string(root.join(file)) {
        Ok(t) => t,
        // There, but not readable as text: say so at the file, not that it is missing.
        Err(e) => {
            diags.push(
                Diagnostic::error(Code::FileUnreadable, format!("cannot read {name}: {e}"))
                    .at(Span::file(file))
                    .with_help(format!("{name} must be UTF-8 text that this user can read")),
            );
            return Err(diags);
        }
    };
    let node = match yaml::parse(&text, file) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return Err(diags);
        }
    };
    let Some(mut project) = read_project_file(root, &node, file, flavor, opts, &mut diags) else {
        return Err(diags);
    };
    project.notes.splice(0..0, notes);

    // Keep going after errors: one run reports every problem of every file.
    discover(&mut project, &mut diags);
    project.package_vars = package_vars(&project, &opts.vars);
    diags.sort();
    Ok((project, diags))
}

/// Keys of dbt_project.yml that strata accepts without acting on them, each with what to know.
const DBT_NOTED_KEYS: &[(&str, &str)] = &[
    (
        "require-dbt-version",
        "strata is not dbt and does not check it",
    ),
    ("config-version", "strata reads dbt's config version 2"),
    ("analysis-paths", "strata has no analyses yet"),
    ("snapshot-paths", "strata has no snapshots yet"),
    ("asset-paths", "the docs site does not copy assets yet"),
    ("snapshots", "strata has no snapshots yet"),
    ("flags", "strata's behaviour does not depend on dbt's flags"),
    ("query-comment", "strata adds no comment to its queries"),
    (
        "restrict-access",
        "strata has no model groups or access levels yet",
    ),
    (
        "unit_tests",
        "strata does not apply folder configs to unit tests yet",
    ),
    (
        "exposures",
        "strata does not apply folder configs to exposures yet",
    ),
    ("metrics", "strata has no metrics"),
    ("semantic-models", "strata has no semantic models"),
    ("saved-queries", "strata has no saved queries"),
];

/// The project's vars: the global ones, then those scoped to the project by name (dbt's
/// `vars: {project_name: {...}}`), then `--vars`; and the `vars:` mapping as written.
fn read_vars(
    r: &mut MapReader,
    file: &Path,
    project_name: &str,
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> (BTreeMap<String, J>, BTreeMap<String, J>) {
    let (mut vars, written) = match r.take(&["vars"]) {
        Some(v) => (
            scoped_vars(v, file, project_name, diags),
            match v.to_json() {
                J::Object(m) => m.into_iter().collect(),
                _ => BTreeMap::new(),
            },
        ),
        None => Default::default(),
    };
    vars.extend(opts.vars.clone());
    (vars, written)
}

/// A `vars:` mapping as the project `project_name` sees it: the global vars, then the mapping
/// it scopes to itself (`vars: {project_name: {...}}`) over them. A mapping under another name
/// stays a var of that name, as in dbt (`var('pkg')` is that mapping).
pub(crate) fn scoped_vars(
    v: &Node,
    file: &Path,
    project_name: &str,
    diags: &mut Diagnostics,
) -> BTreeMap<String, J> {
    let mut vars = BTreeMap::new();
    match v.to_json() {
        J::Object(m) => {
            let mut scoped = None;
            for (k, v) in m {
                match v {
                    J::Object(inner) if k == project_name => scoped = Some(inner),
                    v => {
                        vars.insert(k, v);
                    }
                }
            }
            vars.extend(scoped.into_iter().flatten());
        }
        J::Null => {}
        _ => diags.push(
            Diagnostic::error(Code::InvalidValue, "`vars` must be a mapping").at(v.span(file)),
        ),
    }
    vars
}

/// The vars each package's nodes and macros see, merged as dbt merges them (a later one wins):
/// the package's own dbt_project.yml, the root project's vars as written, the root's
/// `vars: {package: {...}}`, then `--vars`.
fn package_vars(p: &Project, cli: &BTreeMap<String, J>) -> BTreeMap<String, BTreeMap<String, J>> {
    p.packages
        .iter()
        .map(|pkg| {
            let mut vars = pkg.vars.clone();
            vars.extend(p.vars_written.clone());
            if let Some(J::Object(scoped)) = p.vars_written.get(&pkg.name) {
                vars.extend(scoped.clone());
            }
            vars.extend(cli.clone());
            (pkg.name.clone(), vars)
        })
        .collect()
}

fn read_project_file(
    root: &Path,
    node: &Node,
    file: &Path,
    flavor: Flavor,
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> Option<Project> {
    let file_name = display_path(file);
    let mut r = MapReader::new(node, file, &file_name, diags)?;
    let name = r.required_string("name", node, diags);
    let version = r.string(&["version"], diags);
    let paths = read_paths(&mut r, file, flavor, diags);
    let declared = match flavor {
        Flavor::Strata => targets::Declared {
            targets: r.take(&["targets"]),
            target: r.take(&["target"]),
            profile: r.take(&["profile"]),
        },
        Flavor::Dbt => targets::Declared {
            targets: None,
            target: None,
            profile: r.take(&["profile"]),
        },
    };
    let project_name = name.clone().unwrap_or_default();
    let (vars, vars_written) = read_vars(&mut r, file, &project_name, opts, diags);
    let mut tree = |r: &mut MapReader, keys: &[&'static str], scope| match r.take(keys) {
        Some(n) => read_config_root(n, file, &project_name, scope, diags),
        None => ConfigTree::default(),
    };
    let model_configs = tree(&mut r, &["models"], ConfigScope::Model);
    let seed_configs = tree(&mut r, &["seeds"], ConfigScope::Seed);
    let test_configs = tree(&mut r, &["data_tests", "tests"], ConfigScope::Test);
    let source_configs = tree(&mut r, &["sources"], ConfigScope::Source);
    let on_run_start = r.string_list(&["on-run-start", "on_run_start"], diags);
    let on_run_end = r.string_list(&["on-run-end", "on_run_end"], diags);
    let dispatch = read_dispatch(&mut r, file, diags);
    let quoting = r
        .take(&["quoting"])
        .map(|q| crate::ir::Quoting::default().with(&properties::read_quoting(q, file, diags)))
        .unwrap_or_default();
    let mut notes = Vec::new();
    let mut lineage_config = None;
    match flavor {
        Flavor::Strata => {
            r.take(&["config-version", "require-strata-version"]);
            lineage_config = r.take(&["lineage"]).map(|n| lineage::read(n, file, diags));
        }
        Flavor::Dbt => {
            for (key, why) in DBT_NOTED_KEYS {
                if r.take_raw(key).is_some() {
                    notes.push(format!(
                        "{file_name}: `{key}` is accepted and not acted on: {why}"
                    ));
                }
            }
        }
    }
    r.finish(diags);

    if let Some(n) = &name
        && !is_identifier(n)
    {
        diags.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!("project name `{n}` must be an identifier (letters, digits, underscores)"),
            )
            .at(Span::file(file)),
        );
    }
    let name = name?;
    let found = targets::find(root, &name, file, declared, opts, diags)?;
    notes.extend(found.note);
    Some(Project {
        root: root.to_path_buf(),
        file: file.to_path_buf(),
        flavor,
        name,
        version,
        paths,
        targets: found.targets,
        target_name: found.name,
        vars,
        vars_written,
        package_vars: BTreeMap::new(),
        model_configs,
        seed_configs,
        test_configs,
        source_configs,
        on_run_start,
        on_run_end,
        notes,
        quoting,
        packages: Vec::new(),
        dispatch,
        models: Vec::new(),
        seeds: Vec::new(),
        singular_tests: Vec::new(),
        macro_files: Vec::new(),
        properties: Properties::default(),
        docs: BTreeMap::new(),
        package_docs: BTreeMap::new(),
        contracts: BTreeMap::new(),
        lineage: lineage_config,
    })
}

/// The `*-paths` keys of the project file, each with its default folder.
fn read_paths(r: &mut MapReader, file: &Path, flavor: Flavor, diags: &mut Diagnostics) -> Paths {
    let path_list =
        |r: &mut MapReader, keys: &[&'static str], default: &str, diags: &mut Diagnostics| {
            let v = r.string_list(keys, diags);
            if v.is_empty() {
                vec![PathBuf::from(default)]
            } else {
                v.into_iter().map(PathBuf::from).collect()
            }
        };
    let models = path_list(r, &["model-paths"], "models", diags);
    let seeds = path_list(r, &["seed-paths"], "seeds", diags);
    let macros = path_list(r, &["macro-paths"], "macros", diags);
    let tests = path_list(r, &["test-paths"], "tests", diags);
    let contracts = path_list(r, &["contract-paths"], "contracts", diags);
    let docs = {
        let v = r.string_list(&["docs-paths"], diags);
        if v.is_empty() {
            models.clone()
        } else {
            v.into_iter().map(PathBuf::from).collect()
        }
    };
    let (artifacts, clean) = match flavor {
        Flavor::Strata => {
            let artifacts = r
                .string(&["artifacts-path"], diags)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".strata"));
            if artifacts == Path::new("target") {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        "`artifacts-path` must not be `target`: cargo and other tools own that folder",
                    )
                    .at(Span::file(file)),
                );
            }
            (artifacts.clone(), vec![artifacts])
        }
        // dbt's own places: its artifacts under `target/`, `clean` removing `clean-targets`.
        Flavor::Dbt => {
            let artifacts = r
                .string(&["target-path"], diags)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("target"));
            let clean: Vec<PathBuf> = r
                .string_list(&["clean-targets"], diags)
                .into_iter()
                .map(PathBuf::from)
                .collect();
            (artifacts, clean)
        }
    };
    let packages = r
        .string(&["packages-install-path"], diags)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("dbt_packages"));
    Paths {
        models,
        seeds,
        macros,
        tests,
        contracts,
        docs,
        artifacts,
        clean,
        packages,
    }
}

/// `dispatch:`, a list of `{macro_namespace, search_order}`.
fn read_dispatch(
    r: &mut MapReader,
    file: &Path,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Some(list) = r.take(&["dispatch"]) else {
        return out;
    };
    for item in yaml::expect_seq(list, file, "dispatch", diags) {
        let Some(mut ir) = MapReader::new(item, file, "a dispatch entry", diags) else {
            continue;
        };
        let namespace = ir.required_string("macro_namespace", item, diags);
        let order = ir.string_list(&["search_order"], diags);
        ir.finish(diags);
        if let Some(ns) = namespace {
            out.insert(ns, order);
        }
    }
    out
}

/// True for names made of ASCII letters, digits and underscores, not starting with a digit.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn read_config_root(
    node: &Node,
    file: &Path,
    project: &str,
    scope: ConfigScope,
    diags: &mut Diagnostics,
) -> ConfigTree {
    let mut tree = ConfigTree::default();
    let Some(entries) = node.as_map() else {
        diags.push(
            Diagnostic::error(Code::InvalidValue, "folder configs must be a mapping")
                .at(node.span(file)),
        );
        return tree;
    };
    // What is written under the project's name, kept apart from the top level: packages'
    // nodes get the top level but not this.
    let mut own = ConfigTree::default();
    for (k, v) in entries {
        let key = k.as_str().unwrap_or_default();
        let bare = key.trim_start_matches('+');
        if key.starts_with('+') || (scope.accepts(bare) && v.as_map().is_none()) {
            properties::apply_config(&mut tree.top, scope, bare, v, k, file, diags);
        } else if key == project {
            read_config_level(v, file, scope, &mut own, diags);
        } else if is_identifier(key) && (v.as_map().is_some() || v.is_null()) {
            // Maybe a package's name: checked once the packages are found.
            let child = tree.packages.entry(key.to_string()).or_default();
            child.span = Some(k.span(file));
            read_config_level(v, file, scope, child, diags);
        } else {
            diags.push(not_a_project_key(key, project, &[], scope).at(k.span(file)));
        }
    }
    tree.config = tree.top.clone();
    tree.config.merge(&own.config);
    tree.children = own.children;
    tree
}

/// A key at the top of a `models:`/`seeds:` tree that is neither a config key, the project's
/// name nor a package's.
fn not_a_project_key(
    key: &str,
    project: &str,
    packages: &[&str],
    scope: ConfigScope,
) -> Diagnostic {
    let names = std::iter::once(project).chain(packages.iter().copied());
    let what = if packages.is_empty() {
        format!("this project's name (`{project}`)")
    } else {
        format!(
            "this project's name (`{project}`) nor a package's ({})",
            packages
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Diagnostic::error(
        Code::UnknownKey,
        format!("`{key}` is neither a config key nor {what}"),
    )
    .with_help_opt(suggest(key, names).or_else(|| {
        Some(format!(
            "folder configs go under the project name: `{}: {{{project}: {{...}}}}`",
            match scope {
                ConfigScope::Seed => "seeds",
                _ => "models",
            }
        ))
    }))
}

fn read_config_level(
    node: &Node,
    file: &Path,
    scope: ConfigScope,
    level: &mut ConfigTree,
    diags: &mut Diagnostics,
) {
    let Some(entries) = node.as_map() else {
        if !node.is_null() {
            diags.push(
                Diagnostic::error(Code::InvalidValue, "a config folder must be a mapping")
                    .at(node.span(file)),
            );
        }
        return;
    };
    for (k, v) in entries {
        let key = k.as_str().unwrap_or_default();
        let bare = key.trim_start_matches('+');
        let is_config = key.starts_with('+')
            || (scope.accepts(bare) && v.as_map().is_none())
            || (scope.accepts(bare)
                && matches!(
                    bare,
                    "meta" | "grants" | "docs" | "contract" | "column_types"
                ));
        if is_config {
            properties::apply_config(&mut level.config, scope, bare, v, k, file, diags);
        } else if v.as_map().is_some() || v.is_null() {
            let child = level.children.entry(key.to_string()).or_default();
            child.span = Some(k.span(file));
            read_config_level(v, file, scope, child, diags);
        } else {
            let keys = scope.keys();
            diags.push(
                Diagnostic::error(
                    Code::UnknownKey,
                    format!("unknown {} key `{key}`", scope.noun()),
                )
                .at(k.span(file))
                .with_label("not a config key, and not a folder (a folder's value is a mapping)")
                .with_help_opt(suggest(bare, keys.iter().copied())),
            );
        }
    }
}

/// Folders never searched: hidden ones, cargo's and node's build output.
fn skip_dir(name: &str) -> bool {
    name.starts_with('.') || name == "target" || name == "node_modules"
}

/// Files under `dir` (relative to `root`) with one of `exts`, skipping nested projects, sorted
/// by path (a folder's files and subfolders by name, depth first), each with its folders below
/// `dir`. Symbolic links are not followed. Subfolders are listed in parallel.
fn walk(root: &Path, dir: &Path, exts: &[&str], artifacts: &Path) -> Vec<(PathBuf, Vec<String>)> {
    let base = root.join(dir);
    let walk = Walk {
        root,
        exts,
        artifacts: &root.join(artifacts),
    };
    match std::fs::metadata(&base) {
        Ok(m) if m.is_dir() => walk.folder(&base, &[]),
        Ok(m) if m.is_file() => walk.file(&base, &[]).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// What `walk` looks for.
struct Walk<'a> {
    root: &'a Path,
    exts: &'a [&'a str],
    artifacts: &'a Path,
}

impl Walk<'_> {
    /// The file at `path` when its extension is wanted.
    fn file(&self, path: &Path, folders: &[String]) -> Option<(PathBuf, Vec<String>)> {
        let ext = path.extension().and_then(|e| e.to_str())?;
        self.exts.contains(&ext).then(|| {
            let rel = path.strip_prefix(self.root).unwrap_or(path).to_path_buf();
            (rel, folders.to_vec())
        })
    }

    /// Whether the walk descends into the subfolder `path` named `name`.
    fn enters(&self, path: &Path, name: &str) -> bool {
        // A folder with its own project file is another project (a test fixture, a package).
        !skip_dir(name)
            && path != self.artifacts
            && !path.join(PROJECT_FILE).exists()
            && !path.join(DBT_PROJECT_FILE).exists()
    }

    fn folder(&self, dir: &Path, folders: &[String]) -> Vec<(PathBuf, Vec<String>)> {
        let Ok(listing) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut entries: Vec<(std::ffi::OsString, bool)> = listing
            .flatten()
            .filter_map(|e| {
                let t = e.file_type().ok()?;
                (t.is_file() || t.is_dir()).then(|| (e.file_name(), t.is_dir()))
            })
            .collect();
        entries.sort_unstable();
        // Subfolders in parallel, then everything merged back in name order.
        let subfolders: Vec<Vec<(PathBuf, Vec<String>)>> = entries
            .par_iter()
            .filter(|(_, is_dir)| *is_dir)
            .map(|(name, _)| {
                let path = dir.join(name);
                let name = name.to_string_lossy();
                if !self.enters(&path, &name) {
                    return Vec::new();
                }
                let mut inner = folders.to_vec();
                inner.push(name.into_owned());
                self.folder(&path, &inner)
            })
            .collect();
        let mut subfolders = subfolders.into_iter();
        let mut out = Vec::new();
        for (name, is_dir) in &entries {
            if *is_dir {
                out.extend(subfolders.next().unwrap_or_default());
            } else if let Some(f) = self.file(&dir.join(name), folders) {
                out.push(f);
            }
        }
        out
    }
}

fn checksum(bytes: &[u8]) -> String {
    crate::digest::sha256_hex(bytes)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_sql_files(
    root: &Path,
    list: Vec<(PathBuf, Vec<String>)>,
    diags: &mut Diagnostics,
) -> Vec<SqlFile> {
    let results: Vec<Result<SqlFile, Diagnostic>> = list
        .into_par_iter()
        .map(
            |(path, folders)| match std::fs::read_to_string(root.join(&path)) {
                Ok(text) => Ok(SqlFile {
                    name: stem(&path),
                    checksum: checksum(text.as_bytes()),
                    text: text.into(),
                    path,
                    folders,
                }),
                Err(e) => Err(Diagnostic::error(
                    Code::FileUnreadable,
                    format!("cannot read file: {e}"),
                )
                .at(Span::file(&path))),
            },
        )
        .collect();
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(f) => out.push(f),
            Err(d) => diags.push(d),
        }
    }
    out
}

fn discover(p: &mut Project, diags: &mut Diagnostics) {
    let root = p.root.clone();
    p.packages = packages::found(&root, &p.paths.packages, diags);
    check_package_keys(p, diags);
    let found = find_files(p);

    crate::timing::mark("load:walk");
    crate::pages::fit_to(found.models.len());
    p.models = read_sql_files(&root, found.models, diags);
    p.macro_files = read_sql_files(&root, found.macros, diags);
    p.singular_tests = read_sql_files(&root, found.tests, diags);

    crate::timing::mark("load:sql_files");
    // Seeds: header only.
    let seeds: Vec<Result<SeedFile, Diagnostic>> = found
        .seeds
        .into_par_iter()
        .map(|(path, folders)| read_seed(&root, path, folders))
        .collect();
    for s in seeds {
        match s {
            Ok(s) => p.seeds.push(s),
            Err(d) => diags.push(d),
        }
    }

    crate::timing::mark("load:seeds");
    read_properties(&root, found.yaml, &mut p.properties, diags);

    crate::timing::mark("load:properties");
    read_docs_and_contracts(p, &root, found.docs, found.contracts, diags);
    check_folder_configs(p, diags);
}

/// Reports the trees under a name in `models:`/`seeds:`/`data_tests:` that is no package's.
fn check_package_keys(p: &Project, diags: &mut Diagnostics) {
    let names: Vec<&str> = p.packages.iter().map(|p| p.name.as_str()).collect();
    let trees = [
        (&p.model_configs, ConfigScope::Model),
        (&p.seed_configs, ConfigScope::Seed),
        (&p.test_configs, ConfigScope::Test),
        (&p.source_configs, ConfigScope::Source),
    ];
    for (tree, scope) in trees {
        for (key, child) in &tree.packages {
            if !names.contains(&key.as_str()) {
                let mut d = not_a_project_key(key, &p.name, &names, scope);
                if let Some(span) = &child.span {
                    d = d.at(span.clone());
                }
                diags.push(d);
            }
        }
    }
}

/// The files of each kind under the project's folders: path relative to the root, folders.
struct FoundFiles {
    models: Vec<(PathBuf, Vec<String>)>,
    yaml: Vec<(PathBuf, Vec<String>)>,
    seeds: Vec<(PathBuf, Vec<String>)>,
    macros: Vec<(PathBuf, Vec<String>)>,
    tests: Vec<(PathBuf, Vec<String>)>,
    docs: Vec<(PathBuf, Vec<String>)>,
    contracts: Vec<(PathBuf, Vec<String>)>,
}

/// Walks the project's folders; a properties file in both model and seed folders counts once.
fn find_files(p: &Project) -> FoundFiles {
    let root = p.root.clone();
    let art = p.paths.artifacts.clone();
    let is_yaml =
        |f: &(PathBuf, Vec<String>)| f.0.extension().is_some_and(|e| e == "yml" || e == "yaml");
    let mut model_list = Vec::new();
    let mut yaml_list = Vec::new();
    for dir in &p.paths.models {
        let (yaml, sql): (Vec<_>, Vec<_>) = walk(&root, dir, &["sql", "yml", "yaml"], &art)
            .into_iter()
            .partition(is_yaml);
        model_list.extend(sql);
        yaml_list.extend(yaml);
    }
    let mut seed_list = Vec::new();
    for dir in &p.paths.seeds {
        let (yaml, csv): (Vec<_>, Vec<_>) = walk(&root, dir, &["csv", "yml", "yaml"], &art)
            .into_iter()
            .partition(is_yaml);
        seed_list.extend(csv);
        let known: std::collections::HashSet<PathBuf> =
            yaml_list.iter().map(|(p, _)| p.clone()).collect();
        yaml_list.extend(yaml.into_iter().filter(|(p, _)| !known.contains(p)));
    }
    // Packages' models and seeds after the project's: a name ref() finds first is the root's.
    for pkg in &p.packages {
        for dir in &pkg.model_paths {
            let (yaml, sql): (Vec<_>, Vec<_>) =
                walk(&root, &pkg.dir.join(dir), &["sql", "yml", "yaml"], &art)
                    .into_iter()
                    .partition(is_yaml);
            model_list.extend(sql);
            yaml_list.extend(yaml);
        }
        for dir in &pkg.seed_paths {
            let (yaml, csv): (Vec<_>, Vec<_>) =
                walk(&root, &pkg.dir.join(dir), &["csv", "yml", "yaml"], &art)
                    .into_iter()
                    .partition(is_yaml);
            seed_list.extend(csv);
            let known: std::collections::HashSet<PathBuf> =
                yaml_list.iter().map(|(p, _)| p.clone()).collect();
            yaml_list.extend(yaml.into_iter().filter(|(p, _)| !known.contains(p)));
        }
    }
    let mut macro_list = Vec::new();
    for dir in &p.paths.macros {
        macro_list.extend(walk(&root, dir, &["sql", "jinja"], &art));
    }
    for pkg in &p.packages {
        for dir in &pkg.macro_paths {
            macro_list.extend(walk(&root, &pkg.dir.join(dir), &["sql", "jinja"], &art));
        }
    }
    let mut test_list = Vec::new();
    for dir in &p.paths.tests {
        test_list.extend(walk(&root, dir, &["sql"], &art));
    }
    let mut doc_list = Vec::new();
    for dir in &p.paths.docs {
        doc_list.extend(walk(&root, dir, &["md"], &art));
    }
    for pkg in &p.packages {
        for dir in &pkg.docs_paths {
            let found = walk(&root, &pkg.dir.join(dir), &["md"], &art);
            // A package's docs-paths may overlap (models and macros in one folder).
            for f in found {
                if !doc_list.iter().any(|(p, _)| *p == f.0) {
                    doc_list.push(f);
                }
            }
        }
    }
    let mut contract_list = Vec::new();
    for dir in &p.paths.contracts {
        contract_list.extend(walk(&root, dir, &["json"], &art));
    }
    FoundFiles {
        models: model_list,
        yaml: yaml_list,
        seeds: seed_list,
        macros: macro_list,
        tests: test_list,
        docs: doc_list,
        contracts: contract_list,
    }
}

/// Properties files, parsed in parallel, merged in path order.
fn read_properties(
    root: &Path,
    yaml_list: Vec<(PathBuf, Vec<String>)>,
    all: &mut Properties,
    diags: &mut Diagnostics,
) {
    let parsed: Vec<(Properties, Diagnostics)> = yaml_list
        .into_par_iter()
        .map(|(path, _)| {
            let mut d = Diagnostics::new();
            let mut props = Properties::default();
            match std::fs::read_to_string(root.join(&path)) {
                Ok(text) => match yaml::parse(&text, &path) {
                    Ok(node) => properties::read_file(&node, &path, &mut props, &mut d),
                    Err(e) => d.push(e),
                },
                Err(e) => d.push(
                    Diagnostic::error(Code::FileUnreadable, format!("cannot read file: {e}"))
                        .at(Span::file(&path)),
                ),
            }
            (props, d)
        })
        .collect();
    let total = |n: fn(&Properties) -> usize| parsed.iter().map(|(props, _)| n(props)).sum();
    all.models.reserve(total(|p| p.models.len()));
    all.seeds.reserve(total(|p| p.seeds.len()));
    all.sources.reserve(total(|p| p.sources.len()));
    for (props, d) in parsed {
        diags.extend(d);
        all.models.extend(props.models);
        all.seeds.extend(props.seeds);
        all.sources.extend(props.sources);
        all.exposures.extend(props.exposures);
        all.unit_tests.extend(props.unit_tests);
    }
}

/// Doc blocks from the Markdown files and the contract files, read whole.
fn read_docs_and_contracts(
    p: &mut Project,
    root: &Path,
    doc_list: Vec<(PathBuf, Vec<String>)>,
    contract_list: Vec<(PathBuf, Vec<String>)>,
    diags: &mut Diagnostics,
) {
    for (path, _) in doc_list {
        let blocks = match p.package_of(&path).map(|pkg| pkg.name.clone()) {
            Some(pkg) => p.package_docs.entry(pkg).or_default(),
            None => &mut p.docs,
        };
        match std::fs::read_to_string(root.join(&path)) {
            Ok(text) => read_doc_blocks(&text, &path, blocks, diags),
            Err(e) => diags.push(
                Diagnostic::error(Code::FileUnreadable, format!("cannot read file: {e}"))
                    .at(Span::file(&path)),
            ),
        }
    }
    for (path, _) in contract_list {
        match std::fs::read_to_string(root.join(&path)) {
            Ok(text) => {
                p.contracts.insert(display_path(&path), text.into());
            }
            Err(e) => diags.push(
                Diagnostic::error(Code::FileUnreadable, format!("cannot read file: {e}"))
                    .at(Span::file(&path)),
            ),
        }
    }
}

/// Reports the folder configs that apply to no model or seed: the project's trees against its
/// own nodes, each tree under a package's name against that package's nodes.
fn check_folder_configs(p: &Project, diags: &mut Diagnostics) {
    let paths_in = |package: Option<&str>,
                    files: &mut dyn Iterator<Item = (&Path, &[String], &str)>| {
        files
            .filter(|(path, _, _)| p.package_of(path).map(|k| k.name.as_str()) == package)
            .map(|(_, folders, name)| {
                folders
                    .iter()
                    .cloned()
                    .chain(std::iter::once(name.to_string()))
                    .collect::<Vec<String>>()
            })
            .collect::<Vec<_>>()
    };
    let models = || {
        p.models
            .iter()
            .map(|m| (m.path.as_path(), m.folders.as_slice(), m.name.as_str()))
    };
    let seeds = || {
        p.seeds
            .iter()
            .map(|s| (s.path.as_path(), s.folders.as_slice(), s.name.as_str()))
    };
    let root_models = paths_in(None, &mut models());
    p.model_configs
        .check_paths(&mut vec![], &root_models, diags);
    let root_seeds = paths_in(None, &mut seeds());
    p.seed_configs.check_paths(&mut vec![], &root_seeds, diags);
    for pkg in &p.packages {
        let name = Some(pkg.name.as_str());
        // Known paths start with the package's name, as the prefix the check walks from.
        let under = |paths: Vec<Vec<String>>| -> Vec<Vec<String>> {
            paths
                .into_iter()
                .map(|k| std::iter::once(pkg.name.clone()).chain(k).collect())
                .collect()
        };
        if let Some(tree) = p.model_configs.packages.get(&pkg.name) {
            let known = under(paths_in(name, &mut models()));
            tree.check_paths(&mut vec![pkg.name.clone()], &known, diags);
        }
        if let Some(tree) = p.seed_configs.packages.get(&pkg.name) {
            let known = under(paths_in(name, &mut seeds()));
            tree.check_paths(&mut vec![pkg.name.clone()], &known, diags);
        }
    }
}

fn read_seed(root: &Path, path: PathBuf, folders: Vec<String>) -> Result<SeedFile, Diagnostic> {
    let bytes = std::fs::read(root.join(&path)).map_err(|e| {
        Diagnostic::error(Code::FileUnreadable, format!("cannot read file: {e}"))
            .at(Span::file(&path))
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes.as_slice());
    let headers = reader.headers().map_err(|e| {
        Diagnostic::error(
            Code::SeedInvalid,
            format!("cannot read the CSV header: {e}"),
        )
        .at(Span::file(&path))
    })?;
    let columns: Vec<String> = headers.iter().map(|h| h.trim().to_string()).collect();
    if columns.is_empty() || columns.iter().any(String::is_empty) {
        return Err(Diagnostic::error(
            Code::SeedInvalid,
            "the CSV header has an empty column name",
        )
        .at(Span::line(&path, 1)));
    }
    Ok(SeedFile {
        name: stem(&path),
        checksum: checksum(&bytes),
        path,
        folders,
        columns,
    })
}

/// Reads `{% docs name %} ... {% enddocs %}` blocks from a Markdown file.
fn read_doc_blocks(
    text: &str,
    path: &Path,
    out: &mut BTreeMap<String, DocBlock>,
    diags: &mut Diagnostics,
) {
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find("{%") {
        let after = &rest[start + 2..];
        let Some(end_tag) = after.find("%}") else {
            break;
        };
        let tag = after[..end_tag]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        let line = text[..offset + start].matches('\n').count() + 1;
        let consumed = start + 2 + end_tag + 2;
        if let Some(name) = tag.strip_prefix("docs ") {
            let name = name.trim().to_string();
            let body_start = consumed;
            let body = &rest[body_start..];
            let Some(close) = find_enddocs(body) else {
                diags.push(
                    Diagnostic::error(
                        Code::JinjaError,
                        format!("docs block `{name}` has no `{{% enddocs %}}`"),
                    )
                    .at(Span::line(path, line)),
                );
                return;
            };
            let span = Span::line(path, line);
            if let Some(first) = out.get(&name) {
                diags.push(
                    Diagnostic::error(
                        Code::DuplicateName,
                        format!("docs block `{name}` is defined twice"),
                    )
                    .at(span.clone())
                    .with_related(first.span.clone(), "first defined here"),
                );
            } else {
                out.insert(
                    name,
                    DocBlock {
                        text: body[..close.0].trim().to_string(),
                        span,
                    },
                );
            }
            let advance = body_start + close.1;
            offset += advance;
            rest = &rest[advance..];
        } else {
            offset += consumed;
            rest = &rest[consumed..];
        }
    }
}

/// (start of the closing tag, end of the closing tag) of `{% enddocs %}` in `body`.
fn find_enddocs(body: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = body[from..].find("{%") {
        let s = from + i;
        let after = &body[s + 2..];
        let e = after.find("%}")?;
        let tag = after[..e]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        if tag == "enddocs" {
            return Some((s, s + 2 + e + 2));
        }
        from = s + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_blocks_are_read() {
        let mut out = BTreeMap::new();
        let mut d = Diagnostics::new();
        read_doc_blocks(
            "# t\n{% docs a %}\nHello\n{% enddocs %}\n\n{% docs b %}B{% enddocs %}\n",
            Path::new("m.md"),
            &mut out,
            &mut d,
        );
        assert!(d.is_empty());
        assert_eq!(out["a"].text, "Hello");
        assert_eq!(out["a"].span.line, 2);
        assert_eq!(out["b"].text, "B");
    }

    #[test]
    fn config_tree_resolves_by_folder() {
        let y = "models:\n  p:\n    +materialized: view\n    marts:\n      +materialized: table\n      +tags: [m]\n";
        let node = yaml::parse(y, Path::new("project.yml")).unwrap();
        let models = &node.as_map().unwrap()[0].1;
        let mut d = Diagnostics::new();
        let t = read_config_root(
            models,
            Path::new("project.yml"),
            "p",
            ConfigScope::Model,
            &mut d,
        );
        assert!(d.is_empty(), "{d:?}");
        let c = t.resolve(&["marts".into()], "x");
        assert_eq!(c.materialized, Some(crate::ir::config::Materialized::Table));
        assert_eq!(c.tags, vec!["m"]);
        let c = t.resolve(&["staging".into()], "x");
        assert_eq!(c.materialized, Some(crate::ir::config::Materialized::View));
    }

    #[test]
    fn package_nodes_get_their_own_config_below_the_root_projects() {
        use crate::ir::config::Materialized;
        let tree = |y: &str, project: &str| {
            let node = yaml::parse(y, Path::new("p.yml")).unwrap();
            let mut d = Diagnostics::new();
            let t = read_config_root(
                &node.as_map().unwrap()[0].1,
                Path::new("p.yml"),
                project,
                ConfigScope::Model,
                &mut d,
            );
            assert!(d.is_empty(), "{d:?}");
            t
        };
        let root = tree(
            "models:\n  +tags: [all]\n  p:\n    +materialized: view\n  utils:\n    +materialized: table\n",
            "p",
        );
        let own = tree(
            "models:\n  utils:\n    +materialized: ephemeral\n    +enabled: false\n    +tags: [u]\n    inner:\n      +tags: [i]\n",
            "utils",
        );
        // The root's tree under the package's name wins; the package's own keys it does not
        // set stay; the root project's own (`p:`) settings do not reach the package.
        let c = root.resolve_in_package(&own, "utils", &["inner".into()], "m");
        assert_eq!(c.materialized, Some(Materialized::Table));
        assert_eq!(c.enabled, Some(false));
        assert!(c.tags.contains(&"all".to_string()), "{:?}", c.tags);
        assert!(c.tags.contains(&"i".to_string()), "{:?}", c.tags);
        let c = root.resolve_in_package(&ConfigTree::default(), "other", &[], "m");
        assert_eq!(c.materialized, None);
        assert_eq!(
            root.resolve(&[], "m").materialized,
            Some(Materialized::View)
        );
    }
}
