//! End-to-end runs on embedded DuckDB: the example warehouse, incremental strategies, failures
//! and skips, concurrency, retries of transient errors and `strata retry`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{db, example_copy, fixture_copy, rows, run_results, strata, strata_ok};

fn result_of<'a>(rr: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    rr["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unique_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in run results"))
}

#[test]
fn build_of_the_example_creates_every_mart_with_hand_computed_values() {
    let (_tmp, dir) = example_copy();
    let out = strata_ok(&dir, &["build"], 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" 0 ERROR, 0 FAIL, 0 SKIP"), "{stdout}");
    let conn = db(&dir, "ofitec.duckdb");
    for mart in [
        "mart_fact_sales",
        "mart_fact_cashflow",
        "mart_fact_wip",
        "mart_ar_aging",
        "mart_ap_aging",
        "mart_kpi_ceo",
    ] {
        let n = rows(&conn, &format!("select count(*) from marts.{mart}"));
        assert!(n[0][0].parse::<u64>().unwrap() > 0, "{mart} is empty");
    }
    // mart_ar_aging: 6 rows; per company the buckets computed by hand from the seeds.
    assert_eq!(
        rows(&conn, "select count(*) from marts.mart_ar_aging"),
        vec![vec!["6"]]
    );
    assert_eq!(
        rows(
            &conn,
            "select company_id, sum(bucket_0_30), sum(bucket_31_60), sum(bucket_61_90), sum(bucket_90_plus), sum(total)
             from marts.mart_ar_aging group by company_id order by company_id"
        ),
        vec![
            vec!["1", "1419860400.00", "0.00", "112455000.00", "213248000.00", "1745563400.00"],
            vec!["2", "1812524700.00", "205917600.00", "245140000.00", "14708400.00", "2278290700.00"],
        ]
    );
    // mart_fact_cashflow: 69 rows; planned and actual per company.
    assert_eq!(
        rows(&conn, "select count(*) from marts.mart_fact_cashflow"),
        vec![vec!["69"]]
    );
    assert_eq!(
        rows(
            &conn,
            "select company_id, count(*), sum(amount_planned), sum(amount_actual)
             from marts.mart_fact_cashflow group by company_id order by company_id"
        ),
        vec![
            vec!["1", "47", "35000000.00", "622391200.00"],
            vec!["2", "22", "-355000000.00", "377215000.00"],
        ]
    );
    // The ephemeral model was inlined, never built.
    assert!(
        rows(
            &conn,
            "select count(*) from information_schema.tables where table_name = 'int_open_items'"
        )[0][0]
            == "0"
    );
    // Nothing half-built is left behind.
    assert_eq!(
        rows(
            &conn,
            "select count(*) from information_schema.tables where table_name like '%__strata_%'"
        ),
        vec![vec!["0"]]
    );
    let rr = run_results(&dir);
    assert_eq!(rr["args"]["which"], "build");
}

#[test]
fn second_build_of_the_example_changes_nothing() {
    let (_tmp, dir) = example_copy();
    strata_ok(&dir, &["build"], 0);
    let conn = db(&dir, "ofitec.duckdb");
    let before = rows(
        &conn,
        "select * from marts.mart_kpi_ceo order by company_id",
    );
    let sat = rows(&conn, "select count(*) from vault.sat_invoice_details");
    drop(conn);
    strata_ok(&dir, &["build"], 0);
    let conn = db(&dir, "ofitec.duckdb");
    assert_eq!(
        rows(
            &conn,
            "select * from marts.mart_kpi_ceo order by company_id"
        ),
        before
    );
    assert_eq!(
        rows(&conn, "select count(*) from vault.sat_invoice_details"),
        sat
    );
}

fn write(dir: &Path, rel: &str, text: &str) {
    std::fs::write(dir.join(rel), text).unwrap();
}

