//! `strata clean`: removes strata's artifacts directory, and nothing else (not cargo's
//! `target/`, not the warehouse database).

use std::path::Component;

use anyhow::{Context, Result};

use super::{ExitStatus, Output};
use crate::cli::GlobalArgs;

/// Runs `strata clean`.
pub fn run(global: &GlobalArgs) -> Result<ExitStatus> {
    let out = Output::new(global);
    let project = match crate::project::load(&global.project_dir, &Default::default()) {
        Ok((p, _)) => p,
        Err(d) => {
            out.diagnostics(&d, &global.project_dir);
            return Ok(ExitStatus::Error);
        }
    };
    let rel = &project.paths.artifacts;
    // Only a folder strictly inside the project, never the project itself or anything above it.
    let safe = !rel.as_os_str().is_empty()
        && rel.components().all(|c| matches!(c, Component::Normal(_)))
        && rel != std::path::Path::new("target");
    if !safe {
        anyhow::bail!(
            "refusing to clean `{}`: artifacts-path must be a folder inside the project",
            rel.display()
        );
    }
    let dir = project.root.join(rel);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
        out.event(
            &format!("removed {}", crate::diagnostics::display_path(rel)),
            serde_json::json!({"event": "cleaned", "dir": crate::diagnostics::display_path(rel)}),
        );
    } else {
        out.event(
            &format!(
                "nothing to clean: {} does not exist",
                crate::diagnostics::display_path(rel)
            ),
            serde_json::json!({"event": "cleaned", "dir": null}),
        );
    }
    Ok(ExitStatus::Success)
}
