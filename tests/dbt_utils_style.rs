//! A dbt project laid out as `dbt init` makes it, using a dbt_utils-style package
//! (`tests/fixtures/dbt_utils_style/packages/strata_utils`: `star`, `union_relations`,
//! `generate_surrogate_key`, `date_spine`, `pivot`, `get_column_values`), builds on DuckDB and on
//! Postgres with its tables holding what the SQL means. The columns `star` and
//! `union_relations` ask the adapter for are answered while compiling, with no database; what
//! cannot be known so is an error that says what to declare. The queries models run while
//! rendering (`get_column_values` over `run_query`, a `statement` block) run when the models
//! run, as in dbt.

mod common;

use std::path::Path;

use common::dbt_cli::{failed, ok, strata};
use common::{fixture_copy, pg};

fn table(rows: &[&[&str]]) -> Vec<Vec<String>> {
    pg::normalized(
        rows.iter()
            .map(|r| r.iter().map(|v| v.to_string()).collect())
            .collect(),
    )
}

/// star() over the seed without `email`: the seed's other columns, in order.
const STG_CUSTOMERS_COLUMNS: &str = "select column_name from information_schema.columns where table_name = 'stg_customers' and table_schema = '{schema}' order by ordinal_position";

/// The orders of both years (2023's seed has no `amount`: null, shown as -1), each with its
/// customer's columns from star() (prefixed), an md5 surrogate key of `order_id-customer_id`,
/// and the seed it came from.
const CUSTOMER_ORDERS: &str = "select customer_customer_id, customer_first_name, order_id, status, coalesce(amount, -1), order_key, case when source_relation like '%raw_orders_2023%' then '2023' when source_relation like '%raw_orders_2024%' then '2024' end from {schema}.customer_orders order by order_id";

fn customer_orders() -> Vec<Vec<String>> {
    table(&[
        &[
            "1",
            "Ada",
            "1",
            "shipped",
            "-1",
            "ea66c06c1e1c05fa9f1aa39d98dc5bc1",
            "2023",
        ],
        &[
            "2",
            "Alan",
            "2",
            "returned",
            "-1",
            "3c46a0407be60a1f00731ab8e9575df2",
            "2023",
        ],
        &[
            "1",
            "Ada",
            "3",
            "placed",
            "30",
            "c9e6e7b69f98f516a54cfe2c9e25fb3f",
            "2024",
        ],
        &[
            "3",
            "Grace",
            "4",
            "shipped",
            "45",
            "4864dafb55d05d74897fdce5dee7fd22",
            "2024",
        ],
        &[
            "3",
            "Grace",
            "5",
            "shipped",
            "20",
            "0dd954ea204f19a1b391b7828491927b",
            "2024",
        ],
    ])
}

/// date_spine: 2023-12-30 up to (not including) 2024-01-06, seven days; pivot: per status
/// (found by get_column_values when the model ran), that week's orders.
const CALENDAR: &str = "select count(*), min(date_day), max(date_day), sum(placed), sum(shipped), sum(returned) from {schema}.order_calendar";

fn calendar() -> Vec<Vec<String>> {
    table(&[&["7", "2023-12-30", "2024-01-05", "1", "3", "1"]])
}

/// The columns of order_calendar and status_counts: one per status, found when they ran.
const LATE_COLUMNS: &str = "select table_name, column_name from information_schema.columns where table_name in ('order_calendar', 'status_counts') and table_schema = '{schema}' order by table_name, ordinal_position";

fn late_columns() -> Vec<Vec<String>> {
    table(&[
        &["order_calendar", "date_day"],
        &["order_calendar", "placed"],
        &["order_calendar", "returned"],
        &["order_calendar", "shipped"],
        &["status_counts", "placed"],
        &["status_counts", "returned"],
        &["status_counts", "shipped"],
    ])
}

/// status_counts: the orders of each status, from a `statement` block's rows.
const STATUS_COUNTS: &str = "select placed, returned, shipped from {schema}.status_counts";

