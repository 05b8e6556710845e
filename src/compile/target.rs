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
    Ok(Target {
        connect_timeout: seconds("connect_timeout")?,
        lock_timeout: seconds("lock_timeout")?,
        search_path: get("search_path")?,
        info: TargetInfo {
            name: def.name.clone(),
            kind: def.kind,
            schema,
            threads,
        },
        path: get("path")?.map(PathBuf::from),
        dsn: get("dsn")?,
    })
}
