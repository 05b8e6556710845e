//! `strata parse`: validate the project and write the manifest.

use std::time::Instant;

use anyhow::Result;

use super::{ExitStatus, Output, compile_project};
use crate::cli::{CompileArgs, GlobalArgs};

/// Runs `strata parse`.
pub fn run(global: &GlobalArgs, args: &CompileArgs) -> Result<ExitStatus> {
    let out = Output::new(global);
    let start = Instant::now();
    let Some(c) = compile_project(global, args, false, &out)? else {
        return Ok(ExitStatus::Error);
    };
    let path = crate::artifacts::write_manifest(&c, false)?;
    let shown = crate::artifacts::shown(&c.project.root, &path);
    out.event(
        &format!(
            "parsed {} in {:.2}s; manifest: {shown}",
            super::count(c.nodes.len(), "node"),
            start.elapsed().as_secs_f64()
        ),
        serde_json::json!({"event": "parsed", "nodes": c.nodes.len(), "manifest": shown}),
    );
    Ok(ExitStatus::Success)
}
