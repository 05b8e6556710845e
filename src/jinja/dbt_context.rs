//! The parts of dbt's Jinja context that need no database: `zip`, `modules.re`,
//! `modules.datetime` (fixed dates, never the clock: a compile is deterministic),
//! `api.Relation.create`, `execute`. What needs a database while compiling (`run_query`,
//! `statement`, `load_result`) is an error that says so: strata compiles offline
//! (`adapter.get_columns_in_relation` and `get_relation` are answered offline, `introspect`).

use std::sync::Arc;

use minijinja::value::{Kwargs, Object, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use super::ctx_error;
use crate::diagnostics::Code;

/// Adds the context to `env`.
pub fn add(env: &mut Environment) {
    env.add_global("execute", Value::from(true));
    env.add_function("zip", zip);
    env.add_global("modules", Value::from_object(Modules));
    env.add_global("api", Value::from_object(Api));
    for name in ["run_query", "statement", "load_result"] {
        env.add_function(name, move |_args: Rest<Value>| -> Result<Value, Error> {
            Err(needs_database(name))
        });
    }
}

/// The error for a context member that would query the database while compiling.
pub fn needs_database(what: &str) -> Error {
    ctx_error(
        Code::JinjaError,
        format!("`{what}` queries the database while compiling, and strata compiles without one"),
        Some(
            "declare what the query would look up (values in `vars:`, columns in the model's YAML), compute it in SQL, or run the macro against the target with `strata run-operation`"
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
