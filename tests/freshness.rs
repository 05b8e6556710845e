//! Freshness on DuckDB and Postgres: rows loaded at controlled times (now minus 5 minutes, 30
//! minutes, 2 hours, one hour in the future, ...) drive every status of `strata source
//! freshness` (pass, warn, error, runtime error, an empty table, a missing column, both
//! timestamp types); sources.json validates against dbt's v3 schema; a build with a stale
//! source skips what reads it; metrics are parsed back with a Prometheus text-format parser,
//! pushed to a pushgateway stand-in and scraped from `serve-metrics` over HTTP.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use common::dbt_artifacts::assert_valid_sources;
use common::{fixture_copy, pg, strata_env_ok};
use serde_json::Value;

/// `now + offset_minutes` as a UTC timestamp literal without zone.
fn at(offset_minutes: i64) -> String {
    let now = strata::freshness::metrics::unix_now();
    let t = strata::freshness::time::rfc3339(now + offset_minutes as f64 * 60.0);
    t.trim_end_matches('Z').replace('T', " ")
}

/// The landing tables, each loaded at its own time. Plain SQL both engines run.
fn landing_sql() -> String {
    let naive = |m: i64| format!("'{}'", at(m));
    let tz = |m: i64| format!("'{}+00'", at(m));
    format!(
        "create schema landing;
create table landing.fresh_naive (id integer, loaded_at timestamp);
insert into landing.fresh_naive values (1, {}), (2, {});
create table landing.warn_naive (id integer, loaded_at timestamp);
insert into landing.warn_naive values (1, {});
create table landing.stale_tz (id integer, loaded_at timestamp with time zone);
insert into landing.stale_tz values (1, {}), (2, {});
create table landing.empty_t (id integer, loaded_at timestamp);
create table landing.future_t (id integer, loaded_at timestamp);
insert into landing.future_t values (1, {});
create table landing.missing_col (id integer, loaded_at timestamp);
insert into landing.missing_col values (1, {});
create table landing.disabled_t (id integer, loaded_at timestamp);
insert into landing.disabled_t values (1, {});
create table landing.filtered (id integer, region varchar(8), loaded_at timestamp);
insert into landing.filtered values (1, 'cl', {}), (2, 'pe', {});
create table landing.daily (id integer, loaded_at timestamp with time zone);
insert into landing.daily values (1, {});",
        naive(-5),
        naive(-10),
        naive(-30),
        tz(-120),
        tz(-180),
        naive(60),
        naive(0),
        naive(-14_400),
        naive(-180),
        naive(-1),
        tz(-600),
    )
}

/// An engine the fixture runs on: its target and the environment strata needs.
struct Engine {
    target: &'static str,
    env: Vec<(&'static str, String)>,
}

impl Engine {
    fn duckdb(dir: &Path) -> Engine {
        std::fs::create_dir_all(dir.join("warehouse")).unwrap();
        let conn = duckdb::Connection::open(dir.join("warehouse/fresh.duckdb")).unwrap();
        conn.execute_batch(&landing_sql()).unwrap();
        Engine {
            target: "duck",
            env: Vec::new(),
        }
    }

    fn postgres() -> Engine {
        let url = pg::fresh_database("fresh");
        pg::psql(&url, &landing_sql());
        Engine {
            target: "pg",
            env: vec![("FRESH_DSN", url)],
        }
    }

