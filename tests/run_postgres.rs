//! End-to-end runs on a real PostgreSQL server (a throwaway cluster from the installed binaries,
//! or STRATA_TEST_PG_URL): the example warehouse equal to its DuckDB build, grants, row-level
//! security, materialized views refreshed without blocking readers, views bound to rebuilt
//! tables, incremental strategies, the run lock, a server stopped mid-run, and no password in
//! any output or artifact.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::{self, psql};
use common::{db, example_copy, fixture_copy, rows, run_results, strata_env_ok as ok};

fn sorted(table: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut table = pg::normalized(table);
    table.sort();
    table
}

/// Privileges of `role` on every relation of the database, materialized views included (which
/// information_schema does not show).
fn privileges_of(url: &str, role: &str) -> Vec<String> {
    psql(
        url,
        &format!(
            "select n.nspname || '.' || c.relname || ':' || a.privilege_type \
             from pg_class c join pg_namespace n on n.oid = c.relnamespace \
             cross join lateral aclexplode(c.relacl) a \
             where a.grantee = '{role}'::regrole order by 1"
        ),
    )
}

fn grants_of(url: &str, role: &str) -> Vec<String> {
    psql(
        url,
        &format!(
            "select table_schema || '.' || table_name || ':' || privilege_type \
             from information_schema.role_table_grants where grantee = '{role}' order by 1"
        ),
    )
}

/// The message a node's result carries in run_results.json.
fn message_of(dir: &Path, id: &str) -> String {
    let rr = run_results(dir);
    rr["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unique_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in run results"))["message"]
        .as_str()
        .unwrap()
        .to_string()
}

fn every_file_under(dir: &Path) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect()
}

const MARTS: &[&str] = &[
    "mart_fact_sales",
    "mart_fact_cashflow",
    "mart_fact_cashflow_v1",
    "mart_fact_wip",
    "mart_ar_aging",
    "mart_ap_aging",
    "mart_kpi_ceo",
];

