//! Runs that are stopped lose nothing and `retry` finishes them: `run_results.json` is written
//! while the run goes on, a SIGKILL leaves it `running` with what finished, Ctrl-C exits 130
//! with the running node `interrupted`, a closed stdout stops the run without a panic, and
//! `retry` (like a partial selection) gates a model's children on its failing tests.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{db, fixture_copy, rows, run_results, strata_ok};

fn spawn(dir: &Path, args: &[&str], stdout: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("--project-dir")
        .arg(dir)
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("strata starts")
}

/// Waits until `run_results.json` is a running run's file with at least one successful result
/// (the run is then past its first node and inside the slow one), and returns it.
fn wait_for_first_result(dir: &Path) -> serde_json::Value {
    let path = dir.join(".strata/run_results.json");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && v["args"]["strata"]["run_state"] == "running"
            && v["results"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["status"] == "success"))
        {
            return v;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("run_results.json never showed a running run with a result");
}

/// Each result's status, as strata has it: its own word where dbt's status says less
/// (`interrupted` is an `error` to dbt's readers).
fn statuses(rr: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = rr["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let own = &r["adapter_response"]["strata"]["status"];
            let status = if own.is_string() { own } else { &r["status"] };
            (
                r["unique_id"].as_str().unwrap().to_string(),
                status.as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn ids(rr: &serde_json::Value) -> Vec<String> {
    statuses(rr).into_iter().map(|(id, _)| id).collect()
}

/// Every model of the fixture, with the rows an uninterrupted build gives it.
fn assert_complete(dir: &Path) {
    let conn = db(dir, "kill.duckdb");
    assert_eq!(
        rows(&conn, "select id from main.a order by id"),
        [["1"], ["2"]]
    );
    assert_eq!(
        rows(&conn, "select id from main.d order by id"),
        [["10"], ["20"]]
    );
    let n = rows(&conn, "select n from main.b");
    assert_eq!(rows(&conn, "select n from main.c"), n);
    let leftovers = rows(
        &conn,
        "select table_name from information_schema.tables where table_name like '%strata%'",
    );
    assert!(
        leftovers.is_empty(),
        "temporary relations left: {leftovers:?}"
    );
}

#[test]
fn a_killed_run_leaves_its_results_so_far_and_retry_runs_exactly_the_rest() {
    let (_tmp, dir) = fixture_copy("run_kill");
    let mut child = spawn(&dir, &["build"], Stdio::null());
    let during = wait_for_first_result(&dir);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        during["args"]["strata"]["selected"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // The file is whole (dbt's run results) and says the run did not finish.
    common::assert_valid_dbt_artifacts(&dir.join(".strata"));
    let after = run_results(&dir);
    assert_eq!(after["args"]["strata"]["run_state"], "running");
    let done: Vec<String> = statuses(&after)
        .into_iter()
        .filter(|(_, s)| s == "success")
        .map(|(id, _)| id)
        .collect();
    assert!(done.contains(&"model.kill.a".to_string()), "{after}");
    assert!(!done.contains(&"model.kill.c".to_string()), "{after}");

    let out = strata_ok(&dir, &["retry"], 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("the last run did not finish"), "{stdout}");
    let retried = run_results(&dir);
    assert_eq!(retried["args"]["strata"]["run_state"], "finished");
    let ran = ids(&retried);
    for id in &done {
        assert!(
            !ran.contains(id),
            "{id} succeeded before and ran again: {ran:?}"
        );
    }
    assert!(ran.contains(&"model.kill.c".to_string()), "{ran:?}");
    assert!(
        statuses(&retried).iter().all(|(_, s)| s == "success"),
        "{retried}"
    );
    assert_complete(&dir);
    // The next run starts at once and has nothing left to do.
    let out = strata_ok(&dir, &["retry"], 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to retry"));
}

#[test]
fn ctrl_c_exits_130_marks_the_running_node_interrupted_and_retry_reruns_it() {
    let (_tmp, dir) = fixture_copy("run_kill");
    let child = spawn(&dir, &["build"], Stdio::piped());
    wait_for_first_result(&dir);
    // Inside the slow model: give it a moment to start, then SIGINT.
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("interrupted (Ctrl-C)"), "{stdout}");

    common::assert_valid_dbt_artifacts(&dir.join(".strata"));
    let rr = run_results(&dir);
    assert_eq!(rr["args"]["strata"]["run_state"], "interrupted");
    // dbt's readers see the interrupted node as an error; strata's own status says why.
    let st = statuses(&rr);
    assert!(
        st.contains(&("model.kill.b".to_string(), "interrupted".to_string())),
        "{st:?}"
    );
    assert!(!st.iter().any(|(_, s)| s == "error"), "{st:?}");
    let b = rr["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unique_id"] == "model.kill.b")
        .unwrap();
    assert_eq!(b["status"], "error");

    strata_ok(&dir, &["retry"], 0);
    let ran = ids(&run_results(&dir));
    assert!(ran.contains(&"model.kill.b".to_string()), "{ran:?}");
    assert!(!ran.contains(&"model.kill.a".to_string()), "{ran:?}");
    assert_complete(&dir);
}

#[test]
fn a_closed_stdout_stops_the_run_cleanly_without_a_panic() {
    let (_tmp, dir) = fixture_copy("run_kill");
    let mut child = spawn(&dir, &["build"], Stdio::piped());
    // Read the first line, as `strata build | head -1` does, then close the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while std::io::Read::read(&mut stdout, &mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
        first.push(byte[0]);
    }
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(String::from_utf8_lossy(&first).starts_with("Running "));
    assert_ne!(out.status.code(), Some(101), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the output was closed"), "{stderr}");
    let rr = run_results(&dir);
    assert_eq!(rr["args"]["strata"]["run_state"], "interrupted");
    strata_ok(&dir, &["retry"], 0);
    assert_complete(&dir);
}

fn status_of(rr: &serde_json::Value, id: &str) -> String {
    statuses(rr)
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("{id} not in {rr}"))
}

#[test]
fn retry_and_partial_selections_run_failed_tests_first_and_gate_children_on_them() {
    let (_tmp, dir) = fixture_copy("run_gate");
    strata_ok(&dir, &["build"], 1);
    let rr = run_results(&dir);
    assert_eq!(status_of(&rr, "test.gate.not_null_m_id"), "fail");
    assert_eq!(status_of(&rr, "model.gate.c"), "skipped");

    // retry: the test runs again and still fails; the child waits for it and is skipped.
    strata_ok(&dir, &["retry"], 1);
    let rr = run_results(&dir);
    assert_eq!(status_of(&rr, "test.gate.not_null_m_id"), "fail");
    assert_eq!(status_of(&rr, "model.gate.c"), "skipped");
    assert!(!ids(&rr).contains(&"model.gate.m".to_string()));
    let conn = db(&dir, "gate.duckdb");
    let c_exists = rows(
        &conn,
        "select count(*) from information_schema.tables where table_name = 'c'",
    );
    assert_eq!(c_exists, [["0"]]);
    drop(conn);

    // A partial selection without the model gates the same way.
    strata_ok(&dir, &["build", "-s", "not_null_m_id", "-s", "c"], 1);
    let rr = run_results(&dir);
    assert_eq!(status_of(&rr, "model.gate.c"), "skipped");
}

#[test]
fn postgres_sessions_set_timeouts_and_say_who_holds_a_lock_they_wait_on() {
    use common::pg;
    let url = pg::fresh_database("waits");
    let (_tmp, dir) = fixture_copy("one_statement");
    let env = [("ONESTMT_DSN", url.as_str())];
    let pg_target = ["--target", "pg"];
    std::fs::write(
        dir.join("models/settings.sql"),
        "select current_setting('application_name') as app, \
         current_setting('idle_in_transaction_session_timeout') as idle, \
         current_setting('tcp_keepalives_idle') as keepalives",
    )
    .unwrap();
    common::strata_env_ok(&dir, &[&["build"], &pg_target[..]].concat(), &env, 0);
    assert_eq!(
        pg::rows(&url, "select app, idle, keepalives from main.settings"),
        [["strata", "15s", "15"]]
    );

    // A session left idle in a transaction that holds a lock on a model, as a killed client's
    // would: the run waits, says on what and for whom, and goes on once it is gone.
    let mut holder = Command::new(pg::bin_dir().join("psql"))
        .args(["-X", "-q", "-d", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    std::io::Write::write_all(
        &mut stdin,
        b"begin;\nlock table main.other_model in access exclusive mode;\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2500));
        drop(stdin);
    });
    let out = common::strata_env_ok(
        &dir,
        &[&["run", "-s", "other_model"], &pg_target[..]].concat(),
        &env,
        0,
    );
    release.join().unwrap();
    holder.wait().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("waiting for a lock on main.other_model, held by server process"),
        "{stderr}"
    );
    assert!(stderr.contains("idle in transaction"), "{stderr}");
}

#[test]
fn a_run_says_who_holds_the_duckdb_file_it_waits_for() {
    let (_tmp, dir) = fixture_copy("run_gate");
    strata_ok(&dir, &["run", "-s", "m"], 0);
    // Another process (this test) holds the database file for a while.
    let holder = duckdb::Connection::open(dir.join("warehouse/gate.duckdb")).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2500));
        drop(holder);
    });
    let out = strata_ok(&dir, &["run", "-s", "m"], 0);
    release.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("waiting for the database of target `dev`, which another process holds"),
        "{stderr}"
    );
}
