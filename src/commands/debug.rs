//! `strata debug`: checks the project and the target connection, one line per check, and says
//! what is wrong.

use anyhow::Result;

use super::{ExitStatus, Output, compile_project};
use crate::cli::{CompileArgs, GlobalArgs};

/// Runs `strata debug`.
pub fn run(global: &GlobalArgs, args: &CompileArgs) -> Result<ExitStatus> {
    let out = Output::new(global);
    // A failed check is an error: it prints with --quiet too.
    let check = |ok: bool, what: &str, detail: &str| {
        let print = |text: &str, json| match ok {
            true => out.event(text, json),
            false => out.always(text, json),
        };
        print(
            &format!(
                "{} {what}{}",
                if ok { "OK   " } else { "ERROR" },
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                }
            ),
            serde_json::json!({"event": "check", "ok": ok, "check": what, "detail": detail}),
        );
    };
    out.event(
        &format!(
            "strata {} in {}",
            env!("CARGO_PKG_VERSION"),
            global.project_dir.display()
        ),
        serde_json::json!({"event": "debug", "version": env!("CARGO_PKG_VERSION")}),
    );
    let Some(c) = compile_project(global, args, false, &out)? else {
        check(
            false,
            "project",
            "the project does not compile (diagnostics above)",
        );
        return Ok(ExitStatus::Error);
    };
    check(
        true,
        "project",
        &format!(
            "`{}` compiles: {}",
            c.project.name,
            super::count(c.nodes.len(), "node")
        ),
    );
    let where_ = match (&c.target.path, &c.target.dsn) {
        (Some(p), _) => format!("file {}", p.display()),
        (None, Some(dsn)) => (crate::adapter::engine::engine(c.target.info.kind).redact)(dsn),
        _ => String::new(),
    };
    check(
        true,
        "target",
        &format!(
            "`{}` ({}), schema `{}`, {}, {where_}",
            c.target.info.name,
            c.target.info.kind.as_str(),
            c.target.info.schema,
            super::count(c.target.info.threads as usize, "thread")
        ),
    );
    let adapter = match crate::adapter::open(&c.target, &c.project.root, true, super::notices(&out))
    {
        Ok(a) => a,
        Err(e) => {
            check(false, "connection", &e.message);
            return Ok(ExitStatus::Failure);
        }
    };
    let result = adapter
        .connect()
        .and_then(|mut conn| conn.query("select 1"));
    match result {
        Ok(rows)
            if rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .as_deref()
                == Some("1") =>
        {
            check(true, "connection", "`select 1` answered")
        }
        Ok(_) => {
            check(
                false,
                "connection",
                "`select 1` returned an unexpected result",
            );
            return Ok(ExitStatus::Failure);
        }
        Err(e) => {
            check(false, "connection", &e.message);
            return Ok(ExitStatus::Failure);
        }
    }
    Ok(ExitStatus::Success)
}
