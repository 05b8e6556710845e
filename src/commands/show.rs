//! `strata show`: the first rows of one node, or of an inline query, from the target, as a
//! table or JSON. Nothing is built: a model's compiled query runs inside
//! `select * from (...) limit N` on a read-only connection; a seed or a source is read from its
//! relation; a data test shows its failing rows.

use std::path::Path;

use anyhow::Result;
use serde_json::Value as J;

use super::{ExitStatus, Output, compile_project};
use crate::adapter::engine::TypeFamily;
use crate::cli::{CompileArgs, GlobalArgs, ShowOutput};
use crate::compile::Compiled;
use crate::compile::adhoc::{self, AdhocKind};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span};
use crate::graph::select::IndirectSelection;
use crate::ir::{ColumnMeta, CompiledNode, ResourceType};
use crate::rows::{family, json_value, table};

/// What to show, from the command line.
pub struct What<'a> {
    /// `--select`: the node.
    pub select: &'a [String],
    /// `--inline`: a query instead.
    pub inline: Option<&'a str>,
    /// `--limit` (negative: every row).
    pub limit: i64,
    /// `--output`.
    pub output: ShowOutput,
}

/// The query to preview and what it previews.
struct Preview {
    /// `model customers`, `inline query`.
    label: String,
    /// The node's id; none for an inline query.
    unique_id: Option<String>,
    /// The query, limited.
    sql: String,
    /// A model whose template runs queries as it renders (by index) and the limit: its SQL
    /// is settled on the connection first, as a run does (`commands::late`).
    late: Option<(usize, i64)>,
}

/// Runs `strata show`.
pub fn run(global: &GlobalArgs, args: &CompileArgs, what: &What) -> Result<ExitStatus> {
    let out = Output::new(global);
    let Some(c) = compile_project(global, args, false, &out)? else {
        return Ok(ExitStatus::Error);
    };
    let preview = match what.inline {
        Some(sql) => inline_preview(&c, sql, what.limit, &out),
        None => node_preview(&c, what.select, what.limit),
    };
    let preview = match preview {
        Ok(p) => p,
        Err(diags) => {
            out.diagnostics(&diags, &c.project.root);
            return Ok(ExitStatus::Error);
        }
    };
    let fetched = super::run::open_adapter(&c, true, &out).and_then(|adapter| {
        let mut conn = adapter.connect()?;
        let sql = match preview.late {
            Some((i, limit)) => {
                use crate::execute::LateCompile;
                let late = super::late::Late::new(&c, &[i], false);
                let node = late.settle(conn.as_mut(), &c.nodes[i])?;
                limited(node.compiled_code.as_deref().unwrap_or(""), limit)
            }
            None => preview.sql.clone(),
        };
        let columns = conn.describe(&sql)?;
        let rows = conn.query(&sql)?;
        Ok((columns, rows))
    });
    let (columns, rows) = match fetched {
        Ok(x) => x,
        Err(e) => {
            let help = if e.message.to_lowercase().contains("does not exist") {
                "\n  help: build what it reads first (`strata build -s +NAME`), or check the target (-t)"
            } else {
                ""
            };
            out.always(
                &format!("cannot preview {}: {e}{help}", preview.label),
                serde_json::json!({"event": "error", "message": e.message}),
            );
            return Ok(ExitStatus::Failure);
        }
    };
    print_rows(&out, what, &preview, &columns, &rows);
    Ok(ExitStatus::Success)
}

/// `sql` with at most `limit` rows (every row when `limit` is negative).
fn limited(sql: &str, limit: i64) -> String {
    let body = sql.trim_end().trim_end_matches(';').trim_end();
    let mut q = format!("select * from (\n{body}\n) as strata_show");
    if limit >= 0 {
        q.push_str(&format!(" limit {limit}"));
    }
    q
}

/// The preview of `--inline`: rendered with the project's macros, `ref()`/`source()` resolved.
fn inline_preview(
    c: &Compiled,
    sql: &str,
    limit: i64,
    out: &Output,
) -> Result<Preview, Diagnostics> {
    let file = Path::new("--inline");
    let sources = adhoc::macro_sources(&c.project);
    let mut ignored = Diagnostics::new();
    let renderer = crate::jinja::Renderer::new(&c.project, &c.target.info, &sources, &mut ignored);
    let r = adhoc::render(c, &renderer, file, sql, AdhocKind::Query)?;
    for line in &r.logs {
        out.event(
            &format!("[--inline] {line}"),
            serde_json::json!({"event": "log", "node": "--inline", "message": line}),
        );
    }
    let mut diags = Diagnostics::new();
    if crate::sql::second_statement(&r.sql, c.target.info.kind).is_some() {
        diags.push(
            Diagnostic::error(
                Code::SeveralStatements,
                "--inline holds more than one statement: show previews one query",
            )
            .at(Span::file(file))
            .with_help("give one `select` (a trailing `;` is fine); to run statements, put them in a macro and use `strata run-operation`"),
        );
    } else if r.sql.trim().trim_end_matches(';').trim().is_empty() {
        diags.push(
            Diagnostic::error(Code::EmptyModel, "--inline holds no query")
                .at(Span::file(file))
                .with_help("give a query, e.g. --inline \"select * from {{ ref('orders') }}\""),
        );
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Preview {
        label: "inline query".into(),
        unique_id: None,
        sql: limited(&r.sql, limit),
        late: None,
    })
}

