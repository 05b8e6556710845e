//! The built-in generic tests (`not_null`, `unique`, `relationships`, ...): which arguments
//! each takes, the SQL that selects its failing rows, and the readable name of a declared test.
//! Pure text work, done at compile time; running the SQL is `checks`'s.

use std::collections::BTreeMap;

use serde_json::Value as J;

/// The built-in generic tests.
pub const BUILTIN_TESTS: &[&str] = &[
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "positive",
    "accepted_range",
    "expression_is_true",
    "unique_combination_of_columns",
    "row_count",
];

/// Arguments each built-in test takes (beyond the column it is declared on).
pub fn builtin_args(test: &str) -> &'static [&'static str] {
    match test {
        "accepted_values" => &["values", "quote"],
        "relationships" => &["to", "field"],
        "accepted_range" => &["min_value", "max_value", "inclusive"],
        "expression_is_true" => &["expression"],
        "unique_combination_of_columns" => &["combination_of_columns"],
        "row_count" => &["min_value", "max_value", "compare_model", "min_ratio"],
        _ => &[],
    }
}

/// Arguments a built-in test cannot do without.
pub fn builtin_required(test: &str) -> &'static [&'static str] {
    match test {
        "accepted_values" => &["values"],
        "relationships" => &["to", "field"],
        "expression_is_true" => &["expression"],
        "unique_combination_of_columns" => &["combination_of_columns"],
        _ => &[],
    }
}

/// True when the test needs a column (declared under `columns:`).
pub fn needs_column(test: &str) -> bool {
    matches!(
        test,
        "not_null" | "unique" | "accepted_values" | "relationships" | "positive" | "accepted_range"
    )
}

fn sql_literal(v: &J, quote: bool) -> String {
    match v {
        J::String(s) if quote => format!("'{}'", s.replace('\'', "''")),
        J::String(s) => s.clone(),
        J::Null => "null".into(),
        other => other.to_string(),
    }
}

/// The query of a built-in test. `model` is the tested relation (already filtered by `where`),
/// `column` the quoted column, `to` the resolved relation of `relationships`' `to` and
/// `compare` the resolved relation of `row_count`'s `compare_model`.
pub fn builtin_sql(
    test: &str,
    model: &str,
    column: Option<&str>,
    args: &BTreeMap<String, J>,
    to: Option<&str>,
    compare: Option<&str>,
) -> Result<String, String> {
    let col = || column.ok_or_else(|| format!("`{test}` must be declared on a column"));
    Ok(match test {
        "not_null" => format!("select *\nfrom {model}\nwhere {} is null", col()?),
        "unique" => {
            let c = col()?;
            format!(
                "select {c} as unique_field, count(*) as n_records\nfrom {model}\nwhere {c} is not null\ngroup by {c}\nhaving count(*) > 1"
            )
        }
        "positive" => format!("select *\nfrom {model}\nwhere {} <= 0", col()?),
        "accepted_values" => {
            let c = col()?;
            let quote = args.get("quote").and_then(J::as_bool).unwrap_or(true);
            let values = match args.get("values") {
                Some(J::Array(v)) if !v.is_empty() => v,
                _ => return Err("`values` must be a non-empty list".into()),
            };
            let list: Vec<String> = values.iter().map(|v| sql_literal(v, quote)).collect();
            format!(
                "select value_field, n_records\nfrom (\n  select {c} as value_field, count(*) as n_records\n  from {model}\n  group by {c}\n) as all_values\nwhere value_field not in ({})",
                list.join(", ")
            )
        }
        "relationships" => {
            let c = col()?;
            let to = to.ok_or("`to` must be ref('model') or source('source', 'table')")?;
            let field = match args.get("field") {
                Some(J::String(f)) => crate::ir::quote_ident(f),
                _ => return Err("`field` must be a column name".into()),
            };
            // A `where` arrives as an aliased subquery; this query names it `child`.
            let model = model.strip_suffix(" as strata_subquery").unwrap_or(model);
            format!(
                "select child.{c} as from_field\nfrom {model} as child\nleft join {to} as parent\n  on child.{c} = parent.{field}\nwhere child.{c} is not null\n  and parent.{field} is null"
            )
        }
        "accepted_range" => {
            let c = col()?;
            let inclusive = args.get("inclusive").and_then(J::as_bool).unwrap_or(true);
            let (ge, le) = if inclusive { (">=", "<=") } else { (">", "<") };
            let mut conds = Vec::new();
            if let Some(min) = args.get("min_value") {
                conds.push(format!("{c} {ge} {}", sql_literal(min, false)));
            }
            if let Some(max) = args.get("max_value") {
                conds.push(format!("{c} {le} {}", sql_literal(max, false)));
            }
            if conds.is_empty() {
                return Err("`accepted_range` needs `min_value` or `max_value`".into());
            }
            format!(
                "select *\nfrom {model}\nwhere not ({})",
                conds.join(" and ")
            )
        }
        "expression_is_true" => {
            let expr = match args.get("expression") {
                Some(J::String(e)) => e.clone(),
                _ => return Err("`expression` must be a SQL expression".into()),
            };
            let expr = match column {
                Some(c) => format!("{c} {expr}"),
                None => expr,
            };
            format!("select *\nfrom {model}\nwhere not ({expr})")
        }
        "unique_combination_of_columns" => {
            let cols = match args.get("combination_of_columns") {
                Some(J::Array(c)) if !c.is_empty() => c
                    .iter()
                    .map(|v| v.as_str().map(crate::ir::quote_ident))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("`combination_of_columns` must list column names")?,
                _ => return Err("`combination_of_columns` must be a non-empty list".into()),
            };
            let list = cols.join(", ");
            format!(
                "select {list}, count(*) as n_records\nfrom {model}\ngroup by {list}\nhaving count(*) > 1"
            )
        }
        "row_count" => {
            let mut conds = Vec::new();
            if let Some(min) = args.get("min_value") {
                conds.push(format!("n_records < {}", sql_literal(min, false)));
            }
            if let Some(max) = args.get("max_value") {
                conds.push(format!("n_records > {}", sql_literal(max, false)));
            }
            match (compare, args.get("min_ratio")) {
                (Some(other), Some(ratio)) => {
                    return Ok(format!(
                        "select n_records, n_compare\nfrom (\n  select (select count(*) from {model}) as n_records,\n         (select count(*) from {other}) as n_compare\n) as counts\nwhere n_records < n_compare * {}{}",
                        sql_literal(ratio, false),
                        conds.iter().map(|c| format!(" or {c}")).collect::<String>()
                    ));
                }
                (Some(_), None) | (None, Some(_)) => {
                    return Err("`compare_model` and `min_ratio` go together".into());
                }
                (None, None) => {}
            }
            if conds.is_empty() {
                return Err("`row_count` needs `min_value`, `max_value` or `compare_model` with `min_ratio`".into());
            }
            format!(
                "select n_records\nfrom (select count(*) as n_records from {model}) as counts\nwhere {}",
                conds.join(" or ")
            )
        }
        other => return Err(format!("`{other}` is not a built-in test")),
    })
}

