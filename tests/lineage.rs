//! `strata lineage` and the column lineage in the manifest, on the example project (the full
//! upstream of mart columns down to source and seed columns) and on the `lineage` fixture (an
//! ephemeral model looked through, `*` expanded from a seed's header, a window, a CASE, a
//! join, an unknown `*` reported with S407), compiled for DuckDB and for Postgres.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{example_copy, fixture_copy, strata_ok};
use serde_json::Value as J;

fn stdout(dir: &Path, args: &[&str], code: i32) -> (String, String) {
    let out = strata_ok(dir, args, code);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The edges of `strata lineage ... -o json` as `from.node.column -> to.node.column SUBTYPE`.
fn edges(dir: &Path, args: &[&str]) -> BTreeSet<String> {
    let mut all = vec!["lineage"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let (out, _) = stdout(dir, &all, 0);
    let v: J = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let point = |p: &J| {
        let node = p["node"].as_str().unwrap();
        match p["column"].as_str() {
            Some(c) => format!("{node}.{c}"),
            None => format!("{node}.(rows)"),
        }
    };
    v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} -> {} {} {}",
                point(&e["from"]),
                point(&e["to"]),
                e["type"].as_str().unwrap(),
                e["subtype"].as_str().unwrap()
            )
        })
        .collect()
}

fn set(lines: &[&str]) -> BTreeSet<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

#[test]
fn example_mart_columns_trace_down_to_sources_and_seeds() {
    let (_tmp, dir) = example_copy();
    // An aging bucket: aggregated amounts and the due dates its CASE tests, through the
    // ephemeral int_open_items (looked through) down to the odoo sources.
    assert_eq!(
        edges(&dir, &["mart_ar_aging.bucket_0_30"]),
        set(&[
            "model.ofitec.stg_payables.amount_residual -> model.ofitec.mart_ar_aging.bucket_0_30 DIRECT AGGREGATION",
            "model.ofitec.stg_payables.due_date -> model.ofitec.mart_ar_aging.bucket_0_30 INDIRECT CONDITIONAL",
            "model.ofitec.stg_receivables.amount_residual -> model.ofitec.mart_ar_aging.bucket_0_30 DIRECT AGGREGATION",
            "model.ofitec.stg_receivables.due_date -> model.ofitec.mart_ar_aging.bucket_0_30 INDIRECT CONDITIONAL",
            "source.ofitec.odoo.payables.amount_residual -> model.ofitec.stg_payables.amount_residual DIRECT TRANSFORMATION",
            "source.ofitec.odoo.payables.due_date -> model.ofitec.stg_payables.due_date DIRECT TRANSFORMATION",
            "source.ofitec.odoo.receivables.amount_residual -> model.ofitec.stg_receivables.amount_residual DIRECT TRANSFORMATION",
            "source.ofitec.odoo.receivables.due_date -> model.ofitec.stg_receivables.due_date DIRECT TRANSFORMATION",
        ])
    );
    // A company name, from the raw_companies seed.
    assert_eq!(
        edges(&dir, &["mart_kpi_ceo.company_name"]),
        set(&[
            "model.ofitec.stg_companies.company_name -> model.ofitec.mart_kpi_ceo.company_name DIRECT IDENTITY",
            "seed.ofitec.raw_companies.name -> model.ofitec.stg_companies.company_name DIRECT TRANSFORMATION",
        ])
    );
    // The CEO's receivables total, two marts deep.
    assert_eq!(
        edges(&dir, &["mart_kpi_ceo.ar_total"]),
        set(&[
            "model.ofitec.mart_ar_aging.total -> model.ofitec.mart_kpi_ceo.ar_total DIRECT AGGREGATION",
            "model.ofitec.stg_payables.amount_residual -> model.ofitec.mart_ar_aging.total DIRECT AGGREGATION",
            "model.ofitec.stg_receivables.amount_residual -> model.ofitec.mart_ar_aging.total DIRECT AGGREGATION",
            "source.ofitec.odoo.payables.amount_residual -> model.ofitec.stg_payables.amount_residual DIRECT TRANSFORMATION",
            "source.ofitec.odoo.receivables.amount_residual -> model.ofitec.stg_receivables.amount_residual DIRECT TRANSFORMATION",
        ])
    );
}

const ORDER_FACTS: &str = "\
order_facts.amount
  <- orders.amount_cents  DIRECT TRANSFORMATION
