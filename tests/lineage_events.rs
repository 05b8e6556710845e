//! OpenLineage events emitted live by `build`, on the `lineage` fixture (a seed, a view, a
//! table, a model that fails at run time and its child, passing and warning tests), checked
//! against the official schemas in `../shared/openlineage-spec/`, received by an in-process
//! HTTP backend, kept in the spool while the backend is down and delivered by
//! `strata lineage send`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use common::openlineage::{Receiver, assert_valid_events, free_port, read_jsonl};
use common::{fixture_copy, strata_env_ok};
use serde_json::Value;

/// A value the fixture's view prints with `env_var()`: it must never reach an event.
const TOKEN: &str = "tok-S3CRET-4242";

/// No ambient configuration: no `openlineage.yml` found by accident, no variables.
fn env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("OPENLINEAGE_CONFIG", ""),
        ("OPENLINEAGE_URL", ""),
        ("OPENLINEAGE_DISABLED", ""),
        ("OPENLINEAGE_NAMESPACE", ""),
        ("OPENLINEAGE_API_KEY", ""),
        ("LINEAGE_TEST_TOKEN", TOKEN),
    ];
    env.extend_from_slice(extra);
    env
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Events grouped by run id, in arrival order.
fn by_run(events: &[Value]) -> BTreeMap<String, Vec<&Value>> {
    let mut m: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in events {
        m.entry(e["run"]["runId"].as_str().unwrap().to_string())
            .or_default()
            .push(e);
    }
    m
}

/// The event types of the run of job `name`.
fn kinds_of(events: &[Value], name: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["job"]["name"] == name)
        .map(|e| e["eventType"].as_str().unwrap().to_string())
        .collect()
}

/// Checks the order and parents of a build of the fixture: the invocation's START first and
/// FAIL last, one START and one end per node run, each node pointing at the invocation.
fn assert_build_story(events: &[Value]) {
    let first = &events[0];
    let last = events.last().unwrap();
    assert_eq!(first["job"]["name"], "shop.build");
    assert_eq!(first["eventType"], "START");
    assert_eq!(last["job"]["name"], "shop.build");
    assert_eq!(
        last["eventType"], "FAIL",
        "a model failed: the invocation fails"
    );
    let parent_id = first["run"]["runId"].as_str().unwrap();
    assert_eq!(last["run"]["runId"], parent_id);
    for (id, evs) in by_run(events) {
        let kinds: Vec<&str> = evs
            .iter()
            .map(|e| e["eventType"].as_str().unwrap())
            .collect();
        assert_eq!(kinds.len(), 2, "run {id}: {kinds:?}");
        assert_eq!(kinds[0], "START", "run {id}: {kinds:?}");
        assert!(
            ["COMPLETE", "FAIL", "ABORT"].contains(&kinds[1]),
            "{kinds:?}"
        );
        if id != parent_id {
            for e in evs {
                let p = &e["run"]["facets"]["parent"];
                assert_eq!(p["run"]["runId"], parent_id, "{e}");
                assert_eq!(p["job"]["name"], "shop.build");
                assert_eq!(p["root"]["run"]["runId"], parent_id);
            }
        }
    }
    assert_eq!(
        kinds_of(events, "seed.shop.raw_orders"),
        ["START", "COMPLETE"]
    );
    assert_eq!(
        kinds_of(events, "model.shop.stg_orders"),
        ["START", "COMPLETE"]
    );
    assert_eq!(kinds_of(events, "model.shop.broken"), ["START", "FAIL"]);
    assert_eq!(
        kinds_of(events, "model.shop.child_of_broken"),
        ["START", "ABORT"]
    );
    // A warning test completed (the run goes on) and says it found rows.
    let warn = "test.shop.accepted_values_customer_totals_total";
    assert_eq!(kinds_of(events, warn), ["START", "COMPLETE"]);
    // Every node ran (or was skipped) between the invocation's START and its end.
    assert_eq!(by_run(events).len(), 1 + 8);
}

