//! Shared helpers for the integration tests: copying fixture projects into temp dirs and
//! running the strata binary on them.

#![allow(dead_code)]

pub mod browser;
pub mod dbt_artifacts;
pub mod dbt_cli;
pub mod openlineage;
pub mod pg;
pub mod spark;

// Not every test binary validates artifacts.
#[allow(unused_imports)]
pub use dbt_artifacts::assert_valid_dbt_artifacts;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies a file or a folder tree.
pub fn copy_tree(src: &Path, dst: &Path) {
    if src.is_file() {
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(src, dst).unwrap();
        return;
    }
    for e in walkdir::WalkDir::new(src) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(src).unwrap();
        if rel
            .components()
            .any(|c| c.as_os_str() == ".strata" || c.as_os_str() == "warehouse")
        {
            continue;
        }
        let to = dst.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// A temp copy of `tests/fixtures/<name>`; the TempDir must outlive the returned path.
pub fn fixture_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join(name);
    copy_tree(&root().join("tests/fixtures").join(name), &dst);
    (tmp, dst)
}

/// A temp copy of the example project at the repository root.
pub fn example_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("ofitec");
    for entry in [
        "project.yml",
        "models",
        "seeds",
        "macros",
        "contracts",
        "tests/singular",
    ] {
        copy_tree(&root().join(entry), &dst.join(entry));
    }
    (tmp, dst)
}

/// Runs `strata --project-dir DIR ARGS...`.
pub fn strata(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("--project-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("strata runs")
}

/// Runs strata with extra environment variables.
pub fn strata_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("--project-dir")
        .arg(dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("strata runs")
}

/// Runs strata and panics with its output unless the exit code is `code`.
pub fn strata_ok(dir: &Path, args: &[&str], code: i32) -> Output {
    strata_env_ok(dir, args, &[], code)
}

/// `strata_ok` with extra environment variables.
pub fn strata_env_ok(dir: &Path, args: &[&str], env: &[(&str, &str)], code: i32) -> Output {
    let out = strata_env(dir, args, env);
    if out.status.code() != Some(code) {
        panic!(
            "strata {args:?} exited with {:?}, expected {code}\n--- stdout\n{}\n--- stderr\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// The `run_incremental` fixture's seed after a change: row 2's amount changes, row 4 is new.
pub const INCREMENTAL_EVENTS_CHANGED: &str = "id,region,day,amount\n1,north,2024-01-01,10\n2,north,2024-01-01,25\n3,south,2024-01-02,30\n4,south,2024-01-03,40\n";

/// What each incremental model of `run_incremental` holds once built again after
/// `INCREMENTAL_EVENTS_CHANGED`, on any engine: `(query, rows)`. Merge and delete+insert upsert
/// row 2 and add row 4; the composite key merges per (region, day); append only adds rows past
/// the current maximum id, so row 2's change is not appended.
pub fn incremental_after_change() -> Vec<(&'static str, Vec<Vec<&'static str>>)> {
    let upserted = vec![
        vec!["1", "10"],
        vec!["2", "25"],
        vec!["3", "30"],
        vec!["4", "40"],
    ];
    vec![
        (
            "select id, amount from main.inc_merge order by id",
            upserted.clone(),
        ),
        (
            "select region, day, amount from main.inc_merge_composite order by region, day",
            vec![
                vec!["north", "2024-01-01", "35"],
                vec!["south", "2024-01-02", "30"],
                vec!["south", "2024-01-03", "40"],
            ],
        ),
        (
            "select id, amount from main.inc_delete_insert order by id",
            upserted,
        ),
        (
            "select id, amount from main.inc_append order by id",
            vec![
                vec!["1", "10"],
                vec!["2", "20"],
                vec!["3", "30"],
                vec!["4", "40"],
            ],
        ),
    ]
}

/// Opens the DuckDB file `warehouse/<file>` of a project.
pub fn db(dir: &Path, file: &str) -> duckdb::Connection {
    duckdb::Connection::open(dir.join("warehouse").join(file)).expect("warehouse exists")
}

/// Runs a query and returns every row as strings (DuckDB casts each column; NULL as `NULL`).
pub fn rows(conn: &duckdb::Connection, sql: &str) -> Vec<Vec<String>> {
    let wrapped = format!("select columns(*)::varchar from ({sql}) as q");
    let mut stmt = conn.prepare(&wrapped).unwrap();
    let mut out = Vec::new();
    let mut r = stmt.query([]).unwrap();
    while let Some(row) = r.next().unwrap() {
        let n = row.as_ref().column_count();
        out.push(
            (0..n)
                .map(|i| {
                    row.get::<_, Option<String>>(i)
                        .unwrap()
                        .unwrap_or_else(|| "NULL".into())
                })
                .collect(),
        );
    }
    out
}

/// The project's `.strata/run_results.json`.
pub fn run_results(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(".strata/run_results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}
