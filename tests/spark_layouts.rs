//! Spark's materialization configs, each run on a real local cluster (`common::spark`):
//! `insert_overwrite` with and without `partition_by`, and a table's layout (`file_format`,
//! `partition_by`, `clustered_by` + `buckets`, `location_root`, `tblproperties`) as Spark
//! shows it, rebuilt in place; plus the compile errors of layouts that cannot be built.

mod common;

use std::process::Output;

use common::spark::{self, strata, text};

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", text(&o));
    o
}

/// Daily orders per status, replaced partition by partition: a run with `since` rebuilds the
/// days from `since` on, with `bump` added to their counts.
const DAILY: &str = "{{ config(materialized='incremental', incremental_strategy='insert_overwrite', partition_by=['order_date']) }}
select status, count(*) + {{ var('bump', 0) }} as orders, order_date
from {{ ref('stg_orders') }}
{% if is_incremental() %}
where order_date >= cast('{{ var('since', '1900-01-01') }}' as date)
{% endif %}
group by order_date, status
";

/// The same without partitions: a run replaces the whole table with its new rows.
const WHOLE: &str =
    "{{ config(materialized='incremental', incremental_strategy='insert_overwrite') }}
select order_id, amount + {{ var('bump', 0) }} as amount
from {{ ref('stg_orders') }}
{% if is_incremental() %}
where order_date >= cast('{{ var('since', '1900-01-01') }}' as date)
{% endif %}
";

#[test]
fn insert_overwrite_replaces_the_partitions_of_the_new_rows_and_keeps_the_others() {
    let cluster = spark::cluster();
    let (_tmp, dir) = common::fixture_copy("spark_shop");
    std::fs::write(dir.join("models/marts/daily.sql"), DAILY).unwrap();
    std::fs::write(dir.join("models/marts/whole.sql"), WHOLE).unwrap();
    let schema = spark::fresh_schema("overwrite");
    let env = [
        ("SPARK_REMOTE", cluster.url.as_str()),
        ("STRATA_TEST_SPARK_SCHEMA", schema.as_str()),
    ];
    ok(strata(&dir, &["build", "--target", "spark"], &env));
    let daily = format!("select cast(order_date as string), status, orders from {schema}.daily");
    let before = spark::sorted_rows(&cluster.url, &daily);
    // (date, status) groups of the eight orders.
    assert_eq!(before.len(), 8, "{before:?}");

    let out = ok(strata(
        &dir,
        &[
            "run",
            "--target",
            "spark",
            "-s",
            "daily whole",
            "--vars",
            "{since: '2024-03-10', bump: 100}",
        ],
        &env,
    ));
    let results = std::fs::read_to_string(dir.join(".strata/run_results.json")).unwrap();
    assert!(
        results.contains(&format!("overwrote the partitions of {schema}.daily")),
        "{}\n{results}",
        text(&out)
    );
    let after = spark::sorted_rows(&cluster.url, &daily);
    // Days before the 10th as they were; from the 10th on, the same rows with the new counts.
    let expected: Vec<Vec<String>> = before
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r[0].as_str() >= "2024-03-10" {
                r[2] = (r[2].parse::<i64>().unwrap() + 100).to_string();
            }
            r
        })
        .collect();
    assert_eq!(after, expected);
    let partitions = spark::sorted_rows(&cluster.url, &format!("show partitions {schema}.daily"));
    assert_eq!(partitions.len(), 7, "{partitions:?}");

    // Without partitions, the whole table is the new rows.
    let whole = spark::sorted_rows(
        &cluster.url,
        &format!("select order_id, amount from {schema}.whole"),
    );
    assert_eq!(
        whole,
        vec![
            vec!["105".to_string(), "199.99".to_string()],
            vec!["106".to_string(), "112.0".to_string()],
            vec!["107".to_string(), "160.0".to_string()],
        ]
    );
}

/// A table laid out with every layout config; `location_root` comes from the environment.
const LAID_OUT: &str = "{{ config(
    materialized='table',
    file_format='orc',
    partition_by='status',
    clustered_by=['customer_id'],
    buckets=2,
    location_root=env_var('STRATA_TEST_LOCATION_ROOT'),
    tblproperties={'strata.purpose': 'layout test'}
) }}
select order_id, customer_id, amount, status from {{ ref('stg_orders') }}
";

