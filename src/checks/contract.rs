//! Data contracts: a model declares `contract: {schema: contracts/x.json, enforced: true}`, a
//! JSON Schema (draft 2020-12) describing one row. At compile time the schema is loaded and
//! checked, and the model's output columns are compared with its properties. At run time,
//! inside the model's transaction and before it commits, the built relation's columns (names,
//! types, nulls) are checked and every row is validated against the schema (formats
//! asserted); a breach rolls the transaction back, so the previous version stays. With the
//! manifest of an earlier run (`--state`), removing or retyping a column of a contract version
//! is reported as a breaking change.

use serde_json::Value as J;

use crate::adapter::engine::{TypeFamily, type_family};
use crate::adapter::{AdapterError, Connection, DbResult};
use crate::ir::ColumnMeta;
use crate::ir::Relation;
use crate::ir::contract::{ContractColumn, ContractInfo, validator};
use crate::ir::quote_ident;

/// How many breaches are listed before the rest are counted.
const MAX_LISTED: usize = 8;

/// The base name of a database type, lowercase, without parameters (`decimal(18,2)` → `decimal`).
fn base_type(t: &str) -> String {
    let t = t.trim().to_lowercase();
    let t = t.split('(').next().unwrap_or("").trim().to_string();
    t.trim_end_matches("[]").to_string()
}

fn is_integer_type(t: &str) -> bool {
    type_family(t) == Some(TypeFamily::Integer)
}

fn is_number_type(t: &str) -> bool {
    matches!(
        type_family(t),
        Some(TypeFamily::Integer | TypeFamily::Number)
    )
}

fn is_text_type(t: &str) -> bool {
    type_family(t) == Some(TypeFamily::Text) || t.starts_with("enum")
}

fn is_temporal_type(t: &str) -> bool {
    t == "date" || t == "interval" || t.starts_with("time")
}

/// Whether a database type can hold a property of these JSON types.
fn compatible(col: &ContractColumn, db_type: &str) -> bool {
    let t = base_type(db_type);
    let wanted: Vec<&str> = col
        .types
        .iter()
        .map(String::as_str)
        .filter(|t| *t != "null")
        .collect();
    if wanted.is_empty() {
        return true;
    }
    let scale_zero = db_type.replace(' ', "").ends_with(",0)");
    wanted.iter().any(|w| match *w {
        "integer" => {
            is_integer_type(&t) || (matches!(t.as_str(), "decimal" | "numeric") && scale_zero)
        }
        "number" => is_number_type(&t),
        "string" => is_text_type(&t) || is_temporal_type(&t),
        "boolean" => t == "boolean" || t == "bool",
        "object" | "array" => {
            matches!(t.as_str(), "json" | "jsonb" | "struct" | "map" | "list")
                || db_type.trim_end().ends_with("[]")
        }
        _ => false,
    })
}

/// A database value (as text) as JSON, by its column type.
fn to_json(value: Option<&str>, db_type: &str) -> J {
    let Some(v) = value else { return J::Null };
    let t = base_type(db_type);
    if is_integer_type(&t)
        && let Ok(n) = v.parse::<i64>()
    {
        return J::from(n);
    }
    if is_number_type(&t)
        && let Some(n) = v.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
    {
        return J::Number(n);
    }
    if t == "boolean" || t == "bool" {
        match v {
            "true" | "t" => return J::Bool(true),
            "false" | "f" => return J::Bool(false),
            _ => {}
        }
    }
    if matches!(t.as_str(), "json" | "jsonb")
        && let Ok(j) = serde_json::from_str(v)
    {
        return j;
    }
    J::String(v.to_string())
}