#[test]
fn incremental_strategies_are_idempotent_and_upsert() {
    let (_tmp, dir) = fixture_copy("run_incremental");
    strata_ok(&dir, &["build"], 0);
    let conn = db(&dir, "inc.duckdb");
    let merge1 = rows(&conn, "select * from main.inc_merge order by id");
    let comp1 = rows(
        &conn,
        "select * from main.inc_merge_composite order by region, day",
    );
    let del1 = rows(&conn, "select * from main.inc_delete_insert order by id");
    let app1 = rows(&conn, "select * from main.inc_append order by id");
    assert_eq!(merge1.len(), 3);
    drop(conn);

    // A second run with the same source rows changes nothing.
    strata_ok(&dir, &["run"], 0);
    let conn = db(&dir, "inc.duckdb");
    assert_eq!(
        rows(&conn, "select * from main.inc_merge order by id"),
        merge1
    );
    assert_eq!(
        rows(
            &conn,
            "select * from main.inc_merge_composite order by region, day"
        ),
        comp1
    );
    assert_eq!(
        rows(&conn, "select * from main.inc_delete_insert order by id"),
        del1
    );
    assert_eq!(
        rows(&conn, "select * from main.inc_append order by id"),
        app1
    );
    drop(conn);

    // Row 2 changes, row 4 is new: both are upserted; the composite key merges per (region, day).
    write(&dir, "seeds/events.csv", common::INCREMENTAL_EVENTS_CHANGED);
    strata_ok(&dir, &["build"], 0);
    let conn = db(&dir, "inc.duckdb");
    for (sql, want) in common::incremental_after_change() {
        assert_eq!(rows(&conn, sql), want, "{sql}");
    }
    drop(conn);

    // And once more: still idempotent.
    strata_ok(&dir, &["run"], 0);
    let conn = db(&dir, "inc.duckdb");
    assert_eq!(
        rows(&conn, "select count(*) from main.inc_merge"),
        vec![vec!["4"]]
    );
    assert_eq!(
        rows(&conn, "select count(*) from main.inc_append"),
        vec![vec!["4"]]
    );
    assert_eq!(
        rows(&conn, "select count(*) from main.inc_delete_insert"),
        vec![vec!["4"]]
    );
    drop(conn);

    // --full-refresh rebuilds from scratch: append now sees row 2's new amount.
    strata_ok(&dir, &["run", "--full-refresh", "-s", "inc_append"], 0);
    let conn = db(&dir, "inc.duckdb");
    assert_eq!(
        rows(&conn, "select amount from main.inc_append where id = 2"),
        vec![vec!["25"]]
    );
}

