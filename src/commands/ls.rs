//! `strata ls`: the selected nodes, one per line (or JSON).

use anyhow::Result;

use super::{ExitStatus, Output, compile_project, select_nodes};
use crate::cli::{CompileArgs, GlobalArgs, LsOutput, SelectArgs};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, display_path, suggest};
use crate::ir::ResourceType;

/// Runs `strata ls`.
pub fn run(
    global: &GlobalArgs,
    args: &CompileArgs,
    sel: &SelectArgs,
    output: LsOutput,
    types: &[String],
) -> Result<ExitStatus> {
    let out = Output::new(global);
    let known: Vec<&str> = ResourceType::ALL.iter().map(|r| r.as_str()).collect();
    for t in types {
        if !known.contains(&t.as_str()) {
            let mut d = Diagnostics::new();
            d.push(
                Diagnostic::error(
                    Code::InvalidSelector,
                    format!("unknown resource type `{t}`"),
                )
                .with_help_opt(suggest(t, known.iter().copied())),
            );
            out.diagnostics(&d, &global.project_dir);
            return Ok(ExitStatus::Error);
        }
    }
    let Some(c) = compile_project(global, args, false, &out)? else {
        return Ok(ExitStatus::Error);
    };
    let Some(selected) = select_nodes(&c, sel, &out) else {
        return Ok(ExitStatus::Error);
    };
    let mut lines = Vec::new();
    for i in selected {
        let n = &c.nodes[i];
        if !types.is_empty() && !types.iter().any(|t| t == n.resource_type.as_str()) {
            continue;
        }
        lines.push(match output {
            LsOutput::Selector => match &n.source {
                Some(s) => format!("source:{}.{}.{}", c.project.name, s.source_name, n.name),
                None => n.fqn.join("."),
            },
            LsOutput::Name => n.name.clone(),
            LsOutput::Id => n.unique_id.clone(),
            LsOutput::Path => display_path(&n.original_file_path),
            LsOutput::Json => serde_json::json!({
                "unique_id": n.unique_id,
                "name": n.name,
                "resource_type": n.resource_type,
                "original_file_path": display_path(&n.original_file_path),
                "materialized": n.materialized().as_str(),
                "tags": n.config.tags,
                "depends_on": n.depends_on,
            })
            .to_string(),
        });
    }
    // A reader that stops early (`strata ls | head`) ends the listing, quietly.
    for line in &lines {
        if !super::print_line(line) {
            break;
        }
    }
    Ok(ExitStatus::Success)
}
