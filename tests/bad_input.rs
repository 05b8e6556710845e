//! Bad input loses nothing: SQL that would run a second statement is refused at compile time,
//! on both engines, and the relations it aimed at keep their rows.

mod common;

use std::path::Path;

use common::pg;
use common::{db, fixture_copy, rows, strata_env, strata_env_ok};

/// The fixture's `other_model` rows, as every engine returns them.
fn other_rows() -> Vec<Vec<String>> {
    vec![vec!["1".to_string()], vec!["2".to_string()]]
}

fn write(dir: &Path, rel: &str, text: &str) {
    std::fs::write(dir.join(rel), text).unwrap();
}

/// Runs `build` with `args`, expecting exit 2 and an S404 diagnostic at `at` (file:line).
fn refused(dir: &Path, args: &[&str], env: &[(&str, &str)], at: &str) -> String {
    let out = strata_env(dir, args, env);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("S404"), "{stderr}");
    assert!(stderr.contains(at), "expected {at} in:\n{stderr}");
    stderr
}

/// The four ways in: written in the model, through a variable, in the incremental variant,
/// through a test's `where`. Each is refused and `other_model` keeps its rows.
fn every_way_is_refused(
    dir: &Path,
    target: &[&str],
    env: &[(&str, &str)],
    rows_of_other: &dyn Fn() -> Vec<Vec<String>>,
) {
    fn with<'a>(target: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [&["build"], target, extra].concat()
    }
    let build = |extra: &[&'static str]| with(target, extra);
    strata_env_ok(dir, &build(&[]), env, 0);
    assert_eq!(rows_of_other(), other_rows());

    write(
        dir,
        "models/bad.sql",
        "select 1 as id; drop table main.other_model",
    );
    let stderr = refused(dir, &build(&[]), env, "models/bad.sql:1:17");
    assert!(
        stderr.contains("model `bad` is more than one SQL statement"),
        "{stderr}"
    );
    assert_eq!(rows_of_other(), other_rows());
    std::fs::remove_file(dir.join("models/bad.sql")).unwrap();

    write(dir, "models/named.sql", "select '{{ var(\"name\") }}' as n");
    let vars = "{name: \"x'; drop table main.other_model; --\"}";
    refused(dir, &build(&["--vars", vars]), env, "models/named.sql:1:");
    assert_eq!(rows_of_other(), other_rows());
    // The same model with a harmless value builds.
    strata_env_ok(dir, &build(&[]), env, 0);
    std::fs::remove_file(dir.join("models/named.sql")).unwrap();

    write(
        dir,
        "models/inc.sql",
        "{{ config(materialized='incremental') }}\nselect 1 as id\n{% if is_incremental() %}; drop table main.other_model{% endif %}",
    );
    let stderr = refused(dir, &build(&[]), env, "models/inc.sql:3:");
    assert!(stderr.contains("when is_incremental() is true"), "{stderr}");
    assert_eq!(rows_of_other(), other_rows());
    std::fs::remove_file(dir.join("models/inc.sql")).unwrap();

    write(
        dir,
        "models/schema.yml",
        "models:\n  - name: other_model\n    columns:\n      - name: id\n        tests:\n          - not_null:\n              config:\n                where: \"1 = 1; drop table main.other_model\"\n",
    );
    let stderr = refused(dir, &build(&[]), env, "models/schema.yml:6:");
    assert!(
        stderr.contains("test `not_null` is more than one SQL statement"),
        "{stderr}"
    );
    assert_eq!(rows_of_other(), other_rows());
}

#[test]
fn a_second_statement_is_refused_on_duckdb_and_drops_nothing() {
    let (_tmp, dir) = fixture_copy("one_statement");
    let other = || {
        rows(
            &db(&dir, "one.duckdb"),
            "select id from main.other_model order by id",
        )
    };
    every_way_is_refused(&dir, &[], &[], &other);
}

#[test]
fn a_second_statement_is_refused_on_postgres_and_drops_nothing() {
    let url = pg::fresh_database("onestmt");
    let (_tmp, dir) = fixture_copy("one_statement");
    let env = [("ONESTMT_DSN", url.as_str())];
    let other = || pg::rows(&url, "select id from main.other_model order by id");
    every_way_is_refused(&dir, &["--target", "pg"], &env, &other);
}