fn build_to_file(dir: &Path, file: &Path) -> std::process::Output {
    let config = dir.join("ol.yml");
    std::fs::write(
        &config,
        format!(
            "transport:\n  type: file\n  log_file_path: {}\n  append: true\n",
            file.display()
        ),
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    strata_env_ok(dir, &["build"], &env(&[("OPENLINEAGE_CONFIG", &config)]), 1)
}

#[test]
fn every_event_validates_against_the_openlineage_schemas() {
    let (_tmp, dir) = fixture_copy("lineage_events");
    let file = dir.join("events.jsonl");
    build_to_file(&dir, &file);
    let events = read_jsonl(&file);
    assert_eq!(events.len(), 2 + 8 * 2);
    assert_valid_events(&events);
    assert_build_story(&events);

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(TOKEN), "an env_var() value reached an event");
    assert!(
        text.contains("'****' as token"),
        "the compiled SQL is sent, masked"
    );

    let find = |name: &str, kind: &str| -> &Value {
        events
            .iter()
            .find(|e| e["job"]["name"] == name && e["eventType"] == kind)
            .unwrap_or_else(|| panic!("no {kind} of {name}"))
    };
    // Datasets are named per the naming spec: the absolute DuckDB file, database.schema.table.
    let abs = std::path::absolute(dir.join("warehouse/shop.duckdb")).unwrap();
    let namespace = format!("duckdb://{}", abs.display());
    let view = find("model.shop.stg_orders", "COMPLETE");
    let out = &view["outputs"][0];
    assert_eq!(out["namespace"], namespace.as_str());
    assert_eq!(out["name"], "shop.main.stg_orders");
    assert_eq!(view["inputs"][0]["name"], "shop.main.raw_orders");
    assert_eq!(
        out["facets"]["lifecycleStateChange"]["lifecycleStateChange"],
        "OVERWRITE"
    );
    assert_eq!(
        out["facets"]["documentation"]["description"],
        "Paid orders, one row per order."
    );
    assert_eq!(
        out["facets"]["ownership"]["owners"][0]["name"],
        "team:finance"
    );
    assert_eq!(out["facets"]["dataSource"]["uri"], namespace.as_str());
    let fields = out["facets"]["schema"]["fields"].as_array().unwrap();
    assert_eq!(fields[0]["name"], "id");
    assert_eq!(fields[0]["description"], "The order id.");
    let job = &view["job"]["facets"];
    assert_eq!(job["jobType"]["jobType"], "MODEL");
    assert_eq!(job["jobType"]["integration"], "STRATA");
    assert_eq!(job["jobType"]["processingType"], "BATCH");
    assert_eq!(job["sql"]["dialect"], "duckdb");
    assert_eq!(job["sourceCodeLocation"]["path"], "models/stg_orders.sql");
    assert_eq!(job["ownership"]["owners"][0]["name"], "team:finance");

    let seed = find("seed.shop.raw_orders", "COMPLETE");
    assert_eq!(seed["job"]["facets"]["jobType"]["jobType"], "SEED");
    let amount = &seed["outputs"][0]["facets"]["schema"]["fields"][2];
    assert_eq!(
        (amount["name"].as_str(), amount["type"].as_str()),
        (Some("amount"), Some("integer"))
    );
    assert_eq!(
        seed["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"],
        3
    );

    // The compile's column lineage, as the columnLineage facet of the table's output.
    let table = find("model.shop.customer_totals", "COMPLETE");
    let cl = &table["outputs"][0]["facets"]["columnLineage"];
    let total = &cl["fields"]["total"]["inputFields"][0];
    assert_eq!(total["namespace"], namespace.as_str());
    assert_eq!(total["name"], "shop.main.stg_orders", "{cl}");
    assert_eq!(total["field"], "amount");
    assert_eq!(total["transformations"][0]["type"], "DIRECT");
    assert_eq!(total["transformations"][0]["subtype"], "AGGREGATION");
    let by: Vec<(&str, &str)> = cl["dataset"]
        .as_array()
        .expect("dataset-level inputs")
        .iter()
        .map(|d| {
            (
                d["field"].as_str().unwrap(),
                d["transformations"][0]["subtype"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(by.contains(&("customer", "GROUP_BY")), "{cl}");

    let failed = find("model.shop.broken", "FAIL");
    let msg = failed["run"]["facets"]["errorMessage"]["message"]
        .as_str()
        .unwrap();
    assert!(msg.contains("Conversion Error"), "{msg}");
    let aborted = find("model.shop.child_of_broken", "ABORT");
    let msg = aborted["run"]["facets"]["errorMessage"]["message"]
        .as_str()
        .unwrap();
    assert!(msg.contains("upstream `broken` failed"), "{msg}");

    // Test results are assertions on the tested dataset.
    let t = find("test.shop.not_null_stg_orders_id", "COMPLETE");
    assert_eq!(t["job"]["facets"]["jobType"]["jobType"], "TEST");
    let input = &t["inputs"][0];
    assert_eq!(input["name"], "shop.main.stg_orders");
    let a = &input["inputFacets"]["dataQualityAssertions"]["assertions"][0];
    assert_eq!(a["assertion"], "not_null");
    assert_eq!(a["success"], true);
    assert_eq!(a["column"], "id");
    let w = find(
        "test.shop.accepted_values_customer_totals_total",
        "COMPLETE",
    );
    let a = &w["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"][0];
    assert_eq!(
        (a["success"].clone(), a["severity"].clone()),
        (false.into(), "warn".into())
    );
    assert_eq!(a["actual"], "1");

    let parent = &events[0];
    assert_eq!(
        parent["run"]["facets"]["processing_engine"]["name"],
        "strata"
    );
    assert!(parent["run"]["facets"]["nominalTime"]["nominalStartTime"].is_string());
    assert_eq!(
        parent["job"]["namespace"], "shop",
        "the project name by default"
    );

    // The file transport appends: a second build adds its events after the first's.
    build_to_file(&dir, &file);
    assert_eq!(read_jsonl(&file).len(), 2 * events.len());
}

#[test]
fn an_http_backend_receives_every_event_in_a_valid_order() {
    let (_tmp, dir) = fixture_copy("lineage_events");
    let receiver = Receiver::start(0);
    let out = strata_env_ok(
        &dir,
        &["build"],
        &env(&[
            ("OPENLINEAGE_URL", &receiver.url),
            ("OPENLINEAGE_API_KEY", "key-123"),
            ("OPENLINEAGE_NAMESPACE", "ofitec-dev"),
        ]),
        1,
    );
    assert!(!stderr(&out).contains("lineage"), "{}", stderr(&out));
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 18);
    for r in &received {
        assert_eq!(r.path, "/api/v1/lineage");
        assert_eq!(r.authorization.as_deref(), Some("Bearer key-123"));
        assert_eq!(r.event["job"]["namespace"], "ofitec-dev");
    }
    let events = receiver.events();
    assert_valid_events(&events);
    assert_build_story(&events);
}

#[test]
fn project_yml_lineage_section_sends_gzip_and_ranks_above_openlineage_url() {
    let (_tmp, dir) = fixture_copy("lineage_events");
    let receiver = Receiver::start(0);
    let project = std::fs::read_to_string(dir.join("project.yml")).unwrap();
    std::fs::write(
        dir.join("project.yml"),
        format!(
            "{project}lineage:\n  namespace: shop-ns\n  transport:\n    type: http\n    url: {}\n    compression: gzip\n    api_key: \"{{{{ env_var('LINEAGE_TEST_KEY') }}}}\"\n",
            receiver.url
        ),
    )
    .unwrap();
    let elsewhere = format!("http://127.0.0.1:{}", free_port());
    strata_env_ok(
        &dir,
        &["seed"],
        &env(&[("OPENLINEAGE_URL", &elsewhere), ("LINEAGE_TEST_KEY", "k-9")]),
        0,
    );
    let received = receiver.received.lock().unwrap().clone();
    assert_eq!(received.len(), 4, "{received:?}");
    assert!(
        received
            .iter()
            .all(|r| r.encoding.as_deref() == Some("gzip"))
    );
    assert!(
        received
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer k-9"))
    );
    assert_eq!(received[0].event["job"]["namespace"], "shop-ns");
    assert_eq!(received[3].event["eventType"], "COMPLETE");
    assert_valid_events(&receiver.events());

    // `OPENLINEAGE_DISABLED` turns everything off.
    strata_env_ok(
        &dir,
        &["seed"],
        &env(&[
            ("OPENLINEAGE_DISABLED", "true"),
            ("LINEAGE_TEST_KEY", "k-9"),
        ]),
        0,
    );
    assert_eq!(receiver.received.lock().unwrap().len(), 4);
}

#[test]
fn unknown_lineage_keys_are_errors_with_a_suggestion() {
    let (_tmp, dir) = fixture_copy("lineage_events");
    let project = std::fs::read_to_string(dir.join("project.yml")).unwrap();
    std::fs::write(
        dir.join("project.yml"),
        format!(
            "{project}lineage:\n  namespce: x\n  transport:\n    type: htp\n    url: http://x\n"
        ),
    )
    .unwrap();
    let out = strata_env_ok(&dir, &["parse"], &env(&[]), 2);
    let err = stderr(&out);
    assert!(err.contains("unknown key `namespce`"), "{err}");
    assert!(err.contains("did you mean `namespace`?"), "{err}");
    assert!(
        err.contains("unknown lineage transport type `htp`"),
        "{err}"
    );
    assert!(err.contains("did you mean `http`?"), "{err}");
}

#[test]
fn a_backend_that_is_down_costs_the_run_nothing_and_send_delivers_later() {
    let (_tmp, dir) = fixture_copy("lineage_events");
    // Warm up (the database file, the caches), then a run without lineage as the baseline.
    strata_env_ok(&dir, &["build"], &env(&[]), 1);
    let t0 = Instant::now();
    strata_env_ok(&dir, &["build"], &env(&[]), 1);
    let baseline = t0.elapsed();

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let with_url = env(&[("OPENLINEAGE_URL", &url)]);
    let t0 = Instant::now();
    let out = strata_env_ok(&dir, &["build"], &with_url, 1);
    let down = t0.elapsed();
    assert!(
        down < baseline + std::time::Duration::from_secs(1),
        "the run took {down:?} with the backend down, {baseline:?} without lineage"
    );
    let err = stderr(&out);
    assert!(
        err.contains("warning: 18 lineage events kept; `strata lineage send` delivers them"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("lineage")).count(),
        1,
        "one warning: {err}"
    );
    let spool = dir.join(".strata/lineage-spool.jsonl");
    let kept = read_jsonl(&spool);
    assert_eq!(kept.len(), 18);
    assert_valid_events(&kept);

    // A second run while still down appends after the first run's events.
    strata_env_ok(&dir, &["seed"], &with_url, 0);
    let kept = read_jsonl(&spool);
    assert_eq!(kept.len(), 22);

    // Still down: `lineage send` fails (exit 1) and keeps everything.
    let out = strata_env_ok(&dir, &["lineage", "send"], &with_url, 1);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("delivered 0 lineage events; 22 still kept: cannot reach"),
        "{said}"
    );
    assert_eq!(read_jsonl(&spool), kept);

    // Backend up: `lineage send` delivers each kept event once, in order, and empties the spool.
    let receiver = Receiver::start(port);
    let out = strata_env_ok(&dir, &["lineage", "send"], &with_url, 0);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("delivered 22 lineage events"),
        "{out:?}"
    );
    assert_eq!(receiver.events(), kept);
    let keys: BTreeSet<(String, String)> = kept
        .iter()
        .map(|e| (e["run"]["runId"].to_string(), e["eventType"].to_string()))
        .collect();
    assert_eq!(keys.len(), 22, "each event is distinct");
    assert!(!spool.exists());
    let out = strata_env_ok(&dir, &["lineage", "send"], &with_url, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to send"));
    assert_eq!(receiver.events().len(), 22, "nothing is delivered twice");
}

#[test]
fn lineage_send_without_a_transport_says_so() {
    let (_tmp, dir) = fixture_copy("lineage_events");
    let out = strata_env_ok(&dir, &["lineage", "send"], &env(&[]), 2);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no OpenLineage transport is configured"),
        "{out:?}"
    );
}

#[test]
fn postgres_datasets_are_named_by_host_port_and_database() {
    let (_tmp, dir) = fixture_copy("lineage_events");
    // The test server's DSN holds its password.
    let dsn = common::pg::fresh_database("lineage");
    let (_, rest) = dsn.split_once('@').unwrap();
    let (host, db) = rest.split_once('/').unwrap();
    let file = dir.join("events.jsonl");
    std::fs::write(
        dir.join("openlineage.yml"),
        "transport:\n  type: file\n  log_file_path: events.jsonl\n",
    )
    .unwrap();
    strata_env_ok(
        &dir,
        &[
            "build",
            "-t",
            "pg",
            "-s",
            "raw_orders+",
            "--exclude",
            "broken+",
        ],
        &env(&[("LINEAGE_PG_DSN", &dsn)]),
        0,
    );
    let events = read_jsonl(&file);
    assert_valid_events(&events);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(common::pg::PASSWORD),
        "the DSN's password reached an event"
    );
    let seed = events
        .iter()
        .find(|e| e["job"]["name"] == "seed.shop.raw_orders" && e["eventType"] == "COMPLETE")
        .unwrap();
    let out = &seed["outputs"][0];
    let port = host.rsplit(':').next().unwrap();
    assert_eq!(out["namespace"], format!("postgres://127.0.0.1:{port}"));
    assert_eq!(out["name"], format!("{db}.public.raw_orders"));
    let view = events
        .iter()
        .find(|e| e["job"]["name"] == "model.shop.stg_orders")
        .unwrap();
    assert_eq!(view["job"]["facets"]["sql"]["dialect"], "postgres");
}