/// Checks the built relation against the contract; `Err` (permanent) lists the breaches.
pub fn enforce(
    conn: &mut dyn Connection,
    relation: &Relation,
    info: &ContractInfo,
) -> DbResult<()> {
    let columns = conn.columns(relation)?;
    let mut breaches: Vec<String> = Vec::new();
    let find = |name: &str| -> Option<&ColumnMeta> {
        columns.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    };
    for (name, col) in &info.columns {
        match find(name) {
            None if col.required => breaches.push(format!("column `{name}` is missing")),
            None => {}
            Some(c) if !compatible(col, &c.data_type) => breaches.push(format!(
                "column `{name}` is {} in the database; the contract says {}{}",
                c.data_type,
                col.types.join(" or "),
                col.format
                    .as_deref()
                    .map(|f| format!(" (format {f})"))
                    .unwrap_or_default()
            )),
            Some(_) => {}
        }
    }
    if info.closed {
        for c in &columns {
            if !info.columns.keys().any(|k| k.eq_ignore_ascii_case(&c.name)) {
                breaches.push(format!(
                    "column `{}` is not in the contract (additionalProperties: false)",
                    c.name
                ));
            }
        }
    }
    // Nulls in columns the contract requires and does not allow to be null.
    let not_null: Vec<&String> = info
        .columns
        .iter()
        .filter(|(n, c)| {
            c.required
                && !c.types.is_empty()
                && !c.types.iter().any(|t| t == "null")
                && find(n).is_some()
        })
        .map(|(n, _)| n)
        .collect();
    if !not_null.is_empty() {
        let counts = not_null
            .iter()
            .map(|n| {
                format!(
                    "sum(case when {} is null then 1 else 0 end)",
                    quote_ident(&find(n).unwrap().name)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let row = conn.query(&format!("select {counts} from {}", relation.quoted()))?;
        if let Some(row) = row.first() {
            for (n, v) in not_null.iter().zip(row) {
                let nulls: u64 = v.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
                if nulls > 0 {
                    breaches.push(format!(
                        "column `{n}` has {nulls} null value{} but the contract does not allow null",
                        if nulls == 1 { "" } else { "s" }
                    ));
                }
            }
        }
    }
    // Every row against the schema.
    if breaches.is_empty() {
        let v = validator(&info.document).map_err(AdapterError::permanent)?;
        let rows = conn.query(&format!("select * from {}", relation.quoted()))?;
        let mut bad_rows = 0usize;
        for (k, row) in rows.iter().enumerate() {
            let obj: serde_json::Map<String, J> = columns
                .iter()
                .zip(row)
                .map(|(c, val)| (c.name.clone(), to_json(val.as_deref(), &c.data_type)))
                .collect();
            let instance = J::Object(obj);
            let errors: Vec<String> = v
                .iter_errors(&instance)
                .map(|e| {
                    let path = e.instance_path().to_string();
                    let col = path.trim_start_matches('/');
                    if col.is_empty() {
                        e.to_string()
                    } else {
                        format!("`{col}`: {e}")
                    }
                })
                .collect();
            if !errors.is_empty() {
                bad_rows += 1;
                if breaches.len() < MAX_LISTED {
                    breaches.push(format!("row {}: {}", k + 1, errors.join("; ")));
                }
            }
        }
        if bad_rows > MAX_LISTED {
            breaches.push(format!("... {} rows break the schema in all", bad_rows));
        }
    }
    if breaches.is_empty() {
        return Ok(());
    }
    Err(AdapterError::permanent(format!(
        "contract `{}` breached by {}.{}; the previous version is kept:\n  - {}",
        info.schema,
        relation.schema,
        relation.identifier,
        breaches.join("\n  - ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn col(types: &[&str], required: bool) -> ContractColumn {
        ContractColumn::of_types(types, required)
    }

    #[test]
    fn types_map_to_database_types() {
        assert!(compatible(&col(&["integer"], true), "INTEGER"));
        assert!(compatible(&col(&["integer", "null"], true), "BIGINT"));
        assert!(compatible(&col(&["integer"], true), "DECIMAL(18,0)"));
        assert!(!compatible(&col(&["integer"], true), "DECIMAL(18,2)"));
        assert!(compatible(&col(&["number"], true), "DECIMAL(18,2)"));
        assert!(compatible(&col(&["number"], true), "double precision"));
        assert!(compatible(&col(&["string"], true), "character varying"));
        assert!(compatible(&col(&["string"], true), "DATE"));
        assert!(compatible(&col(&["string"], true), "TIMESTAMP"));
        assert!(!compatible(&col(&["string"], true), "INTEGER"));
        assert!(!compatible(&col(&["boolean"], true), "VARCHAR"));
        assert!(compatible(&col(&[], true), "BLOB"));
    }

    #[test]
    fn values_become_json_by_type() {
        assert_eq!(to_json(Some("12"), "INTEGER"), json!(12));
        assert_eq!(to_json(Some("12.50"), "DECIMAL(18,2)"), json!(12.5));
        assert_eq!(to_json(Some("true"), "BOOLEAN"), json!(true));
        assert_eq!(to_json(Some("2024-01-31"), "DATE"), json!("2024-01-31"));
        assert_eq!(to_json(None, "DATE"), J::Null);
    }
}
