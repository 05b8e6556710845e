//! dbt packages: what `packages.yml` (or `dependencies.yml`) declares, and the packages present
//! on disk. A `local:` package is read where it is; any other package is read from the packages
//! folder (`dbt_packages/`, or `packages-install-path`), where `dbt deps` or `strata deps` put
//! it. strata does not download packages: a hub or git package that is not there is an error
//! that says how to get it. Each package's macros load under its name (`dbt_utils.star(...)`);
//! its models and seeds load from its own `model-paths`/`seed-paths`, with its own folder
//! configs (the root project's win over them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as J;

use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, display_path};

use super::ConfigTree;
use super::yaml::{self, MapReader, Node};
use crate::ir::config::ConfigScope;

/// The files that declare packages, in the order dbt reads them.
pub const PACKAGE_FILES: [&str; 2] = ["packages.yml", "dependencies.yml"];

/// One declared package.
#[derive(Clone, Debug)]
pub struct Declared {
    /// How it is declared: `local`, `package` (the hub), `git`, `tarball`.
    pub kind: &'static str,
    /// The path (local), hub name, git URL or tarball URL.
    pub source: String,
    /// Where it is declared.
    pub span: Span,
}

/// A package strata reads: its name, its folder relative to the project, its resource folders
/// and its own folder configs.
#[derive(Clone, Debug)]
pub struct Package {
    /// The package's `name` in its dbt_project.yml: its namespace in Jinja and in `ref()`.
    pub name: String,
    /// Its folder, relative to the project root.
    pub dir: PathBuf,
    /// Its `macro-paths`, relative to `dir`.
    pub macro_paths: Vec<PathBuf>,
    /// Its `model-paths`, relative to `dir`.
    pub model_paths: Vec<PathBuf>,
    /// Its `seed-paths`, relative to `dir`.
    pub seed_paths: Vec<PathBuf>,
    /// The `models:` folder configs of its own dbt_project.yml (below the root project's).
    pub model_configs: ConfigTree,
    /// The `seeds:` folder configs of its own dbt_project.yml (below the root project's).
    pub seed_configs: ConfigTree,
    /// The `vars:` of its own dbt_project.yml: its global ones, then those it scopes to itself.
    /// They are its nodes' defaults; the root project's vars win over them.
    pub vars: BTreeMap<String, J>,
    /// Where its `{% docs %}` blocks are: `docs-paths`, else its model, seed and macro folders
    /// (dbt's default), relative to `dir`.
    pub docs_paths: Vec<PathBuf>,
}

/// The packages declared in packages.yml or dependencies.yml (none when neither exists).
pub fn declared(root: &Path, diags: &mut Diagnostics) -> Vec<Declared> {
    let Some(file) = PACKAGE_FILES.iter().find(|f| root.join(f).is_file()) else {
        return Vec::new();
    };
    let file = Path::new(file);
    let text = match std::fs::read_to_string(root.join(file)) {
        Ok(t) => t,
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    Code::FileUnreadable,
                    format!("cannot read {}: {e}", display_path(file)),
                )
                .at(Span::file(file)),
            );
            return Vec::new();
        }
    };
    let node = match yaml::parse(&text, file) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return Vec::new();
        }
    };
    let shown = display_path(file);
    let Some(mut r) = MapReader::new(&node, file, &shown, diags) else {
        return Vec::new();
    };
    let list = r.take(&["packages"]);
    r.finish(diags);
    let Some(list) = list else {
        return Vec::new();
    };
    let items = yaml::expect_seq(list, file, "packages", diags);
    items
        .iter()
        .filter_map(|item| entry(item, file, diags))
        .collect()
}

/// One entry of `packages:`.
fn entry(item: &Node, file: &Path, diags: &mut Diagnostics) -> Option<Declared> {
    let mut r = MapReader::new(item, file, "a package", diags)?;
    let mut found = None;
    for kind in ["local", "package", "git", "tarball"] {
        if let Some(n) = r.take(&[kind])
            && let Some(s) = yaml::expect_string(n, file, kind, diags)
        {
            found = Some(Declared {
                kind,
                source: s,
                span: n.span(file),
            });
        }
    }
    // What dbt reads beside them: versions, revisions, subdirectories.
    r.take(&[
        "version",
        "revision",
        "subdirectory",
        "warn-unpinned",
        "install-prerelease",
        "name",
    ]);
    r.finish(diags);
    if found.is_none() {
        diags.push(
            Diagnostic::error(
                Code::MissingKey,
                "a package entry needs `local`, `package`, `git` or `tarball`",
            )
            .at(Span::line(file, item.line)),
        );
    }
    found
}