#[test]
fn example_builds_on_postgres_like_duckdb_with_grants_and_row_security_and_no_password_leak() {
    let url = pg::fresh_database("ofitec");
    let (_tmp_pg, pg_dir) = example_copy();
    let env = [("OFITEC_PG_DSN", url.as_str())];
    let out = ok(&pg_dir, &["build", "--target", "prod"], &env, 0);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.contains(" 0 ERROR, 0 FAIL, 0 SKIP"), "{stdout}");
    assert_eq!(
        message_of(&pg_dir, "model.ofitec.mart_kpi_ceo"),
        "created materialized view marts.mart_kpi_ceo"
    );

    // The same project on DuckDB: every mart has the same rows.
    let (_tmp_duck, duck_dir) = example_copy();
    ok(&duck_dir, &["build"], &[], 0);
    let duck = db(&duck_dir, "ofitec.duckdb");
    for mart in MARTS {
        // load_ts is when each build loaded the raw data (the freshness SLO's column): the
        // two builds differ there by design, and must both be within the SLO.
        let columns: Vec<String> = rows(
            &duck,
            &format!(
                "select column_name from information_schema.columns where table_schema = 'marts' \
                 and table_name = '{mart}' and column_name <> 'load_ts' order by ordinal_position"
            ),
        )
        .into_iter()
        .map(|r| format!("\"{}\"", r[0]))
        .collect();
        let sql = format!("select {} from marts.{mart}", columns.join(", "));
        let d = sorted(rows(&duck, &sql));
        let p = sorted(pg::rows(&url, &sql));
        assert!(!d.is_empty(), "{mart} is empty on DuckDB");
        assert_eq!(d, p, "{mart} differs between DuckDB and Postgres");
    }
    drop(duck);
    let age = pg::rows(
        &url,
        "select extract(epoch from (now() at time zone 'utc') - max(load_ts)) from marts.mart_fact_cashflow",
    );
    let age: f64 = age[0][0].parse().unwrap();
    assert!((0.0..1200.0).contains(&age), "load_ts is {age}s old");

    // bi_reader: SELECT on every mart and nothing else (information_schema leaves out the
    // materialized view; the catalog shows it).
    let mut expected: Vec<String> = MARTS.iter().map(|m| format!("marts.{m}:SELECT")).collect();
    expected.sort();
    assert_eq!(privileges_of(&url, "bi_reader"), expected);
    let tables_and_views: Vec<String> = expected
        .iter()
        .filter(|g| !g.contains("mart_kpi_ceo"))
        .cloned()
        .collect();
    assert_eq!(grants_of(&url, "bi_reader"), tables_and_views);

    // Row-level security: a company's reader sees its rows only; bi_reader sees them all.
    let as_role = |role: &str| {
        psql(
            &url,
            &format!(
                "set role {role}; select string_agg(distinct company_id::text, ',' order by company_id::text) from marts.mart_fact_sales"
            ),
        )
    };
    assert_eq!(as_role("company_1_reader"), vec!["1"]);
    assert_eq!(as_role("company_2_reader"), vec!["2"]);
    assert_eq!(as_role("bi_reader"), vec!["1,2"]);

    // A second build refreshes the materialized view concurrently and changes nothing.
    let before = sorted(pg::rows(&url, "select * from marts.mart_kpi_ceo"));
    let out = ok(&pg_dir, &["build", "--target", "prod"], &env, 0);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        message_of(&pg_dir, "model.ofitec.mart_kpi_ceo"),
        "refreshed materialized view marts.mart_kpi_ceo concurrently"
    );
    assert_eq!(
        sorted(pg::rows(&url, "select * from marts.mart_kpi_ceo")),
        before
    );
    assert_eq!(privileges_of(&url, "bi_reader"), expected);

    // No password anywhere: outputs, artifacts, compiled SQL, logs. A wrong password too.
    let bad = url.replace(pg::PASSWORD, "wrong-pa55word");
    let failed = ok(
        &pg_dir,
        &["debug", "--target", "prod"],
        &[("OFITEC_PG_DSN", bad.as_str())],
        1,
    );
    let mut texts = vec![
        stdout,
        String::from_utf8_lossy(&out.stderr).to_string(),
        String::from_utf8_lossy(&failed.stdout).to_string(),
        String::from_utf8_lossy(&failed.stderr).to_string(),
    ];
    assert!(
        texts[2].contains("password authentication failed") || texts[2].contains("connect"),
        "{}",
        texts[2]
    );
    // `debug` names the server with the password masked.
    assert!(texts[2].contains(":****@"), "{}", texts[2]);
    for f in every_file_under(&pg_dir) {
        texts.push(String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_string());
    }
    assert!(texts.len() > 20, "artifacts were written");
    for t in &texts {
        assert!(!t.contains(pg::PASSWORD), "the password leaked:\n{t}");
        assert!(!t.contains("wrong-pa55word"), "the password leaked:\n{t}");
    }

    // Grants removed from the config are revoked on the next run.
    let project = std::fs::read_to_string(pg_dir.join("project.yml")).unwrap();
    let project = project.replace("        select: [bi_reader]\n", "        select: []\n");
    std::fs::write(pg_dir.join("project.yml"), project).unwrap();
    let sales = pg_dir.join("models/marts/mart_fact_sales.sql");
    let text = std::fs::read_to_string(&sales)
        .unwrap()
        .replace("'bi_reader', ", "");
    std::fs::write(&sales, text).unwrap();
    ok(
        &pg_dir,
        &["run", "--target", "prod", "-s", "tag:marts"],
        &env,
        0,
    );
    assert_eq!(grants_of(&url, "bi_reader"), Vec::<String>::new());
    assert_eq!(privileges_of(&url, "bi_reader"), Vec::<String>::new());
    assert_eq!(
        privileges_of(&url, "company_1_reader"),
        vec!["marts.mart_fact_sales:SELECT"]
    );
}

