//! What a user sees for each diagnostic: one broken fixture project per case under
//! `tests/fixtures/diag_<case>/`, compiled with the real binary. Exit code, stdout and stderr are
//! snapshotted (`tests/snapshots/cli_diagnostics__<case>.snap`), and the essentials — the exit
//! code, the `file:line:col`, the did-you-mean — are also asserted explicitly, so that a snapshot
//! accepted by mistake cannot hide a regression.

use std::process::Command;

use insta_cmd::{assert_cmd_snapshot, get_cargo_bin};

/// The variable the `missing_env_var` fixture reads; removed from the child's environment.
const UNSET_VAR: &str = "STRATA_FIXTURE_UNSET_VAR";

/// `strata` run from the crate root, so that paths in the output are stable.
fn strata() -> Command {
    let mut cmd = Command::new(get_cargo_bin("strata"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// `strata --project-dir tests/fixtures/diag_<case> compile`.
fn compile(case: &str) -> Command {
    let mut cmd = strata();
    cmd.args([
        "--project-dir",
        &format!("tests/fixtures/diag_{case}"),
        "compile",
    ]);
    cmd
}

/// Insta settings shared by every snapshot: run times vary, everything else must not.
fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"in \d+\.\d+s", "in [ELAPSED]");
    s
}

/// Runs `cmd`, asserts its exit code and that stderr holds every `expected` text, then
/// snapshots exit code, stdout and stderr under `name`. Returns stderr for further checks.
fn check(name: &str, mut cmd: Command, code: i32, expected: &[&str]) -> String {
    let out = cmd.output().expect("strata runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code of `{name}`\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    for e in expected {
        assert!(
            stderr.contains(e),
            "stderr of `{name}` lacks {e:?}\n--- stderr\n{stderr}"
        );
    }
    settings().bind(|| assert_cmd_snapshot!(name, cmd));
    stderr
}

/// Number of rendered diagnostics whose header starts with `header` (`error[`, `warning[`).
fn count(stderr: &str, header: &str) -> usize {
    stderr.lines().filter(|l| l.starts_with(header)).count()
}

#[test]
fn invalid_yaml() {
    let err = check(
        "invalid_yaml",
        compile("invalid_yaml"),
        2,
        &[
            "error[S101]",
            "models/schema.yml:4:",
            "indentation",
            "1 error",
        ],
    );
    assert_eq!(count(&err, "error["), 1);
}

#[test]
fn unknown_config_key() {
    check(
        "unknown_config_key",
        compile("unknown_config_key"),
        2,
        &[
            "error[S102]",
            "`materialzed`",
            "project.yml:9:5",
            "did you mean `materialized`?",
        ],
    );
}

#[test]
fn unknown_config_key_sql() {
    check(
        "unknown_config_key_sql",
        compile("unknown_config_key_sql"),
        2,
        &[
            "error[S102]",
            "`materialzed`",
            "models/orders.sql:1:",
            "did you mean `materialized`?",
        ],
    );
}

#[test]
fn unknown_yaml_key() {
    check(
        "unknown_yaml_key",
        compile("unknown_yaml_key"),
        2,
        &[
            "error[S102]",
            "`descripton`",
            "models/schema.yml:4:5",
            "did you mean `description`?",
        ],
    );
}

#[test]
fn missing_ref() {
    check(
        "missing_ref",
        compile("missing_ref"),
        2,
        &[
            "error[S301]",
            "ref('stg_order')",
            "models/orders.sql:2:9",
            "did you mean `stg_orders`?",
        ],
    );
}

#[test]
fn missing_source() {
    check(
        "missing_source",
        compile("missing_source"),
        2,
        &[
            "error[S302]",
            "source('shop', 'ordres')",
            "models/stg_orders.sql:2:9",
            "did you mean `source('shop', 'orders')`?",
        ],
    );
}

#[test]
fn cycle() {
    let err = check(
        "cycle",
        compile("cycle"),
        2,
        &[
            "error[S303]",
            "a → b → c → a",
            "models/b.sql:1:",
            "models/c.sql:1:",
            "models/a.sql:1:",
        ],
    );
    assert_eq!(count(&err, "error["), 1, "one cycle, one diagnostic");
}

#[test]
fn jinja_error() {
    check(
        "jinja_error",
        compile("jinja_error"),
        2,
        &[
            "error[S201]",
            "unknown function `cents_to_dollars`",
            "models/orders.sql:3:8",
            "{% macro cents_to_dollars(...) %}",
        ],
    );
}

#[test]
fn sql_syntax_error() {
    // The model's Jinja expands three source lines into several rendered ones: the diagnostic
    // must point at the source line (8), not at the rendered one.
    check(
        "sql_syntax_error",
        compile("sql_syntax_error"),
        2,
        &[
            "error[S401]",
            "┌─ models/open_orders.sql:8:16",
            "8 │ where amount > > 0",
        ],
    );
}

#[test]
fn duplicate_model() {
    check(
        "duplicate_model",
        compile("duplicate_model"),
        2,
        &[
            "error[S105]",
            "`orders`",
            "models/marts/orders.sql",
            "models/staging/orders.sql",
        ],
    );
}

#[test]
fn missing_env_var() {
    let mut cmd = compile("missing_env_var");
    cmd.env_remove(UNSET_VAR);
    check(
        "missing_env_var",
        cmd,
        2,
        &["error[S202]", UNSET_VAR, "models/orders.sql:3:"],
    );
}

#[test]
fn missing_var() {
    check(
        "missing_var",
        compile("missing_var"),
        2,
        &["error[S203]", "`start_date`", "models/orders.sql:2:"],
    );
}

#[test]
fn unknown_test() {
    check(
        "unknown_test",
        compile("unknown_test"),
        2,
        &[
            "error[S304]",
            "`not_nul`",
            "models/schema.yml:6:25",
            "did you mean `not_null`?",
        ],
    );
}

/// Columns read from `ref`'d models and seeds that they do not have: an error at the column in
/// the model file when the parent's columns are certain (a seed's header, its analyzed SQL),
/// also after Jinja and on a line where a `ref()` was replaced before it; a warning when they
/// are only declared in properties. Nothing about CTEs, derived tables, aliases or `*`.
#[test]
fn unknown_column() {
    let err = check(
        "unknown_column",
        compile("unknown_column"),
        2,
        &[
            "error[S405]: `orders` reads column `costumer_name` of `raw_orders`",
            "models/orders.sql:3:54",
            "did you mean `customer_name`?",
            "error[S405]: `orders` reads column `amount_cent` of `stg_orders`",
            "models/orders.sql:5:9",
            "did you mean `amount_cents`?",
            "error[S405]: `totals` reads column `ammount` of `stg_orders`",
            "models/totals.sql:2:45",
            "did you mean `amount`?",
            "warning[S405]: `reads_by_day` reads column `orders` of `by_day`",
            "models/reads_by_day.sql:1:27",
            "did you mean `order_count`?",
            "3 errors, 1 warning",
        ],
    );
    assert!(!err.contains("`fine`"), "{err}");
}

/// A generic test declared on a column the model does not have: at the test in the YAML.
#[test]
fn test_unknown_column() {
    let err = check(
        "test_unknown_column",
        compile("test_unknown_column"),
        2,
        &[
            "error[S305]: test `not_null` is declared on column `amout` of model `orders`",
            "models/schema.yml:9:13",
            "models/schema.yml:10:13",
            "did you mean `amount`?",
            "2 errors",
        ],
    );
    assert!(!err.contains("lower(order_id)"), "{err}");
}

/// A model file that renders to nothing but whitespace and comments (today: compiled, then a
/// database syntax error at run time).
#[test]
fn empty_model() {
    let err = check(
        "empty_model",
        compile("empty_model"),
        2,
        &[
            "error[S406]: model `customers` has no SQL statement",
            "models/customers.sql:1:1",
            "error[S406]: model `orders` has no SQL statement",
            "models/orders.sql:1:1",
            "2 errors",
        ],
    );
    assert!(!err.contains("`fine`"), "{err}");
}

#[test]
fn raise_compiler_error() {
    check(
        "raise_compiler_error",
        compile("raise_compiler_error"),
        2,
        &[
            "error[S204]",
            "region must be `eu` or `us`",
            "models/orders.sql:2:",
        ],
    );
}

#[test]
fn hard_coded_relation() {
    let err = check(
        "hard_coded_relation",
        compile("hard_coded_relation"),
        0,
        &[
            "warning[S402]",
            "`raw.orders`",
            "models/orders.sql:2:6",
            "^^^^^^^^^^ hard-coded relation",
            "1 warning",
        ],
    );
    assert_eq!(count(&err, "error["), 0);
}

#[test]
fn several_problems() {
    // Five problems in four files, of different stages (properties YAML, Jinja, refs):
    // one run reports them all.
    let err = check(
        "several_problems",
        compile("several_problems"),
        2,
        &[
            "models/customers.sql:2:",
            "models/orders.sql:2:",
            "models/revenue.sql:3:",
            "models/schema.yml:4:5",
            "models/schema.yml:7:",
            "error[S102]",
            "error[S201]",
            "error[S203]",
            "error[S301]",
            "error[S304]",
            "5 errors",
        ],
    );
    assert_eq!(count(&err, "error["), 5);
}

#[test]
fn bad_selector() {
    let mut cmd = strata();
    cmd.args([
        "--project-dir",
        "tests/fixtures/diag_valid",
        "ls",
        "-s",
        "tgs:x",
    ]);
    check(
        "bad_selector",
        cmd,
        2,
        &[
            "error[S501]",
            "`tgs`",
            "did you mean `tag:`?",
            "the selector methods are tag:, path:",
        ],
    );
}

#[test]
fn unknown_target() {
    let mut cmd = compile("valid");
    cmd.args(["--target", "nope"]);
    check(
        "unknown_target",
        cmd,
        2,
        &["error[S104]", "target `nope`", "dev"],
    );
}

#[test]
fn init_then_compile() {
    // `init` refuses an existing directory, so the explicit run and the snapshot each get a
    // fresh temp dir; paths are relative to it, so no temp path reaches the output.
    let snap_dir = tempfile::tempdir().expect("temp dir");
    let mut init = strata();
    init.current_dir(snap_dir.path()).args(["init", "demo"]);
    settings().bind(|| assert_cmd_snapshot!("init", init));

    let tmp = tempfile::tempdir().expect("temp dir");
    let out = strata()
        .current_dir(tmp.path())
        .args(["init", "demo"])
        .output()
        .expect("strata runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(tmp.path().join("demo/project.yml").is_file());

    // `strata init x && cd x && strata build`: no target configured, so the embedded DuckDB
    // default, said in one line.
    let out = strata()
        .current_dir(tmp.path().join("demo"))
        .env("HOME", tmp.path())
        .env_remove("DBT_PROFILES_DIR")
        .arg("build")
        .output()
        .expect("strata runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stderr,
        "note: no target is configured: building into warehouse/demo.duckdb (embedded DuckDB, schema main)\n"
    );
    assert!(tmp.path().join("demo/.strata/manifest.json").is_file());
    assert!(tmp.path().join("demo/warehouse/demo.duckdb").is_file());
    let project = std::fs::read_to_string(tmp.path().join("demo/project.yml")).unwrap();
    assert!(!project.contains("\ntargets:"), "{project}");
}

#[test]
fn selector_matches_nothing() {
    let mut cmd = strata();
    cmd.args([
        "--project-dir",
        "tests/fixtures/diag_valid",
        "ls",
        "-s",
        "+ordrs",
        "tag:finanse",
        "--exclude",
        "customers",
    ]);
    let err = check(
        "selector_matches_nothing",
        cmd,
        2,
        &[
            "error[S502]",
            "--select `+ordrs` matches no node",
            "did you mean `+orders`?",
            "did you mean `tag:finance`?",
            "--exclude `customers` matches no node",
            "3 errors",
        ],
    );
    assert_eq!(count(&err, "error[S502]"), 3);
}

#[test]
fn junit_xml_in_missing_directory() {
    let mut cmd = strata();
    cmd.args([
        "--project-dir",
        "tests/fixtures/diag_valid",
        "build",
        "--junit-xml",
        "no/such/dir/junit.xml",
    ]);
    check(
        "junit_xml_in_missing_directory",
        cmd,
        2,
        &[
            "error[S003]",
            "no/such/dir/junit.xml",
            "the directory no/such/dir does not exist",
        ],
    );
}
