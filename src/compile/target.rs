//! The target in use: its fields rendered with `env_var()` and `var()`, defaults filled in from
//! the engine's description.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value as J;

use crate::adapter::engine;
use crate::diagnostics::{Code, Diagnostic, Span};
use crate::ir::{Target, TargetInfo};
use crate::project::Project;

/// Renders one target field (`dsn`, `path`, `schema`) with `env_var` and `var`.
fn render_target_field(
    text: &str,
    vars: &BTreeMap<String, J>,
    span: &Span,
) -> Result<String, Diagnostic> {
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(text.to_string());
    }
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let vars = vars.clone();
    env.add_function(
        "var",
        move |name: String,
              default: Option<minijinja::Value>|
              -> Result<minijinja::Value, minijinja::Error> {
            match vars.get(&name) {
                Some(v) => Ok(crate::jinja::to_value(v)),
                None => default.ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("var `{name}` is not defined and has no default"),
                    )
                }),
            }
        },
    );
    env.add_function(
        "env_var",
        |name: String, default: Option<String>| -> Result<String, minijinja::Error> {
            match std::env::var(&name) {
                Ok(v) => Ok(v),
                Err(_) => default.ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("environment variable `{name}` is not set and has no default"),
                    )
                }),
            }
        },
    );
    env.render_str(text, ()).map_err(|e| {
        let detail = e.detail().unwrap_or("cannot render").to_string();
        let code = if detail.starts_with("environment variable") {
            Code::MissingEnvVar
        } else {
            Code::JinjaError
        };
        Diagnostic::error(code, detail).at(span.clone())
    })
}

/// The connection string the engine makes of the target's fields, each rendered first; a
/// field it cannot use is reported at that field.
fn connection_string(
    def: &crate::project::TargetDef,
    get: &dyn Fn(&str) -> Result<Option<String>, Diagnostic>,
) -> Result<Option<String>, Diagnostic> {
    let mut rendered = BTreeMap::new();
    for k in def.fields.keys() {
        if let Some(v) = get(k)? {
            rendered.insert(k.as_str(), v);
        }
    }
    (engine::engine(def.kind).connection_string)(&|k| rendered.get(k).cloned()).map_err(|e| {
        let d = Diagnostic::error(Code::InvalidValue, e.message).at(def.fields[e.field].1.clone());
        match e.help {
            Some(h) => d.with_help(h),
            None => d,
        }
    })
}

/// The target in use, its fields rendered (`env_var`, `var`).
pub fn resolve(p: &Project) -> Result<Target, Diagnostic> {
    let def = p.target_def();
    let get = |k: &str| -> Result<Option<String>, Diagnostic> {
        match def.fields.get(k) {
            Some((text, span)) => render_target_field(text, &p.vars, span).map(Some),
            None => Ok(None),
        }
    };
    let schema =
        get("schema")?.unwrap_or_else(|| engine::engine(def.kind).default_schema.to_string());
    let threads = match get("threads")? {
        Some(t) => t
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| {
                Diagnostic::error(Code::InvalidValue, "`threads` must be a positive integer")
                    .at(def.fields["threads"].1.clone())
            })?,
        None => 4,
    };
    let seconds = |k: &str| -> Result<Option<f64>, Diagnostic> {
        match get(k)? {
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Some)
                .ok_or_else(|| {
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("`{k}` must be a number of seconds, not `{v}`"),
                    )
                    .at(def.fields[k].1.clone())
                }),
            None => Ok(None),
        }
    };
    let json = |k: &str| -> Result<Option<J>, Diagnostic> {
        match get(k)? {
            Some(text) => Ok(Some(serde_json::from_str(&text).unwrap_or(J::String(text)))),
            None => Ok(None),
        }
    };
    let span_of = |k: &str| def.fields[k].1.clone();
    let mut target = Target {
        connect_timeout: seconds("connect_timeout")?,
        lock_timeout: seconds("lock_timeout")?,
        search_path: get("search_path")?,
        info: TargetInfo {
            name: def.name.clone(),
            kind: def.kind,
            schema,
            database: String::new(),
            threads,
        },
        path: get("path")?.map(PathBuf::from),
        dsn: match get("dsn")? {
            Some(dsn) => Some(dsn),
            None => connection_string(def, &get)?,
        },
        file_format: get("file_format")?,
        extensions: match json("extensions")? {
            Some(v) => duckdb_extensions(v, span_of("extensions"))?,
            None => Vec::new(),
        },
        settings: match json("settings")? {
            Some(v) => duckdb_settings(v, span_of("settings"))?,
            None => Vec::new(),
        },
        attach: match json("attach")? {
            Some(v) => duckdb_attach(v, span_of("attach"))?,
            None => Vec::new(),
        },
    };
    target.info.database = crate::adapter::naming::dataset_location(&target, &p.root).database;
    Ok(target)
}

