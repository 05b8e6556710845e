//! The example project at the repository root compiles offline for DuckDB and for Postgres,
//! its compiled marts parse in each dialect, and compiling twice gives identical artifacts.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlparser::dialect::{Dialect, DuckDbDialect, PostgreSqlDialect};
use sqlparser::parser::Parser;
use strata::compile::{Compiled, compile};
use strata::ir::ResourceType;
use strata::project::LoadOptions;

const MARTS: &[&str] = &[
    "mart_fact_sales",
    "mart_fact_cashflow",
    "mart_fact_wip",
    "mart_ar_aging",
    "mart_ap_aging",
    "mart_kpi_ceo",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compile_for(target: Option<&str>) -> Compiled {
    let opts = LoadOptions {
        target: target.map(str::to_string),
        ..Default::default()
    };
    match compile(&root(), &opts) {
        Ok(c) => c,
        Err(d) => panic!("example project does not compile: {:#?}", d.items()),
    }
}

fn assert_marts_parse(c: &Compiled, dialect: &dyn Dialect) {
    for mart in MARTS {
        let node = c
            .nodes
            .iter()
            .find(|n| n.name == *mart)
            .unwrap_or_else(|| panic!("{mart} missing"));
        let sql = node.compiled_code.as_deref().expect("compiled SQL");
        assert!(
            !sql.contains("__strata_rel_"),
            "{mart}: unresolved placeholder"
        );
        assert!(!sql.contains("{{"), "{mart}: unrendered Jinja");
        if let Err(e) = Parser::parse_sql(dialect, sql) {
            panic!("{mart} does not parse: {e}\n{sql}");
        }
    }
}

#[test]
fn example_compiles_for_duckdb_and_marts_parse() {
    let c = compile_for(Some("dev"));
    assert_eq!(c.target.info.kind.as_str(), "duckdb");
    assert!(c.warnings.is_empty(), "{:#?}", c.warnings.items());
    assert_marts_parse(&c, &DuckDbDialect {});
    // The dispatched macro picked the DuckDB variant.
    let aging = c.nodes.iter().find(|n| n.name == "mart_ar_aging").unwrap();
    assert!(aging.compiled_code.as_ref().unwrap().contains("date_diff"));
}

#[test]
fn example_compiles_for_postgres_and_marts_parse() {
    let c = compile_for(Some("prod"));
    assert_eq!(c.target.info.kind.as_str(), "postgres");
    assert!(c.warnings.is_empty(), "{:#?}", c.warnings.items());
    assert_marts_parse(&c, &PostgreSqlDialect {});
    let aging = c.nodes.iter().find(|n| n.name == "mart_ar_aging").unwrap();
    let sql = aging.compiled_code.as_ref().unwrap();
    assert!(
        !sql.contains("date_diff"),
        "the Postgres build must not use DuckDB's date_diff"
    );
}

#[test]
fn example_has_every_kind_of_node() {
    let c = compile_for(None);
    for t in [
        ResourceType::Model,
        ResourceType::Seed,
        ResourceType::Source,
        ResourceType::Test,
        ResourceType::Exposure,
    ] {
        assert!(c.nodes.iter().any(|n| n.resource_type == t), "no {t:?}");
    }
    // Checks from the seeds' checks.yml are declared as tests.
    for t in [
        "not_null_mart_fact_sales_date",
        "not_null_mart_fact_sales_hk_project",
        "positive_mart_fact_sales_amount_total",
        "not_null_mart_fact_cashflow_date",
        "accepted_values_mart_fact_cashflow_status",
    ] {
        assert!(c.nodes.iter().any(|n| n.name == t), "missing test {t}");
    }
    // An ephemeral model is inlined, never referenced as a relation.
    let eph: Vec<_> = c
        .nodes
        .iter()
        .filter(|n| n.config.materialized == Some(strata::ir::Materialized::Ephemeral))
        .collect();
    assert!(!eph.is_empty());
    // Catalog metadata reached the manifest nodes.
    let cash = c
        .nodes
        .iter()
        .find(|n| n.name == "mart_fact_cashflow")
        .unwrap();
    assert!(cash.config.owner.is_some());
    assert!(
        cash.description
            .as_deref()
            .is_some_and(|d| !d.contains("{{"))
    );
}

#[test]
fn example_never_picks_up_fixture_files() {
    let c = compile_for(None);
    for n in &c.nodes {
        let p = strata::diagnostics::display_path(&n.original_file_path);
        assert!(
            !p.starts_with("tests/fixtures"),
            "{} comes from a fixture: {p}",
            n.unique_id
        );
    }
}

fn run_compile(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let status = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["--project-dir"])
        .arg(dir)
        .arg("compile")
        .status()
        .expect("strata runs");
    assert!(status.success());
    let mut files = Vec::new();
    for e in walkdir::WalkDir::new(dir.join(".strata")).sort_by_file_name() {
        let e = e.unwrap();
        // The index of compiled files records when they were written: not an artifact.
        if e.file_type().is_file() && e.file_name() != ".index" {
            files.push((
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            ));
        }
    }
    files
}