    fn run(&self, dir: &Path, args: &[&str], code: i32) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--target", self.target]);
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        strata_env_ok(dir, &all, &env, code)
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `sources.json`'s results by unique id.
fn sources_json(dir: &Path) -> BTreeMap<String, Value> {
    let path = dir.join(".strata/sources.json");
    assert_valid_sources(&path);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["unique_id"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn every_status(dir: &Path, engine: &Engine) {
    let out = engine.run(dir, &["source", "freshness"], 1);
    let text = stdout(&out);
    let got = sources_json(dir);
    let id = |t: &str| format!("source.fresh.landing.{t}");
    let status = |t: &str| got[&id(t)]["status"].as_str().unwrap().to_string();
    assert_eq!(status("fresh_naive"), "pass", "{text}");
    assert_eq!(status("warn_naive"), "warn", "{text}");
    assert_eq!(status("stale_tz"), "error", "{text}");
    assert_eq!(status("empty_t"), "runtime error", "{text}");
    assert_eq!(status("missing_col"), "runtime error", "{text}");
    assert_eq!(status("future_t"), "warn", "{text}");
    assert_eq!(status("filtered"), "error", "{text}");
    assert_eq!(status("daily"), "pass", "{text}");
    assert!(
        !got.contains_key(&id("disabled_t")),
        "freshness: null turns the check off"
    );
    // Ages: measured against the database's clock, rows at controlled times.
    let age = |t: &str| got[&id(t)]["max_loaded_at_time_ago_in_s"].as_f64().unwrap();
    assert!(
        (250.0..400.0).contains(&age("fresh_naive")),
        "{}",
        age("fresh_naive")
    );
    assert!((1700.0..1900.0).contains(&age("warn_naive")));
    // timestamptz: the instant, whatever the session's zone; the newest of the two rows.
    assert!(
        (7100.0..7300.0).contains(&age("stale_tz")),
        "{}",
        age("stale_tz")
    );
    // The filter keeps only the Chilean rows: three hours old, not the fresh Peruvian one.
    assert!((10_700.0..10_900.0).contains(&age("filtered")));
    assert_eq!(age("future_t"), 0.0);
    assert_eq!(
        got[&id("fresh_naive")]["criteria"]["warn_after"],
        serde_json::json!({"count": 20, "period": "minute"})
    );
    assert_eq!(
        got[&id("filtered")]["criteria"]["filter"],
        "region = 'cl'",
        "a table's freshness replaces its source's"
    );
    // Each edge case says what it is.
    let line = |t: &str| {
        text.lines()
            .find(|l| l.contains(&format!("landing.{t} ")))
            .unwrap_or_else(|| panic!("no line for {t}:\n{text}"))
            .to_string()
    };
    assert!(line("empty_t").contains("is empty"), "{}", line("empty_t"));
    assert!(
        got[&id("empty_t")]["error"]
            .as_str()
            .unwrap()
            .contains("is empty")
    );
    assert!(line("missing_col").contains("`landed_at` is not a column"));
    assert!(
        line("future_t").contains("in the future"),
        "{}",
        line("future_t")
    );
    assert!(line("fresh_naive").contains("without time zone, read as UTC"));
    assert!(!line("stale_tz").contains("read as UTC"));
    assert!(
        line("stale_tz").contains("2h 0m ago"),
        "{}",
        line("stale_tz")
    );
    // The JUnit report of the checks: a stale one fails, one that could not run errs.
    let junit = dir.join("fresh-junit.xml");
    engine.run(
        dir,
        &[
            "source",
            "freshness",
            "--junit-xml",
            junit.to_str().unwrap(),
        ],
        1,
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite name=\"fresh.source\" tests=\"8\" failures=\"2\" errors=\"2\""),
        "{xml}"
    );
    // Pass and warn exit 0.
    engine.run(
        dir,
        &[
            "source",
            "freshness",
            "-s",
            "source:landing.fresh_naive",
            "source:landing.warn_naive",
        ],
        0,
    );
    assert_eq!(sources_json(dir).len(), 2);
}

#[test]
fn source_freshness_gives_every_status_on_duckdb() {
    let (_tmp, dir) = fixture_copy("freshness");
    let engine = Engine::duckdb(&dir);
    every_status(&dir, &engine);
}

#[test]
fn source_freshness_gives_every_status_on_postgres() {
    let (_tmp, dir) = fixture_copy("freshness");
    let engine = Engine::postgres();
    every_status(&dir, &engine);
}

/// A build over one fresh and one stale source.
fn stale_build(dir: &Path, engine: &Engine) {
    let sel = ["-s", "+after_stale", "+from_fresh"];
    let junit = dir.join("junit.xml");
    let junit_arg = ["--junit-xml", junit.to_str().unwrap()];
    let out = engine.run(dir, &[&["build"][..], &sel, &junit_arg].concat(), 1);
    let text = stdout(&out);
    // The JUnit report has the checks: the stale one a failure saying how old, the fresh one
    // a pass that says it in system-out.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let case = |name: &str| {
        let start = xml.find(&format!("<testcase name=\"{name}\"")).unwrap();
        let end = start + xml[start..].find("</testcase>").unwrap();
        xml[start..end].to_string()
    };
    assert!(case("stale_tz").contains("<failure") && case("stale_tz").contains("2h 0m ago"));
    assert!(case("fresh_naive").contains("<system-out>fresh: last loaded"));
    let rr = common::run_results(dir);
    let status: BTreeMap<String, String> = rr["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(status["source.fresh.landing.stale_tz"], "fail", "{text}");
    assert_eq!(status["source.fresh.landing.fresh_naive"], "pass");
    assert_eq!(status["model.fresh.from_stale"], "skipped");
    assert_eq!(status["model.fresh.after_stale"], "skipped");
    assert_eq!(status["model.fresh.from_fresh"], "success");
    // The skip and the recap name the stale source and its age.
    assert!(
        text.contains("skipped: source `landing.stale_tz` is stale: last loaded 2h 0m ago"),
        "{text}"
    );
    let recap = &text[text.find("1 failure").expect("a recap")..];
    assert!(
        recap.contains("landing.stale_tz") && recap.contains("2h 0m ago"),
        "{recap}"
    );
    // JSON log lines carry the check.
    let out = engine.run(
        dir,
        &[&["--log-format", "json", "build"][..], &sel].concat(),
        1,
    );
    let event = stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["unique_id"] == "source.fresh.landing.stale_tz")
        .expect("a node_finished event for the source");
    assert_eq!(event["freshness"]["status"], "error");
    assert!(event["freshness"]["age_seconds"].as_f64().unwrap() > 7000.0);
    // --skip-freshness: nothing is checked, everything builds.
    engine.run(dir, &[&["build", "--skip-freshness"][..], &sel].concat(), 0);
}

#[test]
fn a_stale_source_skips_its_downstream_in_build_on_duckdb() {
    let (_tmp, dir) = fixture_copy("freshness");
    let engine = Engine::duckdb(&dir);
    stale_build(&dir, &engine);
}

#[test]
fn a_stale_source_skips_its_downstream_in_build_on_postgres() {
    let (_tmp, dir) = fixture_copy("freshness");
    let engine = Engine::postgres();
    stale_build(&dir, &engine);
}

#[test]
fn model_freshness_is_checked_after_the_build_and_by_strata_freshness() {
    let (_tmp, dir) = fixture_copy("freshness");
    let engine = Engine::duckdb(&dir);
    // from_warn's newest row is 30 minutes old; its error_after is 10 minutes.
    let out = engine.run(&dir, &["run", "-s", "from_warn", "from_fresh"], 1);
    let text = stdout(&out);
    assert!(text.contains("freshness: stale: last loaded 30m"), "{text}");
    let out = engine.run(
        &dir,
        &[
            "freshness",
            "-s",
            "from_warn",
            "from_fresh",
            "source:landing.fresh_naive",
        ],
        1,
    );
    let got = sources_json(&dir);
    assert_eq!(
        got["model.fresh.from_warn"]["status"],
        "error",
        "{}",
        stdout(&out)
    );
    assert_eq!(got["model.fresh.from_fresh"]["status"], "pass");
    assert_eq!(got["source.fresh.landing.fresh_naive"]["status"], "pass");
    // --skip-freshness builds without checking.
    engine.run(&dir, &["run", "-s", "from_warn", "--skip-freshness"], 0);
}

#[test]
fn a_loaded_at_field_the_model_lacks_is_a_compile_error_at_its_line() {
    let (_tmp, dir) = fixture_copy("freshness");
    let yml = dir.join("models/_models.yml");
    let text = std::fs::read_to_string(&yml).unwrap();
    std::fs::write(
        &yml,
        text.replace("loaded_at_field: last_load", "loaded_at_field: last_lod"),
    )
    .unwrap();
    let out = common::strata_ok(&dir, &["compile"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("S306"), "{err}");
    assert!(err.contains("models/_models.yml:5"), "{err}");
    assert!(err.contains("did you mean `last_load`?"), "{err}");
}

type Samples = Vec<prometheus_parse::Sample>;

fn parse_metrics(text: &str) -> Samples {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines)
        .expect("a valid Prometheus exposition")
        .samples
}

fn gauge(samples: &Samples, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.metric == metric
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(k).is_some_and(|x| x == *v))
        })
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{metric} is not a gauge"),
        })
}

