//! A Spark Connect server killed in the middle of a run (a cluster of this binary's own, see
//! `common::spark`): the run ends with the running model failed and `run_results.json`
//! written, no half-built table is left under a final name, and `strata retry` once the
//! server is back finishes what was left.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::spark;

fn strata(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.arg("--project-dir").arg(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn a_server_killed_mid_run_fails_the_running_model_and_retry_finishes_it() {
    let cluster = spark::cluster();
    let (_tmp, dir) = common::fixture_copy("spark_shop");
    // The last model to run, and a slow one: 400 million joined rows counted, then a pause
    // of 20 s on the server (`Thread.sleep` through `reflect`), so the kill two seconds
    // after it starts always lands while it runs, however fast the count is.
    std::fs::write(
        dir.join("models/marts/slow.sql"),
        "{{ config(materialized='table') }}\nselect n from (select count(*) as n from range(0, 20000) as a cross join range(0, 20000) as b cross join {{ ref('dim_customers') }} as c where c.customer_id = 1) as counted where length(reflect('java.lang.Thread', 'sleep', cast(20000 as bigint))) > 0\n",
    )
    .unwrap();
    let schema = spark::fresh_schema("faults");
    let env = [
        ("SPARK_REMOTE", cluster.url.as_str()),
        ("STRATA_TEST_SPARK_SCHEMA", schema.as_str()),
    ];
    let mut child = strata(&dir, &["build", "--target", "spark"], &env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Every node but `slow` finished: it is the one running.
    let started = Instant::now();
    loop {
        let done = std::fs::read_to_string(dir.join(".strata/run_results.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["results"].as_array().map(Vec::len))
            .unwrap_or(0);
        if done >= 14 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the build ended before `slow` ran"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the build did not progress"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    cluster.kill_connect();
    let killed = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "the run did not end after the server died"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(1));
    let results = common::run_results(&dir);
    let slow = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["unique_id"]
                .as_str()
                .is_some_and(|id| id.ends_with(".slow"))
        })
        .unwrap_or_else(|| panic!("no result for `slow`: {results}"));
    assert_eq!(slow["status"], "error", "{slow}");
    let message = slow["message"].as_str().unwrap_or_default();
    assert!(message.contains(&cluster.url), "{message}");

    spark::restart_connect(cluster);
    let tables = spark::sorted_rows(&cluster.url, &format!("show tables in {schema}"));
    assert!(
        !tables.iter().any(|r| r[1] == "slow"),
        "a half-built `slow` is under its final name: {tables:?}"
    );
    let out = strata(&dir, &["retry"], &env).output().unwrap();
    assert!(
        out.status.success(),
        "retry: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("table ") && stdout.contains(".slow"),
        "{stdout}"
    );
    assert_eq!(
        spark::sorted_rows(&cluster.url, &format!("select n from {schema}.slow")),
        vec![vec!["400000000".to_string()]]
    );
}