order_facts.customer_name
  <- customers_all.name  DIRECT IDENTITY
    <- customers.name  DIRECT IDENTITY
order_facts.market
  <- customers_all.country  INDIRECT CONDITIONAL
    <- customers.country  DIRECT IDENTITY
order_facts.order_id
  <- orders.order_id  DIRECT IDENTITY
order_facts.running_amount
  <- orders.amount_cents  DIRECT AGGREGATION
  <- orders.customer_id  INDIRECT WINDOW
  <- orders.order_id  INDIRECT WINDOW
order_facts (every row)
  <- customers_all.customer_id  INDIRECT JOIN
    <- customers.customer_id  DIRECT IDENTITY
  <- orders.customer_id  INDIRECT JOIN
  <- orders.status  INDIRECT FILTER
";

#[test]
fn a_model_lineage_on_both_dialects() {
    let (_tmp, dir) = fixture_copy("lineage");
    for target in ["dev", "pg"] {
        // Compiling for Postgres needs no server: lineage is found offline.
        let (out, err) = stdout(&dir, &["lineage", "order_facts", "-t", target], 0);
        assert_eq!(out, ORDER_FACTS, "{target}\n{err}");
        assert!(!err.contains("S407"), "{err}");
    }
}

#[test]
fn downstream_and_depth() {
    let (_tmp, dir) = fixture_copy("lineage");
    let (out, _) = stdout(
        &dir,
        &["lineage", "customers.customer_id", "--downstream"],
        0,
    );
    assert_eq!(
        out,
        "customers.customer_id
  -> customers_all.customer_id  DIRECT IDENTITY
    -> order_facts (every row)  INDIRECT JOIN
"
    );
    let (out, _) = stdout(
        &dir,
        &[
            "lineage",
            "customers.customer_id",
            "--downstream",
            "--depth",
            "1",
        ],
        0,
    );
    assert_eq!(
        out,
        "customers.customer_id\n  -> customers_all.customer_id  DIRECT IDENTITY\n"
    );
}

#[test]
fn an_unknown_star_is_a_warning_with_its_place_not_a_guess() {
    let (_tmp, dir) = fixture_copy("lineage");
    let (out, err) = stdout(&dir, &["lineage", "raw_events"], 0);
    assert!(err.contains("warning[S407]"), "{err}");
    assert!(
        err.contains("`*` over `events`, whose columns are not known"),
        "{err}"
    );
    assert!(err.contains("models/raw_events.sql:1"), "{err}");
    assert!(!out.contains("<-"), "nothing is guessed: {out}");
}

#[test]
fn dot_output_and_bad_names() {
    let (_tmp, dir) = fixture_copy("lineage");
    let (out, _) = stdout(&dir, &["lineage", "order_facts.market", "-o", "dot"], 0);
    assert!(out.starts_with("digraph lineage {"), "{out}");
    assert!(
        out.contains(
            "\"customers_all.country\" -> \"order_facts.market\" [label=\"CONDITIONAL\", style=dashed];"
        ),
        "{out}"
    );
    let (_, err) = stdout(&dir, &["lineage", "order_facts.markt"], 2);
    assert!(err.contains("`order_facts` has no column `markt`"), "{err}");
    assert!(err.contains("market"), "did you mean: {err}");
    let (_, err) = stdout(&dir, &["lineage", "order_fact"], 2);
    assert!(err.contains("error[S502]"), "{err}");
}

#[test]
fn the_manifest_carries_column_lineage() {
    let (_tmp, dir) = fixture_copy("lineage");
    stdout(&dir, &["compile"], 0);
    let m: J =
        serde_json::from_slice(&std::fs::read(dir.join(".strata/manifest.json")).unwrap()).unwrap();
    let l =
        &m["nodes"]["model.lineage_fixture.customers_all"]["config"]["strata"]["column_lineage"];
    let names: Vec<&str> = l["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    // `select *` over a seed: expanded from its header.
    assert_eq!(names, ["customer_id", "name", "country"]);
    assert_eq!(
        l["columns"][1]["inputs"][0],
        serde_json::json!({"node": "seed.lineage_fixture.customers", "column": "name", "subtype": "IDENTITY"})
    );
    let unknown = &m["nodes"]["model.lineage_fixture.raw_events"]["config"]["strata"]["column_lineage"]
        ["unknown"];
    assert!(unknown.as_str().unwrap().contains("`events`"), "{unknown}");
    common::dbt_artifacts::assert_valid_manifest(&dir.join(".strata/manifest.json"));
}
