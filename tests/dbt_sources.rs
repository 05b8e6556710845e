//! A dbt project's source properties as dbt users write them: `database:` (a source in
//! another database, here an attached DuckDB file), `loader:`, `config:` and `docs:` on
//! sources and tables, `external:`, names rendered with Jinja (`var()`, `target.database`);
//! and `quoting:` in dbt_project.yml and on sources, which on Postgres names relations the
//! way an unquoted name is folded.

mod common;

use std::path::Path;

use common::dbt_cli::{failed, ok, strata};
use common::fixture_copy;
use common::pg;

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("target/manifest.json")).unwrap())
        .unwrap()
}

const CRM_SOURCES: &str = "version: 2
sources:
  - name: crm
    database: \"{{ 'raw' ~ '_db' }}\"
    schema: \"{{ var('crm_schema', 'crm') }}\"
    loader: fivetran
    config:
      tags: ['crm']
      meta: {owner: ingest}
    docs:
      show: true
    tables:
      - name: contacts
        identifier: Contacts
        external:
          location: s3://bucket/contacts
        config:
          meta: {pii: true}
      - name: notes
        config:
          enabled: false
";

#[test]
fn a_source_in_an_attached_database_with_dbts_keys_builds_on_duckdb() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    {
        let raw = duckdb::Connection::open(dir.join("raw.duckdb")).unwrap();
        raw.execute_batch(
            "create schema crm; create table crm.\"Contacts\" (id integer, name varchar);
             insert into crm.\"Contacts\" values (1, 'Ada'), (2, 'Grace');",
        )
        .unwrap();
    }
    let profiles = std::fs::read_to_string(dir.join("profiles.yml")).unwrap();
    std::fs::write(
        dir.join("profiles.yml"),
        profiles.replace(
            "      extensions:\n",
            "      attach:\n        - path: raw.duckdb\n          alias: raw_db\n          read_only: true\n      extensions:\n",
        ),
    )
    .unwrap();
    std::fs::write(dir.join("models/crm_sources.yml"), CRM_SOURCES).unwrap();
    std::fs::write(
        dir.join("models/contact_names.sql"),
        "{{ config(materialized='table') }}\nselect id, name, '{{ target.database }}' as db from {{ source('crm', 'contacts') }}\n",
    )
    .unwrap();
    let (stdout, _) = ok(strata(
        &dir,
        tmp.path(),
        &["build", "-s", "contact_names"],
        &[],
    ));
    assert!(stdout.contains("1 OK"), "{stdout}");
    let conn = duckdb::Connection::open(dir.join("jaffle.duckdb")).unwrap();
    assert_eq!(
        common::rows(
            &conn,
            "select id, name, db from main.contact_names order by id"
        ),
        [["1", "Ada", "jaffle"], ["2", "Grace", "jaffle"]]
    );
    drop(conn);

    let m = manifest(&dir);
    let contacts = &m["sources"]["source.jaffle.crm.contacts"];
    assert_eq!(contacts["database"], "raw_db");
    assert_eq!(contacts["loader"], "fivetran");
    assert_eq!(contacts["relation_name"], "\"raw_db\".\"crm\".\"Contacts\"");
    assert_eq!(contacts["tags"], serde_json::json!(["crm"]));
    assert_eq!(
        contacts["meta"],
        serde_json::json!({"owner": "ingest", "pii": true})
    );
    assert!(
        m["sources"].get("source.jaffle.crm.notes").is_none(),
        "a table disabled by its config is left out: {}",
        m["sources"]
    );
    assert!(common::dbt_artifacts::assert_valid_dbt_artifacts(
        &dir.join("target")
    ));
}

#[test]
fn overriding_a_package_source_says_it_is_not_supported() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    std::fs::write(
        dir.join("models/crm_sources.yml"),
        "version: 2\nsources:\n  - name: crm\n    overrides: some_package\n    tables:\n      - name: contacts\n",
    )
    .unwrap();
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(
        stderr.contains("`overrides`: overriding a package's source is not supported"),
        "{stderr}"
    );
    assert!(stderr.contains("models/crm_sources.yml:4"), "{stderr}");
}

#[test]
fn quoting_false_names_relations_as_postgres_folds_unquoted_names() {
    let url = pg::fresh_database("quoting");
    pg::psql(
        &url,
        "create schema crm; create table crm.orders (id int); insert into crm.orders values (1), (2), (3);",
    );
    let fields = pg::profile_env(&url, "JAFFLE_PG");
    let env: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    let project = std::fs::read_to_string(dir.join("dbt_project.yml")).unwrap();
    std::fs::write(
        dir.join("dbt_project.yml"),
        format!("{project}\nquoting:\n  identifier: false\n"),
    )
    .unwrap();
    // Written `Orders`, stored `orders`: unquoted, Postgres folds it.
    std::fs::write(
        dir.join("models/crm_sources.yml"),
        "version: 2\nsources:\n  - name: crm\n    tables:\n      - name: Orders\n      - name: Kept\n        quoting:\n          identifier: true\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("models/OrderCopy.sql"),
        "select id from {{ source('crm', 'Orders') }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("models/CopyCount.sql"),
        "select count(*) as n from {{ ref('OrderCopy') }}\n",
    )
    .unwrap();
    let (stdout, stderr) = ok(strata(
        &dir,
        tmp.path(),
        &["build", "-t", "pg", "-s", "+CopyCount"],
        &env,
    ));
    assert!(stdout.contains("2 OK"), "{stdout}\n{stderr}");
    assert_eq!(
        pg::rows(
            &url,
            "select table_name from information_schema.tables where table_schema = 'analytics' and table_name in ('ordercopy', 'copycount', 'OrderCopy', 'CopyCount') order by 1"
        ),
        [["copycount"], ["ordercopy"]]
    );
    assert_eq!(pg::rows(&url, "select n from analytics.copycount"), [["3"]]);
    let m = manifest(&dir);
    let orders = &m["sources"]["source.jaffle.crm.Orders"];
    assert_eq!(orders["relation_name"], "\"crm\".\"orders\"");
    assert_eq!(
        orders["quoting"],
        serde_json::json!({"database": true, "schema": true, "identifier": false})
    );
    // The table's own `quoting:` wins over the project's.
    assert_eq!(
        m["sources"]["source.jaffle.crm.Kept"]["relation_name"],
        "\"crm\".\"Kept\""
    );
    assert_eq!(
        m["nodes"]["model.jaffle.OrderCopy"]["relation_name"],
        "\"analytics\".\"ordercopy\""
    );
}

#[test]
fn a_source_name_that_does_not_render_is_an_error_at_the_source() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    std::fs::write(
        dir.join("models/crm_sources.yml"),
        "version: 2\nsources:\n  - name: crm\n    schema: \"{{ var('crm_schema') }}\"\n    tables:\n      - name: contacts\n",
    )
    .unwrap();
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(
        stderr.contains("`schema` of source `crm` does not render"),
        "{stderr}"
    );
    assert!(stderr.contains("crm_schema"), "{stderr}");
    assert!(stderr.contains("models/crm_sources.yml:3"), "{stderr}");
}

#[test]
fn load_relation_of_this_says_to_use_is_incremental() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    std::fs::write(
        dir.join("models/self_check.sql"),
        "{% if load_relation(this) is none %}select 1 as id{% else %}select 2 as id{% endif %}\n",
    )
    .unwrap();
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(stderr.contains("load_relation(this)"), "{stderr}");
    assert!(stderr.contains("models/self_check.sql:1"), "{stderr}");
    assert!(stderr.contains("is_incremental()"), "{stderr}");
}
