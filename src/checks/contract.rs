//! Data contracts: a model declares `contract: {schema: contracts/x.json, enforced: true}`, a
//! JSON Schema (draft 2020-12) describing one row. At compile time the schema is loaded and
//! checked, and the model's output columns are compared with its properties. At run time,
//! inside the model's transaction and before it commits, the built relation's columns (names,
//! types, nulls) are checked and every row is validated against the schema (formats
//! asserted); a breach rolls the transaction back, so the previous version stays. With the
//! manifest of an earlier run (`--state`), removing or retyping a column of a contract version
//! is reported as a breaking change.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value as J;

use crate::adapter::{AdapterError, ColumnMeta, Connection, DbResult};
use crate::compiler::Relation;
use crate::sql::quote_ident;

/// How many breaches are listed before the rest are counted.
const MAX_LISTED: usize = 8;

/// One column (property) of a contract.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ContractColumn {
    /// JSON types allowed (`integer`, `number`, `string`, `boolean`, `null`, ...); empty: any.
    pub types: Vec<String>,
    /// `format`, when given (`date`, `date-time`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Listed under `required`.
    pub required: bool,
}

/// A model's contract as compiled.
#[derive(Clone, Debug, Serialize)]
pub struct ContractInfo {
    /// The schema file as written, relative to the project root: the contract's version.
    pub schema: String,
    /// Whether it is enforced at run time.
    pub enforced: bool,
    /// SHA-256 of the schema file.
    pub checksum: String,
    /// Properties of one row.
    pub columns: BTreeMap<String, ContractColumn>,
    /// `additionalProperties: false`: no other column may exist.
    pub closed: bool,
    /// The schema document.
    #[serde(skip)]
    pub document: Arc<J>,
}

/// Why a contract file cannot be used: the message and, when known, the 1-based line and
/// column in the file.
#[derive(Clone, Debug)]
pub struct LoadError {
    /// What is wrong.
    pub message: String,
    /// Line and column in the schema file.
    pub at: Option<(usize, usize)>,
}

fn json_types(v: &J) -> Vec<String> {
    match v.get("type") {
        Some(J::String(t)) => vec![t.clone()],
        Some(J::Array(a)) => a
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads and checks a contract file: valid JSON, a valid draft 2020-12 schema that compiles
/// (formats asserted), and an object with `properties`.
pub fn load(root: &Path, schema: &str, enforced: bool) -> Result<ContractInfo, LoadError> {
    let plain = |m: String| LoadError {
        message: m,
        at: None,
    };
    let path = root.join(schema);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| plain(format!("cannot read contract `{schema}`: {e}")))?;
    let document: J = serde_json::from_str(&text).map_err(|e| LoadError {
        message: format!("contract `{schema}` is not valid JSON: {e}"),
        at: Some((e.line(), e.column())),
    })?;
    if let Err(e) = jsonschema::draft202012::meta::validate(&document) {
        return Err(LoadError {
            message: format!(
                "contract `{schema}` is not a valid JSON Schema (draft 2020-12) at `{}`: {e}",
                e.instance_path()
            ),
            at: None,
        });
    }
    validator(&document)
        .map_err(|e| plain(format!("contract `{schema}` cannot be compiled: {e}")))?;
    let Some(J::Object(props)) = document.get("properties") else {
        return Err(plain(format!(
            "contract `{schema}` must describe one row: an object schema with `properties`"
        )));
    };
    let required: Vec<&str> = document
        .get("required")
        .and_then(J::as_array)
        .map(|a| a.iter().filter_map(J::as_str).collect())
        .unwrap_or_default();
    let columns = props
        .iter()
        .map(|(name, p)| {
            (
                name.clone(),
                ContractColumn {
                    types: json_types(p),
                    format: p.get("format").and_then(J::as_str).map(str::to_string),
                    required: required.contains(&name.as_str()),
                },
            )
        })
        .collect();
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut hasher, text.as_bytes());
    Ok(ContractInfo {
        schema: schema.to_string(),
        enforced,
        checksum: hex::encode(sha2::Digest::finalize(hasher)),
        columns,
        closed: document.get("additionalProperties") == Some(&J::Bool(false)),
        document: Arc::new(document),
    })
}

fn validator(document: &J) -> Result<jsonschema::Validator, String> {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(document)
        .map_err(|e| e.to_string())
}

/// The line (1-based) where a property is declared in the schema text, for messages.
pub fn property_line(text: &str, name: &str) -> Option<usize> {
    let needle = format!("\"{name}\"");
    text.lines()
        .position(|l| l.contains(&needle))
        .map(|n| n + 1)
}

/// Compile-time check of a model's output columns (`None` when they are not all known, e.g.
/// an unexpanded `*`). Returns the problems, one per column.
pub fn check_columns(info: &ContractInfo, output: &[String]) -> Vec<(String, String)> {
    let has = |c: &str| output.iter().any(|o| o.eq_ignore_ascii_case(c));
    let mut problems = Vec::new();
    for (name, col) in &info.columns {
        if col.required && !has(name) {
            problems.push((
                name.clone(),
                format!(
                    "column `{name}`, required by contract `{}`, is not in the model's output",
                    info.schema
                ),
            ));
        }
    }
    if info.closed {
        for o in output {
            if !info.columns.keys().any(|k| k.eq_ignore_ascii_case(o)) {
                problems.push((
                    o.clone(),
                    format!(
                        "column `{o}` is not in contract `{}`, which allows no other columns (additionalProperties: false)",
                        info.schema
                    ),
                ));
            }
        }
    }
    problems
}

