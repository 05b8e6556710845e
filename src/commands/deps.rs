//! `strata deps`: puts the packages that packages.yml (or dependencies.yml) declares into the
//! packages folder (`dbt_packages/`). A `local:` package is linked there. A hub, git or
//! tarball package is never downloaded (strata has no access to dbt's hub or to git here): when
//! it is already installed (by `dbt deps`, or copied by hand) it is reported as such, otherwise
//! it is an error that says how to get it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{ExitStatus, Output};
use crate::cli::GlobalArgs;
use crate::diagnostics::{Diagnostics, display_path};
use crate::project::packages;

/// Runs `strata deps`.
pub fn run(global: &GlobalArgs) -> Result<ExitStatus> {
    let out = Output::new(global);
    let root = global.project_dir.as_path();
    // Only the project file's paths are needed; problems elsewhere are for `parse` to report.
    let project = match crate::project::load(root, &Default::default()) {
        Ok((p, _)) => p,
        Err(d) => {
            out.diagnostics(&d, root);
            return Ok(ExitStatus::Error);
        }
    };
    let install_dir = project.paths.packages.clone();
    let mut diags = Diagnostics::new();
    let declared = packages::declared(root, &mut diags);
    if diags.has_errors() {
        out.diagnostics(&diags, root);
        return Ok(ExitStatus::Error);
    }
    if declared.is_empty() {
        out.event(
            "nothing to install: no packages.yml or dependencies.yml declares a package",
            serde_json::json!({"event": "deps", "installed": []}),
        );
        return Ok(ExitStatus::Success);
    }
    let mut missing = Diagnostics::new();
    for d in &declared {
        let line = if d.kind == "local" {
            link_local(root, &install_dir, &d.source)?
        } else {
            let installed = project
                .packages
                .iter()
                .find(|p| p.dir.starts_with(&install_dir) && named(p, &d.source));
            match installed {
                Some(p) => format!(
                    "{} package `{}` is installed in {}",
                    packages::kind_name(d.kind),
                    d.source,
                    display_path(&p.dir)
                ),
                None => {
                    missing.push(packages::not_installed(d, &install_dir));
                    continue;
                }
            }
        };
        out.event(
            &line,
            serde_json::json!({"event": "deps", "kind": d.kind, "source": d.source, "message": line}),
        );
    }
    if missing.has_errors() {
        out.diagnostics(&missing, root);
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
}

/// True when the installed package `p` is the one `source` names (its last path part).
fn named(p: &packages::Package, source: &str) -> bool {
    let last = source
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("");
    p.name == last
        || p.dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy() == last)
}

/// Links the local package at `source` (relative to the project) into the packages folder
/// under its name.
fn link_local(root: &Path, install_dir: &Path, source: &str) -> Result<String> {
    let name = package_name(root, Path::new(source))?;
    let link = root.join(install_dir).join(&name);
    let shown = display_path(&install_dir.join(&name));
    if link.exists() || link.symlink_metadata().is_ok() {
        return Ok(format!("local package `{name}` is installed in {shown}"));
    }
    std::fs::create_dir_all(root.join(install_dir))
        .with_context(|| format!("cannot create {}", root.join(install_dir).display()))?;
    // Relative to the link's folder, so that the project can move.
    let target: PathBuf = if Path::new(source).is_absolute() {
        PathBuf::from(source)
    } else {
        install_dir
            .components()
            .map(|_| "..")
            .collect::<PathBuf>()
            .join(source)
    };
    std::os::unix::fs::symlink(&target, &link)
        .with_context(|| format!("cannot link {} to {}", link.display(), target.display()))?;
    Ok(format!(
        "installed local package `{name}` in {shown} (a link to {source})"
    ))
}

/// The `name` in a package's dbt_project.yml.
fn package_name(root: &Path, dir: &Path) -> Result<String> {
    let file = root.join(dir).join(crate::project::DBT_PROJECT_FILE);
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "local package {}: cannot read {}",
            dir.display(),
            file.display()
        )
    })?;
    text.lines()
        .find_map(|l| l.strip_prefix("name:"))
        .map(|n| n.trim().trim_matches(['\'', '"']).to_string())
        .filter(|n| crate::project::is_identifier(n))
        .with_context(|| {
            format!(
                "local package {}: its dbt_project.yml has no valid `name`",
                dir.display()
            )
        })
}