fn assert_freshness_metrics(samples: &Samples, now: f64) {
    let node = |t: &'static str| ("unique_id", t);
    let fresh = node("source.fresh.landing.fresh_naive");
    let loaded = gauge(
        samples,
        "strata_freshness_last_loaded_timestamp_seconds",
        &[fresh, ("project", "fresh")],
    )
    .expect("a load time for fresh_naive");
    assert!((now - loaded - 300.0).abs() < 60.0, "{loaded} vs {now}");
    let empty = node("source.fresh.landing.empty_t");
    assert_eq!(
        gauge(samples, "strata_freshness_check_success", &[empty]),
        Some(0.0)
    );
    assert_eq!(
        gauge(
            samples,
            "strata_freshness_last_loaded_timestamp_seconds",
            &[empty]
        ),
        None,
        "no made-up load time"
    );
    assert_eq!(
        gauge(
            samples,
            "strata_freshness_status",
            &[node("source.fresh.landing.stale_tz"), ("status", "error")]
        ),
        Some(1.0)
    );
    assert_eq!(
        gauge(samples, "strata_freshness_warn_after_seconds", &[fresh]),
        Some(1200.0)
    );
}

#[test]
fn metrics_file_pushgateway_and_rules_are_real_prometheus() {
    let (tmp, dir) = fixture_copy("freshness");
    let engine = Engine::duckdb(&dir);
    // A pushgateway stand-in that records what it receives.
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let received = std::thread::spawn(move || {
        let mut req = server.recv().unwrap();
        let mut body = String::new();
        req.as_reader().read_to_string(&mut body).unwrap();
        let got = (req.method().to_string(), req.url().to_string(), body);
        req.respond(tiny_http::Response::from_string("")).unwrap();
        got
    });
    let prom = tmp.path().join("strata.prom");
    let rules = tmp.path().join("rules.yml");
    let gateway = format!("http://127.0.0.1:{port}");
    engine.run(
        &dir,
        &[
            "freshness",
            "--metrics-file",
            prom.to_str().unwrap(),
            "--pushgateway",
            &gateway,
            "--prometheus-rules",
            rules.to_str().unwrap(),
        ],
        1,
    );
    let now = strata::freshness::metrics::unix_now();
    let samples = parse_metrics(&std::fs::read_to_string(&prom).unwrap());
    assert_freshness_metrics(&samples, now);
    assert_eq!(
        gauge(&samples, "strata_run_success", &[("command", "freshness")]),
        Some(0.0)
    );
    let (method, url, body) = received.join().unwrap();
    assert_eq!(method, "PUT");
    assert_eq!(url, "/metrics/job/strata/project/fresh");
    assert_freshness_metrics(&parse_metrics(&body), now);
    // The rules: Prometheus's rule-file shape, one rule per SLO.
    let docs =
        yaml_rust2::YamlLoader::load_from_str(&std::fs::read_to_string(&rules).unwrap()).unwrap();
    let group = &docs[0]["groups"][0];
    assert_eq!(group["name"].as_str(), Some("strata-freshness-fresh"));
    let alerts: Vec<&yaml_rust2::Yaml> = group["rules"].as_vec().unwrap().iter().collect();
    let names: Vec<&str> = alerts
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"FreshnessAbove20m"), "{names:?}");
    assert!(names.contains(&"FreshnessCheckFailed"), "{names:?}");
    for r in &alerts {
        assert!(
            r["expr"]
                .as_str()
                .is_some_and(|e| e.contains("strata_freshness"))
        );
        assert!(r["for"].as_str().is_some());
        assert!(r["labels"]["severity"].as_str().is_some());
        assert!(r["annotations"]["summary"].as_str().is_some());
    }
    let above20 = alerts
        .iter()
        .find(|r| r["alert"].as_str() == Some("FreshnessAbove20m"))
        .unwrap();
    assert!(above20["expr"].as_str().unwrap().ends_with("> 1200"));
    // A build writes node metrics too.
    engine.run(
        &dir,
        &[
            "build",
            "-s",
            "+from_fresh",
            "--metrics-file",
            prom.to_str().unwrap(),
        ],
        0,
    );
    let samples = parse_metrics(&std::fs::read_to_string(&prom).unwrap());
    assert_eq!(
        gauge(
            &samples,
            "strata_node_status",
            &[
                ("unique_id", "model.fresh.from_fresh"),
                ("status", "success")
            ]
        ),
        Some(1.0)
    );
    assert!(
        gauge(
            &samples,
            "strata_run_last_success_timestamp_seconds",
            &[("command", "build")]
        )
        .is_some()
    );
    assert!(
        gauge(
            &samples,
            "strata_node_duration_seconds",
            &[("unique_id", "model.fresh.from_fresh")]
        )
        .is_some()
    );
}

