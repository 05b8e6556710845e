//! The SQL of a unit test: each input of the model replaced by a CTE of the given rows, and the
//! comparison of the model's output with the expected rows (a multiset difference both ways).
//! When the input relation's column types are known, the given values are cast to them.

use serde_json::Value as J;

use crate::ir::unit::{Rows, UnitSpec};
use crate::ir::{ColumnMeta, quote_ident};

fn literal(v: &J, ty: Option<&str>, from_csv: bool) -> String {
    let text = match v {
        J::Null => return ty.map_or("null".into(), |t| format!("cast(null as {t})")),
        J::Bool(b) => b.to_string(),
        J::Number(n) => n.to_string(),
        J::String(s) => {
            if ty.is_none() && from_csv && looks_numeric(s) {
                return s.clone();
            }
            format!("'{}'", s.replace('\'', "''"))
        }
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    };
    match (ty, v) {
        (Some(t), J::String(_)) => format!("cast({text} as {t})"),
        (Some(t), _) => format!("cast('{text}' as {t})"),
        (None, _) => text,
    }
}

/// A plain decimal number as CSV writes it (`12`, `-3.5`), not `007`, `inf` or `1e5`.
fn looks_numeric(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || !int.starts_with('0'))
}

/// A `select` producing `rows`, typed by `types` when known. With known types, every column
/// of `types` is produced (null where not given) so that `select *` in the model works.
fn rows_select(rows: &Rows, types: &[ColumnMeta]) -> String {
    let type_of = |c: &str| {
        types
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(c))
            .map(|t| t.data_type.as_str())
    };
    let mut columns: Vec<(String, Option<usize>)> = Vec::new();
    for t in types {
        let given = rows
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(&t.name));
        columns.push((t.name.clone(), given));
    }
    for (k, c) in rows.columns.iter().enumerate() {
        if !columns.iter().any(|(n, _)| n.eq_ignore_ascii_case(c)) {
            columns.push((c.clone(), Some(k)));
        }
    }
    let select_row = |row: Option<&Vec<J>>| -> String {
        let items: Vec<String> = columns
            .iter()
            .map(|(name, k)| {
                let v = match (row, k) {
                    (Some(r), Some(k)) => r.get(*k).cloned().unwrap_or(J::Null),
                    _ => J::Null,
                };
                format!(
                    "{} as {}",
                    literal(&v, type_of(name), rows.from_csv),
                    quote_ident(name)
                )
            })
            .collect();
        format!("select {}", items.join(", "))
    };
    if rows.rows.is_empty() {
        return format!("{} where 1 = 0", select_row(None));
    }
    rows.rows
        .iter()
        .map(|r| select_row(Some(r)))
        .collect::<Vec<_>>()
        .join("\nunion all\n")
}

pub fn with_inputs(spec: &UnitSpec, input_types: &[Vec<ColumnMeta>]) -> String {
    let mut ctes: Vec<String> = spec
        .given
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let types = input_types.get(k).map(Vec::as_slice).unwrap_or(&[]);
            format!("{} as (\n{}\n)", g.cte, rows_select(&g.rows, types))
        })
        .collect();
    ctes.push(format!(
        "__strata_actual as (\n{}\n)",
        spec.model_sql.trim().trim_end_matches(';')
    ));
    format!("with {}", ctes.join(",\n"))
}

/// The comparison query: rows expected but missing (`-`) and rows produced but not expected
/// (`+`), on the expected columns.
pub fn diff_sql(
    spec: &UnitSpec,
    input_types: &[Vec<ColumnMeta>],
    output_types: &[ColumnMeta],
) -> String {
    let cols: Vec<String> = spec.expect.columns.iter().map(|c| quote_ident(c)).collect();
    let list = cols.join(", ");
    let expected_types: Vec<ColumnMeta> = spec
        .expect
        .columns
        .iter()
        .filter_map(|c| {
            output_types
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(c))
                .cloned()
        })
        .collect();
    let mut expect = spec.expect.clone();
    // Only the expected columns are produced: types of other output columns are not wanted.
    let expected = if expected_types.len() == expect.columns.len() {
        expect.columns = expected_types.iter().map(|t| t.name.clone()).collect();
        rows_select(&expect, &expected_types)
    } else {
        rows_select(&expect, &[])
    };
    format!(
        "{},\n__strata_expected as (\n{expected}\n)\nselect '-' as diff, * from (select {list} from __strata_expected except all select {list} from __strata_actual) as missing\nunion all\nselect '+' as diff, * from (select {list} from __strata_actual except all select {list} from __strata_expected) as unexpected",
        with_inputs(spec, input_types)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(name: &str, ty: &str) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            data_type: ty.into(),
            nullable: true,
        }
    }

    #[test]
    fn given_rows_take_the_input_types() {
        let rows = Rows::from_maps(&[vec![
            ("id".to_string(), json!(1)),
            ("d".to_string(), json!("2024-01-31")),
        ]]);
        let sql = rows_select(
            &rows,
            &[
                meta("id", "INTEGER"),
                meta("d", "DATE"),
                meta("x", "VARCHAR"),
            ],
        );
        assert_eq!(
            sql,
            "select cast('1' as INTEGER) as \"id\", cast('2024-01-31' as DATE) as \"d\", cast(null as VARCHAR) as \"x\""
        );
    }

    #[test]
    fn csv_rows_infer_numbers_without_types() {
        let rows = Rows::from_csv("id,name,code\n1,a'b,007\n2,,x\n").unwrap();
        let sql = rows_select(&rows, &[]);
        assert_eq!(
            sql,
            "select 1 as \"id\", 'a''b' as \"name\", '007' as \"code\"\nunion all\nselect 2 as \"id\", null as \"name\", 'x' as \"code\""
        );
        assert!(Rows::from_csv("a,b\n1\n").is_err());
    }

    #[test]
    fn empty_rows_keep_the_columns() {
        let rows = Rows::from_csv("id\n").unwrap();
        assert_eq!(rows_select(&rows, &[]), "select null as \"id\" where 1 = 0");
    }
}
