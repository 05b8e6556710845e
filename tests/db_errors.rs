//! Errors raised by the database point at the model's own file and line, on both engines:
//! DuckDB's `LINE n` and Postgres's error position are positions in the statement strata sent
//! (the compiled SQL inside `create ... as`), mapped back through the Jinja render.

mod common;

use std::path::Path;

use common::pg;
use common::{fixture_copy, strata_env};

/// A table model whose error is on line 9, after a config call, a `set` and a loop.
const TABLE: &str = "{{ config(materialized='table') }}
{% set cols = ['id'] %}
select
{% for c in cols %}
    {{ c }} as {{ c }}_copy,
{% endfor %}
    1 as one
from {{ ref('other_model') }}
where id + interval '1 day' > 0
";

/// A view whose error is on line 5.
const VIEW: &str = "{{ config(materialized='view') }}
select
    id
from {{ ref('other_model') }}
where id + interval '1 day' > 0
";

/// A singular test whose error is on line 4.
const TEST: &str = "-- ids that make no sense
select id
from {{ ref('other_model') }}
where id + interval '1 day' > 0
";

/// Runs `command` and checks that each failing node's error, and the list at the end, name
/// `places` (file:line).
fn fails_at(dir: &Path, command: &[&str], env: &[(&str, &str)], places: &[&str]) {
    let out = strata_env(dir, command, env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let heading = match places.len() {
        1 => "1 failure:".to_string(),
        n => format!("{n} failures:"),
    };
    let (log, list) = stdout
        .rsplit_once(&heading)
        .unwrap_or_else(|| panic!("no failure list in:\n{stdout}"));
    for at in places {
        // Under the failing node, its error starts with the file and line.
        assert!(
            log.contains(&format!("{at}: ")),
            "expected {at} in:\n{stdout}"
        );
        // The list at the end names the same place.
        assert!(
            list.contains(&format!("({at})")),
            "expected ({at}) in:\n{list}"
        );
    }
}

/// Models and a singular test with errors only the database finds, after Jinja that moved
/// their lines: `run` and `test` report them at the files' own lines.
fn errors_point_at_the_model_lines(dir: &Path, target: &[&str], env: &[(&str, &str)]) {
    std::fs::write(dir.join("models/late.sql"), TABLE).unwrap();
    std::fs::write(dir.join("models/late_view.sql"), VIEW).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(dir.join("tests/late_test.sql"), TEST).unwrap();
    fails_at(
        dir,
        &[&["run"], target].concat(),
        env,
        &["models/late.sql:9", "models/late_view.sql:5"],
    );
    fails_at(
        dir,
        &[&["test"], target].concat(),
        env,
        &["tests/late_test.sql:4"],
    );
}

#[test]
fn duckdb_errors_point_at_the_model_line() {
    let (_tmp, dir) = fixture_copy("one_statement");
    errors_point_at_the_model_lines(&dir, &[], &[]);
    let out = strata_env(&dir, &["run", "-s", "late"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // DuckDB's own line marker says the file's line, not the wrapped statement's, and its
    // caret still sits under the expression.
    let marker = stdout
        .lines()
        .position(|l| l.trim_start().starts_with("LINE "))
        .unwrap_or_else(|| panic!("no LINE marker in:\n{stdout}"));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[marker]
            .trim_start()
            .starts_with("LINE 9: where id + interval"),
        "{stdout}"
    );
    let caret = lines[marker + 1].find('^').unwrap();
    assert_eq!(&lines[marker][caret..caret + 4], "+ in", "{stdout}");
}

#[test]
fn postgres_errors_point_at_the_model_line() {
    let url = pg::fresh_database("dberrors");
    let (_tmp, dir) = fixture_copy("one_statement");
    let env = [("ONESTMT_DSN", url.as_str())];
    errors_point_at_the_model_lines(&dir, &["--target", "pg"], &env);
}
