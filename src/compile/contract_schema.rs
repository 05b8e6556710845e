//! Data contracts at compile time: a contract's JSON Schema file read and checked, a model's
//! output columns compared with it, and breaking changes found against an earlier manifest.
//! Enforcing a contract on built rows is `checks::contract`'s.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value as J;

use crate::ir::contract::{ContractColumn, ContractInfo, validator};

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
/// manifest (each model's `config.strata.contract`): for a model that keeps the same contract version (schema file), a column removed
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
        // Under `config.strata` in dbt-shaped manifests; at the node's top level in those of
        // older versions.
        let recorded = [
            node.pointer("/config/strata/contract"),
            node.get("contract"),
        ];
        let Some((prev, schema)) = recorded.into_iter().flatten().find_map(|c| {
            let schema = c.get("schema")?.as_str()?;
            Some((c, schema))
        }) else {
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
        ContractColumn::of_types(types, required)
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
        let recorded = json!({"schema": "contracts/c.v1.json",
            "columns": {"a": {"types": ["integer"], "required": true},
                        "b": {"types": ["string"], "required": true}}});
        // Where the manifest keeps a model's contract, and where older versions kept it (a
        // node's dbt `contract` has no schema: it is passed over).
        let manifests = [
            json!({"nodes": {"model.p.m": {"contract": {"enforced": true, "alias_types": true},
                "config": {"strata": {"contract": recorded}}}}}),
            json!({"nodes": {"model.p.m": {"contract": recorded}}}),
        ];
        for prev in &manifests {
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
            let found = breaking_changes(prev, &current);
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
            assert!(breaking_changes(prev, &current).is_empty());
        }
    }
}
