//! The floor of the run benchmark: the compiled statements of a project's models, executed back
//! to back in one DuckDB connection, with nothing else (no scheduler, no transactions, no swap,
//! no introspection). `strata run` is measured against this.
//!
//! ```text
//! strata --project-dir DIR compile          # writes DIR/.strata/manifest.json
//! cargo run --release --example run_floor -- DIR DATABASE_FILE
//! ```
//!
//! Models are taken from the manifest in dependency order; each becomes one
//! `create or replace view|table "schema"."name" as <compiled SQL>`. Seeds must already be
//! loaded (`strata seed`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::process::ExitCode;
use std::time::Instant;

use serde_json::Value as J;

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn run(dir: &str, database: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(format!("{dir}/.strata/manifest.json"))
        .map_err(|e| format!("cannot read the manifest (run `strata compile` first): {e}"))?;
    let manifest: J = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let nodes = manifest["nodes"]
        .as_object()
        .ok_or("manifest has no nodes")?;
    let parents = manifest["parent_map"]
        .as_object()
        .ok_or("manifest has no parent_map")?;
    // Kahn's algorithm over every node, keeping the models that build a relation.
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, ps) in parents {
        let ps = ps.as_array().map(Vec::as_slice).unwrap_or(&[]);
        waiting.insert(id, ps.len());
        for p in ps.iter().filter_map(J::as_str) {
            children.entry(p).or_default().push(id);
        }
    }
    let mut ready: VecDeque<&str> = waiting
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| *id)
        .collect();
    let mut statements = Vec::new();
    let mut schemas = BTreeSet::new();
    while let Some(id) = ready.pop_front() {
        if let Some(n) = nodes.get(id)
            && n["resource_type"] == "model"
        {
            let kind = n["config"]["materialized"].as_str().unwrap_or("view");
            // dbt's shape: `schema` and `alias` name the relation; `relation_name` is null for
            // a model that builds none.
            if let (Some(code), Some(schema), Some(alias)) = (
                n["compiled_code"].as_str(),
                n["schema"].as_str(),
                n["alias"].as_str(),
            ) && !n["relation_name"].is_null()
                && (kind == "view" || kind == "table")
            {
                schemas.insert(schema.to_string());
                statements.push(format!(
                    "create or replace {kind} {}.{} as\n{}",
                    quote(schema),
                    quote(alias),
                    code.trim_end().trim_end_matches(';')
                ));
            }
        }
        for c in children.get(id).map(Vec::as_slice).unwrap_or(&[]) {
            let w = waiting.get_mut(c).unwrap();
            *w -= 1;
            if *w == 0 {
                ready.push_back(c);
            }
        }
    }
    let conn = duckdb::Connection::open(database).map_err(|e| e.to_string())?;
    let start = Instant::now();
    for s in &schemas {
        conn.execute_batch(&format!("create schema if not exists {}", quote(s)))
            .map_err(|e| e.to_string())?;
    }
    for s in &statements {
        conn.execute_batch(s).map_err(|e| format!("{e}\nin: {s}"))?;
    }
    println!(
        "floor: {} statements in {:.3}s",
        statements.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, database] = args.as_slice() else {
        eprintln!("usage: run_floor PROJECT_DIR DATABASE_FILE");
        return ExitCode::from(2);
    };
    match run(dir, database) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("run_floor: {e}");
            ExitCode::FAILURE
        }
    }
}
