//! `strata init NAME`: a minimal project that compiles (and builds) as it is.

use std::path::Path;

use anyhow::{Context, Result};

use super::{ExitStatus, Output};
use crate::cli::GlobalArgs;
use crate::diagnostics::{Code, Diagnostic, Diagnostics};

fn files(name: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "project.yml",
            format!(
                "name: {name}\nversion: \"0.1.0\"\n\n# No `targets:`: the project builds into warehouse/{name}.duckdb (embedded DuckDB,\n# schema main). Add `targets:` here, or a profiles.yml, to build elsewhere.\n\nmodels:\n  {name}:\n    +materialized: view\n    marts:\n      +materialized: table\n"
            ),
        ),
        (
            "seeds/raw_orders.csv",
            "order_id,customer,amount,ordered_at\n1,acme,120.50,2024-01-05\n2,globex,80.00,2024-01-06\n3,acme,42.25,2024-02-01\n".into(),
        ),
        (
            "models/staging/stg_orders.sql",
            "select\n    order_id,\n    lower(customer) as customer,\n    cast(amount as decimal(18, 2)) as amount,\n    cast(ordered_at as date) as ordered_at\nfrom {{ ref('raw_orders') }}\n".into(),
        ),
        (
            "models/marts/customer_revenue.sql",
            "select\n    customer,\n    count(*) as orders,\n    sum(amount) as revenue\nfrom {{ ref('stg_orders') }}\ngroup by customer\n".into(),
        ),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: stg_orders\n    description: One row per order.\n    columns:\n      - name: order_id\n        tests: [not_null, unique]\n  - name: customer_revenue\n    description: Revenue per customer.\n    columns:\n      - name: customer\n        tests: [not_null, unique]\n      - name: revenue\n        tests: [positive]\n".into(),
        ),
        ("macros/.gitkeep", String::new()),
        (".gitignore", ".strata/\nwarehouse/\n".into()),
    ]
}

/// Runs `strata init NAME`.
pub fn run(global: &GlobalArgs, name: &str) -> Result<ExitStatus> {
    let out = Output::new(global);
    let root = global.project_dir.join(name);
    let mut diags = Diagnostics::new();
    if !crate::project::is_identifier(name) {
        diags.push(
            Diagnostic::error(Code::InvalidValue, format!("`{name}` is not a valid project name"))
                .with_help("use letters, digits and underscores, not starting with a digit (e.g. `my_project`)"),
        );
    } else if root.exists() {
        diags.push(
            Diagnostic::error(Code::InvalidValue, format!("{} already exists", root.display()))
                .with_help("choose another name, or remove the directory first; strata init never overwrites files"),
        );
    }
    if diags.has_errors() {
        out.diagnostics(&diags, Path::new("."));
        return Ok(ExitStatus::Error);
    }
    for (rel, content) in files(name) {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, content)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    out.event(
        &format!("created project `{name}` in {}\nnext: cd {} && strata build", root.display(), root.display()),
        serde_json::json!({"event": "initialized", "project": name, "dir": root.display().to_string()}),
    );
    Ok(ExitStatus::Success)
}
