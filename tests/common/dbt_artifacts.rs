//! Validation of strata's artifacts against dbt's published JSON Schemas (copied into
//! `tests/dbt-schemas/`): the whole `manifest.json` against manifest v12 and the whole
//! `run_results.json` against run results v6.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

/// dbt's manifest v12 schema, its validator, and one validator per node shape (for messages).
struct ManifestSchema {
    whole: jsonschema::Validator,
    /// `nodes` holds any of several shapes (`Model`, `Seed`, ...): by title.
    node_shapes: BTreeMap<String, jsonschema::Validator>,
}

fn schema_file(name: &str) -> Value {
    let path = super::root().join("tests/dbt-schemas").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn manifest_schema() -> &'static ManifestSchema {
    static SCHEMA: OnceLock<ManifestSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema = schema_file("manifest-v12.json");
        let node_shapes = schema["properties"]["nodes"]["additionalProperties"]["anyOf"]
            .as_array()
            .expect("nodes are any of several shapes")
            .iter()
            .map(|shape| {
                let title = shape["title"].as_str().unwrap().to_string();
                (title, jsonschema::validator_for(shape).unwrap())
            })
            .collect();
        ManifestSchema {
            whole: jsonschema::validator_for(&schema).expect("manifest v12 compiles"),
            node_shapes,
        }
    })
}

fn run_results_schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        jsonschema::validator_for(&schema_file("run-results-v6.json"))
            .expect("run results v6 compiles")
    })
}

/// The title of the shape a node of the manifest's `nodes` claims by its resource type.
fn node_shape(node: &Value) -> Option<&'static str> {
    Some(match node["resource_type"].as_str()? {
        "model" => "Model",
        "seed" => "Seed",
        "snapshot" => "Snapshot",
        "analysis" => "Analysis",
        "operation" => "HookNode",
        "sql_operation" => "SqlOperation",
        "function" => "Function",
        "test" if node.get("test_metadata").is_some() => "GenericTest",
        "test" => "SingularTest",
        _ => return None,
    })
}

/// Each error of `instance` against `validator`, as `path: message` (values masked: a node
/// would fill the screen).
fn errors(validator: &jsonschema::Validator, instance: &Value, prefix: &str) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{prefix}{}: {}", e.instance_path(), e.masked()))
        .collect()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Panics with every error of the manifest at `path` against dbt's manifest v12; a node that
/// matches none of the node shapes is checked against the shape its resource type names, so
/// that the message says which field is wrong.
pub fn assert_valid_manifest(path: &Path) {
    let doc = read_json(path);
    let schema = manifest_schema();
    let mut found = errors(&schema.whole, &doc, "");
    if !found.is_empty()
        && let Some(nodes) = doc["nodes"].as_object()
    {
        for (id, node) in nodes {
            let shape = node_shape(node).and_then(|t| schema.node_shapes.get(t));
            if let Some(v) = shape {
                found.extend(errors(v, node, &format!("/nodes/{id}")));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} is not a valid dbt manifest v12:\n{}",
        path.display(),
        found.join("\n")
    );
}

/// Panics with every error of the run results at `path` against dbt's run results v6.
pub fn assert_valid_run_results(path: &Path) {
    let doc = read_json(path);
    let found = errors(run_results_schema(), &doc, "");
    assert!(
        found.is_empty(),
        "{} is not valid dbt run results v6:\n{}",
        path.display(),
        found.join("\n")
    );
}

/// Validates the artifacts in `dir` (an artifacts directory: `.strata/` of a strata project)
/// against dbt's schemas: `manifest.json` (which must be there) against manifest v12 and,
/// when a run wrote one, `run_results.json` against run results v6. Returns whether there
/// was a `run_results.json`.
pub fn assert_valid_dbt_artifacts(dir: &Path) -> bool {
    assert_valid_manifest(&dir.join("manifest.json"));
    let run_results = dir.join("run_results.json");
    let ran = run_results.exists();
    if ran {
        assert_valid_run_results(&run_results);
    }
    ran
}

/// Panics with every error of the `sources.json` at `path` against dbt's sources v3.
pub fn assert_valid_sources(path: &Path) {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        jsonschema::validator_for(&schema_file("sources-v3.json")).expect("sources v3 compiles")
    });
    let doc = read_json(path);
    let found = errors(schema, &doc, "");
    assert!(
        found.is_empty(),
        "{} is not a valid dbt sources v3:\n{}",
        path.display(),
        found.join("\n")
    );
}

/// Panics with every error of a `catalog.json` document against dbt's catalog v1.
pub fn assert_valid_catalog(doc: &Value) {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        jsonschema::validator_for(&schema_file("catalog-v1.json")).expect("catalog v1 compiles")
    });
    let found = errors(schema, doc, "");
    assert!(
        found.is_empty(),
        "not a valid dbt catalog v1:\n{}",
        found.join("\n")
    );
}