#[test]
fn failing_model_skips_descendants_keeps_previous_version_and_retry_finishes() {
    let (_tmp, dir) = fixture_copy("run_failure");
    strata_ok(&dir, &["run"], 0);
    // Break `flaky` at run time (a cast that fails on the data, not at compile time).
    write(
        &dir,
        "models/flaky.sql",
        "select id, cast('not a number' as integer) as v\nfrom {{ ref('base') }}\n",
    );
    let out = strata_ok(&dir, &["run"], 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ERROR"), "{stdout}");
    let rr = run_results(&dir);
    assert_eq!(result_of(&rr, "model.fail.flaky")["status"], "error");
    assert_eq!(
        result_of(&rr, "model.fail.flaky")["adapter_response"]["strata"]["attempts"],
        1,
        "a permanent error is not retried"
    );
    assert_eq!(
        result_of(&rr, "model.fail.child_of_flaky")["status"],
        "skipped"
    );
    assert_eq!(result_of(&rr, "model.fail.sibling")["status"], "success");
    assert_eq!(result_of(&rr, "model.fail.base")["status"], "success");
    // The previous version of the failing table is intact, rows included.
    let conn = db(&dir, "fail.duckdb");
    assert_eq!(
        rows(&conn, "select id, v from main.flaky order by id"),
        vec![vec!["1", "10"], vec!["2", "20"]]
    );
    drop(conn);

    // Fixed: retry reruns only the failed and the skipped node.
    write(
        &dir,
        "models/flaky.sql",
        "select id, id * 100 as v\nfrom {{ ref('base') }}\n",
    );
    strata_ok(&dir, &["retry"], 0);
    let rr = run_results(&dir);
    let ids: Vec<&str> = rr["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unique_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["model.fail.flaky", "model.fail.child_of_flaky"]);
    let conn = db(&dir, "fail.duckdb");
    assert_eq!(
        rows(&conn, "select id, w from main.child_of_flaky order by id"),
        vec![vec!["1", "101"], vec!["2", "201"]]
    );
    drop(conn);
    // Nothing left to retry.
    let out = strata_ok(&dir, &["retry"], 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to retry"));
}

fn parse_time(s: &str) -> f64 {
    // 2026-01-01T12:34:56.123456Z → seconds within the day is enough for ordering in one run.
    let t = &s[11..s.len() - 1];
    let p: Vec<f64> = t.split(':').map(|x| x.parse().unwrap()).collect();
    let day: f64 = s[8..10].parse().unwrap();
    day * 86_400.0 + p[0] * 3600.0 + p[1] * 60.0 + p[2]
}

#[test]
fn threads_run_independent_models_concurrently_and_respect_dependencies() {
    let (_tmp, dir) = fixture_copy("run_wide");
    strata_ok(&dir, &["run", "--threads", "4"], 0);
    let rr = run_results(&dir);
    let span = |id: &str| {
        let execute = &result_of(&rr, id)["timing"][0];
        assert_eq!(execute["name"], "execute");
        (
            parse_time(execute["started_at"].as_str().unwrap()),
            parse_time(execute["completed_at"].as_str().unwrap()),
        )
    };
    let root = span("model.wide.root");
    let sink = span("model.wide.sink");
    let leaves: Vec<(f64, f64)> = (1..=8)
        .map(|i| span(&format!("model.wide.leaf_{i}")))
        .collect();
    for l in &leaves {
        assert!(l.0 >= root.1, "a leaf started before its parent finished");
        assert!(sink.0 >= l.1, "the sink started before a parent finished");
    }
    let overlapping = leaves
        .iter()
        .enumerate()
        .any(|(i, a)| leaves.iter().skip(i + 1).any(|b| a.0 < b.1 && b.0 < a.1));
    assert!(
        overlapping,
        "no two leaves ran at the same time: {leaves:?}"
    );
    let threads: std::collections::BTreeSet<u64> = rr["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            r["thread_id"]
                .as_str()?
                .strip_prefix("Thread-")?
                .parse()
                .ok()
        })
        .collect();
    assert!(threads.len() > 1, "all nodes ran on one worker");
}

#[test]
fn busy_database_file_is_retried_until_free() {
    let (_tmp, dir) = fixture_copy("run_failure");
    strata_ok(&dir, &["run"], 0);
    // Another process (this test) holds the database file; strata must wait and succeed.
    let holder = duckdb::Connection::open(dir.join("warehouse/fail.duckdb")).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(holder);
    });
    let t0 = Instant::now();
    let out = strata(&dir, &["run"]);
    release.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(1000),
        "strata did not wait for the lock"
    );
}

#[test]
fn bad_seed_names_file_and_line_and_keeps_the_old_table() {
    let (_tmp, dir) = fixture_copy("run_incremental");
    strata_ok(&dir, &["seed"], 0);
    write(
        &dir,
        "seeds/events.csv",
        "id,region,day,amount\n1,north,2024-01-01,10\n2,north\n",
    );
    let out = strata_ok(&dir, &["seed"], 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("seeds/events.csv:3"), "{stdout}");
    let conn = db(&dir, "inc.duckdb");
    assert_eq!(
        rows(&conn, "select count(*) from main.events"),
        vec![vec!["3"]]
    );
}

#[test]
fn dry_run_prints_statements_and_writes_nothing() {
    let (_tmp, dir) = fixture_copy("run_failure");
    let out = strata_ok(&dir, &["run", "--dry-run"], 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("create or replace table \"main\".\"base\" as"),
        "{stdout}"
    );
    assert!(
        !dir.join("warehouse/fail.duckdb").exists(),
        "a dry run created the database"
    );
    assert!(!dir.join(".strata/run_results.json").exists());
}

