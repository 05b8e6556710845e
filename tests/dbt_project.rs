//! A dbt project as `dbt init` lays it out (dbt_project.yml, profiles.yml, no project.yml)
//! builds on DuckDB and Postgres, its tables holding what its SQL means; profiles.yml is found
//! as dbt finds it; keys strata does not act on get a note, unknown keys an error.

mod common;

use std::path::Path;

use common::dbt_cli::{failed, ok, strata};
use common::fixture_copy;
use common::pg;

/// What the fixture's SQL means: per customer, orders, lifetime value in dollars (payments
/// are in cents), returned orders.
fn expected_customers() -> Vec<Vec<String>> {
    pg::normalized(
        [
            ["1", "Michael", "2", "14", "1"],
            ["2", "Shawn", "1", "25", "0"],
            ["3", "Kathleen", "2", "37", "0"],
            ["4", "Jimmy", "1", "6", "1"],
        ]
        .iter()
        .map(|r| r.iter().map(|v| v.to_string()).collect())
        .collect(),
    )
}

/// The package macros' output: a surrogate key per order (md5 of `order_id-customer_id`) and
/// the amounts in cents.
const ORDER_KEYS: &str = "select count(*), count(distinct order_key), max(case when order_id = 1 then order_key end), sum(amount_cents) from {schema}.order_keys";

/// The calendar model (date_spine, pivot, zip, modules, api.Relation.create): 7 days and two
/// extra rows; per status, the orders of those days.
const CALENDAR: &str = "select count(*), count(distinct date_day), sum(completed), sum(placed), sum(returned) from {schema}.order_calendar";

fn calendar() -> Vec<Vec<String>> {
    vec![["9", "7", "11", "1", "2"].map(String::from).to_vec()]
}

fn order_keys() -> Vec<Vec<String>> {
    vec![vec![
        "6".to_string(),
        "6".to_string(),
        "ea66c06c1e1c05fa9f1aa39d98dc5bc1".to_string(),
        "8200".to_string(),
    ]]
}

/// The root model over two packages' models: one row per status of the package's seed, the
/// orders that have it, the other package's currency.
const STATUS_SUMMARY: &str =
    "select status, label, is_final, orders, currency from {schema}.status_summary order by status";

fn status_summary() -> Vec<Vec<String>> {
    pg::normalized(
        [
            ["completed", "COMPLETED", "true", "3", "USD"],
            ["placed", "PLACED", "false", "1", "USD"],
            ["returned", "RETURNED", "true", "2", "USD"],
            ["shipped", "SHIPPED", "false", "0", "USD"],
        ]
        .iter()
        .map(|r| r.iter().map(|v| v.to_string()).collect())
        .collect(),
    )
}

/// How the package models are built: jaffle_utils' as tables (the root project's config wins
/// over the package's own `+materialized: view`), money_utils' as views (the default); its
/// `cents` macro dispatched to the project's `default__cents`.
const PACKAGE_RELATIONS: &str = "select table_name, table_type from information_schema.tables where table_name in ('status_labels', 'currencies') order by table_name";

fn package_relations() -> Vec<Vec<String>> {
    vec![
        vec!["currencies".to_string(), "VIEW".to_string()],
        vec!["status_labels".to_string(), "BASE TABLE".to_string()],
    ]
}

const CURRENCIES: &str = "select currency, cents_per_unit_and_a_half from {schema}.currencies";

fn currencies() -> Vec<Vec<String>> {
    vec![vec!["USD".to_string(), "150".to_string()]]
}