/// dbt's readable test name: `<test>_<node>[_<column>]`, with the relationships target.
pub fn test_name(
    test: &str,
    node: &str,
    column: Option<&str>,
    args: &BTreeMap<String, J>,
) -> String {
    let mut name = format!("{test}_{node}");
    if let Some(c) = column {
        name.push('_');
        name.push_str(c);
    }
    if test == "relationships"
        && let (Some(J::String(to)), Some(J::String(field))) = (args.get("to"), args.get("field"))
    {
        let target = crate::project::properties::parse_depends_on(to)
            .map(|d| match d {
                crate::project::properties::DependsOn::Ref(n) => n,
                crate::project::properties::DependsOn::Source(s, t) => format!("{s}_{t}"),
            })
            .unwrap_or_default();
        name.push_str(&format!("__{field}__{target}"));
    }
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return name;
    }
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn relationships_with_where_alias_the_subquery_once() {
        let args = BTreeMap::from([("field".to_string(), json!("id"))]);
        let sql = builtin_sql(
            "relationships",
            "(select * from \"m\" where x) as strata_subquery",
            Some("\"p\""),
            &args,
            Some("\"parent\""),
            None,
        )
        .unwrap();
        assert!(
            sql.contains("from (select * from \"m\" where x) as child\n"),
            "{sql}"
        );
    }

    #[test]
    fn accepted_values_quotes_strings() {
        let args = BTreeMap::from([("values".to_string(), json!(["a", "b'c"]))]);
        let sql =
            builtin_sql("accepted_values", "\"m\"", Some("\"s\""), &args, None, None).unwrap();
        assert!(sql.contains("not in ('a', 'b''c')"), "{sql}");
    }

    #[test]
    fn names_are_readable() {
        let args = BTreeMap::from([
            ("to".to_string(), json!("ref('stg_partners')")),
            ("field".to_string(), json!("partner_id")),
        ]);
        assert_eq!(
            test_name("relationships", "stg_invoices", Some("partner_id"), &args),
            "relationships_stg_invoices_partner_id__partner_id__stg_partners"
        );
        assert_eq!(
            test_name("not_null", "m", Some("c"), &BTreeMap::new()),
            "not_null_m_c"
        );
        // Characters outside [A-Za-z0-9_] become one underscore each.
        assert_eq!(
            test_name("unique", "m", Some("Gr\u{fc}n w\"x\""), &BTreeMap::new()),
            "unique_m_Gr_n_w_x_"
        );
    }
}
