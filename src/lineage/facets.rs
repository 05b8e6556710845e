//! What a node's events say: its job facets, the datasets it reads and writes with their
//! facets, and its column lineage, all from the compiled node (never from the database, never
//! from the target's connection string).

use std::collections::BTreeMap;
use std::path::Path;

use crate::ir::lineage::NodeLineage;
use crate::ir::{CompiledNode, Materialized, Relation, ResourceType};

use super::event::*;

/// Where datasets live and how they are named: the namespace and database of the target, and
/// the SQL dialect of its queries.
#[derive(Clone, Debug)]
pub struct Naming {
    /// `duckdb:///abs/file.duckdb`, `postgres://host:port`.
    pub namespace: String,
    /// The database prefix of dataset names.
    pub database: String,
    /// `duckdb`, `postgres`.
    pub dialect: String,
}

impl Naming {
    /// `database.schema.table`.
    pub fn dataset_name(&self, r: &Relation) -> String {
        format!("{}.{}.{}", self.database, r.schema, r.identifier)
    }

    /// A dataset with no facets.
    pub fn bare(&self, r: &Relation) -> Dataset {
        Dataset {
            namespace: self.namespace.clone(),
            name: self.dataset_name(r),
            facets: DatasetFacets::default(),
        }
    }

    fn data_source(&self) -> Facet<DatasourceDatasetFacet> {
        Facet::new(DatasourceDatasetFacet {
            name: self.namespace.clone(),
            uri: self.namespace.clone(),
        })
    }
}

/// The node's dataset (its relation) with schema, data source, documentation and ownership;
/// `None` for nodes that build or read no relation (tests, ephemeral models).
pub fn dataset(n: &CompiledNode, naming: &Naming) -> Option<Dataset> {
    if matches!(n.resource_type, ResourceType::Test | ResourceType::Exposure)
        || n.materialized() == Materialized::Ephemeral
    {
        return None;
    }
    let r = n.relation.as_ref()?;
    let mut d = naming.bare(r);
    d.facets.data_source = Some(naming.data_source());
    if !n.columns.is_empty() {
        let fields = n
            .columns
            .iter()
            .enumerate()
            .map(|(k, c)| SchemaField {
                name: c.name.clone(),
                // A seed's `column_types` name the types its table gets.
                data_type: c
                    .data_type
                    .clone()
                    .or_else(|| n.config.column_types.get(&c.name).cloned()),
                description: c.description.clone().filter(|s| !s.is_empty()),
                ordinal_position: k as u64 + 1,
            })
            .collect();
        d.facets.schema = Some(Facet::new(SchemaDatasetFacet { fields }));
    }
    if let Some(doc) = documentation(n) {
        d.facets.documentation = Some(Facet::new(DocumentationDatasetFacet(doc)));
    }
    if let Some(o) = ownership(n) {
        d.facets.ownership = Some(Facet::new(OwnershipDatasetFacet(o)));
    }
    Some(d)
}

fn documentation(n: &CompiledNode) -> Option<DocumentationFacet> {
    let text = n.description.as_deref().filter(|s| !s.trim().is_empty())?;
    Some(DocumentationFacet {
        description: text.to_string(),
        content_type: "text/markdown".into(),
    })
}

/// `meta.owner` (or the `owner` config).
fn ownership(n: &CompiledNode) -> Option<OwnershipFacet> {
    let owner = match n.config.meta.get("owner") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        _ => n.config.owner.clone(),
    }
    .filter(|s| !s.is_empty())?;
    Some(OwnershipFacet {
        owners: vec![Owner {
            name: owner,
            kind: "MAINTAINER".into(),
        }],
    })
}

/// OpenLineage's job type of a node.
pub fn job_type(n: &CompiledNode) -> &'static str {
    match n.resource_type {
        ResourceType::Model => "MODEL",
        ResourceType::Seed => "SEED",
        ResourceType::Test => "TEST",
        ResourceType::Source => "SOURCE",
        ResourceType::Exposure => "EXPOSURE",
    }
}

/// The `jobType` facet: a batch job of the STRATA integration.
pub fn job_type_facet(job_type: &str) -> Facet<JobTypeJobFacet> {
    Facet::new(JobTypeJobFacet {
        processing_type: "BATCH".into(),
        integration: "STRATA".into(),
        job_type: job_type.into(),
    })
}

/// The job facets of a node: type, compiled SQL, documentation, owner, file.
pub fn job_facets(n: &CompiledNode, naming: &Naming, root: &Path) -> JobFacets {
    let sql = n
        .compiled_code
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|q| {
            Facet::new(SqlJobFacet {
                query: q.to_string(),
                dialect: naming.dialect.clone(),
            })
        });
    JobFacets {
        job_type: Some(job_type_facet(job_type(n))),
        sql,
        documentation: documentation(n).map(Facet::new),
        ownership: ownership(n).map(Facet::new),
        source_code_location: source_code_location(&n.original_file_path, root).map(Facet::new),
    }
}

