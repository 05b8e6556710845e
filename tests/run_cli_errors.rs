//! What `seed`/`run`/`test`/`build` say and do on a bad invocation (issue 19, points 6, 9, 10):
//! selectors that match nothing, output paths checked before the run, `--threads 0`, counts in
//! the singular, and the list of failures printed last. On DuckDB, fixture `run_failure`
//! (base → flaky → child_of_flaky, base → sibling).

mod common;

use std::path::Path;

use common::{fixture_copy, strata, strata_ok};

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Nothing was run: no warehouse file and no run results.
fn assert_nothing_ran(dir: &Path) {
    assert!(
        !dir.join("warehouse/fail.duckdb").exists(),
        "the warehouse was opened"
    );
    assert!(
        !dir.join(".strata/run_results.json").exists(),
        "run results were written"
    );
}

#[test]
fn a_select_that_matches_nothing_exits_2_naming_it_with_did_you_mean() {
    let (_tmp, dir) = fixture_copy("run_failure");
    let out = strata_ok(&dir, &["build", "-s", "flakey+"], 2);
    let (stdout, stderr) = text(&out);
    assert!(stderr.contains("error[S502]"), "{stderr}");
    assert!(stderr.contains("`flakey+`"), "{stderr}");
    assert!(stderr.contains("did you mean `flaky+`?"), "{stderr}");
    assert!(!stdout.contains("Running"), "{stdout}");
    assert_nothing_ran(&dir);
    // A typo in --exclude would build what was meant to be left out: an error too.
    let out = strata_ok(&dir, &["run", "--exclude", "sibilng"], 2);
    assert!(text(&out).1.contains("did you mean `sibling`?"));
    assert_nothing_ran(&dir);
}

#[test]
fn a_selection_with_nothing_the_verb_runs_exits_2() {
    let (_tmp, dir) = fixture_copy("run_failure");
    // The fixture has models and no seeds or tests.
    let out = strata_ok(&dir, &["test", "-s", "base"], 2);
    let stderr = text(&out).1;
    assert!(stderr.contains("error[S502]"), "{stderr}");
    assert!(stderr.contains("1 model (base)"), "{stderr}");
    let out = strata_ok(&dir, &["run", "-s", "base", "--exclude", "base"], 2);
    assert!(
        text(&out)
            .1
            .contains("--exclude removed every selected node")
    );
    assert_nothing_ran(&dir);
    // Without a selector, a verb with nothing to do in the project is not an error.
    strata_ok(&dir, &["seed"], 0);
}

#[test]
fn a_junit_path_in_a_missing_directory_exits_2_before_anything_runs() {
    let (_tmp, dir) = fixture_copy("run_failure");
    let junit = dir.join("reports/junit.xml");
    let out = strata_ok(&dir, &["build", "--junit-xml", junit.to_str().unwrap()], 2);
    let (stdout, stderr) = text(&out);
    assert!(stderr.contains("error[S003]"), "{stderr}");
    assert!(stderr.contains("reports/junit.xml"), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains("mkdir -p"), "{stderr}");
    assert!(!stdout.contains("Running"), "{stdout}");
    assert_nothing_ran(&dir);
    // A directory given as the file.
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    let out = strata_ok(
        &dir,
        &[
            "build",
            "--junit-xml",
            dir.join("reports").to_str().unwrap(),
        ],
        2,
    );
    assert!(text(&out).1.contains("is a directory"));
    assert_nothing_ran(&dir);
    // Once the directory exists, the report is written and nothing is left from the check.
    let out = strata_ok(&dir, &["build", "--junit-xml", junit.to_str().unwrap()], 0);
    assert!(junit.is_file(), "{}", text(&out).0);
}

