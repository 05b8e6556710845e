//! Unit tests (`unit_tests:` in properties YAML): a model's query run on given rows for each of
//! its inputs, compared with expected rows. Nothing upstream needs to be built: each input is
//! replaced by a CTE of the given rows. When the input relation exists, the given values are
//! cast to its column types (and its other columns are null), as dbt does; otherwise literals
//! keep their own types. Expected values are cast to the types of the model's output, and the
//! comparison is a multiset difference both ways, printed as a row diff.

use serde::Serialize;
use serde_json::Value as J;

use super::Verdict;
use super::data::{TestRun, format_rows};
use crate::adapter::{ColumnMeta, Connection, DbResult};
use crate::compiler::Relation;
use crate::sql::quote_ident;

/// Rows written in a unit test: column names and one value per column.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Rows {
    /// Column names, in first-seen order.
    pub columns: Vec<String>,
    /// Values (null when a row leaves a column out).
    pub rows: Vec<Vec<J>>,
    /// Values came from CSV text: without a known type, numbers are recognised.
    #[serde(skip)]
    pub from_csv: bool,
}

impl Rows {
    /// Rows from YAML mappings (`- {id: 1, name: a}`), columns in first-written order.
    pub fn from_maps(maps: &[Vec<(String, J)>]) -> Rows {
        let mut columns: Vec<String> = Vec::new();
        for m in maps {
            for (k, _) in m {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
        let rows = maps
            .iter()
            .map(|m| {
                columns
                    .iter()
                    .map(|c| {
                        m.iter()
                            .find(|(k, _)| k == c)
                            .map(|(_, v)| v.clone())
                            .unwrap_or(J::Null)
                    })
                    .collect()
            })
            .collect();
        Rows {
            columns,
            rows,
            from_csv: false,
        }
    }

    /// Rows from CSV text with a header line; an empty field is null.
    pub fn from_csv(text: &str) -> Result<Rows, String> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| e.to_string())?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        for (k, rec) in reader.records().enumerate() {
            let rec = rec.map_err(|e| format!("CSV row {}: {e}", k + 1))?;
            if rec.len() != columns.len() {
                return Err(format!(
                    "CSV row {} has {} values for {} columns",
                    k + 1,
                    rec.len(),
                    columns.len()
                ));
            }
            rows.push(
                rec.iter()
                    .map(|v| {
                        if v.is_empty() {
                            J::Null
                        } else {
                            J::String(v.to_string())
                        }
                    })
                    .collect(),
            );
        }
        Ok(Rows {
            columns,
            rows,
            from_csv: true,
        })
    }
}

/// One input of the model and the rows it is given.
#[derive(Clone, Debug, Serialize)]
pub struct Given {
    /// As written: `ref('stg_x')`, `source('erp', 'invoices')`, `this`.
    pub input: String,
    /// The CTE that replaces the input in the model's query.
    pub cte: String,
    /// The input's relation, whose column types are used when it exists.
    pub relation: Option<Relation>,
    /// The given rows.
    pub rows: Rows,
}

/// A compiled unit test.
#[derive(Clone, Debug, Serialize)]
pub struct UnitSpec {
    /// The tested model's name.
    pub model: String,
    /// The model's query with each input replaced by its CTE.
    pub model_sql: String,
    /// Inputs.
    pub given: Vec<Given>,
    /// Expected output rows (only the columns listed are compared).
    pub expect: Rows,
}

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

fn with_inputs(spec: &UnitSpec, input_types: &[Vec<ColumnMeta>]) -> String {
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

/// Runs a unit test.
pub fn run(conn: &mut dyn Connection, spec: &UnitSpec) -> DbResult<TestRun> {
    let mut input_types = Vec::with_capacity(spec.given.len());
    for g in &spec.given {
        let types = match &g.relation {
            Some(r) if conn.relation_kind(r)?.is_some() => conn.columns(r)?,
            _ => Vec::new(),
        };
        if types.is_empty() && g.rows.columns.is_empty() {
            return Ok(fail(format!(
                "the rows given for {} are empty and its relation does not exist: give at least the column names (format: csv with a header)",
                g.input
            )));
        }
        input_types.push(types);
    }
    let output = conn.describe(&format!(
        "{}\nselect * from __strata_actual",
        with_inputs(spec, &input_types)
    ))?;
    let missing: Vec<&String> = spec
        .expect
        .columns
        .iter()
        .filter(|c| !output.iter().any(|o| o.name.eq_ignore_ascii_case(c)))
        .collect();
    if !missing.is_empty() {
        return Ok(fail(format!(
            "expected column{} {} not in the output of `{}` (its columns: {})",
            if missing.len() > 1 { "s" } else { "" },
            missing
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            spec.model,
            output
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut rows = conn.query(&diff_sql(spec, &input_types, &output))?;
    if rows.is_empty() {
        return Ok(TestRun {
            verdict: Verdict::Pass,
            failures: 0,
            message: "passed".into(),
            sample: Vec::new(),
        });
    }
    // Stable order: by the row's values, then missing before unexpected.
    rows.sort_by(|a, b| a[1..].cmp(&b[1..]).then_with(|| a[0].cmp(&b[0])));
    let mut header = vec!["diff".to_string()];
    header.extend(spec.expect.columns.iter().cloned());
    let missing = rows.iter().filter(|r| r[0].as_deref() == Some("-")).count();
    let extra = rows.len() - missing;
    let mut sample = vec![format!(
        "- expected but missing: {missing}, + produced but not expected: {extra}"
    )];
    sample.extend(format_rows(&header, &rows));
    Ok(TestRun {
        verdict: Verdict::Fail,
        failures: rows.len() as u64,
        message: format!(
            "the output of `{}` differs from the expected rows",
            spec.model
        ),
        sample,
    })
}

fn fail(message: String) -> TestRun {
    TestRun {
        verdict: Verdict::Fail,
        failures: 1,
        message,
        sample: Vec::new(),
    }
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