fn source_code_location(path: &Path, root: &Path) -> Option<SourceCodeLocationJobFacet> {
    if path.as_os_str().is_empty() {
        return None;
    }
    let abs = std::path::absolute(root.join(path)).ok()?;
    Some(SourceCodeLocationJobFacet {
        kind: "file".into(),
        url: file_url(&abs),
        path: path.to_string_lossy().replace('\\', "/"),
    })
}

/// A `file://` URL for an absolute path, escaped so that it stays a valid URI.
pub fn file_url(abs: &Path) -> String {
    let text = abs.to_string_lossy().replace('\\', "/");
    let mut out = String::from("file://");
    if !text.starts_with('/') {
        out.push('/');
    }
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `columnLineage` facet from a node's lineage: each output column's upstream fields
/// (datasets named as `dataset_of` says; inputs without a dataset are left out), and the
/// dataset-level inputs.
pub fn column_lineage<'a>(
    lineage: &NodeLineage,
    dataset_of: impl Fn(&str) -> Option<(&'a str, String)>,
) -> Facet<ColumnLineageDatasetFacet> {
    let field = |i: &crate::ir::lineage::InputField| -> Option<LineageInputField> {
        let (namespace, name) = dataset_of(&i.node)?;
        Some(LineageInputField {
            namespace: namespace.to_string(),
            name,
            field: i.column.clone(),
            transformations: vec![Transformation {
                kind: i.kind().as_str().into(),
                subtype: i.subtype.as_str().into(),
            }],
        })
    };
    let mut fields = BTreeMap::new();
    for c in &lineage.columns {
        fields.insert(
            c.name.clone(),
            ColumnLineageField {
                input_fields: c.inputs.iter().filter_map(field).collect(),
            },
        );
    }
    Facet::new(ColumnLineageDatasetFacet {
        fields,
        dataset: lineage.dataset.iter().filter_map(field).collect(),
    })
}

/// The lifecycle change a successful build made: an incremental model that merged rows
/// altered its table, a first build created it, any other build overwrote it.
pub fn lifecycle(n: &CompiledNode, message: &str) -> &'static str {
    match n.materialized() {
        Materialized::Incremental if message.starts_with("created") => "CREATE",
        Materialized::Incremental => "ALTER",
        _ => "OVERWRITE",
    }
}

/// The assertion a test's result makes about the dataset it tests.
pub fn assertion(n: &CompiledNode, success: bool, failures: Option<u64>) -> Assertion {
    let test = n.test.as_deref();
    Assertion {
        assertion: test
            .map(|t| t.test_name.clone())
            .unwrap_or_else(|| "singular".into()),
        success,
        column: test.and_then(|t| t.column_name.clone()),
        severity: Some(
            match n.config.severity {
                Some(crate::ir::config::TestSeverity::Warn) => "warn",
                _ => "error",
            }
            .into(),
        ),
        name: n.name.clone(),
        actual: failures.map(|f| f.to_string()),
        expected: failures.map(|_| "0".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::lineage::{ColumnLineage, InputField, TransformSubtype};

    #[test]
    fn column_lineage_names_upstream_datasets() {
        let lineage = NodeLineage {
            columns: vec![
                ColumnLineage {
                    name: "customer_id".into(),
                    inputs: vec![InputField {
                        node: "seed.p.raw_orders".into(),
                        column: "customer".into(),
                        subtype: TransformSubtype::Identity,
                    }],
                    unknown: None,
                },
                ColumnLineage {
                    name: "total".into(),
                    inputs: vec![
                        InputField {
                            node: "seed.p.raw_orders".into(),
                            column: "amount".into(),
                            subtype: TransformSubtype::Aggregation,
                        },
                        InputField {
                            node: "model.p.gone".into(),
                            column: "x".into(),
                            subtype: TransformSubtype::Identity,
                        },
                    ],
                    unknown: None,
                },
            ],
            dataset: vec![InputField {
                node: "seed.p.raw_orders".into(),
                column: "status".into(),
                subtype: TransformSubtype::Filter,
            }],
            unknown: None,
        };
        let f = column_lineage(&lineage, |id| {
            (id == "seed.p.raw_orders").then(|| ("duckdb:///w.duckdb", "w.main.raw_orders".into()))
        });
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v["_schemaURL"],
            "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
        );
        assert_eq!(
            v["fields"]["total"]["inputFields"],
            serde_json::json!([{"namespace": "duckdb:///w.duckdb", "name": "w.main.raw_orders",
                "field": "amount", "transformations": [{"type": "DIRECT", "subtype": "AGGREGATION"}]}])
        );
        assert_eq!(
            v["dataset"][0]["transformations"][0],
            serde_json::json!({"type": "INDIRECT", "subtype": "FILTER"})
        );
        assert_eq!(
            v["fields"]["customer_id"]["inputFields"][0]["field"],
            "customer"
        );
    }
}
