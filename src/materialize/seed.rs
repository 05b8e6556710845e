//! Seeds: a CSV file read and checked in Rust (ragged rows, values that do not fit a declared
//! type are reported at their line), loaded as text into a staging table, cast into a new table
//! and swapped in, so the previous seed table survives any failure.

use std::path::Path;

use super::{Outcome, in_transaction, run_hooks, swap_in, temp_relation};
use crate::adapter::engine::{TypeFamily, type_family};
use crate::adapter::{AdapterError, Connection, DbResult};
use crate::ir::quote_ident;
use crate::ir::{CompiledNode, Relation};

/// A parsed seed file.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedData {
    /// Column names from the header.
    pub columns: Vec<String>,
    /// Column types: declared in `column_types`, else inferred from the values.
    pub types: Vec<String>,
    /// Rows as text, empty fields as NULL.
    pub rows: Vec<Vec<Option<String>>>,
}

/// A problem in a seed file, with the 1-based line it is on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct SeedError {
    /// The file, relative to the project.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// The family of a SQL type, for checking values before the database sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Integer,
    Number,
    Date,
    Timestamp,
    Boolean,
    Text,
    Other,
}

fn family(ty: &str) -> Family {
    let t = ty.trim().to_lowercase();
    let base = t.split(['(', ' ']).next().unwrap_or("");
    match type_family(base) {
        Some(TypeFamily::Integer) => Family::Integer,
        Some(TypeFamily::Number) => Family::Number,
        Some(TypeFamily::Date) => Family::Date,
        Some(TypeFamily::Timestamp) => Family::Timestamp,
        Some(TypeFamily::Boolean) => Family::Boolean,
        Some(TypeFamily::Text) => Family::Text,
        Some(TypeFamily::Json) | None => Family::Other,
    }
}

fn is_date(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (
        v[0..4].parse::<u32>(),
        v[5..7].parse::<u32>(),
        v[8..10].parse::<u32>(),
    ) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn is_timestamp(v: &str) -> bool {
    if v.len() < 16 || !is_date(&v[..10]) {
        return false;
    }
    let sep = v.as_bytes()[10];
    if sep != b' ' && sep != b'T' {
        return false;
    }
    let time = &v[11..];
    let hms: Vec<&str> = time
        .trim_end_matches('Z')
        .split(['+'])
        .next()
        .unwrap_or("")
        .split(':')
        .collect();
    if hms.len() < 2 {
        return false;
    }
    let h = hms[0].parse::<u32>().ok().filter(|h| *h < 24);
    let m = hms[1].parse::<u32>().ok().filter(|m| *m < 60);
    let s_ok = hms
        .get(2)
        .is_none_or(|s| s.parse::<f64>().is_ok_and(|s| s < 61.0));
    h.is_some() && m.is_some() && s_ok
}

fn is_bool(v: &str) -> bool {
    matches!(
        v.to_lowercase().as_str(),
        "true" | "false" | "t" | "f" | "yes" | "no" | "1" | "0"
    )
}

fn fits(f: Family, v: &str) -> bool {
    match f {
        Family::Integer => v.parse::<i128>().is_ok(),
        Family::Number => v.parse::<f64>().is_ok_and(f64::is_finite),
        Family::Date => is_date(v),
        Family::Timestamp => is_timestamp(v) || is_date(v),
        Family::Boolean => is_bool(v),
        Family::Text | Family::Other => true,
    }
}

fn infer(values: impl Iterator<Item = Option<String>> + Clone) -> &'static str {
    let present: Vec<String> = values.flatten().collect();
    if present.is_empty() {
        return "varchar";
    }
    let all = |f: Family| present.iter().all(|v| fits(f, v));
    if all(Family::Integer) && present.iter().all(|v| v.parse::<i64>().is_ok()) {
        "bigint"
    } else if all(Family::Number) {
        // Spelt so that both DuckDB and Postgres accept it.
        "double precision"
    } else if all(Family::Date) {
        "date"
    } else if present.iter().all(|v| is_timestamp(v)) {
        "timestamp"
    } else if present
        .iter()
        .all(|v| matches!(v.to_lowercase().as_str(), "true" | "false"))
    {
        "boolean"
    } else {
        "varchar"
    }
}