#[test]
fn two_compiles_give_byte_identical_artifacts() {
    // Work on a copy so parallel tests never race on the repository's .strata/.
    let (_tmp, dst) = common::example_copy();
    let first = run_compile(&dst);
    std::fs::remove_dir_all(dst.join(".strata")).unwrap();
    let second = run_compile(&dst);
    assert!(first.iter().any(|(p, _)| p.ends_with("manifest.json")));
    assert_eq!(first.len(), second.len());
    for ((p1, b1), (p2, b2)) in first.iter().zip(&second) {
        assert_eq!(p1, p2);
        assert!(b1 == b2, "{p1} differs between two compiles");
    }
}

#[test]
fn a_second_compile_reuses_the_analyses_and_a_changed_model_misses_them() {
    let (_tmp, dir) = common::example_copy();
    common::strata_ok(&dir, &["compile"], 0);
    let manifest = |d: &Path| std::fs::read_to_string(d.join(".strata/manifest.json")).unwrap();
    let cache = dir.join(".strata/analysis-cache.json");
    let cold = manifest(&dir);
    assert!(cache.exists(), "the analyses were not kept");
    // Warm: the same manifest.
    common::strata_ok(&dir, &["compile"], 0);
    assert_eq!(manifest(&dir), cold);
    // The cache is what the warm compile reads: a doctored entry shows through (the contract
    // of mart_fact_cashflow requires amount_planned).
    let text = std::fs::read_to_string(&cache).unwrap();
    std::fs::write(
        &cache,
        text.replace("\"amount_planned\"", "\"amount_doctored\""),
    )
    .unwrap();
    let out = common::strata_ok(&dir, &["compile"], 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("S602") && stderr.contains("amount_planned"),
        "{stderr}"
    );
    // A changed model misses the cache: removing the column for real is found as well, and
    // restoring it compiles clean again (the doctored entry no longer matches anything).
    std::fs::remove_file(&cache).unwrap();
    common::strata_ok(&dir, &["compile"], 0);
    let model = dir.join("models/marts/mart_fact_cashflow.sql");
    let sql = std::fs::read_to_string(&model).unwrap();
    let without = sql.replace(
        "    cast(sum(case when l.status = 'planned' then l.amount else 0 end) as decimal(18, 2)) as amount_planned,\n",
        "",
    );
    assert_ne!(without, sql);
    std::fs::write(&model, &without).unwrap();
    let out = common::strata_ok(&dir, &["compile"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("amount_planned"));
    std::fs::write(&model, &sql).unwrap();
    common::strata_ok(&dir, &["compile"], 0);
    assert_eq!(manifest(&dir), cold);
}

#[test]
fn column_descriptions_render_doc_blocks() {
    let c = compile_for(None);
    let kpi = c
        .nodes
        .iter()
        .find(|n| n.unique_id == "model.ofitec.mart_kpi_ceo")
        .expect("mart_kpi_ceo");
    let cash_days = kpi
        .columns
        .iter()
        .find(|col| col.name == "cash_days")
        .and_then(|col| col.description.as_deref())
        .expect("a description");
    assert!(cash_days.starts_with("Cash days:"), "{cash_days}");
    assert!(!cash_days.contains("{{"), "{cash_days}");
}
