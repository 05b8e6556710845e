//! dbt's Jinja context beyond the node functions: `zip`, `modules.re`, `modules.datetime`
//! (fixed dates, never the clock: a compile is deterministic), `api.Relation.create`,
//! `execute`, and the queries a template runs while it renders: `run_query`, `statement`
//! (over whichever `run_query` the environment has), `store_result` and `load_result`.
//!
//! The compile is offline: `run_query` in a node's render answers what the run found
//! ([`QueryAnswers`]); a query with no answer stops the render ([`QueryAsked`]), which the
//! compiler renders again with `execute` false and leaves to the run (`ir::query`). Outside a
//! node's render (a description, `on-run-start`) a query is an error that says so.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use super::{RelationCall, ctx_error, relations_so_far, split_kwargs, with_rec};
use crate::diagnostics::Code;
use crate::ir::QueryAnswers;

/// Adds the context to `env`, with `run_query` answering from `answers`.
pub fn add(env: &mut Environment, answers: Arc<QueryAnswers>) {
    env.add_global("execute", Value::from(true));
    env.add_function("zip", zip);
    env.add_global("modules", Value::from_object(Modules));
    env.add_global("api", Value::from_object(Api));
    set_answers(env, answers);
    env.add_global("statement", Value::from_object(Statement));
    env.add_function("store_result", store_result);
    env.add_function("load_result", load_result);
}

/// Makes `run_query` answer from `answers`.
pub fn set_answers(env: &mut Environment, answers: Arc<QueryAnswers>) {
    env.add_function(
        "run_query",
        move |state: &State, sql: String| -> Result<Value, Error> {
            run_query(state, &answers, sql)
        },
    );
}

/// A query a node's render ran with no answer known: the error that stops the render.
#[derive(Clone, Debug)]
pub struct QueryAsked {
    /// The template being rendered.
    pub template: String,
    /// The SQL as the template passed it.
    pub text: String,
    /// The render's relations when it asked: what the placeholders in `text` stand for.
    pub relations: Vec<RelationCall>,
}

impl fmt::Display for QueryAsked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("run_query(): the query's answer is known only when the model runs")
    }
}

impl std::error::Error for QueryAsked {}

/// The query whose missing answer stopped a render, if that is what `e` is.
pub fn query_asked(e: &Error) -> Option<QueryAsked> {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(q) = s.downcast_ref::<QueryAsked>() {
            return Some(q.clone());
        }
        src = s.source();
    }
    None
}

/// `run_query(sql)` while a node renders: the rows the run found for it; with no answer yet,
/// none when `execute` is false, else the render stops and asks.
fn run_query(state: &State, answers: &QueryAnswers, sql: String) -> Result<Value, Error> {
    let Some((template, execute)) = with_rec(state, |r| (r.template.to_string(), r.execute)) else {
        return Err(needs_database("run_query"));
    };
    let key = (template, sql);
    if let Some(answer) = answers.get(&key) {
        return Ok(answer
            .clone()
            .map_or_else(|| Value::from(()), super::table::value));
    }
    if !execute {
        return Ok(Value::from(()));
    }
    let (template, text) = key;
    let asked = QueryAsked {
        template,
        text,
        relations: relations_so_far(state),
    };
    Err(Error::new(ErrorKind::InvalidOperation, asked.to_string()).with_source(asked))
}

/// `{% call statement(name=none, fetch_result=false, auto_begin=true, language='sql') %} SQL
/// {% endcall %}`: with `execute` true, runs the block's SQL as `run_query()` does and stores
/// it for `load_result(name)` (its rows with `fetch_result`).
#[derive(Debug)]
struct Statement;

impl Object for Statement {
    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        statement(state, args)
    }
}

