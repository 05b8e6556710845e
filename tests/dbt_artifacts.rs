//! `manifest.json` and `run_results.json` are dbt's: the whole of each validates against dbt's
//! published schemas (manifest v12, run results v6) after a build of the example project, of a
//! fixture with every kind of node, after a run that failed and after its retry; and the facts
//! dbt's readers look for are where dbt puts them, strata's own under `config`, `args` and
//! `adapter_response`.

mod common;

use std::path::Path;

use common::{assert_valid_dbt_artifacts, example_copy, fixture_copy, strata_ok};
use serde_json::Value;

const MANIFEST_V12: &str = "https://schemas.getdbt.com/dbt/manifest/v12.json";
const RUN_RESULTS_V6: &str = "https://schemas.getdbt.com/dbt/run-results/v6.json";

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn manifest(dir: &Path) -> Value {
    read(&dir.join(".strata/manifest.json"))
}

fn run_results(dir: &Path) -> Value {
    read(&dir.join(".strata/run_results.json"))
}

/// The result of `id` in run results.
fn result<'a>(rr: &'a Value, id: &str) -> &'a Value {
    rr["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unique_id"] == id)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

/// Each map of nodes is keyed by the unique ids of its nodes.
fn assert_keyed_by_unique_id(m: &Value) {
    for map in [
        "nodes",
        "sources",
        "macros",
        "docs",
        "exposures",
        "unit_tests",
    ] {
        for (id, node) in m[map].as_object().unwrap() {
            assert_eq!(node["unique_id"], id.as_str(), "{map}");
        }
    }
}

