//! `strata clean`: removes strata's artifacts directory (in a dbt project, its
//! `clean-targets`), and nothing else (not cargo's `target/`, not the warehouse database).

use std::path::{Component, Path};

use anyhow::{Context, Result};

use super::{ExitStatus, Output};
use crate::cli::GlobalArgs;
use crate::project::Flavor;

/// Runs `strata clean`.
pub fn run(global: &GlobalArgs) -> Result<ExitStatus> {
    let out = Output::new(global);
    let Some(project) = super::load_project(global, &out) else {
        return Ok(ExitStatus::Error);
    };
    for rel in &project.paths.clean {
        clean_one(&project.root, rel, project.flavor, &out)?;
    }
    Ok(ExitStatus::Success)
}

/// Removes one folder of the project.
fn clean_one(root: &Path, rel: &Path, flavor: Flavor, out: &Output) -> Result<()> {
    // Only a folder strictly inside the project, never the project itself or anything above
    // it; `target/` only in a dbt project, where it is dbt's (elsewhere it may be cargo's).
    let safe = !rel.as_os_str().is_empty()
        && rel.components().all(|c| matches!(c, Component::Normal(_)))
        && (flavor == Flavor::Dbt || rel != Path::new("target"));
    if !safe {
        anyhow::bail!(
            "refusing to clean `{}`: only a folder inside the project is removed",
            rel.display()
        );
    }
    let shown = crate::diagnostics::display_path(rel);
    let dir = root.join(rel);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
        out.event(
            &format!("removed {shown}"),
            serde_json::json!({"event": "cleaned", "dir": shown}),
        );
    } else {
        out.event(
            &format!("nothing to clean: {shown} does not exist"),
            serde_json::json!({"event": "cleaned", "dir": null}),
        );
    }
    Ok(())
}
