//! Data tests, unit tests, contracts and the JUnit report, end to end on embedded DuckDB:
//! tests/fixtures/checks (every generic test failing with a known count, severities and
//! thresholds, store_failures, a custom generic test, a singular test, unit tests) and
//! tests/fixtures/contract_run (a contract checked at compile time, before the swap, and
//! against an earlier manifest with --state).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{copy_tree, db, example_copy, fixture_copy, rows, run_results, strata, strata_ok};

/// `unique_id` → (status, failures) of every result.
fn outcomes(dir: &Path) -> BTreeMap<String, (String, Option<u64>)> {
    run_results(dir)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap().to_string(),
                (
                    r["status"].as_str().unwrap().to_string(),
                    r["failures"].as_u64(),
                ),
            )
        })
        .collect()
}

#[test]
fn every_generic_test_fails_with_its_count_and_severities_and_thresholds_decide() {
    let (_tmp, dir) = fixture_copy("checks");
    strata_ok(&dir, &["build", "-s", "+people"], 1);
    let out = strata_ok(&dir, &["test"], 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let got = outcomes(&dir);
    let expect: &[(&str, &str, u64)] = &[
        ("test.checks.unique_people_id", "fail", 1),
        ("test.checks.not_null_people_name", "fail", 2),
        ("test.checks.positive_people_age", "fail", 1),
        ("test.checks.accepted_values_people_country", "fail", 1),
        (
            "test.checks.relationships_people_manager_id__id__people",
            "fail",
            1,
        ),
        ("test.checks.accepted_range_people_score", "fail", 2),
        (
            "test.checks.unique_combination_of_columns_people",
            "fail",
            1,
        ),
        ("test.checks.row_count_people", "fail", 1),
        ("test.checks.expression_is_true_people", "fail", 1),
        // Custom generic test with severity warn: ids 1, 3 and 7 are odd.
        ("test.checks.is_even_people_id", "warn", 3),
        // Two ages out of range: warn_if "> 1" holds, error_if "> 5" does not.
        ("test.checks.accepted_range_people_age", "warn", 2),
        // severity warn and nothing wrong.
        ("test.checks.not_null_people_score", "pass", 0),
        // Singular test.
        ("test.checks.assert_ids_are_unique", "fail", 1),
    ];
    for (id, status, failures) in expect {
        let (s, f) = got
            .get(*id)
            .unwrap_or_else(|| panic!("{id} not in run results: {got:?}"));
        assert_eq!(
            (s.as_str(), *f),
            (*status, Some(*failures)),
            "{id}\n{stdout}"
        );
    }
    // The failing rows are shown under the result.
    assert!(
        stdout.contains("FAIL  test accepted_values_people_country"),
        "{stdout}"
    );
    assert!(stdout.contains("value_field | n_records"), "{stdout}");
    assert!(stdout.contains("PE          | 1"), "{stdout}");
    assert!(stdout.contains("2 failing rows (warning)"), "{stdout}");
    // store_failures kept the two rows without a name in the audit schema.
    let conn = db(&dir, "checks.duckdb");
    assert_eq!(
        rows(
            &conn,
            "select id from main_audit.not_null_people_name order by id"
        ),
        vec![vec!["3"], vec!["6"]]
    );
}

#[test]
fn thresholds_are_validated_at_compile_time() {
    let (_tmp, dir) = fixture_copy("checks");
    let yml = dir.join("models/_people.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(
        &yml,
        text.replace("error_if: \"> 5\"", "error_if: \"more than 5\""),
    )
    .unwrap();
    let out = strata_ok(&dir, &["compile"], 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("_people.yml:32:"), "{stderr}");
    assert!(
        stderr.contains("`more than 5` is not a condition"),
        "{stderr}"
    );
}

#[test]
fn in_a_build_an_error_test_skips_descendants_and_a_warning_does_not() {
    let (_tmp, dir) = fixture_copy("checks");
    strata_ok(&dir, &["build"], 1);
    let got = outcomes(&dir);
    assert_eq!(got["model.checks.people"].0, "success");
    // people's error-severity tests failed: what reads people is skipped.
    assert_eq!(got["model.checks.adults"].0, "skipped");
    assert_eq!(got["model.checks.scores"].0, "skipped");
    // Once the failing tests are excluded, only the warnings remain and the children build.
    let (_tmp2, dir2) = fixture_copy("checks");
    let yml = dir2.join("models/_people.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    let start = text.find("unit_tests:").unwrap();
    let only_warnings = "version: 2\nmodels:\n  - name: people\n    columns:\n      - name: id\n        tests:\n          - is_even:\n              config:\n                severity: warn\n";
    std::fs::write(&yml, format!("{only_warnings}\n{}", &text[start..])).unwrap();
    std::fs::remove_file(dir2.join("tests/assert_ids_are_unique.sql")).unwrap();
    let out = strata_ok(&dir2, &["build"], 1);
    let got = outcomes(&dir2);
    assert_eq!(got["test.checks.is_even_people_id"].0, "warn");
    assert_eq!(got["model.checks.adults"].0, "success");
    // The failing unit test of scores runs before it and keeps it from being built.
    assert_eq!(
        got["unit_test.checks.scores.scores_expects_the_wrong_total"].0,
        "fail"
    );
    assert_eq!(
        got["unit_test.checks.scores.scores_counts_valid_scores_per_country"].0,
        "pass"
    );
    assert_eq!(got["model.checks.scores"].0, "skipped");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("skipped: upstream `scores_expects_the_wrong_total` failed"),
        "{stdout}"
    );
}

#[test]
fn unit_tests_pass_and_fail_with_a_row_diff_without_building_upstream() {
    let (_tmp, dir) = fixture_copy("checks");
    // Nothing is built: the inputs are the given rows.
    let out = strata_ok(&dir, &["test", "-s", "scores"], 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !dir.join("warehouse/checks.duckdb").exists() || {
            let conn = db(&dir, "checks.duckdb");
            rows(
                &conn,
                "select count(*) from information_schema.tables where table_name = 'people'",
            ) == vec![vec!["0"]]
        }
    );
    let got = outcomes(&dir);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got["unit_test.checks.scores.scores_counts_valid_scores_per_country"].0,
        "pass"
    );
    assert_eq!(
        got["unit_test.checks.scores.scores_expects_the_wrong_total"],
        ("fail".to_string(), Some(2))
    );
    let diff = [
        "the output of `scores` differs from the expected rows",
        "- expected but missing: 1, + produced but not expected: 1",
        "diff | country | people | total_score",
        "+    | CL      | 2      | 30",
        "-    | CL      | 2      | 35",
    ];
    for line in diff {
        assert!(stdout.contains(line), "missing `{line}` in\n{stdout}");
    }
}