fn statement(state: &mut State, args: &[Value]) -> Result<Value, Error> {
    let (pos, kw) = split_kwargs(args);
    let Some(kw) = kw else {
        return Err(statement_without_block());
    };
    let arg = |i: usize, key: &str| -> Result<Value, Error> {
        match pos.get(i) {
            Some(v) => Ok(v.clone()),
            None => Ok(kw.get::<Option<Value>>(key)?.unwrap_or_default()),
        }
    };
    let name = arg(0, "name")?;
    let fetch = arg(1, "fetch_result")?.is_true();
    arg(2, "auto_begin")?;
    arg(3, "language")?;
    let caller: Value = kw
        .get::<Option<Value>>("caller")?
        .ok_or_else(statement_without_block)?;
    kw.assert_all_used()?;
    if !state.lookup("execute").is_some_and(|v| v.is_true()) {
        return Ok(Value::from(""));
    }
    let sql = caller.call(state, &[])?.to_string();
    let run_query = state
        .lookup("run_query")
        .ok_or_else(|| needs_database("statement"))?;
    let table = run_query.call(state, &[Value::from(sql)])?;
    if name.is_none() || name.is_undefined() {
        return Ok(Value::from(""));
    }
    let table = if fetch { table } else { Value::from(()) };
    store(state, name.to_string(), Value::from("OK"), table)?;
    Ok(Value::from(""))
}

fn statement_without_block() -> Error {
    ctx_error(
        Code::JinjaError,
        "statement() is called as a block: {% call statement('name', fetch_result=true) %} SQL {% endcall %}".into(),
        None,
    )
}

/// `store_result(name, response=none, agate_table=none)`: what a `statement` block ran, for
/// `load_result(name)` later in the same render.
fn store_result(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let (pos, kw) = split_kwargs(&args.0);
    let get = |i: usize, key: &str| -> Result<Value, Error> {
        match (pos.get(i), &kw) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(kw)) => Ok(kw.get::<Option<Value>>(key)?.unwrap_or_default()),
            (None, None) => Ok(Value::from(())),
        }
    };
    let name = get(0, "name")?.to_string();
    let response = get(1, "response")?;
    let table = get(2, "agate_table")?;
    if let Some(kw) = &kw {
        kw.assert_all_used()?;
    }
    store(state, name, response, table)?;
    Ok(Value::from(""))
}

/// Keeps a statement's result for `load_result(name)`: `response`, `data`, `table`.
fn store(state: &State, name: String, response: Value, table: Value) -> Result<(), Error> {
    let data = super::table::data(&table);
    let stored = Value::from(BTreeMap::from([
        ("response", response),
        ("data", data),
        ("table", table),
    ]));
    with_rec(state, |r| r.results.lock().unwrap().insert(name, stored))
        .map(|_| ())
        .ok_or_else(|| needs_database("store_result"))
}

/// `load_result(name)`: what `statement(name, ...)` stored (`response`, `data`, `table`), or
/// none when it did not run (`execute` false).
fn load_result(state: &State, name: String) -> Result<Value, Error> {
    with_rec(state, |r| r.results.lock().unwrap().get(&name).cloned())
        .ok_or_else(|| needs_database("load_result"))
        .map(Option::unwrap_or_default)
}

/// The error for a context member that would query the database while compiling.
pub fn needs_database(what: &str) -> Error {
    ctx_error(
        Code::JinjaError,
        format!("`{what}` queries the database, which strata does only while a model or a test renders"),
        Some(
            "call it from a model's SQL (its queries run when the model runs), declare what it would look up (values in `vars:`, columns in the YAML), or run the macro with `strata run-operation`"
                .into(),
        ),
    )
}

/// `zip(a, b, ...)`: lists of the i-th items, as long as the shortest argument.
fn zip(args: Rest<Value>) -> Result<Value, Error> {
    let lists: Vec<Vec<Value>> = args
        .0
        .iter()
        .map(|v| v.try_iter().map(|it| it.collect()))
        .collect::<Result<_, _>>()?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

/// `modules`: `re` and `datetime`.
#[derive(Debug)]
struct Modules;

impl Object for Modules {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "re" => Some(Value::from_object(Re)),
            "datetime" => Some(Value::from_object(DateTimeModule)),
            _ => None,
        }
    }
}

