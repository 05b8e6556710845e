//! `strata run-operation MACRO --args '{...}'`: calls a macro of the project with keyword
//! arguments; what it sends through `run_query()` runs while it renders, as in dbt, and the
//! SQL it outputs runs after, statement by statement, as hooks do (dbt throws the output
//! away). The macro is rendered with the whole project compiled, so its `ref()`/`source()`
//! calls resolve as a model's do, with `execute` true as dbt sets it; its `log()` lines are
//! printed. `statement` blocks and `adapter.get_relation` are not supported.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use minijinja::Value;
use serde_json::Value as J;

use super::run_query::{self, Session};
use super::{ExitStatus, Output, compile_project, count, parse_mapping};
use crate::cli::{CompileArgs, GlobalArgs};
use crate::compile::Compiled;
use crate::compile::adhoc::{self, AdhocKind};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, display_path, suggest};
use crate::jinja::Renderer;

/// The name the call is rendered under (in diagnostics).
const CALL_FILE: &str = "run-operation";
/// What the call template writes before a value the macro gave with `return()` that is not
/// text: there is nothing to run then.
const RETURNED: &str = "__strata_returned__:";

/// Runs `strata run-operation`.
pub fn run(
    global: &GlobalArgs,
    args: &CompileArgs,
    name: &str,
    macro_args: Option<&str>,
) -> Result<ExitStatus> {
    let out = Output::new(global);
    let kwargs = match macro_args
        .map(|t| parse_mapping(t, "--args", "--args '{role: reporter, days: 7}'"))
        .transpose()
    {
        Ok(k) => k.unwrap_or_default(),
        Err(d) => return Ok(invalid(&out, &global.project_dir, d)),
    };
    let Some(c) = compile_project(global, args, false, &out)? else {
        return Ok(ExitStatus::Error);
    };
    let session = Session::new(&c, super::notices(&out));
    let sql = match render(&c, name, &kwargs, &session) {
        Ok(r) => r,
        Err(diags) => {
            out.diagnostics(&diags, &c.project.root);
            // The database refusing a `run_query()` is a failure, not an invalid project.
            return Ok(match session.failure() {
                Some(_) => ExitStatus::Failure,
                None => ExitStatus::Error,
            });
        }
    };
    for line in &sql.logs {
        out.event(
            &format!("[{name}] {line}"),
            serde_json::json!({"event": "log", "node": name, "message": line}),
        );
    }
    if global.warn_error
        && let Some(w) = sql.logs.iter().find_map(|l| l.strip_prefix("warning: "))
    {
        let d = Diagnostic::error(Code::CompilerErrorRaised, format!("exceptions.warn(): {w}"))
            .at(Span::file(CALL_FILE))
            .with_note("a warning, made an error by --warn-error; nothing was run");
        return Ok(invalid(&out, &c.project.root, d));
    }
    if let Some(value) = sql.sql.strip_prefix(RETURNED) {
        out.event(
            &format!("`{name}` returned {value}, which is not SQL: nothing to run"),
            serde_json::json!({"event": "operation_finished", "macro": name, "returned": value, "statements": 0}),
        );
        return Ok(ExitStatus::Success);
    }
    let statements = crate::sql::split_statements(&sql.sql, c.target.info.kind);
    Ok(execute(&c, &session, name, &statements, &out))
}

/// Prints one diagnostic; the invocation is invalid.
fn invalid(out: &Output, root: &Path, d: Diagnostic) -> ExitStatus {
    let mut diags = Diagnostics::new();
    diags.push(d);
    out.diagnostics(&diags, root);
    ExitStatus::Error
}

/// Renders the call of macro `name` with `kwargs`; `run_query()` runs on `session`.
fn render(
    c: &Compiled,
    name: &str,
    kwargs: &BTreeMap<String, J>,
    session: &Arc<Session>,
) -> Result<adhoc::AdhocSql, Diagnostics> {
    let sources = adhoc::macro_sources(&c.project);
    let mut ignored = Diagnostics::new();
    let mut renderer = Renderer::new(&c.project, &c.target.info, &sources, &mut ignored);
    renderer.add_global("execute", Value::from(true));
    renderer.add_global("run_query", run_query::function(session.clone()));
    let mut diags = Diagnostics::new();
    if let Some(d) = unknown_macro(c, &renderer, name) {
        diags.push(d);
        return Err(diags);
    }
    if let Some(d) = unknown_parameter(c, &renderer, name, kwargs) {
        diags.push(d);
        return Err(diags);
    }
    let template = call_template(name, kwargs).map_err(|d| {
        diags.push(d);
        diags
    })?;
    adhoc::render(
        c,
        &renderer,
        Path::new(CALL_FILE),
        &template,
        AdhocKind::Statements,
    )
    .map_err(|mut diags| {
        let note = format!("while calling `{name}` for run-operation");
        let mut noted = Diagnostics::new();
        noted.extend(
            diags
                .items()
                .iter()
                .map(|d| d.clone().with_note(note.clone())),
        );
        diags = noted;
        diags
    })
}

