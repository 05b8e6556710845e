//! Stage `hooks`: the project's `on-run-start` and `on-run-end` statements, rendered with the
//! global context.

use super::context::Context;
use crate::diagnostics::Diagnostics;
use crate::jinja;

/// The rendered run hooks.
pub struct RunHooks {
    /// `on-run-start`.
    pub on_run_start: Vec<String>,
    /// `on-run-end`.
    pub on_run_end: Vec<String>,
}

/// Renders the project's run hooks.
pub fn run_hooks(ctx: &Context, diags: &mut Diagnostics) -> RunHooks {
    let mut rendered: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for (k, list) in [&ctx.project.on_run_start, &ctx.project.on_run_end]
        .into_iter()
        .enumerate()
    {
        for h in list {
            let file = crate::diagnostics::display_path(&ctx.project.file);
            match ctx.renderer.render_str(&file, h) {
                Ok(t) => rendered[k].push(t),
                Err(e) => diags.push(
                    jinja::jinja_diagnostic(&e, &ctx.project.file, None, ctx.sources())
                        .with_note(format!("in hook `{h}`")),
                ),
            }
        }
    }
    let [on_run_start, on_run_end] = rendered;
    RunHooks {
        on_run_start,
        on_run_end,
    }
}