#[test]
fn the_column_lineage_facet_validates_against_its_schema() {
    use strata::ir::lineage::{ColumnLineage, InputField, NodeLineage, TransformSubtype};
    let input = |node: &str, column: &str, subtype| InputField {
        node: node.into(),
        column: column.into(),
        subtype,
    };
    let lineage = NodeLineage {
        columns: vec![
            ColumnLineage {
                name: "customer".into(),
                inputs: vec![input(
                    "seed.shop.raw_orders",
                    "customer",
                    TransformSubtype::Identity,
                )],
                unknown: None,
            },
            ColumnLineage {
                name: "total".into(),
                inputs: vec![input(
                    "seed.shop.raw_orders",
                    "amount",
                    TransformSubtype::Aggregation,
                )],
                unknown: None,
            },
        ],
        dataset: vec![
            input(
                "seed.shop.raw_orders",
                "customer",
                TransformSubtype::GroupBy,
            ),
            input("seed.shop.raw_orders", "status", TransformSubtype::Filter),
        ],
        unknown: None,
    };
    let facet = strata::lineage::facets::column_lineage(&lineage, |id| {
        (id == "seed.shop.raw_orders").then(|| {
            (
                "duckdb:///w/shop.duckdb",
                "shop.main.raw_orders".to_string(),
            )
        })
    });
    let v = serde_json::to_value(&facet).unwrap();
    // The facet inside a minimal event: the core schema and the facet's own schema.
    let event = serde_json::json!({
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00.000Z",
        "producer": strata::lineage::event::PRODUCER,
        "schemaURL": strata::lineage::event::RUN_EVENT_SCHEMA,
        "run": {"runId": strata::lineage::new_run_id()},
        "job": {"namespace": "shop", "name": "model.shop.totals"},
        "outputs": [{"namespace": "duckdb:///w/shop.duckdb", "name": "shop.main.totals",
            "facets": {"columnLineage": v}}],
    });
    assert_valid_events(&[event]);
    assert_eq!(
        v["fields"]["total"]["inputFields"][0]["transformations"][0]["subtype"],
        "AGGREGATION"
    );
    assert_eq!(v["dataset"][0]["transformations"][0]["type"], "INDIRECT");
    assert_eq!(v["dataset"][0]["transformations"][0]["subtype"], "GROUP_BY");
}

