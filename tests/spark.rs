//! Apache Spark as an engine, against a real local cluster (a standalone master, two workers
//! and a Spark Connect server started from pyspark: `common::spark`): a dbt-shaped project
//! builds on Spark and every relation holds the rows the same build holds on DuckDB; the
//! faults a Spark target can meet before any statement runs say what to check.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::spark::{self, strata, text};
use strata::adapter::Adapter;

/// Every relation of the spark_shop fixture.
const RELATIONS: &[&str] = &[
    "customers",
    "orders",
    "stg_customers",
    "stg_orders",
    "fct_orders",
    "dim_customers",
    "country_sales",
];

fn duckdb_rows(db: &Path, relation: &str) -> Vec<Vec<String>> {
    let adapter = strata::adapter::duckdb::DuckDbAdapter::open(db, true).unwrap();
    let mut conn = adapter.connect().unwrap();
    let mut rows: Vec<Vec<String>> = conn
        .query(&format!("select * from main.{relation}"))
        .unwrap()
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// Two values are the same: equal text, or numbers within 1e-9.
fn same_value(a: &str, b: &str) -> bool {
    a == b
        || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if (x - y).abs() <= 1e-9)
}

#[test]
fn a_dbt_shaped_project_builds_on_spark_with_the_rows_it_has_on_duckdb() {
    let cluster = spark::cluster();
    let (_tmp, dir) = common::fixture_copy("spark_shop");
    let schema = spark::fresh_schema("shop");
    let env = [
        ("SPARK_REMOTE", cluster.url.as_str()),
        ("STRATA_TEST_SPARK_SCHEMA", schema.as_str()),
    ];
    for target in ["duckdb", "spark"] {
        let out = strata(&dir, &["build", "--target", target], &env);
        assert!(out.status.success(), "build on {target}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("7 OK, 7 PASS, 0 WARN, 0 ERROR"),
            "{}",
            text(&out)
        );
        // The incremental model's second run appends only what is new.
        let out = strata(
            &dir,
            &["run", "--target", target, "-s", "country_sales"],
            &env,
        );
        assert!(
            out.status.success(),
            "incremental on {target}: {}",
            text(&out)
        );
    }
    for relation in RELATIONS {
        let on_duckdb = duckdb_rows(&dir.join("shop.duckdb"), relation);
        let on_spark =
            spark::sorted_rows(&cluster.url, &format!("select * from {schema}.{relation}"));
        assert_eq!(
            on_duckdb.len(),
            on_spark.len(),
            "{relation}: {on_duckdb:?} vs {on_spark:?}"
        );
        for (d, s) in on_duckdb.iter().zip(&on_spark) {
            assert!(
                d.len() == s.len() && d.iter().zip(s).all(|(a, b)| same_value(a, b)),
                "{relation}: DuckDB has {d:?}, Spark has {s:?}"
            );
        }
    }
}

#[test]
fn a_seed_is_one_arrow_batch_with_nulls_and_commas_kept() {
    let cluster = spark::cluster();
    let (_tmp, dir) = common::fixture_copy("spark_shop");
    let schema = spark::fresh_schema("seed");
    std::fs::write(
        dir.join("seeds/odd.csv"),
        "id,label,score,ok\n1,\"a, b\",1.25,true\n2,,,false\n3,\"quote \"\"q\"\"\",-3,true\n",
    )
    .unwrap();
    let env = [
        ("SPARK_REMOTE", cluster.url.as_str()),
        ("STRATA_TEST_SPARK_SCHEMA", schema.as_str()),
    ];
    let out = strata(&dir, &["seed", "--target", "spark", "-s", "odd"], &env);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("[3 rows in"),
        "{}",
        text(&out)
    );
    let rows = spark::sorted_rows(
        &cluster.url,
        &format!(
            "select id, label, score, ok, typeof(id), typeof(score), typeof(ok) from {schema}.odd"
        ),
    );
    assert_eq!(
        rows,
        vec![
            vec!["1", "a, b", "1.25", "true", "bigint", "double", "boolean"],
            vec!["2", "NULL", "NULL", "false", "bigint", "double", "boolean"],
            vec![
                "3",
                "quote \"q\"",
                "-3.0",
                "true",
                "bigint",
                "double",
                "boolean"
            ],
        ]
    );
}

