//! `strata compile`: compiled SQL per selected model and test, and the manifest.

use std::time::Instant;

use anyhow::Result;

use super::{ExitStatus, Output, compile_project, count, select_nodes};
use crate::cli::{CompileArgs, GlobalArgs, SelectArgs};

/// Runs `strata compile`.
pub fn run(global: &GlobalArgs, args: &CompileArgs, sel: &SelectArgs) -> Result<ExitStatus> {
    let out = Output::new(global);
    let start = Instant::now();
    let Some(c) = compile_project(global, args, true, &out)? else {
        return Ok(ExitStatus::Error);
    };
    let Some(selected) = select_nodes(&c, sel, &out) else {
        return Ok(ExitStatus::Error);
    };
    crate::timing::mark("compile");
    // The compiled files and the manifest are written side by side.
    let (written, manifest) = rayon::join(
        || crate::artifacts::write_compiled(&c, &selected),
        || crate::artifacts::write_manifest(&c, true),
    );
    let (written, manifest) = (written?, manifest?);
    crate::timing::mark("write_artifacts");
    let dir = crate::artifacts::artifacts_dir(&c)
        .join("compiled")
        .join(&c.target.info.name);
    let shown = crate::artifacts::shown(&c.project.root, &dir);
    out.event(
        &format!(
            "compiled {written} of {} for target `{}` ({}) in {:.2}s into {shown}; manifest: {}",
            count(c.nodes.len(), "node"),
            c.target.info.name,
            c.target.info.kind.as_str(),
            start.elapsed().as_secs_f64(),
            crate::artifacts::shown(&c.project.root, &manifest)
        ),
        serde_json::json!({"event": "compiled", "files": written, "nodes": c.nodes.len(), "target": c.target.info.name, "dir": shown}),
    );
    // The compiled project is about to be dropped as the process ends: freeing millions of
    // small allocations one by one costs a measurable share of a large compile, so leave it to
    // the OS.
    std::mem::forget(c);
    Ok(ExitStatus::Success)
}