/// The packages' nodes in the manifest: ids, `package_name` and fqn of their package, the
/// root project's config on jaffle_utils' model, the package's own tags kept.
fn assert_package_nodes(manifest: &serde_json::Value) {
    let nodes = &manifest["nodes"];
    for (id, package) in [
        ("model.jaffle_utils.status_labels", "jaffle_utils"),
        ("seed.jaffle_utils.order_statuses", "jaffle_utils"),
        ("model.money_utils.currencies", "money_utils"),
        (
            "test.jaffle_utils.unique_status_labels_status",
            "jaffle_utils",
        ),
    ] {
        assert_eq!(nodes[id]["package_name"], package, "{id}");
        assert_eq!(nodes[id]["fqn"][0], package, "{id}");
    }
    let labels = &nodes["model.jaffle_utils.status_labels"];
    assert_eq!(labels["config"]["materialized"], "table");
    assert_eq!(labels["config"]["tags"], serde_json::json!(["utils"]));
    assert_eq!(labels["path"], "status_labels.sql");
    // dbt writes a package's file where it is in the package.
    assert_eq!(labels["original_file_path"], "models/status_labels.sql");
    let key = &manifest["macros"]["macro.jaffle_utils.surrogate_key"];
    assert_eq!(key["package_name"], "jaffle_utils");
    assert_eq!(key["original_file_path"], "macros/keys.sql");
    assert_eq!(
        labels["description"],
        "One row per order status, with its label."
    );
    assert_eq!(
        nodes["model.jaffle.status_summary"]["depends_on"]["nodes"],
        serde_json::json!([
            "model.jaffle.orders",
            "model.jaffle_utils.status_labels",
            "model.money_utils.currencies"
        ])
    );
}

const CUSTOMERS: &str = "select customer_id, first_name, number_of_orders, lifetime_value, returned_orders from {schema}.customers order by customer_id";

#[test]
fn a_dbt_project_builds_on_duckdb_as_it_is() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    // `deps` links the local package; the hub package was installed earlier (by dbt deps).
    let (deps, _) = ok(strata(&dir, tmp.path(), &["deps"], &[]));
    assert!(
        deps.contains("installed local package `jaffle_utils` in dbt_packages/jaffle_utils"),
        "{deps}"
    );
    assert!(
        deps.contains("hub package `acme/money_utils` is installed in dbt_packages/money_utils"),
        "{deps}"
    );
    assert!(
        dir.join("dbt_packages/jaffle_utils/dbt_project.yml")
            .is_file()
    );
    let (stdout, stderr) = ok(strata(&dir, tmp.path(), &["build"], &[]));
    // Where the target comes from, in one line; keys strata does not act on, one note each.
    assert!(
        stderr.contains("note: target `dev` of profile `jaffle` in ./profiles.yml"),
        "{stderr}"
    );
    for key in ["config-version", "analysis-paths", "snapshot-paths"] {
        assert_eq!(
            stderr
                .matches(&format!("`{key}` is accepted and not acted on"))
                .count(),
            1,
            "{stderr}"
        );
    }
    assert!(stdout.contains("0 ERROR, 0 FAIL"), "{stdout}");
    // dbt's places: artifacts under target/, the database where the profile says; in dbt's
    // shapes (manifest v12, run results v6, validated whole).
    assert!(common::dbt_artifacts::assert_valid_dbt_artifacts(
        &dir.join("target")
    ));
    assert_eq!(
        run_results_in(&dir)["results"].as_array().unwrap().len(),
        26
    );
    let conn = duckdb::Connection::open(dir.join("jaffle.duckdb")).unwrap();
    let got = pg::normalized(common::rows(&conn, &CUSTOMERS.replace("{schema}", "main")));
    assert_eq!(got, expected_customers());
    // `+schema: raw` on seeds: dbt's custom schema, `<target schema>_raw`.
    assert_eq!(
        common::rows(&conn, "select count(*) from main_raw.raw_payments"),
        [["7"]]
    );
    assert_eq!(
        common::rows(&conn, ORDER_KEYS.replace("{schema}", "main").as_str()),
        order_keys()
    );
    assert_eq!(
        common::rows(&conn, CALENDAR.replace("{schema}", "main").as_str()),
        calendar()
    );
    // The packages' models and seed, built as configured, read by the project's model.
    assert_eq!(
        pg::normalized(common::rows(
            &conn,
            &STATUS_SUMMARY.replace("{schema}", "main")
        )),
        status_summary()
    );
    assert_eq!(common::rows(&conn, PACKAGE_RELATIONS), package_relations());
    assert_eq!(
        common::rows(&conn, &CURRENCIES.replace("{schema}", "main")),
        currencies()
    );
    drop(conn);
    // The project's `default__cents` replaces the package's: `dispatch:` searches it first.
    let compiled =
        std::fs::read_to_string(dir.join("target/compiled/dev/models/marts/order_keys.sql"))
            .unwrap();
    assert!(
        compiled.contains("cast(round(amount * 100) as bigint) as amount_cents"),
        "{compiled}"
    );
    // `data_tests:` folder configs reach the tests declared under that folder.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("target/manifest.json")).unwrap())
            .unwrap();
    let severity = |id: &str| manifest["nodes"][id]["config"]["severity"].clone();
    assert_eq!(severity("test.jaffle.unique_customers_customer_id"), "warn");
    assert_eq!(severity("test.jaffle.unique_stg_orders_order_id"), "error");
    assert_package_nodes(&manifest);
    // `strata clean` removes the clean-targets.
    ok(strata(&dir, tmp.path(), &["clean"], &[]));
    assert!(!dir.join("target").exists());
}