/// What every engine's build shows beyond its tables: the columns the compile knew, in the
/// manifest; `get_column_values` run by `run-operation` against the warehouse.
fn assert_compiled_columns_and_operation(dir: &Path, home: &Path, env: &[(&str, &str)]) {
    assert!(common::dbt_artifacts::assert_valid_dbt_artifacts(
        &dir.join("target")
    ));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("target/manifest.json")).unwrap())
            .unwrap();
    let columns = |id: &str| -> Vec<String> {
        let cols = manifest["nodes"][id]["columns"].as_object().unwrap();
        let mut names: Vec<String> = cols.keys().cloned().collect();
        names.sort();
        names
    };
    assert_eq!(
        columns("model.shop.customer_orders"),
        [
            "amount",
            "customer_customer_id",
            "customer_first_name",
            "order_id",
            "order_key",
            "source_relation",
            "status"
        ]
    );
    // The macros each model's template calls itself, each in the manifest's macros.
    let macros = &manifest["nodes"]["model.shop.order_calendar"]["depends_on"]["macros"];
    assert_eq!(
        macros,
        &serde_json::json!([
            "macro.strata_utils.date_spine",
            "macro.strata_utils.get_column_values",
            "macro.strata_utils.pivot"
        ])
    );
    for id in macros.as_array().unwrap() {
        assert!(manifest["macros"][id.as_str().unwrap()].is_object(), "{id}");
    }
    assert!(manifest["macros"]["macro.dbt.dateadd"].is_object());
    let (stdout, _) = ok(strata(dir, home, &["run-operation", "order_statuses"], env));
    assert!(
        stdout.contains("[order_statuses] order statuses: placed, returned, shipped"),
        "{stdout}"
    );
    let (stdout, _) = ok(strata(dir, home, &["run-operation", "order_count"], env));
    assert!(stdout.contains("[order_count] orders: 5"), "{stdout}");
}

/// The package's generic test, named `strata_utils.equal_rowcount` in YAML: its `compare_model`
/// passed as the relation, its failures counted by the `fail_calc` its macro sets (the
/// difference of the row counts: 0 against itself, 5 - 3 = 2 against the 2024 seed).
fn assert_package_generic_tests(dir: &Path, stdout: &str) {
    assert!(stdout.contains("1 WARN"), "{stdout}");
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("target/run_results.json")).unwrap(),
    )
    .unwrap();
    let failures = |id: &str| {
        results["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unique_id"] == id)
            .map(|r| (r["status"].clone(), r["failures"].clone()))
            .unwrap_or_else(|| panic!("no result for {id}: {results}"))
    };
    assert_eq!(
        failures("test.shop.strata_utils_equal_rowcount_stg_orders"),
        (serde_json::json!("pass"), serde_json::json!(0))
    );
    assert_eq!(
        failures("test.shop.strata_utils_equal_rowcount_stg_orders_2"),
        (serde_json::json!("warn"), serde_json::json!(2))
    );
    // A test whose macro reads its arguments from `kwargs`.
    assert_eq!(
        failures("test.shop.strata_utils_not_null_share_stg_orders_order_id"),
        (serde_json::json!("pass"), serde_json::json!(0))
    );
    // Under the target's name: `dev` on DuckDB, `pg` on Postgres.
    let sql = ["dev", "pg"]
        .iter()
        .find_map(|t| {
            let file = format!(
                "target/compiled/{t}/models/staging/strata_utils_not_null_share_stg_orders_order_id.sql"
            );
            std::fs::read_to_string(dir.join(file)).ok()
        })
        .unwrap_or_default();
    assert!(sql.contains("share < 0.9"), "{sql}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("target/manifest.json")).unwrap())
            .unwrap();
    let test = &manifest["nodes"]["test.shop.strata_utils_equal_rowcount_stg_orders_2"];
    assert_eq!(test["config"]["fail_calc"], "sum(coalesce(diff_count, 0))");
    assert_eq!(
        test["depends_on"]["macros"],
        serde_json::json!(["macro.strata_utils.test_equal_rowcount"])
    );
}