#[test]
fn a_unit_test_must_give_every_input() {
    let (_tmp, dir) = fixture_copy("checks");
    let yml = dir.join("models/_people.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(
        &yml,
        text.replace("input: ref('people')", "input: ref('peeple')"),
    )
    .unwrap();
    let out = strata_ok(&dir, &["compile"], 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("which is not a model or seed"), "{stderr}");
    assert!(stderr.contains("did you mean `people`?"), "{stderr}");
}

#[test]
fn junit_report_follows_the_junit_schema() {
    let (_tmp, dir) = fixture_copy("checks");
    let report = dir.join("report.xml");
    strata_ok(&dir, &["build", "--junit-xml", report.to_str().unwrap()], 1);
    let xml = std::fs::read_to_string(&report).unwrap();
    let doc = junit::parse(&xml);
    junit::validate(&doc).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    // Counts agree with the run.
    let got = outcomes(&dir);
    let count = |s: &str| got.values().filter(|(st, _)| st == s).count();
    assert_eq!(doc.attr("tests"), Some(got.len().to_string().as_str()));
    assert_eq!(
        doc.attr("failures"),
        Some(count("fail").to_string().as_str())
    );
    let cases: Vec<&junit::Element> = doc
        .children
        .iter()
        .flat_map(|s| s.children.iter())
        .filter(|c| c.name == "testcase")
        .collect();
    assert_eq!(cases.len(), got.len());
    let failing = cases
        .iter()
        .find(|c| c.attr("name") == Some("accepted_values_people_country"))
        .unwrap();
    assert_eq!(failing.children[0].name, "failure");
    assert!(failing.children[0].text.contains("PE"), "{xml}");
    let skipped = cases
        .iter()
        .find(|c| c.attr("name") == Some("adults"))
        .unwrap();
    assert_eq!(skipped.children[0].name, "skipped");
}