fn run_results_in(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("target/run_results.json")).unwrap())
        .unwrap()
}

#[test]
fn a_dbt_project_builds_on_postgres_from_profile_fields() {
    let url = pg::fresh_database("jaffle");
    // postgresql://user:password@host:port/dbname, taken apart into dbt-postgres' fields.
    let fields = pg::profile_env(&url, "JAFFLE_PG");
    let env: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    let (stdout, stderr) = ok(strata(&dir, tmp.path(), &["build", "-t", "pg"], &env));
    assert!(stdout.contains("0 ERROR, 0 FAIL"), "{stdout}");
    assert!(
        stderr.contains("note: target `pg` of profile `jaffle`"),
        "{stderr}"
    );
    assert!(common::dbt_artifacts::assert_valid_dbt_artifacts(
        &dir.join("target")
    ));
    // The password is in no file strata wrote.
    let password = &fields
        .iter()
        .find(|(k, _)| k == "JAFFLE_PG_PASSWORD")
        .unwrap()
        .1;
    for f in ["target/manifest.json", "target/run_results.json"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(!text.contains(password.as_str()), "{f} holds the password");
    }
    let got = pg::normalized(pg::rows(&url, &CUSTOMERS.replace("{schema}", "analytics")));
    assert_eq!(got, expected_customers());
    assert_eq!(
        pg::rows(&url, "select count(*) from analytics_raw.raw_payments"),
        [["7"]]
    );
    // Without `deps`, the local package is read where it is.
    assert_eq!(
        pg::rows(&url, &ORDER_KEYS.replace("{schema}", "analytics")),
        order_keys()
    );
    assert_eq!(
        pg::rows(&url, &CALENDAR.replace("{schema}", "analytics")),
        calendar()
    );
    assert_eq!(
        pg::normalized(pg::rows(
            &url,
            &STATUS_SUMMARY.replace("{schema}", "analytics")
        )),
        status_summary()
    );
    assert_eq!(
        pg::rows(
            &url,
            &PACKAGE_RELATIONS.replace("where", "where table_schema = 'analytics' and")
        ),
        package_relations()
    );
    assert_eq!(
        pg::rows(&url, &CURRENCIES.replace("{schema}", "analytics")),
        currencies()
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("target/manifest.json")).unwrap())
            .unwrap();
    assert_package_nodes(&manifest);
}

#[test]
fn package_nodes_are_selected_by_package() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    let (stdout, _) = ok(strata(
        &dir,
        tmp.path(),
        &["ls", "-s", "package:jaffle_utils"],
        &[],
    ));
    let listed: Vec<&str> = stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        listed,
        [
            "jaffle_utils.order_statuses",
            "jaffle_utils.status_labels",
            "jaffle_utils.status_labels.not_null",
            "jaffle_utils.status_labels.unique",
        ],
        "{stdout}"
    );
    // fqn selectors reach them too; a package that is not there is an error.
    let (stdout, _) = ok(strata(
        &dir,
        tmp.path(),
        &["ls", "-s", "fqn:money_utils.currencies"],
        &[],
    ));
    assert_eq!(stdout.trim(), "money_utils.currencies", "{stdout}");
    failed(strata(
        &dir,
        tmp.path(),
        &["ls", "-s", "package:jaffle_utilz"],
        &[],
    ));
    // Configuring a package that is not there: an error at its line, with a did-you-mean.
    let text = std::fs::read_to_string(dir.join("dbt_project.yml")).unwrap();
    std::fs::write(
        dir.join("dbt_project.yml"),
        text.replace("  jaffle_utils:", "  jaffle_utilz:"),
    )
    .unwrap();
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(
        stderr.contains("`jaffle_utilz` is neither a config key nor this project's name (`jaffle`) nor a package's"),
        "{stderr}"
    );
    assert!(stderr.contains("dbt_project.yml:31:3"), "{stderr}");
    assert!(stderr.contains("did you mean `jaffle_utils`?"), "{stderr}");
}