#[test]
fn a_dbt_utils_style_package_builds_on_duckdb() {
    let (tmp, dir) = fixture_copy("dbt_utils_style");
    let (stdout, _) = ok(strata(&dir, tmp.path(), &["build"], &[]));
    assert!(stdout.contains("0 ERROR, 0 FAIL"), "{stdout}");
    assert_package_generic_tests(&dir, &stdout);
    let conn = duckdb::Connection::open(dir.join("shop.duckdb")).unwrap();
    let q = |sql: &str| pg::normalized(common::rows(&conn, &sql.replace("{schema}", "main")));
    assert_eq!(
        q(STG_CUSTOMERS_COLUMNS),
        table(&[&["customer_id"], &["first_name"], &["last_name"]])
    );
    assert_eq!(q(CUSTOMER_ORDERS), customer_orders());
    assert_eq!(q(CALENDAR), calendar());
    assert_eq!(q(LATE_COLUMNS), late_columns());
    assert_eq!(q(STATUS_COUNTS), table(&[&["1", "1", "3"]]));
    drop(conn);
    // The compiled SQL written is what ran: the query's rows in it.
    let sql = compiled(&dir, "status_counts");
    assert!(sql.contains("3 as shipped"), "{sql}");
    // `show` settles a model's queries as a run does.
    let (stdout, _) = ok(strata(
        &dir,
        tmp.path(),
        &["show", "-s", "status_counts", "-o", "json"],
        &[],
    ));
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        shown["rows"][0],
        serde_json::json!({"placed": 1, "returned": 1, "shipped": 3}),
        "{stdout}"
    );
    assert_compiled_columns_and_operation(&dir, tmp.path(), &[]);
    // An inline query introspects too, answered from the compiled nodes' columns.
    let inline = "select {{ strata_utils.star(ref('stg_customers'), except=['last_name']) }} from {{ ref('stg_customers') }} order by 1";
    let (stdout, _) = ok(strata(
        &dir,
        tmp.path(),
        &["show", "--inline", inline, "-o", "json"],
        &[],
    ));
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        shown["rows"][0],
        serde_json::json!({"customer_id": 1, "first_name": "Ada"}),
        "{stdout}"
    );
}