#[test]
fn a_server_that_is_down_is_named_within_ten_seconds() {
    let (_tmp, dir) = common::fixture_copy("spark_shop");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("sc://127.0.0.1:{port}/");
    let started = Instant::now();
    let out = strata(
        &dir,
        &["run", "--target", "spark"],
        &[("SPARK_REMOTE", url.as_str())],
    );
    let took = started.elapsed();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}: {}",
        text(&out)
    );
    let all = text(&out);
    assert!(
        all.contains(&format!(
            "cannot connect to Spark Connect at sc://127.0.0.1:{port}/"
        )),
        "{all}"
    );
    assert!(all.contains("start-connect-server.sh"), "{all}");
}

#[test]
fn a_target_without_host_or_spark_remote_says_how_to_give_one() {
    let (_tmp, dir) = common::fixture_copy("spark_shop");
    let out = strata(&dir, &["run", "--target", "spark"], &[]);
    assert!(!out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("SPARK_REMOTE is not set"), "{all}");
    assert!(all.contains("host:"), "{all}");
}

#[test]
fn a_method_other_than_connect_is_an_error_at_its_line() {
    let (_tmp, dir) = common::fixture_copy("spark_shop");
    let profiles = std::fs::read_to_string(dir.join("profiles.yml")).unwrap();
    std::fs::write(
        dir.join("profiles.yml"),
        profiles.replace("method: connect", "method: thrift\n      host: 127.0.0.1"),
    )
    .unwrap();
    let out = strata(&dir, &["compile", "--target", "spark"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("strata reaches Spark through Spark Connect only, not `thrift`"),
        "{err}"
    );
    assert!(err.contains("profiles.yml:10:"), "{err}");
    assert!(err.contains("method: connect"), "{err}");
}

#[test]
fn merge_on_parquet_is_a_compile_error_at_the_line_that_asks_for_it() {
    let (_tmp, dir) = common::fixture_copy("spark_shop");
    std::fs::write(
        dir.join("models/marts/upserted.sql"),
        "-- one row per customer\n{{ config(materialized='incremental', unique_key='customer_id') }}\nselect * from {{ ref('dim_customers') }}\n",
    )
    .unwrap();
    let out = strata(&dir, &["compile", "--target", "spark"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("model `upserted`: incremental strategy `merge` needs MERGE INTO, which Spark's `parquet` tables do not have"),
        "{err}"
    );
    assert!(err.contains("models/marts/upserted.sql:2:"), "{err}");
    assert!(err.contains("incremental_strategy='append'"), "{err}");
    // The same model is fine on DuckDB, and on Spark with a format that has MERGE.
    let out = strata(&dir, &["compile", "--target", "duckdb"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let profiles = std::fs::read_to_string(dir.join("profiles.yml")).unwrap();
    std::fs::write(
        dir.join("profiles.yml"),
        profiles.replace(
            "method: connect",
            "method: connect\n      file_format: delta",
        ),
    )
    .unwrap();
    let out = strata(&dir, &["compile", "--target", "spark"], &[]);
    assert!(out.status.success(), "{}", text(&out));
}

/// The example's relations whose rows hold no load time (those differ between two builds).
const EXAMPLE_RELATIONS: &[&str] = &[
    "staging.stg_invoices",
    "vault.hub_invoice",
    "vault.sat_invoice_details",
    "vault.link_project_invoice",
    "marts.mart_ar_aging",
    "marts.mart_ap_aging",
    "marts.mart_fact_sales",
    "marts.mart_fact_wip",
    "marts.mart_kpi_ceo",
    "marts.mart_fact_cashflow",
];

/// The columns of `relation` on DuckDB, load times left out.
fn comparable_columns(db: &Path, relation: &str) -> Vec<String> {
    let adapter = strata::adapter::duckdb::DuckDbAdapter::open(db, true).unwrap();
    let mut conn = adapter.connect().unwrap();
    let (schema, name) = relation.split_once('.').unwrap();
    conn.columns(&strata::ir::Relation::new(schema, name))
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .filter(|c| !c.ends_with("load_ts") && c != "loaded_at")
        .collect()
}

#[test]
fn the_example_warehouse_builds_and_tests_green_on_spark_with_duckdbs_rows() {
    let cluster = spark::cluster();
    let (_tmp, dir) = common::example_copy();
    let env = [("SPARK_REMOTE", cluster.url.as_str())];
    let out = strata(&dir, &["build"], &[]);
    assert!(out.status.success(), "on DuckDB: {}", text(&out));
    // OpenLineage events of the Spark builds go to a file.
    let events = dir.join("events.jsonl");
    std::fs::write(
        dir.join("openlineage.yml"),
        "transport:\n  type: file\n  log_file_path: events.jsonl\n",
    )
    .unwrap();
    // Twice: the second build takes the incremental path (insert_overwrite on Spark).
    for round in 1..=2 {
        let out = strata(&dir, &["build", "--target", "spark"], &env);
        assert!(out.status.success(), "build {round}: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(" 0 WARN, 0 ERROR, 0 FAIL, 0 SKIP"),
            "build {round}: {}",
            text(&out)
        );
        // Sources' freshness is checked in the build, and passes.
        assert!(
            stdout.contains("PASS  freshness of source odoo.invoices"),
            "{}",
            text(&out)
        );
    }
    // Enforced contracts were checked on Spark (a breach would have failed the build).
    let manifest = std::fs::read_to_string(dir.join(".strata/manifest.json")).unwrap();
    assert!(manifest.contains("contracts/cashflow.v2.json"));
    let out = strata(&dir, &["source", "freshness", "--target", "spark"], &env);
    assert!(out.status.success(), "freshness: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("8 PASS, 0 WARN, 0 ERROR STALE"),
        "{}",
        text(&out)
    );
    // Lineage: valid events, datasets named as the spec names Spark's tables.
    let events = common::openlineage::read_jsonl(&events);
    common::openlineage::assert_valid_events(&events);
    let mart = events
        .iter()
        .find(|e| e["job"]["name"] == "model.ofitec.mart_ar_aging" && e["eventType"] == "COMPLETE")
        .expect("an event of mart_ar_aging");
    assert_eq!(
        mart["outputs"][0]["namespace"],
        format!("spark://127.0.0.1:{}", cluster.port)
    );
    assert_eq!(
        mart["outputs"][0]["name"],
        "spark_catalog.marts.mart_ar_aging"
    );
    assert_eq!(mart["job"]["facets"]["sql"]["dialect"], "spark");
    let db = dir.join("warehouse/ofitec.duckdb");
    for relation in EXAMPLE_RELATIONS {
        let columns = comparable_columns(&db, relation);
        let list = columns
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("select {list} from {relation}");
        let adapter = strata::adapter::duckdb::DuckDbAdapter::open(&db, true).unwrap();
        let mut on_duckdb: Vec<Vec<String>> = adapter
            .connect()
            .unwrap()
            .query(&sql)
            .unwrap()
            .into_iter()
            .map(|r| r.into_iter().map(|v| v.unwrap_or("NULL".into())).collect())
            .collect();
        on_duckdb.sort();
        let on_spark = spark::sorted_rows(&cluster.url, &sql);
        assert_eq!(on_duckdb.len(), on_spark.len(), "{relation}");
        for (d, s) in on_duckdb.iter().zip(&on_spark) {
            assert!(
                d.len() == s.len() && d.iter().zip(s).all(|(a, b)| same_value(a, b)),
                "{relation} ({list}): DuckDB has {d:?}, Spark has {s:?}"
            );
        }
    }
}