/// The packages to read: every `local:` package where it is, and every package folder under
/// `install_dir` that has a dbt_project.yml. A declared hub or git package with nothing
/// installed is reported.
pub fn found(root: &Path, install_dir: &Path, diags: &mut Diagnostics) -> Vec<Package> {
    let declared = declared(root, diags);
    let mut out: Vec<Package> = Vec::new();
    for d in declared.iter().filter(|d| d.kind == "local") {
        match read_package(root, Path::new(&d.source), diags) {
            Ok(p) => out.push(p),
            Err(why) => diags.push(
                Diagnostic::error(
                    Code::FileUnreadable,
                    format!("local package `{}`: {why}", d.source),
                )
                .at(d.span.clone()),
            ),
        }
    }
    let mut installed: Vec<PathBuf> = std::fs::read_dir(root.join(install_dir))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().join(super::DBT_PROJECT_FILE).is_file())
                .map(|e| install_dir.join(e.file_name()))
                .collect()
        })
        .unwrap_or_default();
    installed.sort();
    for dir in installed {
        match read_package(root, &dir, diags) {
            // A local package that `deps` also linked here is read once.
            Ok(p) if out.iter().any(|o| o.name == p.name) => {}
            Ok(p) => out.push(p),
            Err(why) => diags.push(
                Diagnostic::error(
                    Code::FileUnreadable,
                    format!("package in {}: {why}", display_path(&dir)),
                )
                .at(Span::file(dir.join(super::DBT_PROJECT_FILE))),
            ),
        }
    }
    for d in declared.iter().filter(|d| d.kind != "local") {
        let last = d
            .source
            .trim_end_matches(".git")
            .rsplit(['/', ':'])
            .next()
            .unwrap_or("");
        let present = out.iter().any(|p| {
            p.name == last
                || p.dir
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy() == last)
        });
        if !present {
            diags.push(not_installed(d, install_dir));
        }
    }
    out
}

/// How a kind of declaration is called in messages.
pub fn kind_name(kind: &str) -> &'static str {
    match kind {
        "local" => "local",
        "package" => "hub",
        "git" => "git",
        _ => "tarball",
    }
}

/// A hub, git or tarball package that is not in the packages folder.
pub fn not_installed(d: &Declared, install_dir: &Path) -> Diagnostic {
    Diagnostic::error(
        Code::UnknownResource,
        format!(
            "{} package `{}` is not installed in {}/",
            kind_name(d.kind),
            d.source,
            display_path(install_dir)
        ),
    )
    .at(d.span.clone())
    .with_help(format!(
        "strata does not download packages (it has no access to dbt's hub or to git here): run `dbt deps` where there is a network, or copy the package into {}/",
        display_path(install_dir)
    ))
}

/// Reads a package's dbt_project.yml: its name, resource folders, folder configs and vars.
/// Other keys are the package's business.
fn read_package(root: &Path, dir: &Path, diags: &mut Diagnostics) -> Result<Package, String> {
    let file = dir.join(super::DBT_PROJECT_FILE);
    let text = std::fs::read_to_string(root.join(&file))
        .map_err(|e| format!("cannot read {}: {e}", display_path(&file)))?;
    let node = yaml::parse(&text, &file).map_err(|d| d.message)?;
    let get = |key: &str| {
        node.as_map()
            .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some(key)))
            .map(|(_, v)| v)
    };
    let name = get("name")
        .and_then(Node::as_str)
        .filter(|n| super::is_identifier(n))
        .ok_or_else(|| format!("{} has no valid `name`", display_path(&file)))?
        .to_string();
    let paths = |key: &str, default: &str, diags: &mut Diagnostics| match get(key) {
        Some(n) => yaml::expect_string_list(n, &file, key, diags)
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        None => vec![PathBuf::from(default)],
    };
    let macro_paths = paths("macro-paths", "macros", diags);
    let model_paths = paths("model-paths", "models", diags);
    let seed_paths = paths("seed-paths", "seeds", diags);
    let tree = |key: &str, scope, diags: &mut Diagnostics| match get(key) {
        Some(n) => super::read_config_root(n, &file, &name, scope, diags),
        None => ConfigTree::default(),
    };
    let model_configs = tree("models", ConfigScope::Model, diags);
    let seed_configs = tree("seeds", ConfigScope::Seed, diags);
    let vars = match get("vars") {
        Some(n) => super::scoped_vars(n, &file, &name, diags),
        None => BTreeMap::new(),
    };
    let docs_paths = match get("docs-paths") {
        Some(n) => yaml::expect_string_list(n, &file, "docs-paths", diags)
            .into_iter()
            .map(PathBuf::from)
            .collect(),
        None => [&model_paths, &seed_paths, &macro_paths]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
    };
    Ok(Package {
        name,
        dir: dir.to_path_buf(),
        macro_paths,
        model_paths,
        seed_paths,
        model_configs,
        seed_configs,
        vars,
        docs_paths,
    })
}