#[test]
fn a_ref_to_a_name_of_two_packages_or_to_no_package_says_what_to_write() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    // The same name in both packages, and a root model that names neither.
    std::fs::write(
        dir.join("dbt_packages/money_utils/models/status_labels.sql"),
        "select 'x' as status\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("models/marts/status_summary.sql"),
        "select status\nfrom {{ ref('status_labels') }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("models/marts/by_package.sql"),
        "select 1 as one\nfrom {{ ref('jaffle_util', 'status_labels') }}\n",
    )
    .unwrap();
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(
        stderr.contains("ref('status_labels') is ambiguous: packages `jaffle_utils` and `money_utils` each have a node named `status_labels`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("models/marts/status_summary.sql:2:"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "write ref('jaffle_utils', 'status_labels') or ref('money_utils', 'status_labels')"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("ref('jaffle_util', 'status_labels') names package `jaffle_util`, which is neither this project nor one of its packages"),
        "{stderr}"
    );
    assert!(
        stderr.contains("models/marts/by_package.sql:2:"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `jaffle_utils`?"), "{stderr}");
    // Inside a package, its own node wins: jaffle_utils' models are not ambiguous.
    assert!(!stderr.contains("packages/jaffle_utils/models"), "{stderr}");
}

#[test]
fn a_package_that_is_not_installed_says_how_to_get_it() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    let text = std::fs::read_to_string(dir.join("packages.yml")).unwrap();
    std::fs::write(
        dir.join("packages.yml"),
        format!("{text}  - git: \"https://github.com/acme/missing_pkg.git\"\n    revision: v1\n"),
    )
    .unwrap();
    let out = strata(&dir, tmp.path(), &["deps"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("git package `https://github.com/acme/missing_pkg.git` is not installed in dbt_packages/"),
        "{stderr}"
    );
    assert!(
        stderr.contains("strata does not download packages"),
        "{stderr}"
    );
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(stderr.contains("packages.yml:5:"), "{stderr}");
}

/// Files that read vars and doc blocks from a package's nodes, a package's macro and the
/// project's nodes.
fn write_var_and_doc_probes(dir: &Path) {
    let write = |f: &str, text: &str| std::fs::write(dir.join(f), text).unwrap();
    let pkg = dir.join("packages/jaffle_utils/dbt_project.yml");
    let own = std::fs::read_to_string(&pkg).unwrap();
    // The package's defaults: global, and scoped to itself.
    std::fs::write(
        &pkg,
        format!(
            "{own}\nvars:\n  utils_greeting: 'package default'\n  utils_limit: 3\n  utils_only: 'kept'\n  jaffle_utils:\n    utils_scoped: 'own scope'\n"
        ),
    )
    .unwrap();
    // The project's: a global var and one scoped to the package.
    let root = std::fs::read_to_string(dir.join("dbt_project.yml")).unwrap();
    write(
        "dbt_project.yml",
        &root.replacen(
            "vars:\n",
            "vars:\n  utils_greeting: 'root global'\n  jaffle_utils:\n    utils_limit: 5\n",
            1,
        ),
    );
    write(
        "packages/jaffle_utils/macros/probe.sql",
        "{% macro probe_limit() %}{{ var('utils_limit', 'unset') }}{% endmacro %}\n",
    );
    write(
        "packages/jaffle_utils/models/var_probe.sql",
        "select '{{ var(\"utils_greeting\") }}' as greeting, {{ var('utils_limit') }} as lim, '{{ var(\"utils_only\") }}' as only_here, '{{ var(\"utils_scoped\") }}' as scoped, '{{ probe_limit() }}' as via_macro, '{{ var(\"status_filter\") }}' as root_global\n",
    );
    write(
        "models/root_probe.sql",
        "select '{{ jaffle_utils.probe_limit() }}' as via_macro, '{{ var(\"utils_only\", \"not visible\") }}' as only_here\n",
    );
    write(
        "packages/jaffle_utils/models/utils.md",
        "{% docs status_doc %}The package's words on status.{% enddocs %}\n{% docs shared_doc %}The package's shared block.{% enddocs %}\n",
    );
    write(
        "models/overview.md",
        "{% docs shared_doc %}The project's shared block.{% enddocs %}\n",
    );
    write(
        "packages/jaffle_utils/models/probe.yml",
        "version: 2\nmodels:\n  - name: var_probe\n    description: \"{{ doc('shared_doc') }}\"\n    columns:\n      - name: greeting\n        description: \"{{ doc('status_doc') }}\"\n      - name: lim\n        description: \"{{ doc('jaffle_utils', 'shared_doc') }}\"\n",
    );
}

fn compiled_manifest(dir: &Path, home: &Path, args: &[&str]) -> serde_json::Value {
    ok(strata(dir, home, args, &[]));
    serde_json::from_str(&std::fs::read_to_string(dir.join("target/manifest.json")).unwrap())
        .unwrap()
}

#[test]
fn a_packages_vars_and_doc_blocks_reach_its_nodes_as_in_dbt() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    write_var_and_doc_probes(&dir);
    let manifest = compiled_manifest(&dir, tmp.path(), &["compile"]);
    let code = |id: &str| {
        manifest["nodes"][id]["compiled_code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // A package node: the package's own vars, under the project's global ones, under the
    // project's `vars: {jaffle_utils: ...}`; its macro sees the same.
    assert_eq!(
        code("model.jaffle_utils.var_probe").trim(),
        "select 'root global' as greeting, 5 as lim, 'kept' as only_here, 'own scope' as scoped, '5' as via_macro, 'returned' as root_global"
    );
    // The project's node calling the package's macro: the project's vars, which hold
    // neither the package's defaults nor what is scoped to the package.
    assert_eq!(
        code("model.jaffle.root_probe").trim(),
        "select 'unset' as via_macro, 'not visible' as only_here"
    );
    // Doc blocks: the project's first, then the node's package's; `doc(package, name)`.
    let probe = &manifest["nodes"]["model.jaffle_utils.var_probe"];
    assert_eq!(probe["description"], "The project's shared block.");
    assert_eq!(
        probe["columns"]["greeting"]["description"],
        "The package's words on status."
    );
    assert_eq!(
        probe["columns"]["lim"]["description"],
        "The package's shared block."
    );
    assert_eq!(probe["original_file_path"], "models/var_probe.sql");
    assert_eq!(probe["path"], "var_probe.sql");
    let doc = &manifest["docs"]["doc.jaffle_utils.status_doc"];
    assert_eq!(doc["package_name"], "jaffle_utils");
    assert_eq!(doc["original_file_path"], "models/utils.md");
    assert_eq!(
        manifest["docs"]["doc.jaffle.shared_doc"]["block_contents"],
        "The project's shared block."
    );
    assert_eq!(
        manifest["macros"]["macro.jaffle_utils.probe_limit"]["original_file_path"],
        "macros/probe.sql"
    );
    // `--vars` wins over every file, for the package's nodes too.
    let manifest = compiled_manifest(&dir, tmp.path(), &["compile", "--vars", "{utils_limit: 9}"]);
    let code = manifest["nodes"]["model.jaffle_utils.var_probe"]["compiled_code"]
        .as_str()
        .unwrap();
    assert!(code.contains("9 as lim, 'kept' as only_here"), "{code}");
    assert!(code.contains("'9' as via_macro"), "{code}");
    // A package node's missing var names the package and where to define it.
    std::fs::write(
        dir.join("packages/jaffle_utils/models/var_probe.sql"),
        "select {{ var('utils_nothing') }} as x\n",
    )
    .unwrap();
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(
        stderr.contains("var `utils_nothing` is not defined for package `jaffle_utils`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("packages/jaffle_utils/models/var_probe.sql:1:"),
        "{stderr}"
    );
}

#[test]
fn a_query_outside_a_nodes_render_says_where_queries_run() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    let project = std::fs::read_to_string(dir.join("dbt_project.yml")).unwrap();
    std::fs::write(
        dir.join("dbt_project.yml"),
        format!("{project}\non-run-start:\n  - \"{{{{ run_query('select 1') }}}}\"\n"),
    )
    .unwrap();
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(
        stderr.contains(
            "`run_query` queries the database, which strata does only while a model or a test renders"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("call it from a model's SQL"), "{stderr}");
}

/// A profiles.yml with one DuckDB output writing to `file`.
fn profiles(file: &str) -> String {
    format!(
        "jaffle:\n  target: local\n  outputs:\n    local:\n      type: duckdb\n      path: {file}\n      threads: 1\n"
    )
}

#[test]
fn profiles_yml_is_found_where_dbt_looks() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    std::fs::remove_file(dir.join("profiles.yml")).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join(".dbt")).unwrap();
    std::fs::write(home.join(".dbt/profiles.yml"), profiles("from_home.duckdb")).unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("profiles.yml"), profiles("from_env.duckdb")).unwrap();
    let flag_dir = tmp.path().join("flag");
    std::fs::create_dir_all(&flag_dir).unwrap();
    std::fs::write(flag_dir.join("profiles.yml"), profiles("from_flag.duckdb")).unwrap();

    // ~/.dbt when the project has none.
    ok(strata(&dir, &home, &["build", "-s", "+stg_customers"], &[]));
    assert!(dir.join("from_home.duckdb").is_file());
    // DBT_PROFILES_DIR before that.
    let env_dir = elsewhere.to_str().unwrap();
    ok(strata(
        &dir,
        &home,
        &["build", "-s", "+stg_customers"],
        &[("DBT_PROFILES_DIR", env_dir)],
    ));
    assert!(dir.join("from_env.duckdb").is_file());
    // --profiles-dir before everything.
    let flag = flag_dir.to_str().unwrap();
    ok(strata(
        &dir,
        &home,
        &["build", "-s", "+stg_customers", "--profiles-dir", flag],
        &[("DBT_PROFILES_DIR", env_dir)],
    ));
    assert!(dir.join("from_flag.duckdb").is_file());

    // A profile that is not there: an error naming the file, with a did-you-mean.
    let stderr = failed(strata(&dir, &home, &["compile", "--profile", "jafle"], &[]));
    assert!(stderr.contains("profile `jafle` is not in"), "{stderr}");
    assert!(stderr.contains("jaffle"), "{stderr}");
    // A target type strata does not connect to: a clear error at the profile's line.
    std::fs::write(
        home.join(".dbt/profiles.yml"),
        "jaffle:\n  target: wh\n  outputs:\n    wh:\n      type: snowflake\n      account: x\n",
    )
    .unwrap();
    let stderr = failed(strata(&dir, &home, &["compile"], &[]));
    assert!(
        stderr.contains("target `wh` has type `snowflake`, which strata does not connect to"),
        "{stderr}"
    );
    assert!(stderr.contains(".dbt/profiles.yml:5:"), "{stderr}");
}

#[test]
fn no_profiles_anywhere_builds_into_the_embedded_default() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    std::fs::remove_file(dir.join("profiles.yml")).unwrap();
    let (_, stderr) = ok(strata(&dir, tmp.path(), &["build"], &[]));
    assert!(
        stderr.contains("building into warehouse/jaffle.duckdb (embedded DuckDB, schema main)"),
        "{stderr}"
    );
    assert!(dir.join("warehouse/jaffle.duckdb").is_file());
}

