//! One project, two engines: the built-in cross-dialect macros give the same rows on DuckDB and
//! on Postgres; a function only one engine has is reported at compile time for the other; and
//! the lists of such functions agree with both engines' catalogs.

mod common;

use common::pg::{self, psql};
use common::{db, fixture_copy, rows, strata_env_ok};

/// Runs strata, expecting exit code `code`; returns stdout and stderr together.
fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)], code: i32) -> String {
    let out = strata_env_ok(dir, args, env, code);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn cross_dialect_macros_give_the_same_rows_on_both_engines() {
    let url = pg::fresh_database("xd");
    let (_tmp, dir) = fixture_copy("cross_dialect");
    let env = [("XD_PG_DSN", url.as_str())];
    run(&dir, &["build"], &[], 0);
    run(&dir, &["build", "-t", "pg"], &env, 0);
    let duck = db(&dir, "xd.duckdb");
    for (table, order) in [("dates", "id"), ("casts", "id"), ("groups", "grp")] {
        let sql = format!("select * from main.{table} order by {order}");
        let d = pg::normalized(rows(&duck, &sql));
        let p = pg::normalized(pg::rows(&url, &sql));
        assert_eq!(d, p, "{table} differs between DuckDB and Postgres");
    }
    // And the values are the right ones (checked by hand).
    assert_eq!(
        rows(
            &duck,
            "select id, diff_days, diff_weeks, diff_months, diff_quarters, diff_years, diff_hours, diff_seconds from main.dates order by id"
        ),
        vec![
            vec!["1", "30", "4", "2", "0", "0", "718", "2583870"],
            vec!["2", "1", "0", "1", "1", "1", "1", "2"],
            vec!["3", "366", "52", "12", "4", "1", "8796", "31667400"],
            vec!["4", "0", "0", "0", "0", "0", "0", "0"],
            vec!["5", "1", "0", "0", "0", "0", "12", "43200"],
            vec!["6", "1", "0", "0", "0", "0", "12", "43200"],
        ]
    );
    assert_eq!(
        rows(
            &duck,
            "select id, cast(plus_1_month as date), raw_int, raw_date from main.dates join main.casts using (id) order by id"
        ),
        vec![
            vec!["1", "2024-02-29", "42", "NULL"],
            vec!["2", "2024-01-31", "NULL", "NULL"],
            vec!["3", "2024-03-28", "NULL", "NULL"],
            vec!["4", "2024-07-15", "NULL", "2024-02-29"],
            vec!["5", "2024-07-15", "NULL", "NULL"],
            vec!["6", "2024-07-16", "NULL", "NULL"],
        ]
    );
    assert_eq!(
        rows(
            &duck,
            "select grp, ids, first_id, today_ok from main.groups order by grp"
        ),
        vec![
            vec!["a", "2,1", "1", "true"],
            vec!["b", "4,3", "3", "true"],
            vec!["c", "6,5", "5", "true"],
        ]
    );
}

#[test]
fn a_function_of_the_other_engine_is_a_compile_error_at_its_line() {
    let (_tmp, dir) = fixture_copy("cross_dialect");
    std::fs::write(
        dir.join("models/med.sql"),
        "select\n    grp,\n    median(id) as mid\nfrom {{ ref('events') }}\ngroup by grp\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("models/nap.sql"),
        "select\n    1 as one,\n    to_char(now(), 'YYYY') as year\n",
    )
    .unwrap();
    let env = [("XD_PG_DSN", "postgresql://nobody@127.0.0.1:1/none")];
    let pg = run(&dir, &["compile", "-t", "pg"], &env, 2);
    assert!(pg.contains("S403"), "{pg}");
    assert!(
        pg.contains("`med` calls `median()`, which duckdb has and postgres does not"),
        "{pg}"
    );
    assert!(pg.contains("models/med.sql:3:5"), "{pg}");
    assert!(!pg.contains("to_char()"), "{pg}");
    let duck = run(&dir, &["compile"], &[], 2);
    assert!(
        duck.contains("`nap` calls `to_char()`, which postgres has and duckdb does not"),
        "{duck}"
    );
    assert!(duck.contains("models/nap.sql:3:5"), "{duck}");
    assert!(!duck.contains("median()"), "{duck}");
}

#[test]
fn the_lists_of_engine_only_functions_match_both_catalogs() {
    let url = pg::fresh_database("catalog");
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let in_duckdb = |name: &str| -> bool {
        let n: i64 = conn
            .query_row(
                "select count(*) from duckdb_functions() where function_name = ?",
                [name],
                |r| r.get(0),
            )
            .unwrap();
        n > 0
    };
    let in_pg = |name: &str| -> bool {
        psql(
            &url,
            &format!("select count(*) from pg_proc where proname = '{name}'"),
        ) != vec!["0"]
    };
    let mut wrong = Vec::new();
    for (name, _) in strata::adapter::duckdb::ENGINE.own_functions {
        if !in_duckdb(name) || in_pg(name) {
            wrong.push(format!(
                "{name}: duckdb {} postgres {}",
                in_duckdb(name),
                in_pg(name)
            ));
        }
    }
    for (name, _) in strata::adapter::postgres::ENGINE.own_functions {
        if in_duckdb(name) || !in_pg(name) {
            wrong.push(format!(
                "{name}: duckdb {} postgres {}",
                in_duckdb(name),
                in_pg(name)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "misclassified functions:\n{}",
        wrong.join("\n")
    );
}