#[test]
fn a_dbt_utils_style_package_builds_on_postgres() {
    let url = pg::fresh_database("shop");
    // postgresql://user:password@host:port/dbname, taken apart into dbt-postgres' fields.
    let fields = pg::profile_env(&url, "SHOP_PG");
    let env: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (tmp, dir) = fixture_copy("dbt_utils_style");
    let (stdout, _) = ok(strata(&dir, tmp.path(), &["build", "-t", "pg"], &env));
    assert!(stdout.contains("0 ERROR, 0 FAIL"), "{stdout}");
    assert_package_generic_tests(&dir, &stdout);
    let q = |sql: &str| pg::normalized(pg::rows(&url, &sql.replace("{schema}", "analytics")));
    assert_eq!(
        q(STG_CUSTOMERS_COLUMNS),
        table(&[&["customer_id"], &["first_name"], &["last_name"]])
    );
    assert_eq!(q(CUSTOMER_ORDERS), customer_orders());
    assert_eq!(q(CALENDAR), calendar());
    assert_eq!(q(LATE_COLUMNS), late_columns());
    assert_eq!(q(STATUS_COUNTS), table(&[&["1", "1", "3"]]));
    let pg_run_operation = ["run-operation", "order_statuses", "-t", "pg"];
    let (stdout, _) = ok(strata(&dir, tmp.path(), &pg_run_operation, &env));
    assert!(
        stdout.contains("[order_statuses] order statuses: placed, returned, shipped"),
        "{stdout}"
    );
    assert!(common::dbt_artifacts::assert_valid_dbt_artifacts(
        &dir.join("target")
    ));
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

fn compiled(dir: &Path, model: &str) -> String {
    std::fs::read_to_string(dir.join(format!("target/compiled/dev/models/marts/{model}.sql")))
        .unwrap()
}

#[test]
fn columns_not_known_offline_say_what_to_declare_and_declared_ones_are_used() {
    let (tmp, dir) = fixture_copy("dbt_utils_style");
    // `*` over two relations: which columns it makes is the database's business.
    write(
        &dir,
        "models/marts/wide.sql",
        "select * from {{ ref('stg_orders') }} as o join {{ ref('stg_customers') }} as c on o.customer_id = c.customer_id\n",
    );
    write(
        &dir,
        "models/marts/narrow.sql",
        "select\n    {{ strata_utils.star(ref('wide'), except=['amount']) }}\nfrom {{ ref('wide') }}\n",
    );
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(
        stderr.contains("adapter.get_columns_in_relation(ref('wide')): its columns are not known at compile time: its select list has a column whose name is not certain"),
        "{stderr}"
    );
    assert!(
        stderr.contains("declare the columns of ref('wide') in its properties YAML"),
        "{stderr}"
    );
    // At the line of the macro that asked, while rendering the model that called it.
    assert!(
        stderr.contains("packages/strata_utils/macros/star.sql:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("while rendering models/marts/narrow.sql"),
        "{stderr}"
    );
    // Declared, the columns are those.
    write(
        &dir,
        "models/marts/wide.yml",
        "version: 2\nmodels:\n  - name: wide\n    columns:\n      - name: order_id\n      - name: amount\n      - name: first_name\n",
    );
    ok(strata(&dir, tmp.path(), &["compile"], &[]));
    let sql = compiled(&dir, "narrow");
    assert!(
        sql.contains("\"order_id\",\n    \"first_name\"\nfrom"),
        "{sql}"
    );
}

#[test]
fn get_relation_answers_from_the_projects_relations() {
    let (tmp, dir) = fixture_copy("dbt_utils_style");
    write(
        &dir,
        "models/marts/probe.sql",
        "{%- set found = adapter.get_relation(database=none, schema=target.schema, identifier='stg_orders') -%}\n{%- set missing = adapter.get_relation(none, target.schema, 'no_such_table') -%}\nselect '{{ found.identifier }}' as found, {{ 'true' if missing is none else 'false' }} as missing_is_none\n",
    );
    ok(strata(&dir, tmp.path(), &["compile"], &[]));
    assert_eq!(
        compiled(&dir, "probe").trim(),
        "select 'stg_orders' as found, true as missing_is_none"
    );
}

#[test]
fn queries_run_when_the_model_runs_and_the_compile_renders_with_execute_false() {
    let (tmp, dir) = fixture_copy("dbt_utils_style");
    // Offline, a model whose template queries is rendered with `execute` false, as dbt parses
    // it: get_column_values returns its default, the pivot has no column yet.
    ok(strata(&dir, tmp.path(), &["compile"], &[]));
    let sql = compiled(&dir, "order_calendar");
    assert!(sql.contains("spine.date_day,"), "{sql}");
    assert!(!sql.contains("placed"), "{sql}");
    assert!(compiled(&dir, "status_counts").contains("0 as not_counted_yet"));

    // A result used outside `{% if execute %}` fails the compile, saying why.
    write(
        &dir,
        "models/marts/first_status.sql",
        "{%- set r = run_query('select min(status) as s from ' ~ ref('stg_orders')) -%}\nselect '{{ r.columns[0].values()[0] }}' as first_status\n",
    );
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(
        stderr.contains("models/marts/first_status.sql:2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("renders it with `execute` false, where run_query() returns none"),
        "{stderr}"
    );
    assert!(stderr.contains("{% if execute %}"), "{stderr}");

    // Guarded, it builds after stg_orders, with the query's rows; the ref inside the query
    // alone makes stg_orders a parent.
    write(
        &dir,
        "models/marts/first_status.sql",
        "select\n{%- if execute %}\n{%- set r = run_query('select min(status) as s, count(*) as n from ' ~ ref('stg_orders')) %} '{{ r.columns[0].values()[0] }}' as first_status, {{ r.rows[0]['n'] }} as orders\n{%- else %} null as first_status, 0 as orders{% endif %}\n",
    );
    let (stdout, _) = ok(strata(
        &dir,
        tmp.path(),
        &["build", "-s", "+first_status"],
        &[],
    ));
    assert!(stdout.contains("table main.first_status"), "{stdout}");
    let conn = duckdb::Connection::open(dir.join("shop.duckdb")).unwrap();
    assert_eq!(
        common::rows(&conn, "select first_status, orders from main.first_status"),
        vec![vec!["placed".to_string(), "5".to_string()]]
    );
    drop(conn);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("target/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["nodes"]["model.shop.first_status"]["depends_on"]["nodes"],
        serde_json::json!(["model.shop.stg_orders"])
    );

    // A query the warehouse refuses fails its model, saying so; the others go on.
    write(
        &dir,
        "models/marts/first_status.sql",
        "{%- set r = run_query('select * from no_such_table') -%}\nselect 1 as one\n",
    );
    let out = strata(&dir, tmp.path(), &["build"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("run_query() while rendering"), "{stdout}");
    assert!(stdout.contains("no_such_table"), "{stdout}");
    assert!(stdout.contains("table main.status_counts"), "{stdout}");
}

#[test]
fn a_node_that_introspects_is_rendered_again_when_its_parents_columns_change() {
    let (tmp, dir) = fixture_copy("dbt_utils_style");
    ok(strata(&dir, tmp.path(), &["compile"], &[]));
    let before =
        std::fs::read_to_string(dir.join("target/compiled/dev/models/staging/stg_customers.sql"))
            .unwrap();
    assert!(!before.contains("signup_date"), "{before}");
    // A new column in the seed: star() over it must show it, though stg_customers.sql did
    // not change (its render is never taken from the cache).
    write(
        &dir,
        "seeds/raw_customers.csv",
        "customer_id,first_name,last_name,email,signup_date\n1,Ada,Lovelace,ada@example.com,2023-01-01\n",
    );
    ok(strata(&dir, tmp.path(), &["compile"], &[]));
    let after =
        std::fs::read_to_string(dir.join("target/compiled/dev/models/staging/stg_customers.sql"))
            .unwrap();
    assert!(
        after.contains("\"last_name\",\n    \"signup_date\"\nfrom"),
        "{after}"
    );
    // And customer_orders, which star()s stg_customers, follows.
    assert!(
        compiled(&dir, "customer_orders").contains("c.\"signup_date\" as \"customer_signup_date\""),
        "{}",
        compiled(&dir, "customer_orders")
    );
}

#[test]
fn a_source_tables_declared_columns_answer_introspection() {
    let (tmp, dir) = fixture_copy("dbt_utils_style");
    write(
        &dir,
        "models/marts/sources.yml",
        "version: 2\nsources:\n  - name: crm\n    schema: crm\n    tables:\n      - name: contacts\n        columns:\n          - name: contact_id\n            data_type: integer\n          - name: full_name\n      - name: notes\n",
    );
    write(
        &dir,
        "models/marts/contacts.sql",
        "select\n    {{ strata_utils.star(source('crm', 'contacts')) }}\nfrom {{ source('crm', 'contacts') }}\n",
    );
    write(
        &dir,
        "models/marts/contact_types.sql",
        "select {% for c in adapter.get_columns_in_relation(source('crm', 'contacts')) %}'{{ c.column }}: {{ c.data_type }}' as {{ c.quoted }}{% if not loop.last %}, {% endif %}{% endfor %}\n",
    );
    ok(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(
        compiled(&dir, "contacts").contains("\"contact_id\",\n    \"full_name\"\nfrom"),
        "{}",
        compiled(&dir, "contacts")
    );
    assert_eq!(
        compiled(&dir, "contact_types").trim(),
        "select 'contact_id: integer' as \"contact_id\", 'full_name: None' as \"full_name\""
    );
    // A source table that declares no columns: nothing to answer with (a type not declared
    // is none, printed as Jinja prints it, above).
    write(
        &dir,
        "models/marts/notes.sql",
        "select {{ strata_utils.star(source('crm', 'notes')) }} from {{ source('crm', 'notes') }}\n",
    );
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(
        stderr.contains("adapter.get_columns_in_relation(source('crm', 'notes')): its columns are not known at compile time: the source table declares no columns"),
        "{stderr}"
    );
}