#[test]
fn an_artifacts_directory_that_cannot_be_created_exits_2_before_anything_runs() {
    let (_tmp, dir) = fixture_copy("run_failure");
    let yml = std::fs::read_to_string(dir.join("project.yml")).unwrap();
    write(
        &dir,
        "project.yml",
        &format!("{yml}artifacts-path: out/art\n"),
    );
    write(&dir, "out", "a file where a directory is needed");
    let out = strata_ok(&dir, &["run"], 2);
    let (stdout, stderr) = text(&out);
    assert!(stderr.contains("error[S003]"), "{stderr}");
    assert!(stderr.contains("out/art"), "{stderr}");
    assert!(stderr.contains("artifacts-path"), "{stderr}");
    assert!(!stdout.contains("Running"), "{stdout}");
    assert!(!dir.join("warehouse/fail.duckdb").exists());
}

#[test]
fn threads_zero_is_an_error() {
    let (_tmp, dir) = fixture_copy("run_failure");
    let out = strata_ok(&dir, &["run", "--threads", "0"], 2);
    let stderr = text(&out).1;
    assert!(stderr.contains("--threads"), "{stderr}");
    assert!(stderr.contains("at least 1"), "{stderr}");
    assert_nothing_ran(&dir);
}

#[test]
fn counts_are_singular_for_one() {
    let (_tmp, dir) = fixture_copy("run_failure");
    let out = strata_ok(&dir, &["run", "-s", "base"], 0);
    let stdout = text(&out).0;
    assert!(
        stdout.contains("Running 1 node on target `dev` (duckdb) with 1 thread\n"),
        "{stdout}"
    );
    let out = strata_ok(&dir, &["run", "-s", "base", "sibling", "--threads", "2"], 0);
    assert!(
        text(&out)
            .0
            .contains("Running 2 nodes on target `dev` (duckdb) with 2 threads"),
        "{}",
        text(&out).0
    );
    let out = strata_ok(&dir, &["run", "-s", "base", "--dry-run"], 0);
    assert!(text(&out).0.contains("dry run: 1 node planned"));
    let out = strata_ok(&dir, &["compile", "-s", "base"], 0);
    assert!(text(&out).0.contains("of 4 nodes"), "{}", text(&out).0);
}

#[test]
fn the_run_ends_with_every_failure_in_one_list() {
    let (_tmp, dir) = fixture_copy("run_failure");
    write(
        &dir,
        "models/flaky.sql",
        "select id, cast('not a number' as integer) as v\nfrom {{ ref('base') }}\n",
    );
    write(
        &dir,
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: sibling\n    columns:\n      - name: kind\n        tests:\n          - accepted_values:\n              values: ['other']\n",
    );
    let out = strata_ok(&dir, &["build"], 1);
    let stdout = text(&out).0;
    let lines: Vec<&str> = stdout.lines().collect();
    let summary = lines
        .iter()
        .position(|l| l.starts_with("Done in"))
        .expect("a summary line");
    let tail = &lines[summary + 1..];
    let head = tail
        .iter()
        .position(|l| *l == "2 failures:")
        .unwrap_or_else(|| panic!("no failure list after the summary:\n{stdout}"));
    let list = &tail[head + 1..];
    assert_eq!(
        list.len(),
        2,
        "the list is the last thing printed:\n{stdout}"
    );
    let model = list.iter().find(|l| l.contains("model flaky")).unwrap();
    assert!(model.trim_start().starts_with("ERROR"), "{model}");
    assert!(model.contains("(models/flaky.sql:1)"), "{model}");
    assert!(model.contains("Could not convert string"), "{model}");
    assert!(!model.contains("LINE"), "only the first line: {model}");
    let test = list.iter().find(|l| l.contains("accepted_values")).unwrap();
    assert!(test.trim_start().starts_with("FAIL"), "{test}");
    // The test's own line in the YAML file.
    assert!(test.contains("(models/schema.yml:7)"), "{test}");
    // The JSON log ends with the same list as one event.
    let out = strata(&dir, &["--log-format", "json", "build"]);
    let last = text(&out).0.lines().last().unwrap().to_string();
    let event: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(event["event"], "failures");
    assert_eq!(event["failures"].as_array().unwrap().len(), 2);
}