#[test]
fn a_contract_is_checked_at_compile_time() {
    let (_tmp, dir) = fixture_copy("contract_run");
    let model = dir.join("models/rates.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(
        &model,
        text.replace(
            "    cast(rate as decimal(10, 2)) as rate,\n",
            "    cast(rate as decimal(10, 2)) as fx_rate,\n",
        ),
    )
    .unwrap();
    let out = strata_ok(&dir, &["compile"], 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[S602]"), "{stderr}");
    assert!(
        stderr.contains(
            "column `rate`, required by contract `contracts/rates.v1.json`, is not in the model's output"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("column `fx_rate` is not in contract `contracts/rates.v1.json`"),
        "{stderr}"
    );
    assert!(stderr.contains("models/rates.sql:3:"), "{stderr}");
    assert!(stderr.contains("contracts/rates.v1.json:7:"), "{stderr}");
}

#[test]
fn a_contract_breach_at_run_time_keeps_the_previous_version() {
    let (_tmp, dir) = fixture_copy("contract_run");
    strata_ok(&dir, &["build"], 0);
    // New data breaks the schema: a lowercase currency and a rate that is not positive.
    std::fs::write(
        dir.join("seeds/raw_rates.csv"),
        "currency,rate,valid_from\nusd,950.25,2024-02-01\nEUR,0,2024-02-01\n",
    )
    .unwrap();
    let out = strata_ok(&dir, &["build"], 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("contract `contracts/rates.v1.json` breached by main.rates; the previous version is kept"),
        "{stdout}"
    );
    assert!(stdout.contains("row 1: `currency`"), "{stdout}");
    assert!(stdout.contains("row 2: `rate`"), "{stdout}");
    assert_eq!(outcomes(&dir)["model.contract_run.rates"].0, "error");
    let conn = db(&dir, "contract.duckdb");
    assert_eq!(
        rows(
            &conn,
            "select currency, rate, valid_from from main.rates order by currency"
        ),
        vec![
            vec!["EUR", "1030.10", "2024-01-01"],
            vec!["USD", "950.25", "2024-01-01"]
        ]
    );
    drop(conn);
    // A type the contract does not allow is a breach too.
    let model = dir.join("models/rates.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(
        &model,
        text.replace("cast(valid_from as date)", "cast(1 as integer)"),
    )
    .unwrap();
    std::fs::write(
        dir.join("seeds/raw_rates.csv"),
        "currency,rate,valid_from\nUSD,950.25,2024-02-01\n",
    )
    .unwrap();
    let out = strata_ok(&dir, &["build"], 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "column `valid_from` is INTEGER in the database; the contract says string (format date)"
        ),
        "{stdout}"
    );
}

#[test]
fn removing_a_contracted_column_needs_a_new_version() {
    let (_tmp, dir) = fixture_copy("contract_run");
    strata_ok(&dir, &["compile"], 0);
    let state = dir.parent().unwrap().join("state");
    copy_tree(
        &dir.join(".strata/manifest.json"),
        &state.join("manifest.json"),
    );
    // Drop `valid_from` from the model and from the v1 schema itself: a breaking change of v1.
    let model = dir.join("models/rates.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(
        &model,
        text.replace(
            "    cast(rate as decimal(10, 2)) as rate,\n    cast(valid_from as date) as valid_from\n",
            "    cast(rate as decimal(10, 2)) as rate\n",
        ),
    )
    .unwrap();
    let v1 = dir.join("contracts/rates.v1.json");
    let schema = std::fs::read_to_string(&v1).unwrap();
    let v2_text = schema
        .replace(
            ",\n    \"valid_from\": {\"type\": \"string\", \"format\": \"date\"}",
            "",
        )
        .replace(", \"valid_from\"]", "]");
    std::fs::write(&v1, &v2_text).unwrap();
    let state_arg = state.to_str().unwrap();
    // Without --state the project is valid.
    strata_ok(&dir, &["compile"], 0);
    let out = strata_ok(&dir, &["compile", "--state", state_arg], 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[S603]"), "{stderr}");
    assert!(
        stderr.contains(
            "breaking change to contract `contracts/rates.v1.json` of `rates`: column `valid_from` was removed or renamed"
        ),
        "{stderr}"
    );
    // Retyping is breaking as well.
    std::fs::write(
        &v1,
        schema.replace(
            "\"rate\": {\"type\": \"number\"",
            "\"rate\": {\"type\": \"string\"",
        ),
    )
    .unwrap();
    std::fs::write(
        &model,
        text.replace("cast(rate as decimal(10, 2))", "cast(rate as varchar)"),
    )
    .unwrap();
    let out = strata_ok(&dir, &["compile", "--state", state_arg], 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("column `rate` changed type from number to string"),
        "{stderr}"
    );
    // Published as a new version (v1 restored untouched, the model moved to v2): accepted.
    std::fs::write(&v1, &schema).unwrap();
    std::fs::write(dir.join("contracts/rates.v2.json"), &v2_text).unwrap();
    std::fs::write(
        &model,
        text.replace(
            "    cast(rate as decimal(10, 2)) as rate,\n    cast(valid_from as date) as valid_from\n",
            "    cast(rate as decimal(10, 2)) as rate\n",
        ),
    )
    .unwrap();
    let yml = dir.join("models/_rates.yml");
    let props = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(&yml, props.replace("rates.v1.json", "rates.v2.json")).unwrap();
    strata_ok(&dir, &["compile", "--state", state_arg], 0);
}

#[test]
fn the_example_serves_the_cashflow_contract_in_both_versions() {
    let (_tmp, dir) = example_copy();
    strata_ok(
        &dir,
        &[
            "build",
            "-s",
            "+mart_fact_cashflow_v1",
            "--indirect-selection",
            "cautious",
        ],
        0,
    );
    let got = outcomes(&dir);
    assert_eq!(
        got["unit_test.ofitec.mart_fact_cashflow.cashflow_splits_planned_and_actual"].0,
        "pass"
    );
    let conn = db(&dir, "ofitec.duckdb");
    let columns = |t: &str| {
        rows(
            &conn,
            &format!(
                "select string_agg(column_name, ',' order by ordinal_position) from information_schema.columns where table_schema = 'marts' and table_name = '{t}'"
            ),
        )[0][0]
            .clone()
    };
    assert_eq!(
        columns("mart_fact_cashflow"),
        "date,company_id,project_id,category,status,amount_planned,amount_actual,currency,load_ts"
    );
    assert_eq!(
        columns("mart_fact_cashflow_v1"),
        "date,company_id,project_id,category,status,amount_planned,amount_actual,load_ts"
    );
    assert_eq!(
        rows(&conn, "select count(*) from marts.mart_fact_cashflow_v1"),
        vec![vec!["69"]]
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".strata/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["nodes"]["model.ofitec.mart_fact_cashflow"]["config"]["strata"]["contract"]["schema"],
        "contracts/cashflow.v2.json"
    );
    assert_eq!(
        manifest["nodes"]["model.ofitec.mart_fact_cashflow_v1"]["config"]["strata"]["contract"]["schema"],
        "contracts/cashflow.v1.json"
    );
    drop(conn);
    // A breach of v2 in the example (a currency that is not ISO 4217) fails the mart and keeps
    // the rows that were there.
    let model = dir.join("models/marts/mart_fact_cashflow.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(
        &model,
        text.replace(
            "c.currency_code as currency",
            "lower(c.currency_code) as currency",
        ),
    )
    .unwrap();
    let out = strata(&dir, &["run", "-s", "mart_fact_cashflow"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("contract `contracts/cashflow.v2.json` breached"),
        "{stdout}"
    );
    let conn = db(&dir, "ofitec.duckdb");
    assert_eq!(
        rows(
            &conn,
            "select distinct currency from marts.mart_fact_cashflow"
        ),
        vec![vec!["CLP"]]
    );
}

/// A minimal reader of the JUnit XML report and a check against the rules of the JUnit schema
/// CI systems use (Jenkins' junit-10.xsd): allowed elements and attributes, required
/// attributes, child order, and the number formats.
mod junit {
    use quick_xml::Reader;
    use quick_xml::events::Event;

    #[derive(Debug, Default)]
    pub struct Element {
        pub name: String,
        pub attrs: Vec<(String, String)>,
        pub children: Vec<Element>,
        pub text: String,
    }

    impl Element {
        pub fn attr(&self, name: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }
    }

    fn element(e: &quick_xml::events::BytesStart) -> Element {
        Element {
            name: e.name().as_ref().to_string(),
            attrs: e
                .attributes()
                .map(|a| {
                    let a = a.unwrap();
                    (
                        a.key.as_ref().to_string(),
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .to_string(),
                    )
                })
                .collect(),
            ..Default::default()
        }
    }

    pub fn parse(xml: &str) -> Element {
        let mut reader = Reader::from_str(xml);
        let mut stack: Vec<Element> = Vec::new();
        let mut root = None;
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) => stack.push(element(&e)),
                Event::Empty(e) => {
                    let el = element(&e);
                    match stack.last_mut() {
                        Some(p) => p.children.push(el),
                        None => root = Some(el),
                    }
                }
                Event::End(_) => {
                    let el = stack.pop().unwrap();
                    match stack.last_mut() {
                        Some(p) => p.children.push(el),
                        None => root = Some(el),
                    }
                }
                Event::Text(t) => {
                    if let Some(p) = stack.last_mut() {
                        p.text.push_str(&t.xml10_content());
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some(p) = stack.last_mut() {
                        let name = r.as_ref().to_string();
                        p.text.push_str(match name.as_str() {
                            "amp" => "&",
                            "lt" => "<",
                            "gt" => ">",
                            "quot" => "\"",
                            "apos" => "'",
                            other => panic!("unexpected entity {other}"),
                        });
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        root.expect("a root element")
    }

    /// (element, allowed attributes, required attributes, allowed children in schema order
    /// with their maximum count, 0 = unbounded).
    type Rule = (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        &'static [(&'static str, usize)],
    );

    const RULES: &[Rule] = &[
        (
            "testsuites",
            &["name", "time", "tests", "failures", "disabled", "errors"],
            &[],
            &[("testsuite", 0)],
        ),
        (
            "testsuite",
            &[
                "name",
                "tests",
                "failures",
                "errors",
                "time",
                "disabled",
                "skipped",
                "timestamp",
                "hostname",
                "id",
                "package",
                "file",
                "log",
                "url",
                "version",
                "group",
            ],
            &["name", "tests"],
            &[
                ("properties", 1),
                ("testcase", 0),
                ("system-out", 1),
                ("system-err", 1),
            ],
        ),
        (
            "testcase",
            &[
                "name",
                "assertions",
                "time",
                "classname",
                "status",
                "file",
                "line",
                "log",
                "group",
                "url",
            ],
            &["name"],
            &[
                ("skipped", 1),
                ("error", 0),
                ("failure", 0),
                ("system-out", 0),
                ("system-err", 0),
            ],
        ),
        ("skipped", &["message"], &[], &[]),
        ("error", &["message", "type"], &[], &[]),
        ("failure", &["message", "type"], &[], &[]),
        ("system-out", &[], &[], &[]),
        ("system-err", &[], &[], &[]),
    ];

    fn is_time(v: &str) -> bool {
        // xs:decimal with at most three decimals, as the schema's time type.
        let (int, frac) = v.split_once('.').unwrap_or((v, ""));
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.len() <= 3
            && frac.bytes().all(|b| b.is_ascii_digit())
    }

    fn is_count(v: &str) -> bool {
        !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
    }

    fn is_timestamp(v: &str) -> bool {
        // ISO 8601 without a zone: YYYY-MM-DDTHH:MM:SS.
        let b = v.as_bytes();
        b.len() == 19
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            })
    }

    pub fn validate(root: &Element) -> Result<(), String> {
        if root.name != "testsuites" {
            return Err(format!("root is <{}>, not <testsuites>", root.name));
        }
        check(root)
    }

    fn check(e: &Element) -> Result<(), String> {
        let (_, allowed, required, children) = RULES
            .iter()
            .find(|r| r.0 == e.name)
            .ok_or_else(|| format!("<{}> is not in the schema", e.name))?;
        for (k, v) in &e.attrs {
            if !allowed.contains(&k.as_str()) {
                return Err(format!("<{}> has no attribute `{k}`", e.name));
            }
            let ok = match k.as_str() {
                "time" => is_time(v),
                "tests" | "failures" | "errors" | "skipped" | "disabled" | "assertions" => {
                    is_count(v)
                }
                "timestamp" => is_timestamp(v),
                _ => true,
            };
            if !ok {
                return Err(format!("<{}> {k}=\"{v}\" has the wrong format", e.name));
            }
        }
        for r in *required {
            if e.attr(r).is_none() {
                return Err(format!("<{}> lacks required attribute `{r}`", e.name));
            }
        }
        // Children appear in schema order, each within its maximum count.
        let mut at = 0usize;
        let mut seen = 0usize;
        for c in &e.children {
            let pos = children
                .iter()
                .position(|(n, _)| *n == c.name)
                .ok_or_else(|| format!("<{}> may not contain <{}>", e.name, c.name))?;
            if pos < at {
                return Err(format!("<{}> out of order in <{}>", c.name, e.name));
            }
            if pos > at {
                at = pos;
                seen = 0;
            }
            seen += 1;
            let max = children[pos].1;
            if max != 0 && seen > max {
                return Err(format!("too many <{}> in <{}>", c.name, e.name));
            }
            check(c)?;
        }
        if children.is_empty() && !e.children.is_empty() {
            return Err(format!("<{}> has element content", e.name));
        }
        Ok(())
    }
}
