//! `strata lineage send`, and the wiring of OpenLineage events into `seed`/`run`/`test`/`build`:
//! the settings resolved from project.yml, `openlineage.yml` and the `OPENLINEAGE_*`
//! variables; the emitter started before the first node and finished after the last; one
//! warning when events were kept for later.

use anyhow::Result;

use super::{ExitStatus, Output, count};
use crate::adapter::naming;
use crate::cli::{GlobalArgs, LineageAction, LineageArgs};
use crate::compile::Compiled;
use crate::execute::NodeResult;
use crate::lineage::{self, Emitter, config};

/// Runs `strata lineage ...`.
pub fn run(global: &GlobalArgs, args: &LineageArgs) -> Result<ExitStatus> {
    match args.action {
        Some(LineageAction::Send) | None => send(global),
    }
}

/// Delivers the events kept in the spool, in order, and removes those delivered.
fn send(global: &GlobalArgs) -> Result<ExitStatus> {
    let out = Output::new(global);
    let Some(project) = super::load_project(global, &out) else {
        return Ok(ExitStatus::Error);
    };
    let spool = lineage::spool_path(&project.root.join(&project.paths.artifacts));
    let settings = match config::resolve(
        &project.name,
        &project.root,
        project.lineage.as_ref(),
        &config::Env::current(),
    ) {
        Ok(Some(s)) => s,
        Ok(None) => {
            out.always(
                "no OpenLineage transport is configured (project.yml `lineage:`, openlineage.yml or OPENLINEAGE_URL), or OPENLINEAGE_DISABLED is set: nothing sent",
                serde_json::json!({"event": "error", "message": "no lineage transport configured"}),
            );
            return Ok(ExitStatus::Error);
        }
        Err(e) => {
            out.always(
                &format!("lineage configuration: {e}"),
                serde_json::json!({"event": "error", "message": e}),
            );
            return Ok(ExitStatus::Error);
        }
    };
    let mut sink = match lineage::transport::Sink::open(&settings.transport) {
        Ok(s) => s,
        Err(e) => {
            out.always(
                &format!("cannot open the lineage transport: {e}"),
                serde_json::json!({"event": "error", "message": e}),
            );
            return Ok(ExitStatus::Failure);
        }
    };
    match lineage::sender::send_spool(&mut sink, &spool) {
        Ok(0) => {
            out.event(
                "no lineage events are kept: nothing to send",
                serde_json::json!({"event": "lineage_sent", "sent": 0, "left": 0}),
            );
            Ok(ExitStatus::Success)
        }
        Ok(n) => {
            out.event(
                &format!("delivered {}", count(n, "lineage event")),
                serde_json::json!({"event": "lineage_sent", "sent": n, "left": 0}),
            );
            Ok(ExitStatus::Success)
        }
        Err(lineage::sender::SpoolError::Delivery { sent, left, error }) => {
            let left = left.unwrap_or_else(|| kept_events(&spool));
            out.always(
                &format!(
                    "delivered {}; {} still kept: {error}",
                    count(sent, "lineage event"),
                    left
                ),
                serde_json::json!({"event": "lineage_sent", "sent": sent, "left": left, "error": error}),
            );
            Ok(ExitStatus::Failure)
        }
        Err(lineage::sender::SpoolError::Io(e)) => {
            out.always(&e, serde_json::json!({"event": "error", "message": e}));
            Ok(ExitStatus::Failure)
        }
    }
}

/// How many events the spool holds.
fn kept_events(spool: &std::path::Path) -> usize {
    use std::io::BufRead;
    std::fs::File::open(spool)
        .map(|f| {
            std::io::BufReader::new(f)
                .split(b'\n')
                .filter(|l| l.as_ref().is_ok_and(|l| !l.trim_ascii().is_empty()))
                .count()
        })
        .unwrap_or(0)
}

/// Starts the events of an invocation of `command` when lineage is configured; a problem with
/// the configuration is a warning, never a failed run.
pub(super) fn start<'c>(c: &'c Compiled, command: &str, out: &Output) -> Option<Emitter<'c>> {
    let settings = match config::resolve(
        &c.project.name,
        &c.project.root,
        c.project.lineage.as_ref(),
        &config::Env::current(),
    ) {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => {
            warn(out, &format!("no lineage events: {e}"));
            return None;
        }
    };
    let location = naming::dataset_location(&c.target, &c.project.root);
    let names = lineage::Naming {
        namespace: location.namespace,
        database: location.database,
        dialect: c.target.info.kind.as_str().to_string(),
    };
    let spool = lineage::spool_path(&crate::artifacts::artifacts_dir(c));
    let secrets = naming::target_secrets(&c.target);
    match Emitter::start(c, &settings, names, command, spool, secrets) {
        Ok(e) => Some(e),
        Err(e) => {
            warn(out, &format!("no lineage events: {e}"));
            None
        }
    }
}

/// Ends the invocation's events; says once if some were kept for `strata lineage send`.
pub(super) fn finish(
    emitter: Option<Emitter>,
    results: &[NodeResult],
    interrupted: bool,
    out: &Output,
) {
    let Some(e) = emitter else { return };
    let d = e.finish(results, interrupted);
    if d.kept > 0 {
        warn(
            out,
            &format!(
                "{} kept; `strata lineage send` delivers them{}",
                count(d.kept, "lineage event"),
                d.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
        );
    }
    if d.lost > 0 {
        warn(
            out,
            &format!(
                "{} could not be delivered nor kept: {}",
                count(d.lost, "lineage event"),
                d.error.as_deref().unwrap_or("unknown error")
            ),
        );
    }
}

fn warn(out: &Output, text: &str) {
    if out.is_json() {
        out.always(
            text,
            serde_json::json!({"event": "warning", "message": text}),
        );
    } else {
        eprintln!("warning: {text}");
    }
}
