//! The kill test, on both engines: a build is SIGKILLed at several points (spread over an
//! uninterrupted build's duration, the first one into an empty warehouse, the others into one
//! being rebuilt), then `strata retry` finishes it. After each: every relation holds the same
//! rows as after an uninterrupted build, no temporary relation is left, and the retry started
//! without waiting for anything the killed run held.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::pg;
use common::{db, fixture_copy, rows, run_results, strata_env as strata};

/// Each relation's fingerprint: enough aggregates that a missing, doubled or half-written
/// row changes it.
const FINGERPRINTS: [(&str, &str); 7] = [
    ("codes", "select count(*), sum(band) from main.codes"),
    ("base", "select count(*), sum(id), sum(v) from main.base"),
    ("agg", "select count(*), sum(n), sum(s) from main.agg"),
    (
        "joined",
        "select count(*), sum(n), sum(top) from main.joined",
    ),
    (
        "recent",
        "select count(*), count(distinct id), sum(id) from main.recent",
    ),
    ("agg_view", "select count(*), sum(band) from main.agg_view"),
    ("final", "select label, n, s from main.final order by label"),
];

const RELATIONS: &str =
    "select table_name from information_schema.tables where table_schema = 'main' order by 1";

/// Where a kill lands: once the running build has recorded this many finished nodes (of 11),
/// read from its live `run_results.json`. Progress, not time, so that a busy machine moves the
/// kills along with the build instead of past its end.
const KILL_AFTER: [usize; 5] = [0, 1, 3, 5, 8];

/// The warehouse as the test reads it.
type Query<'a> = &'a dyn Fn(&str) -> Vec<Vec<String>>;

/// Each relation's fingerprint, and the list of relations, by name.
type State = Vec<(String, Vec<Vec<String>>)>;

fn state(read: Query) -> State {
    let mut out = vec![("relations".to_string(), read(RELATIONS))];
    for (name, sql) in FINGERPRINTS {
        out.push((name.to_string(), read(sql)));
    }
    out
}

fn ok(out: Output, what: &str) -> Output {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Builds the project at `reference` without interruption; returns how long that took and
/// what the warehouse then holds.
fn uninterrupted(
    reference: &Path,
    target: &[&str],
    env: &[(&str, &str)],
    read: Query,
) -> (Duration, State) {
    let t0 = Instant::now();
    ok(
        strata(reference, &[&["build"], target].concat(), env),
        "uninterrupted build",
    );
    (t0.elapsed(), state(read))
}

/// Waits until the build in `dir` is running with at least `done` finished nodes (its live
/// `run_results.json` says so); false when the build ended first or `limit` passed.
fn wait_for_progress(dir: &Path, child: &mut Child, done: usize, limit: Duration) -> bool {
    let path = dir.join(".strata/run_results.json");
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && v["args"]["strata"]["run_state"] == "running"
            && v["results"].as_array().is_some_and(|r| r.len() >= done)
        {
            return true;
        }
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// Kills builds of `dir` at every point of `KILL_AFTER` and retries each, comparing the
/// warehouse with `expected` after every retry.
fn kill_and_retry(
    dir: &Path,
    target: &[&str],
    env: &[(&str, &str)],
    (full, expected): (Duration, State),
    read: Query,
) {
    let build: Vec<&str> = [&["build"], target].concat();

    let mut mid_run = 0;
    for (i, at) in KILL_AFTER.iter().enumerate() {
        // On a loaded machine a kill can land just after the build ended: the point is tried
        // again (three times at most) before it counts as missed.
        for _attempt in 0..3 {
            let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
                .arg("--project-dir")
                .arg(dir)
                .args(&build)
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("strata starts");
            wait_for_progress(dir, &mut child, *at, full * 10 + Duration::from_secs(30));
            child.kill().unwrap();
            child.wait().unwrap();
            if run_results(dir)["args"]["strata"]["run_state"] == "running" {
                mid_run += 1;
                break;
            }
        }

        let t = Instant::now();
        let out = ok(strata(dir, &["retry"], env), "retry after a kill");
        let took = t.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("waiting for"),
            "kill {i} after {at} nodes: the retry waited on the killed run:\n{stderr}"
        );
        assert!(
            took < full * 4 + Duration::from_secs(20),
            "kill {i} after {at} nodes: the retry took {took:?} (a build takes {full:?})"
        );
        assert_eq!(
            run_results(dir)["args"]["strata"]["run_state"],
            "finished",
            "kill {i} after {at} nodes"
        );
        let got = state(read);
        assert_eq!(
            got, expected,
            "kill {i} after {at} nodes: the warehouse differs from an uninterrupted build's"
        );
    }
    // The kills must have landed inside the run, or the test tested nothing.
    assert!(
        mid_run >= KILL_AFTER.len() - 1,
        "only {mid_run} of {} kills stopped a running build (a build takes {full:?})",
        KILL_AFTER.len()
    );
}

#[test]
fn duckdb_builds_killed_at_several_points_are_finished_by_retry() {
    let (_t1, reference) = fixture_copy("kill_points");
    let (_t2, dir) = fixture_copy("kill_points");
    let read_reference = |sql: &str| rows(&db(&reference, "kp.duckdb"), sql);
    let read = |sql: &str| rows(&db(&dir, "kp.duckdb"), sql);
    let expected = uninterrupted(&reference, &[], &[], &read_reference);
    kill_and_retry(&dir, &[], &[], expected, &read);
}

#[test]
fn postgres_builds_killed_at_several_points_are_finished_by_retry() {
    let reference_url = pg::fresh_database("killref");
    let url = pg::fresh_database("killpoints");
    let (_t1, reference) = fixture_copy("kill_points");
    let (_t2, dir) = fixture_copy("kill_points");
    let target = ["--target", "pg"];
    let read_reference = |sql: &str| pg::rows(&reference_url, sql);
    let read = |sql: &str| pg::rows(&url, sql);
    let expected = uninterrupted(
        &reference,
        &target,
        &[("KILLPOINTS_DSN", reference_url.as_str())],
        &read_reference,
    );
    kill_and_retry(
        &dir,
        &target,
        &[("KILLPOINTS_DSN", url.as_str())],
        expected,
        &read,
    );
}

#[test]
fn a_statement_killed_on_postgres_does_not_hold_the_next_run() {
    let url = pg::fresh_database("killstmt");
    let (_t, dir) = fixture_copy("kill_points");
    // One model whose statement runs as long as `sleep` says.
    std::fs::write(
        dir.join("models/slow.sql"),
        "select 1 as id from (select pg_sleep({{ var('sleep', 0) }})) as s\n",
    )
    .unwrap();
    let env = [("KILLPOINTS_DSN", url.as_str())];
    let args = |sleep: &'static str| ["run", "--target", "pg", "-s", "slow", "--vars", sleep];
    ok(strata(&dir, &args("{sleep: 0}"), &env), "first run");
    // A rebuild inside its 60-second statement, killed: the server side runs on unless it
    // checks for its client, holding the new table's name against the next run.
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("--project-dir")
        .arg(&dir)
        .args(args("{sleep: 60}"))
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strata starts");
    let t0 = Instant::now();
    while pg::rows(
        &url,
        "select count(*) from pg_stat_activity where query like '%pg_sleep(60)%' and application_name = 'strata'",
    ) != [["1"]]
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the slow statement never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let t = Instant::now();
    let out = ok(strata(&dir, &args("{sleep: 0}"), &env), "the next run");
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "the next run took {:?}:\n{}",
        t.elapsed(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pg::rows(&url, "select id from main.slow"), [["1"]]);
}