/// Reads and checks a seed file. `column_types` are the declared types by column name.
pub fn read(
    root: &Path,
    file: &Path,
    column_types: &std::collections::BTreeMap<String, String>,
) -> Result<SeedData, SeedError> {
    let shown = crate::diagnostics::display_path(file);
    let err = |line: u64, message: String| SeedError {
        file: shown.clone(),
        line,
        message,
    };
    let bytes =
        std::fs::read(root.join(file)).map_err(|e| err(1, format!("cannot read the file: {e}")))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes.as_slice());
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| err(1, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    for col in column_types.keys() {
        if !columns.iter().any(|c| c == col) {
            return Err(err(
                1,
                format!(
                    "column_types names `{col}`, which is not a column of this file (columns: {})",
                    columns.join(", ")
                ),
            ));
        }
    }
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            let message = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => {
                    format!("this row has {len} fields, the header has {expected_len}")
                }
                _ => e.to_string(),
            };
            err(line, message)
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        rows.push(
            record
                .iter()
                .map(|v| {
                    if v.is_empty() {
                        None
                    } else {
                        Some(v.to_string())
                    }
                })
                .collect::<Vec<_>>(),
        );
        lines.push(line);
    }
    let mut types = Vec::with_capacity(columns.len());
    for (i, col) in columns.iter().enumerate() {
        let ty = match column_types.get(col) {
            Some(t) => {
                let f = family(t);
                for (row, line) in rows.iter().zip(&lines) {
                    if let Some(v) = &row[i]
                        && !fits(f, v)
                    {
                        return Err(err(
                            *line,
                            format!("value `{v}` in column `{col}` is not a valid {t}"),
                        ));
                    }
                }
                t.clone()
            }
            None => infer(rows.iter().map(|r| r[i].clone())).to_string(),
        };
        types.push(ty);
    }
    Ok(SeedData {
        columns,
        types,
        rows,
    })
}

/// Loads a seed into its relation, replacing the previous table in one transaction.
pub fn load(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    data: &SeedData,
    caps: crate::adapter::Capabilities,
) -> DbResult<Outcome> {
    let relation = node
        .relation
        .as_ref()
        .ok_or_else(|| AdapterError::permanent(format!("seed `{}` has no relation", node.name)))?;
    in_transaction(conn, |c| {
        let out = load_in_transaction(c, node, relation, data, caps.kind)?;
        super::apply_grants(c, node, relation, caps)?;
        Ok(out)
    })
}

fn load_in_transaction(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    relation: &Relation,
    data: &SeedData,
    kind: crate::ir::AdapterKind,
) -> DbResult<Outcome> {
    run_hooks(conn, &node.pre_hooks)?;
    // Declared types are the user's spelling; the engine spells the types strata chose.
    let spell = crate::adapter::engine::engine(kind).type_for;
    let stage = temp_relation(relation, "stage");
    let tmp = temp_relation(relation, "new");
    conn.execute(&format!("drop table if exists {}", stage.quoted()))?;
    conn.execute(&format!("drop table if exists {}", tmp.quoted()))?;
    let text_cols: Vec<String> = data
        .columns
        .iter()
        .map(|c| format!("{} {}", quote_ident(c), spell(TypeFamily::Text)))
        .collect();
    conn.execute(&format!(
        "create table {} ({})",
        stage.quoted(),
        text_cols.join(", ")
    ))?;
    conn.load_text_rows(&stage, &data.columns, &data.rows)?;
    let casts: Vec<String> = data
        .columns
        .iter()
        .zip(&data.types)
        .map(|(c, t)| {
            let t = match type_family(t) {
                Some(f) if !node.config.column_types.contains_key(c) => spell(f),
                _ => t.as_str(),
            };
            format!("cast({q} as {t}) as {q}", q = quote_ident(c))
        })
        .collect();
    let select = format!(
        "create table {} as select {} from {}",
        tmp.quoted(),
        casts.join(", "),
        stage.quoted()
    );
    // Declared `column_types` in the engine's words (`varchar` is `string` on Spark).
    let spellings = crate::adapter::engine::engine(kind).type_spellings;
    conn.execute(&crate::adapter::respell::respell_types(&select, spellings))?;
    conn.execute(&format!("drop table {}", stage.quoted()))?;
    swap_in(conn, &tmp, relation, crate::adapter::RelationKind::Table)?;
    run_hooks(conn, &node.post_hooks)?;
    Ok(Outcome {
        rows: Some(data.rows.len() as u64),
        message: format!("loaded seed {}.{}", relation.schema, relation.identifier),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn types_are_inferred() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "s.csv",
            "a,b,c,d,e\n1,1.5,2024-01-31,x,true\n2,,2024-02-29,,false\n",
        );
        let s = read(d.path(), Path::new("s.csv"), &BTreeMap::new()).unwrap();
        assert_eq!(
            s.types,
            vec!["bigint", "double precision", "date", "varchar", "boolean"]
        );
        assert_eq!(s.rows[1][1], None);
    }

    #[test]
    fn ragged_row_names_its_line() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "s.csv", "a,b\n1,2\n3\n");
        let e = read(d.path(), Path::new("s.csv"), &BTreeMap::new()).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("1 fields"), "{}", e.message);
    }

    #[test]
    fn bad_value_for_declared_type_names_its_line() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "s.csv", "a,b\n1,2024-01-01\n2,2024-02-30\n");
        let types = BTreeMap::from([("b".to_string(), "date".to_string())]);
        let e = read(d.path(), Path::new("s.csv"), &types).unwrap_err();
        assert_eq!(
            e.to_string(),
            "s.csv:3: value `2024-02-30` in column `b` is not a valid date"
        );
    }
}