#[test]
fn a_table_is_laid_out_as_its_configs_say_and_rebuilt_in_its_folder() {
    let cluster = spark::cluster();
    let (tmp, dir) = common::fixture_copy("spark_shop");
    std::fs::write(dir.join("models/marts/laid_out.sql"), LAID_OUT).unwrap();
    let root = tmp.path().join("lake");
    let schema = spark::fresh_schema("layout");
    let env = [
        ("SPARK_REMOTE", cluster.url.as_str()),
        ("STRATA_TEST_SPARK_SCHEMA", schema.as_str()),
        ("STRATA_TEST_LOCATION_ROOT", root.to_str().unwrap()),
    ];
    ok(strata(&dir, &["build", "--target", "spark"], &env));
    // Built a second time: the folder still holds the first version's files.
    ok(strata(
        &dir,
        &["run", "--target", "spark", "-s", "laid_out fct_orders"],
        &env,
    ));
    let ddl = spark::sorted_rows(
        &cluster.url,
        &format!("show create table {schema}.laid_out"),
    )
    .concat()
    .concat();
    for clause in [
        "USING orc".to_string(),
        "PARTITIONED BY (status)".to_string(),
        "CLUSTERED BY (customer_id)".to_string(),
        "INTO 2 BUCKETS".to_string(),
        format!("LOCATION 'file:{}/laid_out'", root.display()),
        "'strata.purpose' = 'layout test'".to_string(),
    ] {
        assert!(ddl.contains(&clause), "`{clause}` is not in {ddl}");
    }
    // The rows once, not twice: the second build replaced the first one's files.
    let rows = spark::sorted_rows(
        &cluster.url,
        &format!("select count(*), count(distinct order_id) from {schema}.laid_out"),
    );
    assert_eq!(rows, vec![vec!["8".to_string(), "8".to_string()]]);
    // The temporary table the build went through is gone.
    let tables = spark::sorted_rows(&cluster.url, &format!("show tables in {schema}"));
    assert!(
        !tables.iter().flatten().any(|t| t.contains("__strata_")),
        "{tables:?}"
    );
}

#[test]
fn layouts_that_cannot_be_built_are_compile_errors_at_their_line() {
    let (_tmp, dir) = common::fixture_copy("spark_shop");
    // insert_overwrite has no meaning on DuckDB.
    std::fs::write(dir.join("models/marts/daily.sql"), DAILY).unwrap();
    let out = strata(&dir, &["compile", "--target", "duckdb"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("model `daily`: incremental strategy `insert_overwrite` replaces partitions"),
        "{err}"
    );
    assert!(err.contains("models/marts/daily.sql:1:"), "{err}");
    assert!(err.contains("delete+insert"), "{err}");
    std::fs::remove_file(dir.join("models/marts/daily.sql")).unwrap();

    // Buckets need their columns.
    std::fs::write(
        dir.join("models/marts/bucketed.sql"),
        "{{ config(materialized='table',\n    buckets=4) }}\nselect 1 as id\n",
    )
    .unwrap();
    let out = strata(&dir, &["compile", "--target", "spark"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("model `bucketed`: `buckets` needs `clustered_by`"),
        "{err}"
    );
    assert!(err.contains("models/marts/bucketed.sql:2:"), "{err}");

    // A model's own file_format decides whether merge can run, before the target's.
    std::fs::write(
        dir.join("models/marts/bucketed.sql"),
        "{{ config(materialized='incremental', unique_key='id', file_format='delta') }}\nselect 1 as id\n",
    )
    .unwrap();
    ok(strata(&dir, &["compile", "--target", "spark"], &[]));
    // Layout configs are Spark's: DuckDB builds the same model and ignores them.
    std::fs::write(dir.join("models/marts/laid_out.sql"), LAID_OUT).unwrap();
    std::fs::remove_file(dir.join("models/marts/bucketed.sql")).unwrap();
    ok(strata(
        &dir,
        &["build", "--target", "duckdb"],
        &[("STRATA_TEST_LOCATION_ROOT", "/nowhere")],
    ));
}
