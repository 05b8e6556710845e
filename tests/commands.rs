//! The commands dbt users type, on DuckDB and on a real Postgres server: `run-operation`
//! (a macro's statements, with `--args`, refs, vars and `log()`), `show` (a node's or an inline
//! query's first rows, nothing built), `--empty` (models built with zero rows, replayed by
//! `retry`), `--quiet` and `--warn-error`. Each engine runs the same assertions, reading what
//! the database holds back through `strata show --inline ... -o json`.

mod common;

use std::path::Path;

use common::pg;
use common::{db, fixture_copy, rows, run_results, strata_env_ok};
use serde_json::{Value as J, json};

/// One engine: the target flag and the environment it needs.
struct Engine {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Engine {
    fn duckdb() -> Engine {
        Engine {
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    fn postgres(prefix: &str) -> Engine {
        Engine {
            args: vec!["-t".into(), "pg".into()],
            env: vec![("CMDS_PG_DSN".into(), pg::fresh_database(prefix))],
        }
    }

    /// Runs `strata ARGS` with the engine's target; panics unless it exits with `code`.
    fn strata(&self, dir: &Path, args: &[&str], code: i32) -> (String, String) {
        let mut all: Vec<&str> = args.to_vec();
        // `retry` takes the target of the run it replays.
        if !args.contains(&"retry") {
            all.extend(self.args.iter().map(String::as_str));
        }
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let out = strata_env_ok(dir, &all, &env, code);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Every row of `sql` on the target, as JSON objects.
    fn rows(&self, dir: &Path, sql: &str) -> Vec<J> {
        let (stdout, _) = self.strata(
            dir,
            &["show", "--inline", sql, "--limit", "-1", "-o", "json"],
            0,
        );
        let doc: J = serde_json::from_str(stdout.lines().last().unwrap())
            .unwrap_or_else(|e| panic!("{e}: {stdout}"));
        doc["rows"].as_array().unwrap().clone()
    }
}

/// run-operation: statements (a `;` in a string does not split them), `--args` and defaults,
/// `ref()` and `--vars`, `log()`, `execute`; errors: unknown macro, unknown parameter, a
/// statement that fails (those before it stay), a returned value, `--args` that is no mapping.
fn run_operation_works(e: &Engine, dir: &Path) {
    e.strata(dir, &["build"], 0);
    let (out, _) = e.strata(
        dir,
        &[
            "run-operation",
            "create_audit",
            "--args",
            "{table_name: audit_log, rows: 3}",
        ],
        0,
    );
    assert!(
        out.contains("[create_audit] creating audit_log with 3 rows"),
        "{out}"
    );
    assert!(out.contains("Ran 5 statements of `create_audit`"), "{out}");
    assert_eq!(
        e.rows(dir, "select id, note from main.audit_log order by id"),
        vec![
            json!({"id": 1, "note": "row; 1"}),
            json!({"id": 2, "note": "row; 2"}),
            json!({"id": 3, "note": "row; 3"}),
        ]
    );
    // A default argument, and the macro run again (its statements are idempotent).
    e.strata(
        dir,
        &[
            "run-operation",
            "create_audit",
            "--args",
            "table_name: audit_log",
        ],
        0,
    );
    assert_eq!(e.rows(dir, "select id from main.audit_log").len(), 2);

    e.strata(
        dir,
        &[
            "run-operation",
            "copy_totals",
            "--args",
            "{dest: totals_copy}",
            "--vars",
            "{min_total: 5}",
        ],
        0,
    );
    assert_eq!(
        e.rows(
            dir,
            "select customer, orders from main.totals_copy order by customer"
        ),
        vec![
            json!({"customer": "alice", "orders": 2}),
            json!({"customer": "bob", "orders": 1}),
        ]
    );
    e.strata(dir, &["run-operation", "only_when_executing"], 0);
    assert!(e.rows(dir, "select * from main.executed").is_empty());

    // run_query(): rows typed by column, reached by name and position; a statement.
    let (out, _) = e.strata(dir, &["run-operation", "report_small"], 0);
    for line in [
        "[report_small] columns: customer, total, orders",
        "[report_small] bob has 1 order(s), 14.0 doubled",
        "[report_small] carol has 1 order(s), 6.5 doubled",
        "[report_small] customers: bob, carol; 2 rows",
        "Ran 2 statements of `report_small`",
    ] {
        assert!(out.contains(line), "{line} not in:\n{out}");
    }
    assert_eq!(
        e.rows(dir, "select customer from main.small_customers order by 1"),
        vec![json!({"customer": "bob"}), json!({"customer": "carol"})]
    );
    let (_, err) = e.strata(dir, &["run-operation", "bad_query"], 1);
    assert!(err.contains("run_query: ") && err.contains("nope"), "{err}");

    let (out, _) = e.strata(dir, &["run-operation", "answer"], 0);
    assert!(
        out.contains("`answer` returned 42, which is not SQL"),
        "{out}"
    );

    let (_, err) = e.strata(dir, &["run-operation", "creat_audit"], 2);
    assert!(err.contains("no macro is called `creat_audit`"), "{err}");
    assert!(err.contains("did you mean `create_audit`?"), "{err}");
    let (_, err) = e.strata(
        dir,
        &["run-operation", "create_audit", "--args", "{table_nam: x}"],
        2,
    );
    assert!(
        err.contains("macro `create_audit` has no parameter `table_nam`")
            && err.contains("macros/operations.sql:3")
            && err.contains("did you mean `table_name`?"),
        "{err}"
    );
    let (_, err) = e.strata(dir, &["run-operation", "answer", "--args", "[1, 2]"], 2);
    assert!(err.contains("--args must be a mapping"), "{err}");

    let (out, _) = e.strata(dir, &["run-operation", "half_done"], 1);
    assert!(
        out.contains("statement 2 of 3 of `half_done` failed")
            && out.contains("insert into main.no_such_table values (1)")
            && out.contains("the statement before it was applied"),
        "{out}"
    );
    assert!(e.rows(dir, "select * from main.made_before").is_empty());
    let (out, _) = e.strata(
        dir,
        &["show", "--inline", "select * from main.never_made"],
        1,
    );
    assert!(out.contains("cannot preview inline query"), "{out}");
}

#[test]
fn run_operation_runs_a_macros_statements_on_duckdb() {
    let (_t, dir) = fixture_copy("commands");
    let e = Engine::duckdb();
    run_operation_works(&e, &dir);
    // What the operations made, read directly.
    let conn = db(&dir, "cmds.duckdb");
    assert_eq!(
        rows(&conn, "select count(*) from main.audit_log"),
        vec![vec!["2"]]
    );
}

#[test]
fn run_operation_runs_a_macros_statements_on_postgres() {
    let (_t, dir) = fixture_copy("commands");
    let e = Engine::postgres("cmds_op");
    run_operation_works(&e, &dir);
    let url = &e.env[0].1;
    assert_eq!(pg::psql(url, "select count(*) from main.audit_log"), ["2"]);
}

/// show: a model (ephemeral parents inlined), a seed, a source, a data test's failing rows, an
/// inline query with ref() and Jinja; `--limit`, JSON; one node only; nothing built.
fn show_works(e: &Engine, dir: &Path) {
    // Nothing is built by show: the inline query needs no relation.
    let (out, _) = e.strata(
        dir,
        &["show", "--inline", "select 1 as one, 'a' as letter"],
        0,
    );
    assert_eq!(
        out,
        "Previewing inline query (first 5 rows):\none | letter\n----+-------\n  1 | a\n"
    );
    e.strata(dir, &["build"], 0);
    let (out, _) = e.strata(dir, &["show", "-s", "customer_totals", "--limit", "2"], 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Previewing model customer_totals (first 2 rows):");
    assert_eq!(lines[1], "customer | total | orders");
    assert!(lines[3].starts_with("alice    |") && lines[3].ends_with("|      2"));
    assert_eq!(lines.len(), 5, "{out}");

    let (out, _) = e.strata(dir, &["show", "-s", "customer_totals", "-o", "json"], 0);
    let doc: J = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(doc["node"], "model.cmds.customer_totals");
    assert_eq!(
        doc["rows"],
        json!([
            {"customer": "alice", "total": 30.5, "orders": 2},
            {"customer": "bob", "total": 7.0, "orders": 1},
            {"customer": "carol", "total": 3.25, "orders": 1},
        ])
    );
    let names: Vec<&str> = doc["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["customer", "total", "orders"]);
    // The global --log-format json gives the same object as an event.
    let (out, _) = e.strata(
        dir,
        &["--log-format", "json", "show", "-s", "shipped_totals"],
        0,
    );
    let doc: J = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(doc["event"], "show");
    assert_eq!(doc["rows"].as_array().unwrap().len(), 2);

    assert_eq!(
        e.rows(
            dir,
            "select customer from {{ ref('shipped') }} where amount > {{ var('floor', 8) }}"
        ),
        vec![json!({"customer": "alice"})]
    );
    assert_eq!(
        e.rows(dir, "select * from {{ ref('raw_orders') }}").len(),
        4
    );
    let (out, _) = e.strata(
        dir,
        &["show", "-s", "source:shop.raw_orders", "--limit", "1"],
        0,
    );
    assert!(
        out.starts_with("Previewing source raw_orders (first 1 row):"),
        "{out}"
    );
    let (out, _) = e.strata(dir, &["show", "-s", "accepted_values_stg_orders_status"], 0);
    assert!(out.contains("lost"), "{out}");

    let (_, err) = e.strata(dir, &["show", "-s", "stg_orders+"], 2);
    assert!(
        err.contains("`-s stg_orders+` selects 7 nodes") && err.contains("previews one node"),
        "{err}"
    );
    let (_, err) = e.strata(dir, &["show", "--inline", "select 1; select 2"], 2);
    assert!(
        err.contains("S404") && err.contains("--inline holds more than one statement"),
        "{err}"
    );
    let (_, err) = e.strata(
        dir,
        &["show", "--inline", "select * from {{ ref('stg_order') }}"],
        2,
    );
    assert!(err.contains("did you mean `stg_orders`?"), "{err}");
}

#[test]
fn show_previews_nodes_and_queries_on_duckdb() {
    let (_t, dir) = fixture_copy("commands");
    let e = Engine::duckdb();
    e.strata(&dir, &["show", "--inline", "select 1"], 0);
    assert!(
        !dir.join("warehouse").exists(),
        "show created the warehouse"
    );
    show_works(&e, &dir);
}

#[test]
fn show_previews_nodes_and_queries_on_postgres() {
    let (_t, dir) = fixture_copy("commands");
    show_works(&Engine::postgres("cmds_show"), &dir);
}

/// --empty: models (and what reads them) hold zero rows with their columns, seeds load, tests
/// pass; the SQL is still checked by the database; `retry` builds with --empty again.
fn empty_works(e: &Engine, dir: &Path) {
    let (out, _) = e.strata(dir, &["build", "--empty"], 0);
    assert!(
        out.contains("(--empty: models are built with zero rows)")
            && out.contains("4 OK, 3 PASS, 0 WARN"),
        "{out}"
    );
    assert_eq!(e.rows(dir, "select * from main.raw_orders").len(), 4);
    for model in ["stg_orders", "customer_totals", "shipped_totals"] {
        assert!(
            e.rows(dir, &format!("select * from main.{model}"))
                .is_empty()
        );
    }
    let (out, _) = e.strata(
        dir,
        &[
            "show",
            "--inline",
            "select customer, total, orders from main.customer_totals",
            "-o",
            "json",
        ],
        0,
    );
    let doc: J = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(doc["columns"].as_array().unwrap().len(), 3);

    // A function the engine does not have fails even on zero rows.
    let later = dir.join("models/marts/later.sql");
    std::fs::write(
        &later,
        "select customer, no_such_fn(amount) as x\nfrom {{ ref('stg_orders') }}\n",
    )
    .unwrap();
    let (out, _) = e.strata(dir, &["run", "--empty"], 1);
    assert!(
        out.contains("no_such_fn") && out.contains("models/marts/later.sql:1"),
        "{out}"
    );
    assert_eq!(run_results(dir)["args"]["empty"], true);
    std::fs::write(
        &later,
        "select customer, abs(amount) as x\nfrom {{ ref('stg_orders') }}\n",
    )
    .unwrap();
    let (out, _) = e.strata(dir, &["retry"], 0);
    assert!(out.contains("--empty"), "{out}");
    assert!(e.rows(dir, "select x from main.later").is_empty());
}

#[test]
fn empty_builds_models_with_zero_rows_on_duckdb() {
    let (_t, dir) = fixture_copy("commands");
    empty_works(&Engine::duckdb(), &dir);
}

#[test]
fn empty_builds_models_with_zero_rows_on_postgres() {
    let (_t, dir) = fixture_copy("commands");
    empty_works(&Engine::postgres("cmds_empty"), &dir);
}

/// --quiet and --warn-error: the warning test (`lost` is not an accepted status) warns and the
/// build succeeds; with --warn-error it fails and what is built on its model is skipped, also
/// when `retry` replays the run; a compile warning stops the command. --quiet prints only the
/// failures.
fn quiet_and_warn_error_work(e: &Engine, dir: &Path) {
    let (out, _) = e.strata(dir, &["--quiet", "build"], 0);
    assert_eq!(out, "", "--quiet printed on success");
    let (out, _) = e.strata(dir, &["build"], 0);
    assert!(
        out.contains("WARN  test accepted_values_stg_orders_status"),
        "{out}"
    );

    let (out, _) = e.strata(dir, &["build", "--warn-error"], 1);
    assert!(
        out.contains("FAIL  test accepted_values_stg_orders_status")
            && out.contains("1 failing row (a warning, made an error by --warn-error)")
            && out.contains("SKIP  table main.customer_totals"),
        "{out}"
    );
    // The same with --quiet: the failing test with its rows, and the failure list; nothing else.
    let (out, _) = e.strata(dir, &["--quiet", "--warn-error", "build"], 1);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("FAIL  test accepted_values_stg_orders_status"),
        "{out}"
    );
    assert!(out.contains("lost"), "{out}");
    assert!(
        !out.contains(" OK ") && !out.contains("SKIP") && !out.contains("Done in"),
        "{out}"
    );
    assert!(
        out.contains("\n1 failure:\n  FAIL  test accepted_values_stg_orders_status"),
        "{out}"
    );
    // retry replays --warn-error: the test fails again.
    let (out, _) = e.strata(dir, &["retry"], 1);
    assert!(out.contains("made an error by --warn-error"), "{out}");

    // A compile warning (a folder config that matches nothing) stops the command.
    let project = dir.join("project.yml");
    let text = std::fs::read_to_string(&project).unwrap();
    std::fs::write(
        &project,
        format!("{text}    old_marts:\n      +materialized: table\n"),
    )
    .unwrap();
    let (_, err) = e.strata(dir, &["compile"], 0);
    assert!(err.contains("warning[S107]"), "{err}");
    let (_, err) = e.strata(dir, &["--quiet", "compile"], 0);
    assert_eq!(err, "", "--quiet printed a warning");
    let (_, err) = e.strata(dir, &["--warn-error", "run"], 2);
    assert!(
        err.contains("error[S107]") && err.contains("made an error by --warn-error"),
        "{err}"
    );
}

#[test]
fn quiet_and_warn_error_on_duckdb() {
    let (_t, dir) = fixture_copy("commands");
    quiet_and_warn_error_work(&Engine::duckdb(), &dir);
}

#[test]
fn quiet_and_warn_error_on_postgres() {
    let (_t, dir) = fixture_copy("commands");
    quiet_and_warn_error_work(&Engine::postgres("cmds_quiet"), &dir);
}