#[test]
fn the_validator_rejects_what_the_spec_rejects() {
    let bad = serde_json::json!({
        "eventType": "START",
        "eventTime": "2026-01-01T00:00:00",
        "producer": "not a uri",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "not-a-uuid", "facets": {
            "nominalTime": {"_producer": "https://x", "nominalStartTime": "2026-01-01T00:00:00Z"},
            "parent": {"_producer": "https://x",
                "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet",
                "run": {"runId": "nope"}, "job": {"namespace": "n", "name": "j"}}}},
        "job": {"namespace": "n", "name": "j", "facets": {
            "sql": {"_producer": "https://x",
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/SQLJobFacet.json#/$defs/SQLJobFacet",
                "query": "select 1"}}},
    });
    let errors = common::openlineage::event_errors(&bad).join("\n");
    for expected in [
        "runId `not-a-uuid`",
        "eventTime `2026-01-01T00:00:00`",
        "run.facets.nominalTime: no _producer or _schemaURL",
        "run.facets.parent",
        "is not the newest",
    ] {
        assert!(
            errors.contains(expected),
            "missing `{expected}` in:\n{errors}"
        );
    }
    assert!(errors.contains("\"nope\" is not a \"uuid\""), "{errors}");
}

#[test]
fn the_console_transport_prints_one_event_per_line_on_stderr() {
    let (_tmp, dir) = fixture_copy("lineage_events");
    let project = std::fs::read_to_string(dir.join("project.yml")).unwrap();
    std::fs::write(
        dir.join("project.yml"),
        format!("{project}lineage:\n  transport:\n    type: console\n"),
    )
    .unwrap();
    let out = strata_env_ok(&dir, &["seed"], &env(&[]), 0);
    let events: Vec<Value> = stderr(&out)
        .lines()
        .filter(|l| l.starts_with("{\"eventType\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 4, "{}", stderr(&out));
    assert_valid_events(&events);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("eventType"));
}