#[test]
fn serve_metrics_checks_freshness_at_each_scrape() {
    let (_tmp, dir) = fixture_copy("freshness");
    let _engine = Engine::duckdb(&dir);
    // A free port: bind, read it, release it for the exporter.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    // A check that takes far longer than the scrape may: stopped, reported as failed.
    std::fs::write(
        dir.join("models/_slow.yml"),
        "version: 2\nsources:\n  - name: slow\n    schema: landing\n    loaded_at_field: loaded_at\n    freshness:\n      warn_after: {count: 1, period: hour}\n      filter: \"(select sum(a.range * b.range) from range(100000) a, range(100000) b) > 0\"\n    tables:\n      - name: fresh_naive\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("--project-dir")
        .arg(&dir)
        .args([
            "serve-metrics",
            "--listen",
            &listen,
            "--scrape-timeout",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://{listen}/metrics");
    let mut body = None;
    for _ in 0..100 {
        if let Ok(mut r) = ureq::get(&url).call() {
            body = Some(r.body_mut().read_to_string().unwrap());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let scrape = |b: &str| parse_metrics(b);
    let first = body.expect("the exporter answers");
    assert!(first.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    let samples = scrape(&first);
    assert_freshness_metrics(&samples, strata::freshness::metrics::unix_now());
    let slow = [("unique_id", "source.fresh.slow.fresh_naive")];
    assert_eq!(
        gauge(&samples, "strata_freshness_check_success", &slow),
        Some(0.0)
    );
    assert_eq!(
        gauge(
            &samples,
            "strata_freshness_last_loaded_timestamp_seconds",
            &slow
        ),
        None
    );
    let took = gauge(&samples, "strata_freshness_scrape_duration_seconds", &[]).unwrap();
    assert!((1.9..10.0).contains(&took), "the scrape took {took}s");
    // Live: a row loaded now shows at the next scrape (the DuckDB file is free between scrapes).
    let conn = duckdb::Connection::open(dir.join("warehouse/fresh.duckdb")).unwrap();
    conn.execute_batch(&format!(
        "insert into landing.empty_t values (1, '{}')",
        at(0)
    ))
    .unwrap();
    drop(conn);
    let second = ureq::get(&url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let samples = scrape(&second);
    assert_eq!(
        gauge(
            &samples,
            "strata_freshness_check_success",
            &[("unique_id", "source.fresh.landing.empty_t")]
        ),
        Some(1.0)
    );
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn source_status_fresher_selects_what_was_loaded_since_the_state() {
    let (tmp, dir) = fixture_copy("freshness");
    let engine = Engine::duckdb(&dir);
    let sources = [
        "-s",
        "source:landing.fresh_naive",
        "source:landing.stale_tz",
    ];
    engine.run(&dir, &["parse"], 0);
    engine.run(&dir, &[&["source", "freshness"][..], &sources].concat(), 1);
    let state = tmp.path().join("state");
    common::copy_tree(&dir.join(".strata"), &state);
    // Without a new load, nothing is fresher: nothing to run.
    engine.run(&dir, &[&["source", "freshness"][..], &sources].concat(), 1);
    let state_arg = state.to_str().unwrap();
    let out = engine.run(
        &dir,
        &[
            "build",
            "-s",
            "source_status:fresher+",
            "--state",
            state_arg,
        ],
        0,
    );
    assert!(stdout(&out).contains("nothing to run"), "{}", stdout(&out));
    // stale_tz gets a row now: it is fresher, and what reads it builds.
    let conn = duckdb::Connection::open(dir.join("warehouse/fresh.duckdb")).unwrap();
    conn.execute_batch(&format!(
        "insert into landing.stale_tz values (3, '{}+00')",
        at(0)
    ))
    .unwrap();
    drop(conn);
    engine.run(&dir, &[&["source", "freshness"][..], &sources].concat(), 0);
    engine.run(
        &dir,
        &[
            "build",
            "-s",
            "source_status:fresher+",
            "--state",
            state_arg,
        ],
        0,
    );
    let rr = common::run_results(&dir);
    let ids: Vec<&str> = rr["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unique_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"model.fresh.from_stale"), "{ids:?}");
    assert!(ids.contains(&"model.fresh.after_stale"), "{ids:?}");
    assert!(!ids.contains(&"model.fresh.from_fresh"), "{ids:?}");
    // Without --state it is an error that says what to give.
    let out = engine.run(&dir, &["build", "-s", "source_status:fresher+"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--state"));
}

#[test]
fn the_example_build_checks_its_slo_against_load_times_set_at_load() {
    let (_tmp, dir) = common::example_copy();
    let out = common::strata_ok(&dir, &["build"], 0);
    let text = stdout(&out);
    assert!(text.contains(" 0 ERROR, 0 FAIL, 0 SKIP"), "{text}");
    let rr = common::run_results(&dir);
    let result = |id: &str| {
        rr["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unique_id"] == id)
            .unwrap_or_else(|| panic!("{id} did not run"))
            .clone()
    };
    // Every odoo source is checked before what reads it, the critical mart after it builds.
    assert_eq!(result("source.ofitec.odoo.invoices")["status"], "pass");
    assert_eq!(
        result("source.ofitec.odoo.cashflow_lines")["status"],
        "pass"
    );
    let mart = result("model.ofitec.mart_fact_cashflow");
    assert_eq!(mart["status"], "success");
    assert!(
        mart["message"]
            .as_str()
            .unwrap()
            .contains("freshness: fresh: last loaded"),
        "{mart}"
    );
    let sales = result("model.ofitec.mart_fact_sales");
    assert!(
        sales["message"]
            .as_str()
            .unwrap()
            .contains("freshness: fresh: last loaded"),
        "{sales}"
    );
    // The SLO is real: data two hours old fails it.
    let conn = duckdb::Connection::open(dir.join("warehouse/ofitec.duckdb")).unwrap();
    conn.execute_batch(
        "update raw.raw_invoices set load_ts = load_ts - interval 2 hour;
         update marts.mart_fact_cashflow set load_ts = load_ts - interval 2 hour;",
    )
    .unwrap();
    drop(conn);
    let out = common::strata_ok(&dir, &["freshness"], 1);
    let got = sources_json(&dir);
    assert_eq!(
        got["source.ofitec.odoo.invoices"]["status"],
        "error",
        "{}",
        stdout(&out)
    );
    assert_eq!(got["model.ofitec.mart_fact_cashflow"]["status"], "error");
    assert_eq!(got["source.ofitec.odoo.partners"]["status"], "pass");
}

#[test]
fn a_seed_with_freshness_is_checked_after_it_loads() {
    let (_tmp, dir) = fixture_copy("freshness");
    let engine = Engine::duckdb(&dir);
    let out = engine.run(&dir, &["seed"], 1);
    let text = stdout(&out);
    assert!(text.contains("freshness: stale: last loaded"), "{text}");
    assert!(text.contains("more than error_after (1 day)"), "{text}");
    engine.run(&dir, &["seed", "--skip-freshness"], 0);
}