#[test]
fn clean_removes_only_the_artifacts() {
    let (_tmp, dir) = fixture_copy("run_failure");
    strata_ok(&dir, &["run"], 0);
    std::fs::create_dir_all(dir.join("target/release")).unwrap();
    strata_ok(&dir, &["clean"], 0);
    assert!(!dir.join(".strata").exists());
    assert!(dir.join("target/release").exists(), "clean touched target/");
    assert!(
        dir.join("warehouse/fail.duckdb").exists(),
        "clean removed the warehouse"
    );
}

#[test]
fn debug_checks_project_and_connection() {
    let (_tmp, dir) = fixture_copy("run_failure");
    let out = strata_ok(&dir, &["debug"], 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OK    connection"), "{stdout}");
}

#[test]
fn transient_error_in_a_model_is_retried_and_the_run_succeeds() {
    let (_tmp, dir) = fixture_copy("run_failure");
    // The first attempt writes a marker file (outside the transaction), then fails with a
    // write-write conflict; the retry sees the marker and succeeds.
    let marker = dir.join("attempted.csv");
    write(
        &dir,
        "models/flaky.sql",
        "{{ config(retries=2, retry_initial_delay=0.05, pre_hook=[\
           \"create temp table strata_probe as select count(*) as n from glob('\" ~ var('marker') ~ \"')\",\
           \"copy (select 1 as x) to '\" ~ var('marker') ~ \"' (format csv)\",\
           \"select case when (select n from strata_probe) = 0 then error('Conflict on tuple: injected by a test') end\",\
           \"drop table strata_probe\"]) }}\nselect id, id * 10 as v\nfrom {{ ref('base') }}\n",
    );
    let vars = format!("{{marker: '{}'}}", marker.display());
    let out = strata_ok(&dir, &["run", "--vars", &vars], 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("after 2 attempts"), "{stdout}");
    assert!(marker.exists());
    let rr = run_results(&dir);
    assert_eq!(result_of(&rr, "model.fail.flaky")["status"], "success");
    assert_eq!(
        result_of(&rr, "model.fail.flaky")["adapter_response"]["strata"]["attempts"],
        2
    );
}

#[test]
fn a_new_project_from_init_builds_as_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .current_dir(tmp.path())
        .args(["init", "shop"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let dir = tmp.path().join("shop");
    let out = strata_ok(&dir, &["build"], 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("PASS"), "{stdout}");
    let conn = db(&dir, "shop.duckdb");
    assert_eq!(
        rows(
            &conn,
            "select customer, orders from main.customer_revenue order by customer"
        ),
        vec![vec!["acme", "2"], vec!["globex", "1"]]
    );
}

#[test]
fn fail_fast_stops_starting_nodes_after_the_first_failure() {
    let (_tmp, dir) = fixture_copy("run_failure");
    write(
        &dir,
        "models/flaky.sql",
        "select id, cast('x' as integer) as v\nfrom {{ ref('base') }}\n",
    );
    strata_ok(&dir, &["run", "--threads", "1", "--fail-fast"], 1);
    let rr = run_results(&dir);
    assert_eq!(result_of(&rr, "model.fail.flaky")["status"], "error");
    let sibling = result_of(&rr, "model.fail.sibling");
    assert_eq!(sibling["status"], "skipped");
    assert!(sibling["message"].as_str().unwrap().contains("fail-fast"));
}

#[test]
fn statement_timeout_interrupts_a_slow_model_and_keeps_the_old_table() {
    let (_tmp, dir) = fixture_copy("run_failure");
    strata_ok(&dir, &["run"], 0);
    write(
        &dir,
        "models/flaky.sql",
        "{{ config(statement_timeout=0.5, retries=0) }}\nselect count(*) as id, 0 as v from range(100000000000)\n",
    );
    let t0 = Instant::now();
    strata_ok(&dir, &["run", "-s", "flaky"], 1);
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "the timeout did not interrupt the statement"
    );
    let rr = run_results(&dir);
    let r = result_of(&rr, "model.fail.flaky");
    assert_eq!(r["status"], "error");
    assert!(r["message"].as_str().unwrap().contains("timed out"), "{r}");
    let conn = db(&dir, "fail.duckdb");
    assert_eq!(
        rows(&conn, "select id, v from main.flaky order by id"),
        vec![vec!["1", "10"], vec!["2", "20"]]
    );
}