/// DuckDB `extensions:`: a list of names (or one name).
fn duckdb_extensions(v: J, span: Span) -> Result<Vec<String>, Diagnostic> {
    let names: Vec<J> = match v {
        J::Array(a) => a,
        other => vec![other],
    };
    names
        .into_iter()
        .map(|n| match n {
            J::String(s) if crate::project::is_identifier(&s) => Ok(s),
            other => Err(Diagnostic::error(
                Code::InvalidValue,
                format!("`extensions` lists extension names, not `{other}`"),
            )
            .at(span.clone())),
        })
        .collect()
}

/// DuckDB `settings:`: a mapping of setting names to values.
fn duckdb_settings(v: J, span: Span) -> Result<Vec<(String, String)>, Diagnostic> {
    let J::Object(m) = v else {
        return Err(Diagnostic::error(
            Code::InvalidValue,
            "`settings` must be a mapping of DuckDB settings, e.g. {memory_limit: 4GB}",
        )
        .at(span));
    };
    m.into_iter()
        .map(|(k, v)| {
            if !crate::project::is_identifier(&k) {
                return Err(Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{k}` is not a DuckDB setting name"),
                )
                .at(span.clone()));
            }
            let value = match v {
                J::String(s) => s,
                other => other.to_string(),
            };
            Ok((k, value))
        })
        .collect()
}

/// DuckDB `attach:`: a list of `{path, alias, type, read_only}`, as dbt-duckdb takes it.
fn duckdb_attach(v: J, span: Span) -> Result<Vec<String>, Diagnostic> {
    let J::Array(items) = v else {
        return Err(Diagnostic::error(
            Code::InvalidValue,
            "`attach` must be a list of {path, alias, type, read_only}",
        )
        .at(span));
    };
    let bad = |what: String| Diagnostic::error(Code::InvalidValue, what).at(span.clone());
    items
        .into_iter()
        .map(|item| {
            let J::Object(m) = item else {
                return Err(bad("each `attach` entry is a mapping with a `path`".into()));
            };
            let mut path = None;
            let mut options = Vec::new();
            let mut alias = None;
            for (k, v) in &m {
                let text = match v {
                    J::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match k.as_str() {
                    "path" => path = Some(text),
                    "alias" if crate::project::is_identifier(&text) => alias = Some(text),
                    "type" if crate::project::is_identifier(&text) => {
                        options.push(format!("TYPE {text}"))
                    }
                    "read_only" if v.as_bool() == Some(true) => options.push("READ_ONLY".into()),
                    "read_only" => {}
                    _ => {
                        return Err(bad(format!(
                            "`attach` takes path, alias, type and read_only, not `{k}: {text}`"
                        )));
                    }
                }
            }
            let path = path.ok_or_else(|| bad("an `attach` entry has no `path`".into()))?;
            let mut sql = format!("ATTACH IF NOT EXISTS {}", crate::ir::quote_literal(&path));
            if let Some(a) = alias {
                sql.push_str(&format!(" AS {}", crate::ir::quote_ident(&a)));
            }
            if !options.is_empty() {
                sql.push_str(&format!(" ({})", options.join(", ")));
            }
            Ok(sql)
        })
        .collect()
}