/// The base name of a database type, lowercase, without parameters (`decimal(18,2)` → `decimal`).
fn base_type(t: &str) -> String {
    let t = t.trim().to_lowercase();
    let t = t.split('(').next().unwrap_or("").trim().to_string();
    t.trim_end_matches("[]").to_string()
}

fn is_integer_type(t: &str) -> bool {
    matches!(
        t,
        "tinyint"
            | "smallint"
            | "integer"
            | "int"
            | "bigint"
            | "hugeint"
            | "utinyint"
            | "usmallint"
            | "uinteger"
            | "ubigint"
            | "uhugeint"
            | "int1"
            | "int2"
            | "int4"
            | "int8"
            | "serial"
            | "bigserial"
            | "smallserial"
    )
}

fn is_number_type(t: &str) -> bool {
    is_integer_type(t)
        || matches!(
            t,
            "decimal"
                | "numeric"
                | "double"
                | "double precision"
                | "float"
                | "float4"
                | "float8"
                | "real"
        )
}

fn is_text_type(t: &str) -> bool {
    matches!(
        t,
        "varchar"
            | "text"
            | "char"
            | "character"
            | "character varying"
            | "bpchar"
            | "string"
            | "uuid"
            | "name"
    ) || t.starts_with("enum")
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

/// A breaking change found against the manifest of an earlier run.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakingChange {
    /// The model's unique id.
    pub unique_id: String,
    /// The contract version (schema file).
    pub schema: String,
    /// What changed.
    pub message: String,
}

/// Compares the contracts of `current` (unique id → contract) with those recorded in an earlier
/// manifest: for a model that keeps the same contract version (schema file), a column removed
/// (or renamed) or retyped, or a required column made optional, is a breaking change. Moving a
/// model to a new schema file is a new version and allowed.
pub fn breaking_changes(
    previous_manifest: &J,
    current: &BTreeMap<String, &ContractInfo>,
) -> Vec<BreakingChange> {
    let mut out = Vec::new();
    let Some(J::Object(nodes)) = previous_manifest.get("nodes") else {
        return out;
    };
    for (id, node) in nodes {
        let Some(prev) = node.get("contract").filter(|c| !c.is_null()) else {
            continue;
        };
        let Some(schema) = prev.get("schema").and_then(J::as_str) else {
            continue;
        };
        let Some(now) = current.get(id.as_str()) else {
            continue;
        };
        if now.schema != schema {
            continue;
        }
        let prev_cols: BTreeMap<String, ContractColumn> = prev
            .get("columns")
            .cloned()
            .and_then(|c| serde_json::from_value(c).ok())
            .unwrap_or_default();
        for (name, pc) in &prev_cols {
            let change = match now.columns.get(name) {
                None => Some(format!("column `{name}` was removed or renamed")),
                Some(nc) if nc.types != pc.types || nc.format != pc.format => Some(format!(
                    "column `{name}` changed type from {} to {}",
                    describe(pc),
                    describe(nc)
                )),
                Some(nc) if pc.required && !nc.required => {
                    Some(format!("column `{name}` is no longer required"))
                }
                _ => None,
            };
            if let Some(message) = change {
                out.push(BreakingChange {
                    unique_id: id.clone(),
                    schema: schema.to_string(),
                    message,
                });
            }
        }
    }
    out
}

fn describe(c: &ContractColumn) -> String {
    let mut s = if c.types.is_empty() {
        "any".to_string()
    } else {
        c.types.join(" or ")
    };
    if let Some(f) = &c.format {
        s.push_str(&format!(" (format {f})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn col(types: &[&str], required: bool) -> ContractColumn {
        ContractColumn {
            types: types.iter().map(|t| t.to_string()).collect(),
            format: None,
            required,
        }
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

    #[test]
    fn output_columns_against_the_contract() {
        let info = ContractInfo {
            schema: "contracts/c.json".into(),
            enforced: true,
            checksum: String::new(),
            columns: BTreeMap::from([
                ("a".to_string(), col(&["integer"], true)),
                ("b".to_string(), col(&["string"], false)),
            ]),
            closed: true,
            document: Arc::new(json!({})),
        };
        assert!(check_columns(&info, &["A".into(), "b".into()]).is_empty());
        let p = check_columns(&info, &["b".into(), "c".into()]);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].0, "a");
        assert_eq!(p[1].0, "c");
    }

    #[test]
    fn breaking_changes_need_a_new_version() {
        let prev = json!({"nodes": {"model.p.m": {"contract": {"schema": "contracts/c.v1.json",
            "columns": {"a": {"types": ["integer"], "required": true},
                        "b": {"types": ["string"], "required": true}}}}}});
        let mut now = ContractInfo {
            schema: "contracts/c.v1.json".into(),
            enforced: true,
            checksum: String::new(),
            columns: BTreeMap::from([
                ("a".to_string(), col(&["number"], true)),
                ("c".to_string(), col(&["string"], true)),
            ]),
            closed: false,
            document: Arc::new(json!({})),
        };
        let current = BTreeMap::from([("model.p.m".to_string(), &now)]);
        let found = breaking_changes(&prev, &current);
        let messages: Vec<&str> = found.iter().map(|b| b.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "column `a` changed type from integer to number",
                "column `b` was removed or renamed"
            ]
        );
        now.schema = "contracts/c.v2.json".into();
        let current = BTreeMap::from([("model.p.m".to_string(), &now)]);
        assert!(breaking_changes(&prev, &current).is_empty());
    }
}