#[test]
fn the_example_build_writes_dbt_shaped_artifacts() {
    let (_tmp, dir) = example_copy();
    // The seed behind the source carries fixed load times (a day old by now): freshness is
    // checked in tests/freshness.rs, not here.
    strata_ok(&dir, &["build", "--skip-freshness"], 0);
    assert!(assert_valid_dbt_artifacts(&dir.join(".strata")));

    let m = manifest(&dir);
    assert_eq!(m["metadata"]["dbt_schema_version"], MANIFEST_V12);
    assert_eq!(m["metadata"]["project_name"], "ofitec");
    assert_eq!(m["metadata"]["adapter_type"], "duckdb");
    assert!(
        m["metadata"].get("dbt_version").is_none(),
        "strata is not dbt"
    );
    assert_keyed_by_unique_id(&m);
    let sales = &m["nodes"]["model.ofitec.mart_fact_sales"];
    assert_eq!(sales["resource_type"], "model");
    assert_eq!(sales["package_name"], "ofitec");
    assert_eq!(sales["path"], "marts/mart_fact_sales.sql");
    assert_eq!(
        sales["original_file_path"],
        "models/marts/mart_fact_sales.sql"
    );
    assert_eq!(sales["checksum"]["name"], "sha256");
    assert_eq!(sales["checksum"]["checksum"].as_str().unwrap().len(), 64);
    assert_eq!(sales["schema"], "marts");
    assert_eq!(sales["alias"], "mart_fact_sales");
    assert_eq!(sales["relation_name"], "\"marts\".\"mart_fact_sales\"");
    assert_eq!(sales["config"]["materialized"], "table");
    assert_eq!(sales["compiled"], true);
    assert!(
        sales["compiled_code"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert!(sales["raw_code"].as_str().unwrap().contains("ref("));
    assert_eq!(sales["columns"]["date"]["name"], "date");
    assert!(
        sales["depends_on"]["nodes"]
            .as_array()
            .unwrap()
            .contains(&"model.ofitec.hub_invoice".into())
    );
    assert!(
        sales["refs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "hub_invoice")
    );
    // Generic tests carry their test's name and arguments; unit tests have a map of their own.
    let accepted = &m["nodes"]["test.ofitec.accepted_values_mart_fact_cashflow_currency"];
    assert_eq!(accepted["resource_type"], "test");
    assert_eq!(accepted["test_metadata"]["name"], "accepted_values");
    assert_eq!(accepted["column_name"], "currency");
    assert_eq!(accepted["attached_node"], "model.ofitec.mart_fact_cashflow");
    let unit = "unit_test.ofitec.mart_fact_cashflow.cashflow_splits_planned_and_actual";
    assert!(m["nodes"].get(unit).is_none());
    assert_eq!(m["unit_tests"][unit]["model"], "mart_fact_cashflow");
    assert!(m["macros"]["macro.ofitec.generate_schema_name"]["macro_sql"].is_string());
    assert!(m["docs"].as_object().is_some_and(|d| !d.is_empty()));
    // The contract `--state` reads back is strata's, under the node's config.
    let cashflow = &m["nodes"]["model.ofitec.mart_fact_cashflow"];
    assert_eq!(cashflow["contract"]["enforced"], true);
    assert_eq!(
        cashflow["config"]["strata"]["contract"]["schema"],
        "contracts/cashflow.v2.json"
    );

    let rr = run_results(&dir);
    assert_eq!(rr["metadata"]["dbt_schema_version"], RUN_RESULTS_V6);
    let id = rr["metadata"]["invocation_id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(rr["args"]["which"], "build");
    assert_eq!(rr["args"]["strata"]["run_state"], "finished");
    let results = rr["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        rr["args"]["strata"]["selected"].as_array().unwrap().len()
    );
    for r in results {
        let thread = r["thread_id"].as_str().unwrap();
        assert!(
            thread
                .strip_prefix("Thread-")
                .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 1)),
            "{thread}"
        );
        assert_eq!(r["timing"][0]["name"], "execute");
        assert_eq!(r["adapter_response"]["strata"]["attempts"], 1);
    }
    let seed = result(&rr, "seed.ofitec.raw_companies");
    assert_eq!(seed["adapter_response"]["rows_affected"], 2);
    assert_eq!(seed["relation_name"], "\"raw\".\"raw_companies\"");
    let mart = result(&rr, "model.ofitec.mart_fact_sales");
    assert_eq!(mart["compiled"], true);
    assert_eq!(mart["compiled_code"], sales["compiled_code"]);
}

#[test]
fn parse_and_compile_write_valid_manifests() {
    let (_tmp, dir) = example_copy();
    strata_ok(&dir, &["parse"], 0);
    assert!(!assert_valid_dbt_artifacts(&dir.join(".strata")));
    let parsed = manifest(&dir);
    let sales = &parsed["nodes"]["model.ofitec.mart_fact_sales"];
    assert_eq!(sales["compiled"], false);
    assert!(sales["compiled_code"].is_null());
    strata_ok(&dir, &["compile"], 0);
    assert!(!assert_valid_dbt_artifacts(&dir.join(".strata")));
}

#[test]
fn every_kind_of_node_takes_its_dbt_shape() {
    let (_tmp, dir) = fixture_copy("dbt_artifacts");
    // The seed behind the source carries fixed load times (a day old by now): freshness is
    // checked in tests/freshness.rs, not here.
    strata_ok(&dir, &["build", "--skip-freshness"], 0);
    assert!(assert_valid_dbt_artifacts(&dir.join(".strata")));
    let m = manifest(&dir);
    assert_keyed_by_unique_id(&m);
    let nodes = &m["nodes"];

    let seed = &nodes["seed.shop.raw_orders"];
    assert_eq!(seed["path"], "raw_orders.csv");
    assert_eq!(seed["config"]["column_types"]["order_id"], "integer");
    assert_eq!(seed["relation_name"], "\"main_raw\".\"raw_orders\"");

    let source = &m["sources"]["source.shop.shop_db.orders"];
    assert_eq!(source["source_name"], "shop_db");
    assert_eq!(source["identifier"], "raw_orders");
    assert_eq!(source["loaded_at_field"], "load_ts");
    assert_eq!(source["freshness"]["warn_after"]["period"], "hour");
    assert_eq!(source["source_meta"]["owner"], "platform");
    assert!(
        source["source_description"]
            .as_str()
            .unwrap()
            .starts_with("The shop's database")
    );

    // Generic tests with config: severity and where; store_failures keeps the failing rows in
    // the test's relation.
    let accepted = &nodes["test.shop.accepted_values_stg_orders_status"];
    assert_eq!(accepted["config"]["severity"], "warn");
    assert_eq!(accepted["config"]["where"], "order_id > 0");
    assert_eq!(
        accepted["test_metadata"]["kwargs"]["values"],
        serde_json::json!(["paid", "open", "refunded"])
    );
    let at_most = &nodes["test.shop.at_most_stg_orders_amount"];
    assert_eq!(at_most["test_metadata"]["name"], "at_most");
    assert_eq!(at_most["test_metadata"]["kwargs"]["value"], 1000);
    assert_eq!(at_most["config"]["store_failures"], true);
    assert_eq!(at_most["config"]["limit"], 10);
    assert_eq!(
        at_most["relation_name"],
        "\"main_audit\".\"at_most_stg_orders_amount\""
    );
    let singular = &nodes["test.shop.assert_totals_positive"];
    assert_eq!(singular["path"], "assert_totals_positive.sql");
    assert!(singular.get("test_metadata").is_none());

    // Ephemeral: no relation. Incremental: its hooks as dbt's, the rendered ones strata's.
    assert!(nodes["model.shop.paid_orders"]["relation_name"].is_null());
    let log = &nodes["model.shop.order_log"];
    assert_eq!(log["config"]["pre-hook"][0]["sql"], "select 1");
    assert_eq!(log["config"]["unique_key"], serde_json::json!(["order_id"]));
    assert!(
        log["config"]["strata"]["compiled_incremental_code"]
            .as_str()
            .is_some_and(|s| s.contains("max(load_ts)"))
    );
    let totals = &nodes["model.shop.order_totals"];
    assert_eq!(
        totals["description"],
        "Paid amounts per customer, in currency units."
    );
    assert_eq!(totals["meta"]["owner"], "finance");
    assert_eq!(
        totals["config"]["strata"]["contract"]["schema"],
        "contracts/order_totals.v1.json"
    );

    let exposure = &m["exposures"]["exposure.shop.sales_dashboard"];
    assert_eq!(exposure["type"], "dashboard");
    assert_eq!(exposure["owner"]["email"], "finance@example.com");
    assert_eq!(exposure["label"], "Sales");
    assert_eq!(exposure["maturity"], "high");
    assert_eq!(
        exposure["sources"],
        serde_json::json!([["shop_db", "orders"]])
    );

    let unit = &m["unit_tests"]["unit_test.shop.stg_orders.staging_converts_cents"];
    assert_eq!(unit["given"][0]["input"], "source('shop_db', 'orders')");
    assert_eq!(unit["given"][0]["rows"][0]["customer"], "ana");
    assert_eq!(unit["expect"]["rows"][0]["amount"], 2.5);
    assert!(m["macros"]["macro.shop.cents_to_units"]["macro_sql"].is_string());
    assert!(m["macros"]["macro.shop.test_at_most"]["macro_sql"].is_string());
    assert_eq!(
        m["docs"]["doc.shop.order_totals"]["block_contents"],
        "Paid amounts per customer, in currency units."
    );
    assert_eq!(
        m["child_map"]["source.shop.shop_db.orders"],
        serde_json::json!([
            "exposure.shop.sales_dashboard",
            "model.shop.stg_orders",
            "test.shop.not_null_shop_db_orders_order_id"
        ])
    );
}

#[test]
fn a_failed_run_and_its_retry_write_valid_run_results() {
    let (_tmp, dir) = fixture_copy("dbt_artifacts");
    // A model that fails at run time, and a test that finds rows (whose model's children are
    // skipped).
    let broken = dir.join("models/broken.sql");
    std::fs::write(
        &broken,
        "{{ config(materialized='table') }}\nselect cast('many' as integer) as n from {{ ref('raw_orders') }}\n",
    )
    .unwrap();
    let props = dir.join("models/_models.yml");
    let yml = std::fs::read_to_string(&props).unwrap();
    std::fs::write(&props, yml.replace("value: 1000", "value: 10")).unwrap();
    // The seed behind the source carries fixed load times (a day old by now): freshness is
    // checked in tests/freshness.rs, not here.
    strata_ok(&dir, &["build", "--skip-freshness"], 1);
    assert!(assert_valid_dbt_artifacts(&dir.join(".strata")));
    let rr = run_results(&dir);
    let first_id = rr["metadata"]["invocation_id"].clone();
    let failed = result(&rr, "model.shop.broken");
    assert_eq!(failed["status"], "error");
    assert!(failed["message"].as_str().unwrap().contains("many"));
    assert!(failed["failures"].is_null());
    let test = result(&rr, "test.shop.at_most_stg_orders_amount");
    assert_eq!(test["status"], "fail");
    assert_eq!(test["failures"], 2);
    assert!(
        test["adapter_response"]["strata"]["details"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
    );
    let skipped = result(&rr, "model.shop.order_totals");
    assert_eq!(skipped["status"], "skipped");
    assert!(skipped["timing"].as_array().unwrap().is_empty());
    assert_eq!(skipped["adapter_response"]["strata"]["attempts"], 0);

    // Fixed, and retried: only what did not succeed runs, under the first run's arguments.
    std::fs::write(&broken, "select 1 as n from {{ ref('raw_orders') }}\n").unwrap();
    std::fs::write(&props, yml).unwrap();
    strata_ok(&dir, &["retry"], 0);
    assert!(assert_valid_dbt_artifacts(&dir.join(".strata")));
    let retried = run_results(&dir);
    assert_ne!(retried["metadata"]["invocation_id"], first_id);
    assert_eq!(retried["args"]["which"], "build");
    assert_eq!(retried["args"]["strata"]["run_state"], "finished");
    let ids: Vec<&str> = retried["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unique_id"].as_str().unwrap())
        .collect();
    for id in [
        "model.shop.broken",
        "model.shop.order_totals",
        "test.shop.at_most_stg_orders_amount",
    ] {
        assert!(ids.contains(&id), "{id} not in {ids:?}");
    }
    assert!(!ids.contains(&"seed.shop.raw_orders"), "{ids:?}");
    for r in retried["results"].as_array().unwrap() {
        assert!(
            matches!(r["status"].as_str(), Some("success" | "pass")),
            "{r}"
        );
    }
}
