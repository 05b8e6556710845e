//! Rows as databases return them (each value text, or NULL), typed by their column's type
//! family and shown: JSON values, and aligned text tables (`strata show`, test failure
//! samples, `print_table()` in templates).

use serde_json::Value as J;

use crate::adapter::engine::{TypeFamily, type_family};
use crate::ir::ColumnMeta;

/// The longest value a text table shows before cutting it.
const CELL_WIDTH: usize = 40;

/// The family of a column's type as the database spells it (`DECIMAL(18,2)`, `int4`).
pub fn family(data_type: &str) -> Option<TypeFamily> {
    let base = data_type
        .split('(')
        .next()
        .unwrap_or("")
        .trim()
        .to_lowercase();
    type_family(&base)
}

/// A value as text: booleans as `true`/`false` on every engine, NULL as `null`.
pub fn shown(v: Option<&str>, family: Option<TypeFamily>) -> String {
    match (v, family) {
        (None, _) => "null".into(),
        (Some("t"), Some(TypeFamily::Boolean)) => "true".into(),
        (Some("f"), Some(TypeFamily::Boolean)) => "false".into(),
        (Some(v), _) => v.to_string(),
    }
}

/// A value as JSON: numbers and booleans typed by the column, the rest as strings.
pub fn json_value(v: Option<&str>, family: Option<TypeFamily>) -> J {
    let Some(v) = v else {
        return J::Null;
    };
    let typed = match family {
        Some(TypeFamily::Integer) => v.parse::<i64>().ok().map(J::from),
        Some(TypeFamily::Number) => v
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(J::Number),
        Some(TypeFamily::Boolean) => match v {
            "t" | "true" => Some(J::Bool(true)),
            "f" | "false" => Some(J::Bool(false)),
            _ => None,
        },
        _ => None,
    };
    typed.unwrap_or_else(|| J::String(v.to_string()))
}

/// Rows as aligned text, in the shape of a failing test's sample (`a | b`, `--+--`): numbers
/// right-aligned, long values cut.
pub fn table(
    columns: &[ColumnMeta],
    rows: &[Vec<Option<String>>],
    families: &[Option<TypeFamily>],
) -> String {
    let cut = |s: String| {
        if s.chars().count() > CELL_WIDTH {
            let mut t: String = s.chars().take(CELL_WIDTH - 1).collect();
            t.push('…');
            t
        } else {
            s
        }
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(families)
                .map(|(v, f)| cut(shown(v.as_deref(), *f)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(k, c)| {
            cells
                .iter()
                .map(|r| r.get(k).map_or(0, |v| v.chars().count()))
                .fold(c.name.chars().count(), usize::max)
        })
        .collect();
    let numeric = |k: usize| {
        matches!(
            families.get(k),
            Some(Some(TypeFamily::Integer | TypeFamily::Number))
        )
    };
    let line = |values: &[String], right: &dyn Fn(usize) -> bool| {
        let parts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let w = widths.get(k).copied().unwrap_or(0);
                if right(k) {
                    format!("{v:>w$}")
                } else {
                    format!("{v:<w$}")
                }
            })
            .collect();
        parts.join(" | ").trim_end().to_string()
    };
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let mut lines = vec![line(&names, &|_| false)];
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    lines.push(rule.join("-+-"));
    for row in &cells {
        lines.push(line(row, &numeric));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            data_type: ty.into(),
            nullable: true,
        }
    }

    #[test]
    fn a_table_aligns_numbers_right_and_shows_nulls() {
        let columns = vec![col("name", "VARCHAR"), col("amount", "DECIMAL(18,2)")];
        let families: Vec<_> = columns.iter().map(|c| family(&c.data_type)).collect();
        let rows = vec![
            vec![Some("alice".into()), Some("10.50".into())],
            vec![None, Some("7.00".into())],
        ];
        assert_eq!(
            table(&columns, &rows, &families),
            "name  | amount\n------+-------\nalice |  10.50\nnull  |   7.00"
        );
    }

    #[test]
    fn json_values_are_typed_by_their_column() {
        assert_eq!(json_value(Some("7"), family("int4")), J::from(7));
        assert_eq!(json_value(Some("t"), family("bool")), J::Bool(true));
        assert_eq!(json_value(Some("1.5"), family("numeric")), J::from(1.5));
        assert_eq!(json_value(Some("007"), family("text")), J::from("007"));
        assert_eq!(json_value(None, family("text")), J::Null);
    }
}
