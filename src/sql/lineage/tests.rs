//! Golden cases: SQL in, lineage table out, on both dialects. Each output line is
//! `column <- relation.column SUBTYPE` (`{a|b}.column` when the relation is not certain), `*`
//! lines for wildcards, `rows <- ...` for what affects every row, `? reason` for what is not
//! followed.

use crate::ir::AdapterKind;
use crate::sql::{Analysis, analyze};

use super::{Origin, Output};

fn origin(a: &Analysis, o: &Origin) -> String {
    let names: Vec<String> = o
        .rels
        .iter()
        .map(|&r| a.relations[r].parts.join("."))
        .collect();
    let rel = match names.as_slice() {
        [one] => one.clone(),
        many => format!("{{{}}}", many.join("|")),
    };
    format!("{rel}.{} {}", o.column, o.subtype.as_str())
}

fn table(sql: &str, kind: AdapterKind) -> String {
    let a = analyze(sql, kind).unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
    let l = a.lineage.as_ref().and_then(|c| c.read()).expect("a query");
    let mut lines = Vec::new();
    for (b, branch) in l.branches.iter().enumerate() {
        if b > 0 {
            lines.push("union".to_string());
        }
        for o in branch {
            match o {
                Output::Column {
                    name,
                    inputs,
                    unknown,
                } => {
                    if inputs.is_empty() {
                        lines.push(format!("{name} <-"));
                    }
                    let mut shown: Vec<String> = inputs.iter().map(|i| origin(&a, i)).collect();
                    shown.sort();
                    for i in shown {
                        lines.push(format!("{name} <- {i}"));
                    }
                    if let Some(u) = unknown {
                        lines.push(format!("{name} ? {u}"));
                    }
                }
                Output::Star {
                    rel,
                    except,
                    replace,
                    unknown,
                } => {
                    let r = rel.map_or("?".to_string(), |r| a.relations[r].parts.join("."));
                    let mut s = format!("* <- {r}.*");
                    if !except.is_empty() {
                        s.push_str(&format!(" except {}", except.join(",")));
                    }
                    for (n, inputs) in replace {
                        let i: Vec<String> = inputs.iter().map(|o| origin(&a, o)).collect();
                        s.push_str(&format!(" replace {n} = [{}]", i.join(", ")));
                    }
                    if let Some(u) = unknown {
                        s.push_str(&format!(" ? {u}"));
                    }
                    lines.push(s);
                }
            }
        }
    }
    let mut rows: Vec<String> = l.dataset.iter().map(|d| origin(&a, d)).collect();
    rows.sort();
    lines.extend(rows.into_iter().map(|r| format!("rows <- {r}")));
    lines.join("\n")
}

/// Checks a case on both dialects.
fn case(sql: &str, expected: &str) {
    case_on(&[AdapterKind::Duckdb, AdapterKind::Postgres], sql, expected);
}

fn case_on(kinds: &[AdapterKind], sql: &str, expected: &str) {
    let expected: Vec<&str> = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for &kind in kinds {
        let got = table(sql, kind);
        assert_eq!(got, expected.join("\n"), "{kind:?}\n{sql}\n---\n{got}");
    }
}

#[test]
fn plain_columns_are_identity() {
    case(
        "select id, name as customer_name from shop.customers",
        "id <- shop.customers.id IDENTITY
         customer_name <- shop.customers.name IDENTITY",
    );
}

#[test]
fn expressions_are_transformations() {
    case(
        "select id, upper(trim(name)) as name, cast(amount as decimal(18, 2)) as amount, \
         price * qty as total, 1 as one from orders",
        "id <- orders.id IDENTITY
         name <- orders.name TRANSFORMATION
         amount <- orders.amount TRANSFORMATION
         total <- orders.price TRANSFORMATION
         total <- orders.qty TRANSFORMATION
         one <-",
    );
}

#[test]
fn aggregates_and_group_by() {
    case(
        "select customer_id, sum(amount) as total, count(*) as n, count(distinct sku) as skus \
         from orders group by customer_id",
        "customer_id <- orders.customer_id IDENTITY
         total <- orders.amount AGGREGATION
         n <-
         skus <- orders.sku AGGREGATION
         rows <- orders.customer_id GROUP_BY",
    );
}

#[test]
fn aggregate_of_an_expression_stays_aggregation() {
    case(
        "select round(sum(amount * rate), 2) as total from orders",
        "total <- orders.amount AGGREGATION
         total <- orders.rate AGGREGATION",
    );
}