#[test]
fn dbt_project_keys_are_checked_and_project_yml_wins() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    let text = std::fs::read_to_string(dir.join("dbt_project.yml")).unwrap();
    std::fs::write(
        dir.join("dbt_project.yml"),
        text.replace("model-paths:", "model-path:"),
    )
    .unwrap();
    let stderr = failed(strata(&dir, tmp.path(), &["parse"], &[]));
    assert!(
        stderr.contains("unknown key `model-path`") || stderr.contains("`model-path`"),
        "{stderr}"
    );
    assert!(stderr.contains("model-paths"), "{stderr}");

    // Both files: project.yml is read, and strata says so.
    std::fs::write(
        dir.join("project.yml"),
        "name: other\nvars:\n  dollars_per_cent: 0.01\n  status_filter: returned\n",
    )
    .unwrap();
    let (_, stderr) = ok(strata(&dir, tmp.path(), &["parse"], &[]));
    assert!(
        stderr.contains("both project.yml and dbt_project.yml are here: strata reads project.yml"),
        "{stderr}"
    );
    assert!(dir.join(".strata/manifest.json").is_file());
}

#[test]
fn a_relations_attributes_print_its_parts_and_values_have_pythons_methods() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    std::fs::write(
        dir.join("models/relation_parts.sql"),
        "{%- set r = ref('raw_orders') -%}\nselect '{{ r.schema }}' as s, '{{ r.identifier }}' as i, '{{ r.name }}' as n, '{{ ref(\"stg_orders\").table }}' as t, '{{ this.identifier }}' as me, '{{ r.identifier.upper() }}' as up{% for k, v in {'one': 1}.items() %}, {{ v }} as {{ k }}{% endfor %} from {{ r }}\n",
    )
    .unwrap();
    let manifest = compiled_manifest(&dir, tmp.path(), &["compile"]);
    let node = &manifest["nodes"]["model.jaffle.relation_parts"];
    assert_eq!(
        node["compiled_code"].as_str().unwrap().trim(),
        "select 'main_raw' as s, 'raw_orders' as i, 'raw_orders' as n, 'stg_orders' as t, 'relation_parts' as me, 'RAW_ORDERS' as up, 1 as one from \"main_raw\".\"raw_orders\""
    );
    assert_eq!(
        node["depends_on"]["nodes"],
        serde_json::json!(["model.jaffle.stg_orders", "seed.jaffle.raw_orders"])
    );
}