/// The preview of the one node `select` names.
fn node_preview(c: &Compiled, select: &[String], limit: i64) -> Result<Preview, Diagnostics> {
    let picked =
        crate::graph::select::select(&c.dag, &c.nodes, select, &[], IndirectSelection::Empty)?;
    let flags: Vec<String> = select.iter().map(|s| format!("-s {s}")).collect();
    let flags = flags.join(" ");
    let unfit = |message: String, help: String| {
        let mut d = Diagnostics::new();
        d.push(Diagnostic::error(Code::SelectorMatchesNothing, message).with_help(help));
        d
    };
    let [i] = picked.as_slice() else {
        let names: Vec<&str> = picked
            .iter()
            .take(5)
            .map(|&i| c.nodes[i].name.as_str())
            .collect();
        let more = if picked.len() > 5 { ", ..." } else { "" };
        return Err(unfit(
            format!(
                "`{flags}` selects {} ({}{more}): `strata show` previews one node",
                super::count(picked.len(), "node"),
                names.join(", ")
            ),
            format!("select the one node by name (`strata ls {flags}` lists what this selects)"),
        ));
    };
    let n = &c.nodes[*i];
    let label = format!("{} {}", n.resource_type.as_str(), n.name);
    let sql = match preview_query(n) {
        Ok(sql) => sql,
        Err(why) => {
            return Err(unfit(
                format!("`{flags}` selects {label}, which `strata show` cannot preview: {why}"),
                "show previews a model, a seed, a source or a data test; `--inline` previews any query".into(),
            ));
        }
    };
    Ok(Preview {
        label,
        unique_id: Some(n.unique_id.clone()),
        sql: limited(&sql, limit),
        late: n.late_query.is_some().then_some((*i, limit)),
    })
}

/// The query whose rows preview `n`, or why there is none.
fn preview_query(n: &CompiledNode) -> Result<String, &'static str> {
    let code = || n.compiled_code.clone().ok_or("it has no compiled SQL");
    match n.resource_type {
        ResourceType::Model => code(),
        ResourceType::Test if n.test.as_ref().is_some_and(|t| t.unit.is_some()) => {
            Err("a unit test runs on given rows; `strata test -s NAME` runs it and shows its diff")
        }
        ResourceType::Test => code(),
        ResourceType::Seed | ResourceType::Source => n
            .relation
            .as_ref()
            .map(|r| format!("select * from {}", r.quoted()))
            .ok_or("it has no relation"),
        ResourceType::Exposure => Err("an exposure is a dashboard or an application, not a query"),
    }
}

/// Prints the rows: a table, or one JSON object.
fn print_rows(
    out: &Output,
    what: &What,
    preview: &Preview,
    columns: &[ColumnMeta],
    rows: &[Vec<Option<String>>],
) {
    let families: Vec<Option<TypeFamily>> = columns.iter().map(|c| family(&c.data_type)).collect();
    if out.is_json() || what.output == ShowOutput::Json {
        let objects: Vec<J> = rows
            .iter()
            .map(|row| {
                let mut m = serde_json::Map::new();
                for ((c, v), f) in columns.iter().zip(row).zip(&families) {
                    m.insert(c.name.clone(), json_value(v.as_deref(), *f));
                }
                J::Object(m)
            })
            .collect();
        let columns: Vec<J> = columns
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "data_type": c.data_type}))
            .collect();
        let doc = serde_json::json!({"event": "show", "node": preview.unique_id,
            "columns": columns, "rows": objects});
        super::print_line(&doc.to_string());
        return;
    }
    let limit = if what.limit >= 0 {
        format!("first {}", super::count(what.limit as usize, "row"))
    } else {
        "every row".into()
    };
    out.event(&format!("Previewing {} ({limit}):", preview.label), J::Null);
    super::print_line(&table(columns, rows, &families));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_limit_shows_every_row() {
        assert_eq!(
            limited("select 1;", -1),
            "select * from (\nselect 1\n) as strata_show"
        );
        assert_eq!(
            limited("select 1", 5),
            "select * from (\nselect 1\n) as strata_show limit 5"
        );
    }
}