#[test]
fn where_and_having_filter_every_row() {
    case(
        "select customer_id, sum(amount) as total from orders where status = 'paid' \
         group by 1 having sum(amount) > 10",
        "customer_id <- orders.customer_id IDENTITY
         total <- orders.amount AGGREGATION
         rows <- orders.amount FILTER
         rows <- orders.customer_id GROUP_BY
         rows <- orders.status FILTER",
    );
}

#[test]
fn order_by_sorts_and_aliases_resolve() {
    case(
        "select id, amount * 2 as doubled from orders order by doubled desc, id",
        "id <- orders.id IDENTITY
         doubled <- orders.amount TRANSFORMATION
         rows <- orders.amount SORT
         rows <- orders.id SORT",
    );
}

#[test]
fn joins_with_aliases() {
    case(
        "select o.id, c.name, o.amount from orders as o \
         inner join customers as c on o.customer_id = c.id",
        "id <- orders.id IDENTITY
         name <- customers.name IDENTITY
         amount <- orders.amount IDENTITY
         rows <- customers.id JOIN
         rows <- orders.customer_id JOIN",
    );
}

#[test]
fn unqualified_columns_over_a_join_are_left_to_the_compiler() {
    case(
        "select name, amount from orders o join customers c on o.customer_id = c.id",
        "name <- {orders|customers}.name IDENTITY
         amount <- {orders|customers}.amount IDENTITY
         rows <- customers.id JOIN
         rows <- orders.customer_id JOIN",
    );
}

#[test]
fn using_joins_read_both_sides() {
    case(
        "select customer_id, o.amount, c.name from orders o left join customers c using (customer_id)",
        "customer_id <- customers.customer_id IDENTITY
         customer_id <- orders.customer_id IDENTITY
         amount <- orders.amount IDENTITY
         name <- customers.name IDENTITY
         rows <- customers.customer_id JOIN
         rows <- orders.customer_id JOIN",
    );
}

#[test]
fn ctes_are_followed_to_the_relations() {
    case(
        "with src as (select id, amount_cents / 100.0 as amount from raw.payments), \
         paid as (select id, amount from src where amount > 0) \
         select id, amount as paid_amount from paid",
        "id <- raw.payments.id IDENTITY
         paid_amount <- raw.payments.amount_cents TRANSFORMATION
         rows <- raw.payments.amount_cents FILTER",
    );
}

#[test]
fn derived_tables_with_column_lists() {
    case(
        "select t.a, t.b from (select id, amount + 1 from orders) as t(a, b)",
        "a <- orders.id IDENTITY
         b <- orders.amount TRANSFORMATION",
    );
}

#[test]
fn union_all_merges_by_position() {
    case(
        "with x as (select id, amount from orders union all select id, total from refunds) \
         select id, amount from x",
        "id <- orders.id IDENTITY
         id <- refunds.id IDENTITY
         amount <- orders.amount IDENTITY
         amount <- refunds.total IDENTITY",
    );
}

#[test]
fn a_final_union_keeps_its_branches() {
    case(
        "select id, 'order' as kind from orders union select id, 'refund' from refunds",
        "id <- orders.id IDENTITY
         kind <-
         union
         id <- refunds.id IDENTITY
         'refund' <-",
    );
}

#[test]
fn window_functions() {
    case(
        "select id, row_number() over (partition by customer_id order by created_at) as rn, \
         sum(amount) over (partition by customer_id) as running from orders",
        "id <- orders.id IDENTITY
         rn <- orders.created_at WINDOW
         rn <- orders.customer_id WINDOW
         running <- orders.amount AGGREGATION
         running <- orders.customer_id WINDOW",
    );
}

#[test]
fn named_windows_and_qualify() {
    case_on(
        &[AdapterKind::Duckdb],
        "select id, lag(amount) over w as prev from orders \
         window w as (partition by customer_id order by id) qualify prev is not null",
        "id <- orders.id IDENTITY
         prev <- orders.amount TRANSFORMATION
         prev <- orders.customer_id WINDOW
         prev <- orders.id WINDOW
         rows <- orders.amount FILTER
         rows <- orders.customer_id FILTER
         rows <- orders.id FILTER",
    );
}

#[test]
fn case_conditions_are_conditional() {
    case(
        "select case when status = 'paid' then amount else 0 end as paid, \
         case kind when 'a' then x end as y from orders",
        "paid <- orders.amount TRANSFORMATION
         paid <- orders.status CONDITIONAL
         y <- orders.kind CONDITIONAL
         y <- orders.x TRANSFORMATION",
    );
}