#[test]
fn the_graph_variable_lists_the_projects_nodes_and_sources_as_dbt_does() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    // One count per seed of the project, found in `graph`; the seeds become parents.
    std::fs::write(
        dir.join("models/seed_counts.sql"),
        "{%- set seeds = graph.nodes.values() | selectattr('resource_type', 'equalto', 'seed') | selectattr('package_name', 'equalto', 'jaffle') | sort(attribute='name') | list -%}\n{%- for node in seeds %}\nselect '{{ node.name }}' as seed_name, count(*) as n from {{ ref(node.name) }}\n{% if not loop.last %}union all{% endif %}\n{%- else %}\nselect 'none' as seed_name, 0 as n\n{%- endfor %}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("models/sources.yml"),
        "version: 2\nsources:\n  - name: shop\n    schema: main_raw\n    tables:\n      - name: raw_orders\n        identifier: raw_orders\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("models/graph_facts.sql"),
        "{%- set orders = graph.nodes['model.jaffle.orders'] -%}\nselect '{{ graph.sources.values() | map(attribute='unique_id') | join(',') }}' as sources, '{{ orders.depends_on.nodes | join(',') }}' as orders_parents, '{{ orders.config.materialized }}' as orders_materialized, '{{ orders.relation_name | replace('\"', '') }}' as orders_relation\n",
    )
    .unwrap();
    let (stdout, _) = ok(strata(
        &dir,
        tmp.path(),
        &["build", "-s", "+seed_counts", "graph_facts"],
        &[],
    ));
    assert!(stdout.contains("0 ERROR"), "{stdout}");
    let conn = duckdb::Connection::open(dir.join("jaffle.duckdb")).unwrap();
    assert_eq!(
        common::rows(
            &conn,
            "select seed_name, n from main.seed_counts order by 1"
        ),
        vec![
            vec!["raw_customers".to_string(), "4".to_string()],
            vec!["raw_orders".to_string(), "6".to_string()],
            vec!["raw_payments".to_string(), "7".to_string()],
        ]
    );
    let facts = common::rows(&conn, "select * from main.graph_facts");
    assert_eq!(
        facts[0],
        [
            "source.jaffle.shop.raw_orders",
            "model.jaffle.stg_orders,model.jaffle.stg_payments",
            "table",
            "main.orders",
        ]
    );
    drop(conn);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("target/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["nodes"]["model.jaffle.seed_counts"]["depends_on"]["nodes"],
        serde_json::json!([
            "seed.jaffle.raw_customers",
            "seed.jaffle.raw_orders",
            "seed.jaffle.raw_payments"
        ])
    );
}