/// Python's `re`, over Rust's regex syntax (no look-around or back-references).
#[derive(Debug)]
struct Re;

fn regex(pattern: &str) -> Result<regex::Regex, Error> {
    regex::Regex::new(pattern).map_err(|e| {
        ctx_error(
            Code::JinjaError,
            format!("modules.re: invalid pattern `{pattern}`: {e}"),
            None,
        )
    })
}

fn str_arg<'v>(args: &'v [Value], i: usize, what: &str) -> Result<&'v str, Error> {
    args.get(i).and_then(Value::as_str).ok_or_else(|| {
        Error::new(
            ErrorKind::MissingArgument,
            format!("modules.re.{what} takes string arguments"),
        )
    })
}

/// A match: its groups, or none.
fn match_value(caps: Option<regex::Captures>) -> Value {
    match caps {
        None => Value::from(()),
        Some(c) => {
            let groups: Vec<Value> = c
                .iter()
                .map(|m| m.map_or(Value::from(()), |m| Value::from(m.as_str())))
                .collect();
            Value::from_object(Match(groups))
        }
    }
}

impl Object for Re {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let pattern = str_arg(args, 0, method)?;
        match method {
            // `match` is anchored at the start, `fullmatch` at both ends.
            "match" | "fullmatch" | "search" => {
                let anchored = match method {
                    "match" => format!("^(?:{pattern})"),
                    "fullmatch" => format!("^(?:{pattern})$"),
                    _ => pattern.to_string(),
                };
                let re = regex(&anchored)?;
                Ok(match_value(re.captures(str_arg(args, 1, method)?)))
            }
            "findall" => {
                let re = regex(pattern)?;
                let text = str_arg(args, 1, method)?;
                Ok(Value::from(
                    re.captures_iter(text)
                        .map(|c| {
                            let m = c.get(1).or_else(|| c.get(0));
                            Value::from(m.map_or("", |m| m.as_str()))
                        })
                        .collect::<Vec<_>>(),
                ))
            }
            "sub" => {
                let re = regex(pattern)?;
                let repl = str_arg(args, 1, method)?
                    .replace("\\g<", "${")
                    .replace('>', "}");
                Ok(Value::from(
                    re.replace_all(str_arg(args, 2, method)?, repl.as_str())
                        .into_owned(),
                ))
            }
            "split" => {
                let re = regex(pattern)?;
                Ok(Value::from(
                    re.split(str_arg(args, 1, method)?)
                        .map(Value::from)
                        .collect::<Vec<_>>(),
                ))
            }
            "escape" => Ok(Value::from(regex::escape(pattern))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A regex match: `group(n)` and `groups()`.
#[derive(Debug)]
struct Match(Vec<Value>);

impl Object for Match {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0[0])
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "group" => {
                let i = args
                    .first()
                    .and_then(|v| i64::try_from(v.clone()).ok())
                    .unwrap_or(0);
                Ok(self.0.get(i as usize).cloned().unwrap_or(Value::from(())))
            }
            "groups" => Ok(Value::from(self.0[1..].to_vec())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `modules.datetime`: `datetime(y, m, d[, h, mi, s])` and `date(y, m, d)`. There is no
/// `now()`: a compile does not depend on the clock (use `run_started_at`-free SQL such as
/// `current_timestamp`).
#[derive(Debug)]
struct DateTimeModule;

impl Object for DateTimeModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "datetime" => Some(Value::from_object(Constructor { date_only: false })),
            "date" => Some(Value::from_object(Constructor { date_only: true })),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Constructor {
    date_only: bool,
}

impl Object for Constructor {
    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let n: Vec<i64> = args
            .iter()
            .filter(|v| !v.is_kwargs())
            .map(|v| i64::try_from(v.clone()))
            .collect::<Result<_, _>>()?;
        if n.len() < 3 || (self.date_only && n.len() > 3) || n.len() > 6 {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "modules.datetime: datetime(year, month, day[, hour, minute, second]) or date(year, month, day)",
            ));
        }
        let valid = (1..=12).contains(&n[1])
            && (1..=31).contains(&n[2])
            && n.get(3).is_none_or(|h| (0..24).contains(h))
            && n.get(4).is_none_or(|m| (0..60).contains(m))
            && n.get(5).is_none_or(|s| (0..60).contains(s));
        if !valid {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("modules.datetime: {n:?} is not a valid date and time"),
            ));
        }
        let mut parts = [0i64; 6];
        parts[..n.len()].copy_from_slice(&n);
        Ok(Value::from_object(DateTime {
            parts,
            date_only: self.date_only,
        }))
    }
}