/// S201 when the project defines no macro `name` (nor variants that dispatch under it).
fn unknown_macro(c: &Compiled, renderer: &Renderer, name: &str) -> Option<Diagnostic> {
    let macros = renderer.macros();
    let dispatched = ["duckdb__", "postgres__", "default__"]
        .iter()
        .any(|p| macros.contains_key(&format!("{p}{name}")));
    if macros.contains_key(name) || dispatched {
        return None;
    }
    let own: Vec<&str> = macros
        .iter()
        .filter(|(_, file)| c.project.macro_files.iter().any(|f| &f.path == *file))
        .map(|(m, _)| m.as_str())
        .filter(|m| !m.contains("__") && !m.starts_with("test_"))
        .collect();
    let help = suggest(name, macros.keys().map(String::as_str)).unwrap_or_else(|| {
        if own.is_empty() {
            format!(
                "define it in a file under {}: {{% macro {name}() %}}...{{% endmacro %}}",
                c.project
                    .paths
                    .macros
                    .iter()
                    .map(|p| display_path(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!("the project's macros: {}", own.join(", "))
        }
    });
    Some(
        Diagnostic::error(Code::JinjaError, format!("no macro is called `{name}`")).with_help(help),
    )
}

/// S201 when `--args` names a parameter the macro does not declare (unless it reads
/// `kwargs`, which takes any), at the macro's definition.
fn unknown_parameter(
    c: &Compiled,
    renderer: &Renderer,
    name: &str,
    kwargs: &BTreeMap<String, J>,
) -> Option<Diagnostic> {
    let file = renderer.macros().get(name)?;
    let text = &c.project.macro_files.iter().find(|f| &f.path == file)?.text;
    let (line, params, body) = macro_signature(text, name)?;
    if body.contains("kwargs") {
        return None;
    }
    let (k, _) = kwargs.iter().find(|(k, _)| !params.contains(k))?;
    let help =
        suggest(k, params.iter().map(String::as_str)).unwrap_or_else(|| match params.len() {
            0 => format!("`{name}` takes no arguments: leave --args out"),
            _ => format!("its parameters: {}", params.join(", ")),
        });
    Some(
        Diagnostic::error(
            Code::JinjaError,
            format!("--args: macro `{name}` has no parameter `{k}`"),
        )
        .at(Span::line(file, line))
        .with_help(help),
    )
}

/// The 1-based line where `{% macro name(...) %}` is written in `text`, its parameter names,
/// and its body (up to the next `endmacro`).
fn macro_signature<'t>(text: &'t str, name: &str) -> Option<(usize, Vec<String>, &'t str)> {
    let mut from = 0;
    while let Some(at) = text[from..].find("macro").map(|i| from + i) {
        from = at + "macro".len();
        let rest = text[from..].trim_start();
        let Some(after) = rest.strip_prefix(name) else {
            continue;
        };
        let Some(params) = after.trim_start().strip_prefix('(') else {
            continue;
        };
        if !text[..at].trim_end().ends_with(['%', '-']) {
            continue;
        }
        let mut depth = 1;
        let mut quote: Option<char> = None;
        let mut names = Vec::new();
        let mut current = String::new();
        let mut end = params.len();
        for (i, ch) in params.char_indices() {
            match (quote, ch) {
                (Some(q), _) if ch == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(ch),
                (None, '(' | '[' | '{') => depth += 1,
                (None, ')' | ']' | '}') => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                (None, ',') if depth == 1 => names.push(std::mem::take(&mut current)),
                _ if depth == 1 => current.push(ch),
                _ => {}
            }
        }
        names.push(current);
        let names: Vec<String> = names
            .iter()
            .map(|p| p.split('=').next().unwrap_or("").trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        let body = &params[end..];
        let body = &body[..body.find("endmacro").unwrap_or(body.len())];
        let line = text[..at].matches('\n').count() + 1;
        return Some((line, names, body));
    }
    None
}

/// The template that calls the macro: its output is the SQL to run; a value it returned that
/// is not text is marked with `RETURNED`.
fn call_template(name: &str, kwargs: &BTreeMap<String, J>) -> Result<String, Diagnostic> {
    let mut args = Vec::new();
    for (k, v) in kwargs {
        let identifier = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(Diagnostic::error(
                Code::InvalidValue,
                format!("--args: `{k}` is not a keyword argument name"),
            )
            .with_help("use the macro's parameter names: letters, digits and `_`"));
        }
        args.push(format!("{k}={}", literal(v)));
    }
    Ok(format!(
        "{{%- set strata_result = {name}({}) -%}}\
         {{%- if strata_result is string -%}}{{{{ strata_result }}}}\
         {{%- elif strata_result is not none -%}}{RETURNED}{{{{ strata_result }}}}{{%- endif -%}}",
        args.join(", ")
    ))
}

/// A JSON value as a Jinja literal (JSON's string escapes are Jinja's too).
fn literal(v: &J) -> String {
    match v {
        J::Null => "none".into(),
        J::Bool(b) => b.to_string(),
        J::Number(n) => n.to_string(),
        J::String(s) => J::String(s.clone()).to_string(),
        J::Array(items) => format!(
            "[{}]",
            items.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
        J::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", J::String(k.clone()), literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs the statements in order, each committing on its own; the first failure stops the rest.
fn execute(
    c: &Compiled,
    session: &Session,
    name: &str,
    statements: &[(usize, String)],
    out: &Output,
) -> ExitStatus {
    let started = Instant::now();
    if statements.is_empty() {
        out.event(
            &format!("`{name}` rendered no SQL: nothing to run"),
            serde_json::json!({"event": "operation_finished", "macro": name, "statements": 0}),
        );
        return ExitStatus::Success;
    }
    if let Err(e) = session.with_conn(|_| Ok(())) {
        out.always(
            &format!("cannot open target `{}`: {e}", c.target.info.name),
            serde_json::json!({"event": "error", "message": e.message}),
        );
        return ExitStatus::Failure;
    }
    let total = statements.len();
    for (k, (_, sql)) in statements.iter().enumerate() {
        let t0 = Instant::now();
        let first = sql.lines().next().unwrap_or("").trim();
        let first = if sql.lines().nth(1).is_some() {
            format!("{first} ...")
        } else {
            first.to_string()
        };
        match session.with_conn(|conn| conn.execute(sql)) {
            Ok(rows) => out.event(
                &format!(
                    "{:>w$} of {total} OK  {first} [{} in {:.2}s]",
                    k + 1,
                    count(rows as usize, "row"),
                    t0.elapsed().as_secs_f64(),
                    w = total.to_string().len()
                ),
                serde_json::json!({"event": "statement_finished", "index": k + 1, "total": total,
                    "sql": sql, "rows_affected": rows}),
            ),
            Err(e) => {
                let applied = match k {
                    0 => "nothing was applied".to_string(),
                    1 => "the statement before it was applied".to_string(),
                    _ => format!("the {k} statements before it were applied"),
                };
                out.always(
                    &format!(
                        "ERROR: statement {} of {total} of `{name}` failed: {e}\n  {first}\n  {applied}; the ones after it did not run",
                        k + 1
                    ),
                    serde_json::json!({"event": "error", "macro": name, "index": k + 1, "total": total,
                        "sql": sql, "message": e.message}),
                );
                return ExitStatus::Failure;
            }
        }
    }
    out.event(
        &format!(
            "Ran {} of `{name}` on target `{}` in {:.2}s",
            count(total, "statement"),
            c.target.info.name,
            started.elapsed().as_secs_f64()
        ),
        serde_json::json!({"event": "operation_finished", "macro": name, "statements": total,
            "elapsed_time": started.elapsed().as_secs_f64()}),
    );
    ExitStatus::Success
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_become_jinja_literals() {
        let v: J = serde_json::json!({"a": [1, 2.5, true, null], "b": "it's \"x\"\n"});
        assert_eq!(
            literal(&v),
            r#"{"a": [1, 2.5, true, none], "b": "it's \"x\"\n"}"#
        );
    }

    #[test]
    fn a_macro_signature_gives_its_parameters() {
        let text = "{# x #}\n{% macro other(a) %}{% endmacro %}\n{%- macro grant(role, \
                    schemas=['a', 'b,c'], f=g(1, 2)) -%}\ngrant {{ role }}\n{%- endmacro %}";
        let (line, params, body) = macro_signature(text, "grant").unwrap();
        assert_eq!(line, 3);
        assert_eq!(params, vec!["role", "schemas", "f"]);
        assert!(body.contains("grant {{ role }}") && !body.contains("other"));
        assert_eq!(macro_signature(text, "other").unwrap().1, vec!["a"]);
        assert!(macro_signature(text, "gran").is_none());
    }

    #[test]
    fn an_argument_name_must_be_an_identifier() {
        let mut kwargs = BTreeMap::new();
        kwargs.insert("not-a-name".to_string(), J::from(1));
        assert!(call_template("m", &kwargs).is_err());
        kwargs.clear();
        kwargs.insert("days".to_string(), J::from(7));
        assert!(call_template("m", &kwargs).unwrap().contains("m(days=7)"));
    }
}