#[test]
fn lists_and_dicts_written_in_a_template_change_in_place_as_in_python() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    std::fs::write(
        dir.join("models/appended.sql"),
        "{%- set cols = [] -%}\n{%- set seen = {} -%}\n{%- for c in ['id', 'name', 'id'] -%}\n{%- if c not in seen %}{% do cols.append(c) -%}{%- do seen.update({c: true}) %}{% endif -%}\n{%- endfor -%}\nselect 1 as {{ cols | join(', 2 as ') }}\n",
    )
    .unwrap();
    let out = strata(&dir, tmp.path(), &["compile", "-s", "appended"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let compiled =
        std::fs::read_to_string(dir.join("target/compiled/dev/models/appended.sql")).unwrap();
    assert_eq!(compiled.trim(), "select 1 as id, 2 as name");
}

#[test]
fn changing_a_list_no_template_wrote_is_an_error_at_its_column_that_says_what_to_write() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    std::fs::write(
        dir.join("models/appended.sql"),
        "select 1 as id\n{%- set cols = ['a', 'b'] | map('upper') | list %}{% do cols.append('x') %}\n",
    )
    .unwrap();
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    // The column is the file's own, though the literal before it was wrapped to compile it.
    let col = "{%- set cols = ['a', 'b'] | map('upper') | list %}{% do cols".len() + 1;
    assert!(
        stderr.contains(&format!("models/appended.sql:2:{col}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("`.append()` changes a list or a dict in place"),
        "{stderr}"
    );
    assert!(stderr.contains("{% do cols.extend(value) %}"), "{stderr}");
}

#[test]
fn sources_configs_in_dbt_project_yml_apply_to_source_tables() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    let project = std::fs::read_to_string(dir.join("dbt_project.yml")).unwrap();
    std::fs::write(
        dir.join("dbt_project.yml"),
        format!("{project}\nsources:\n  jaffle:\n    +tags: ['raw']\n    shop:\n      +meta: {{owner: ingest}}\n      raw_payments:\n        +enabled: false\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("models/sources.yml"),
        "version: 2\nsources:\n  - name: shop\n    schema: main_raw\n    tags: ['shop']\n    tables:\n      - name: raw_orders\n      - name: raw_payments\n",
    )
    .unwrap();
    let (_, stderr) = ok(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(!stderr.contains("`sources` is accepted"), "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("target/manifest.json")).unwrap())
            .unwrap();
    let orders = &manifest["sources"]["source.jaffle.shop.raw_orders"];
    assert_eq!(orders["tags"], serde_json::json!(["raw", "shop"]));
    assert_eq!(orders["meta"]["owner"], "ingest");
    assert!(manifest["sources"]["source.jaffle.shop.raw_payments"].is_null());
    // A disabled source table named in a model is an error that says so.
    std::fs::write(
        dir.join("models/payments_copy.sql"),
        "select * from {{ source('shop', 'raw_payments') }}\n",
    )
    .unwrap();
    let stderr = failed(strata(&dir, tmp.path(), &["compile"], &[]));
    assert!(
        stderr.contains("source('shop', 'raw_payments') is disabled"),
        "{stderr}"
    );
    assert!(stderr.contains("models/payments_copy.sql:1"), "{stderr}");
}

#[test]
fn a_seeds_hook_that_reads_its_relations_parts_builds() {
    let (tmp, dir) = fixture_copy("dbt_jaffle");
    std::fs::write(
        dir.join("models/seed_hooks.yml"),
        "version: 2\nseeds:\n  - name: raw_orders\n    config:\n      post-hook: \"create or replace table {{ this.schema }}.{{ this.identifier.upper() }}_COPY as select * from {{ this }}\"\n",
    )
    .unwrap();
    let (stdout, _) = ok(strata(
        &dir,
        tmp.path(),
        &["build", "-s", "raw_orders"],
        &[],
    ));
    assert!(stdout.contains("seed main_raw.raw_orders"), "{stdout}");
    let conn = duckdb::Connection::open(dir.join("jaffle.duckdb")).unwrap();
    assert_eq!(
        common::rows(&conn, "select count(*) from main_raw.\"RAW_ORDERS_COPY\""),
        vec![vec!["6".to_string()]]
    );
}