/// A fixed date or date and time.
#[derive(Debug)]
struct DateTime {
    parts: [i64; 6],
    date_only: bool,
}

impl DateTime {
    fn iso(&self) -> String {
        let [y, mo, d, h, mi, s] = self.parts;
        if self.date_only {
            format!("{y:04}-{mo:02}-{d:02}")
        } else {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
        }
    }

    fn strftime(&self, fmt: &str) -> String {
        let [y, mo, d, h, mi, s] = self.parts;
        let mut out = String::new();
        let mut chars = fmt.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('Y') => out.push_str(&format!("{y:04}")),
                Some('m') => out.push_str(&format!("{mo:02}")),
                Some('d') => out.push_str(&format!("{d:02}")),
                Some('H') => out.push_str(&format!("{h:02}")),
                Some('M') => out.push_str(&format!("{mi:02}")),
                Some('S') => out.push_str(&format!("{s:02}")),
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        out
    }
}

impl Object for DateTime {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = ["year", "month", "day", "hour", "minute", "second"]
            .iter()
            .position(|k| Some(*k) == key.as_str())?;
        Some(Value::from(self.parts[i]))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "isoformat" => Ok(Value::from(self.iso())),
            "strftime" => {
                let fmt = args.first().and_then(Value::as_str).unwrap_or("");
                Ok(Value::from(self.strftime(fmt)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.iso().replace('T', " "))
    }
}

/// `api.Relation.create(database=, schema=, identifier=)`.
#[derive(Debug)]
struct Api;

impl Object for Api {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "Relation").then(|| Value::from_object(RelationApi))
    }
}

#[derive(Debug)]
struct RelationApi;

impl Object for RelationApi {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method != "create" {
            return Err(Error::from(ErrorKind::UnknownMethod));
        }
        let kw = match args.last() {
            Some(v) if v.is_kwargs() => Kwargs::try_from(v.clone())?,
            _ => Kwargs::from_iter(std::iter::empty::<(&str, Value)>()),
        };
        let get = |k: &str| -> Result<Option<String>, Error> {
            Ok(kw
                .get::<Option<Value>>(k)?
                .filter(|v| !v.is_none())
                .map(|v| v.to_string()))
        };
        let parts = [get("database")?, get("schema")?, get("identifier")?];
        // `type` is accepted and has no effect on how the name renders.
        let _ = kw.get::<Option<Value>>("type")?;
        kw.assert_all_used()?;
        Ok(Value::from_object(CreatedRelation(parts)))
    }
}

/// A relation as `api.Relation.create` makes it from (database, schema, identifier).
pub(super) fn relation_value(parts: [Option<String>; 3]) -> Value {
    Value::from_object(CreatedRelation(parts))
}

/// A relation made by `api.Relation.create`: renders as its quoted, dotted name.
#[derive(Debug)]
struct CreatedRelation([Option<String>; 3]);

impl Object for CreatedRelation {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(v) = super::relation_mapping_key(key.as_str()?) {
            return Some(v);
        }
        let i = match key.as_str()? {
            "database" => 0,
            "schema" => 1,
            "identifier" | "name" => 2,
            _ => return None,
        };
        Some(self.0[i].clone().map_or(Value::from(()), Value::from))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .flatten()
            .map(|p| crate::ir::quote_ident(p))
            .collect();
        f.write_str(&parts.join("."))
    }
}