#[test]
fn incremental_strategies_run_on_postgres() {
    let url = pg::fresh_database("inc");
    let (_tmp, dir) = fixture_copy("run_incremental");
    let env = [("INC_PG_DSN", url.as_str())];
    ok(&dir, &["build", "-t", "pg"], &env, 0);
    let merge1 = pg::rows(&url, "select * from main.inc_merge order by id");
    assert_eq!(merge1.len(), 3);
    ok(&dir, &["run", "-t", "pg"], &env, 0);
    assert_eq!(
        pg::rows(&url, "select * from main.inc_merge order by id"),
        merge1
    );
    // On Postgres the merge strategy is one MERGE statement.
    let plan = ok(
        &dir,
        &["run", "-t", "pg", "--dry-run", "-s", "inc_merge"],
        &env,
        0,
    );
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("merge into \"main\".\"inc_merge\" as t"),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );
    std::fs::write(
        dir.join("seeds/events.csv"),
        common::INCREMENTAL_EVENTS_CHANGED,
    )
    .unwrap();
    ok(&dir, &["build", "-t", "pg"], &env, 0);
    for (sql, want) in common::incremental_after_change() {
        assert_eq!(pg::rows(&url, sql), want, "{sql}");
    }
}

#[test]
fn seeds_indexes_and_views_bound_to_a_rebuilt_table() {
    let url = pg::fresh_database("pgrun");
    let (_tmp, dir) = fixture_copy("pg_run");
    let env = [("PGRUN_DSN", url.as_str())];
    ok(
        &dir,
        &["build", "--exclude", "mv_keyed", "mv_plain"],
        &env,
        0,
    );
    // COPY kept quotes, commas and NULLs; types were inferred.
    assert_eq!(
        pg::rows(
            &url,
            "select id, name, score, joined from analytics.people order by id"
        ),
        vec![
            vec!["1", "Smith, Ann", "1.5", "2024-01-31"],
            vec!["2", "O\"Brien", "NULL", "2024-02-29"],
            vec!["3", "NULL", "3", "NULL"],
        ]
    );
    assert_eq!(
        psql(
            &url,
            "select data_type from information_schema.columns where table_name = 'people' order by ordinal_position"
        ),
        vec!["bigint", "character varying", "double precision", "date"]
    );
    // The unique index of `indexes`.
    assert_eq!(
        psql(
            &url,
            "select count(*) from pg_indexes where schemaname = 'analytics' and tablename = 'slow' and indexdef like 'CREATE UNIQUE INDEX%(id)'"
        ),
        vec!["1"]
    );
    // Rebuilding `slow` alone keeps the view that reads it (and its grant), on the new rows.
    ok(
        &dir,
        &["run", "-s", "slow", "--vars", "{factor: 3}"],
        &env,
        0,
    );
    assert_eq!(
        pg::rows(&url, "select id, v from analytics.reader_view order by id"),
        vec![vec!["1", "30"], vec!["2", "60"], vec!["3", "90"]]
    );
    assert_eq!(
        grants_of(&url, "bi_reader"),
        vec!["analytics.reader_view:SELECT"]
    );
    // A change the view cannot follow: when the compiler sees it (the view reads a column
    // `slow` no longer has), it is refused before anything runs (S405, issue 19 point 7)...
    std::fs::write(
        dir.join("models/slow.sql"),
        "select b.id from {{ ref('base') }} as b\n",
    )
    .unwrap();
    let out = ok(&dir, &["run", "-s", "slow"], &env, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error[S405]") && stderr.contains("models/reader_view.sql:2:12"),
        "{stderr}"
    );
    // ...when it does not (a column named by the engine, `?column?`), the build fails at run
    // time; everything stays as it was.
    std::fs::write(
        dir.join("models/slow.sql"),
        "select b.id, b.v + 0 from {{ ref('base') }} as b\n",
    )
    .unwrap();
    let out = ok(&dir, &["run", "-s", "slow"], &env, 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "view `analytics.reader_view`, which reads this relation, cannot be recreated"
        ),
        "{stdout}"
    );
    assert_eq!(
        pg::rows(&url, "select id, v from analytics.slow order by id"),
        vec![vec!["1", "30"], vec!["2", "60"], vec!["3", "90"]]
    );
    // A view whose columns change is dropped and created (Postgres refuses `create or replace`).
    std::fs::write(
        dir.join("models/reader_view.sql"),
        "{{ config(materialized='view') }}\nselect v, id, v + 1 as w from {{ ref('slow') }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("models/slow.sql"),
        "select b.id, b.v from {{ ref('base') }} as b\n",
    )
    .unwrap();
    ok(&dir, &["run", "-s", "reader_view"], &env, 0);
    assert_eq!(
        pg::rows(
            &url,
            "select v, id, w from analytics.reader_view order by id"
        ),
        vec![
            vec!["30", "1", "31"],
            vec!["60", "2", "61"],
            vec!["90", "3", "91"]
        ]
    );
    // Nothing half-built is left behind.
    assert_eq!(
        psql(
            &url,
            "select count(*) from pg_class where relname like '%__strata_%'"
        ),
        vec!["0"]
    );
}