#[test]
fn aggregate_over_case_as_in_the_aging_marts() {
    case(
        "select o.company_id, sum(case when o.days <= 30 then o.amount else 0 end) as b \
         from items as o group by o.company_id",
        "company_id <- items.company_id IDENTITY
         b <- items.amount AGGREGATION
         b <- items.days CONDITIONAL
         rows <- items.company_id GROUP_BY",
    );
}

#[test]
fn scalar_and_correlated_subqueries() {
    case(
        "select c.id, (select max(o.amount) from orders o where o.customer_id = c.id) as top \
         from customers c where exists (select 1 from refunds r where r.customer_id = c.id)",
        "id <- customers.id IDENTITY
         top <- customers.id FILTER
         top <- orders.amount AGGREGATION
         top <- orders.customer_id FILTER
         rows <- customers.id FILTER
         rows <- refunds.customer_id FILTER",
    );
}

#[test]
fn in_subquery_filters() {
    case(
        "select id from orders where customer_id in (select id from customers where vip)",
        "id <- orders.id IDENTITY
         rows <- customers.id FILTER
         rows <- customers.vip FILTER
         rows <- orders.customer_id FILTER",
    );
}

#[test]
fn lateral_derived_tables_see_the_left_side() {
    case(
        "select c.id, l.total from customers c, \
         lateral (select sum(o.amount) as total from orders o where o.customer_id = c.id) l",
        "id <- customers.id IDENTITY
         total <- orders.amount AGGREGATION
         rows <- customers.id FILTER
         rows <- orders.customer_id FILTER",
    );
}

#[test]
fn stars_are_left_for_the_compiler() {
    case("select * from orders", "* <- orders.*");
    case(
        "select o.*, c.name from orders o join customers c on o.cid = c.id",
        "* <- orders.*
         name <- customers.name IDENTITY
         rows <- customers.id JOIN
         rows <- orders.cid JOIN",
    );
}

#[test]
fn stars_through_ctes_keep_named_columns() {
    case(
        "with a as (select id, amount * 2 as amount from orders), b as (select * from a) \
         select * from b",
        "id <- orders.id IDENTITY
         amount <- orders.amount TRANSFORMATION",
    );
}

#[test]
fn a_column_read_through_a_star_comes_from_the_starred_relation() {
    case(
        "with a as (select * from orders) select id, amount + 1 as amount from a",
        "id <- orders.id IDENTITY
         amount <- orders.amount TRANSFORMATION",
    );
}

#[test]
fn star_exclude_and_replace() {
    case_on(
        &[AdapterKind::Duckdb],
        "select * exclude (secret) replace (amount / 100 as amount) from orders",
        "* <- orders.* except secret replace amount = [orders.amount TRANSFORMATION]",
    );
}

#[test]
fn table_functions_and_values_have_no_upstream() {
    case_on(
        &[AdapterKind::Duckdb],
        "select r.range as n, v.column1 as label from range(3) r, (values ('a')) v",
        "n <-
         label <-",
    );
}

#[test]
fn a_star_over_a_table_function_is_unknown() {
    case_on(
        &[AdapterKind::Duckdb],
        "select * from read_csv('x.csv')",
        "* <- ?.* ? `*` over the table function `read_csv`, whose columns are not known",
    );
}

#[test]
fn an_unknown_name_is_said_not_guessed() {
    case(
        "with a as (select id from orders) select a.id, a.missing from a",
        "id <- orders.id IDENTITY
         missing <-
         missing ? `a` has no column `missing`",
    );
}

#[test]
fn niladic_functions_and_lambdas_are_not_columns() {
    case(
        "select current_date as d, id from orders",
        "d <-
         id <- orders.id IDENTITY",
    );
    case_on(
        &[AdapterKind::Duckdb],
        "select list_transform(tags, x -> upper(x)) as tags from posts",
        "tags <- posts.tags TRANSFORMATION",
    );
}

#[test]
fn recursive_ctes_do_not_loop() {
    case(
        "with recursive t(n) as (select 1 union all select n + 1 from t where n < 3) \
         select n from t",
        "n <-",
    );
}

#[test]
fn macro_generated_sql_is_read_as_rendered() {
    // What `dbt.datediff` and the cross-database macros render to.
    case(
        "select cast(date_part('day', due_date) - date_part('day', invoice_date) as integer) \
         as payment_term_days from stg.invoices",
        "payment_term_days <- stg.invoices.due_date TRANSFORMATION
         payment_term_days <- stg.invoices.invoice_date TRANSFORMATION",
    );
}

#[test]
fn struct_fields_come_from_their_column() {
    case_on(
        &[AdapterKind::Duckdb],
        "select payload.customer.id as cid from events",
        "cid <- events.payload TRANSFORMATION",
    );
}