/// Waits until a statement containing `needle` runs on the server.
fn wait_for_statement(url: &str, needle: &str, limit: Duration) {
    let t0 = Instant::now();
    loop {
        let n = psql(
            url,
            &format!(
                "select count(*) from pg_stat_activity where query ilike '%{needle}%' and pid <> pg_backend_pid()"
            ),
        );
        if n != vec!["0"] {
            return;
        }
        assert!(t0.elapsed() < limit, "`{needle}` never started");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `strata ARGS` in the background.
fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("--project-dir")
        .arg(dir)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the materialized view with a 1-second statement timeout; true when it answered.
fn reader_answers(url: &str, mv: &str) -> bool {
    Command::new("/usr/lib/postgresql/15/bin/psql")
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c"])
        .arg(format!(
            "set statement_timeout = 1000; select count(*) from analytics.{mv}"
        ))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn refreshing_a_materialized_view_concurrently_does_not_block_readers() {
    let url = pg::fresh_database("mv");
    let (_tmp, dir) = fixture_copy("pg_run");
    let env = [("PGRUN_DSN", url.as_str())];
    ok(&dir, &["build", "-s", "+mv_keyed", "+mv_plain"], &env, 0);
    assert_eq!(
        pg::rows(&url, "select id, v from analytics.mv_keyed order by id"),
        vec![vec!["1", "10"], vec!["2", "20"], vec!["3", "30"]]
    );
    // Refreshes now take 3 s (the definition is unchanged, so it is a refresh, not a rebuild).
    psql(&url, "update analytics.delay set seconds = 3");
    // With a unique_key the refresh is concurrent: a reader is answered while it runs.
    let child = spawn(&dir, &["run", "-s", "mv_keyed"], &env);
    wait_for_statement(
        &url,
        "refresh materialized view concurrently",
        Duration::from_secs(20),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(reader_answers(&url, "mv_keyed"), "the reader was blocked");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        message_of(&dir, "model.pgrun.mv_keyed"),
        "refreshed materialized view analytics.mv_keyed concurrently"
    );
    // Without one, the plain refresh locks readers out (which is why unique_key matters).
    let child = spawn(&dir, &["run", "-s", "mv_plain"], &env);
    wait_for_statement(
        &url,
        "refresh materialized view \"analytics\".\"mv_plain\"",
        Duration::from_secs(20),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !reader_answers(&url, "mv_plain"),
        "the reader was not blocked"
    );
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn server_stopped_mid_run_fails_cleanly_and_retry_completes() {
    let server = pg::start_cluster();
    let url = pg::fresh_database_on(&server, "stop");
    let (_tmp, dir) = fixture_copy("pg_run");
    let env = [("PGRUN_DSN", url.as_str())];
    ok(
        &dir,
        &["build", "--exclude", "mv_keyed", "mv_plain"],
        &env,
        0,
    );
    // The next version of `slow` takes 10 s; the server goes away while it is being built.
    let vars = "{sleep: 10, factor: 2}";
    let child = spawn(&dir, &["run", "-s", "slow+", "--vars", vars], &env);
    wait_for_statement(&url, "pg_sleep(10)", Duration::from_secs(20));
    server.stop();
    let t0 = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(30), "the run hung");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ERROR"), "{stdout}");
    assert!(
        stdout.contains("connect") || stdout.contains("terminating"),
        "the failure says what happened:\n{stdout}"
    );
    let rr = run_results(&dir);
    let status = |id: &str| {
        rr["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unique_id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("model.pgrun.slow"), "error");
    assert_eq!(status("model.pgrun.reader_view"), "skipped");

    // Back up: the old version is intact, nothing half-swapped; retry finishes the run.
    server.start();
    assert_eq!(
        pg::rows(&url, "select id, v from analytics.slow order by id"),
        vec![vec!["1", "10"], vec!["2", "20"], vec!["3", "30"]]
    );
    assert_eq!(
        psql(
            &url,
            "select count(*) from pg_class where relname like '%__strata_%'"
        ),
        vec!["0"]
    );
    // `retry` reruns the failed invocation (vars included, so it sleeps again: 10 s).
    ok(&dir, &["retry"], &env, 0);
    assert_eq!(
        pg::rows(&url, "select id, v from analytics.reader_view order by id"),
        vec![vec!["1", "20"], vec!["2", "40"], vec!["3", "60"]]
    );
}

#[test]
fn two_runs_on_one_target_never_interleave() {
    let url = pg::fresh_database("lock");
    let (_tmp1, dir1) = fixture_copy("pg_run");
    let (_tmp2, dir2) = fixture_copy("pg_run");
    let env = [("PGRUN_DSN", url.as_str())];
    ok(&dir1, &["seed"], &env, 0);
    let args = ["run", "-s", "base", "slow", "--vars", "{sleep: 2}"];
    let a = spawn(&dir1, &args, &env);
    wait_for_statement(&url, "pg_sleep(2)", Duration::from_secs(20));
    // A second run with a short lock_timeout gives up with a clear message.
    let impatient = [("PGRUN_DSN", url.as_str()), ("PGRUN_LOCK_TIMEOUT", "0.5")];
    let out = ok(&dir2, &args, &impatient, 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("another run holds the lock on target `pg`"),
        "{stdout}"
    );
    // A patient one waits for the first to finish, then runs.
    let b = spawn(&dir2, &args, &env);
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stdout));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stdout));
    let span = |dir: &Path| {
        let rr = run_results(dir);
        let times: Vec<(String, String)> = rr["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let execute = &r["timing"][0];
                assert_eq!(execute["name"], "execute");
                (
                    execute["started_at"].as_str().unwrap().to_string(),
                    execute["completed_at"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let start = times.iter().map(|t| t.0.clone()).min().unwrap();
        let end = times.iter().map(|t| t.1.clone()).max().unwrap();
        (start, end)
    };
    let (a_start, a_end) = span(&dir1);
    let (b_start, b_end) = span(&dir2);
    assert!(
        a_end <= b_start || b_end <= a_start,
        "runs interleaved: {a_start}..{a_end} and {b_start}..{b_end}"
    );
}

#[test]
fn statement_timeout_cancels_on_the_server_and_keeps_the_old_table() {
    let url = pg::fresh_database("timeout");
    let (_tmp, dir) = fixture_copy("pg_run");
    let env = [("PGRUN_DSN", url.as_str())];
    ok(
        &dir,
        &["build", "--exclude", "mv_keyed", "mv_plain"],
        &env,
        0,
    );
    std::fs::write(
        dir.join("models/slow.sql"),
        "{{ config(statement_timeout=1, retries=0) }}\nselect b.id, b.v * 5 as v\nfrom {{ ref('base') }} as b\nwhere (select true from pg_sleep(30))\n",
    )
    .unwrap();
    let t0 = Instant::now();
    let out = ok(&dir, &["run", "-s", "slow"], &env, 1);
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "the statement was not cancelled"
    );
    assert_eq!(
        message_of(&dir, "model.pgrun.slow"),
        "statement timed out after 1s (statement_timeout)",
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Cancelled on the server, not merely abandoned: nothing of it still runs.
    assert_eq!(
        psql(
            &url,
            "select count(*) from pg_stat_activity where query like '%pg_sleep(30)%' and pid <> pg_backend_pid()"
        ),
        vec!["0"]
    );
    assert_eq!(
        pg::rows(&url, "select id, v from analytics.slow order by id"),
        vec![vec!["1", "10"], vec!["2", "20"], vec!["3", "30"]]
    );
}
