//! Nodes as every stage after the compiler sees them: kind, config, relation, columns, SQL and
//! the facts of tests, sources and exposures.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value as J;

use super::Relation;
use super::config::{Materialized, NodeConfig};
use super::contract::ContractInfo;
use super::unit::UnitSpec;

/// The kind of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    /// A SQL model.
    Model,
    /// A CSV seed.
    Seed,
    /// A table of a source.
    Source,
    /// A data test (generic or singular).
    Test,
    /// A dashboard or application.
    Exposure,
}

impl ResourceType {
    /// The name used in ids and selectors.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Model => "model",
            ResourceType::Seed => "seed",
            ResourceType::Source => "source",
            ResourceType::Test => "test",
            ResourceType::Exposure => "exposure",
        }
    }

    /// All types, for did-you-mean.
    pub const ALL: [ResourceType; 5] = [
        ResourceType::Model,
        ResourceType::Seed,
        ResourceType::Source,
        ResourceType::Test,
        ResourceType::Exposure,
    ];
}

/// Freshness thresholds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Freshness {
    /// Warn when older than this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_after: Option<FreshnessThreshold>,
    /// Fail when older than this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_after: Option<FreshnessThreshold>,
    /// A SQL filter applied before computing max(loaded_at_field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// `{count: 20, period: minute}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FreshnessThreshold {
    /// How many periods.
    pub count: u64,
    /// `minute`, `hour` or `day`.
    pub period: String,
}

impl FreshnessThreshold {
    /// The threshold in seconds (`period` is minute, hour or day, checked when read).
    pub fn seconds(&self) -> u64 {
        let unit = match self.period.as_str() {
            "minute" => 60,
            "hour" => 3_600,
            _ => 86_400,
        };
        self.count.saturating_mul(unit)
    }

    /// `20 minutes`, `1 hour`.
    pub fn describe(&self) -> String {
        let s = if self.count == 1 { "" } else { "s" };
        format!("{} {}{s}", self.count, self.period)
    }
}

/// What a model's or seed's freshness is checked on: its `loaded_at_field` and `freshness`
/// block (a source carries the same facts in [`SourceInfo`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelFreshness {
    /// Column (or expression) holding the load time.
    pub loaded_at_field: String,
    /// Thresholds.
    pub freshness: Freshness,
}

/// A documented or discovered column.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Declared data type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// Metadata (pii, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, J>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Test-specific facts.
#[derive(Clone, Debug, Serialize)]
pub struct TestInfo {
    /// `not_null`, ..., or `singular`.
    pub test_name: String,
    /// `generic` or `singular`.
    pub test_type: &'static str,
    /// Arguments as written.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub kwargs: BTreeMap<String, J>,
    /// Tested column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_name: Option<String>,
    /// The node the test is declared on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_node: Option<String>,
    /// Where the failing rows are kept (`store_failures`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_relation: Option<Relation>,
    /// A unit test's inputs and expected rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<Box<UnitSpec>>,
}

/// Source-specific facts.
#[derive(Clone, Debug, Serialize)]
pub struct SourceInfo {
    /// Source name.
    pub source_name: String,
    /// Column holding the load time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_at_field: Option<String>,
    /// Freshness rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
}

/// Exposure-specific facts.
#[derive(Clone, Debug, Serialize)]
pub struct ExposureInfo {
    /// dashboard, application, ...
    #[serde(rename = "type")]
    pub exposure_type: String,
    /// Owner name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_name: Option<String>,
    /// Owner e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    /// Link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Maturity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maturity: Option<String>,
    /// Label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// One node after compilation. The manifest shows it in dbt's shapes (`artifacts`).
#[derive(Clone, Debug)]
pub struct CompiledNode {
    /// Unique id (`model.ofitec.mart_ar_aging`).
    pub unique_id: String,
    /// Kind.
    pub resource_type: ResourceType,
    /// Name.
    pub name: String,
    /// Defining file, relative to the project.
    pub original_file_path: PathBuf,
    /// Project, folders, name.
    pub fqn: Vec<String>,
    /// Resolved config (shared between nodes that have the same: most tests).
    pub config: Arc<NodeConfig>,
    /// Description (doc blocks resolved).
    pub description: Option<String>,
    /// Columns: documented ones first, then the ones analysis found.
    pub columns: Vec<ColumnInfo>,
    /// Ids of the nodes this one reads, sorted.
    pub depends_on: Vec<String>,
    /// Ids of the macros its template calls itself (`macro.<package>.<name>`), sorted.
    pub depends_on_macros: Vec<String>,
    /// The relation it builds or reads.
    pub relation: Option<Relation>,
    /// SQL as written (shared with the project's copy of the file).
    pub raw_code: Option<Arc<str>>,
    /// SQL ready to run on the target (ephemeral parents inlined as CTEs).
    pub compiled_code: Option<String>,
    /// SQL for runs where the model's table exists (`is_incremental()` true); incremental only.
    pub compiled_incremental_code: Option<String>,
    /// Rendered pre-hooks.
    pub pre_hooks: Vec<String>,
    /// Rendered post-hooks.
    pub post_hooks: Vec<String>,
    /// sha256 of the defining file.
    pub checksum: String,
    /// sha256 of the compiled SQL.
    pub compiled_checksum: Option<String>,
    /// Test facts.
    pub test: Option<Box<TestInfo>>,
    /// Source facts.
    pub source: Option<Box<SourceInfo>>,
    /// Exposure facts.
    pub exposure: Option<Box<ExposureInfo>>,
    /// The model's data contract.
    pub contract: Option<Box<ContractInfo>>,
    /// Column-level lineage (models, snapshots, seeds' own columns); `None` when not computed.
    pub lineage: Option<Box<crate::ir::lineage::NodeLineage>>,
    /// A model's or seed's freshness check (`freshness:` with `loaded_at_field:` in its
    /// properties); sources keep theirs in `source`.
    pub freshness: Option<Box<ModelFreshness>>,
    /// `log()` output of the render.
    pub logs: Vec<String>,
    /// The query its render ran (`run_query`, `statement`) with no answer yet: its SQL here
    /// is what `execute` false made, and the run compiles it again with the answer.
    pub late_query: Option<Box<crate::ir::LateQuery>>,
    /// The line of `original_file_path` where the node is declared: 1 for a node that is a
    /// whole file, the YAML entry of a generic test, unit test or exposure.
    pub line: usize,
}

impl CompiledNode {
    /// A node with these identifying facts and nothing else yet: no SQL, columns, relation,
    /// dependencies or kind-specific facts. The stages fill in what they know.
    pub fn new(
        unique_id: String,
        resource_type: ResourceType,
        name: String,
        original_file_path: PathBuf,
        fqn: Vec<String>,
        config: Arc<NodeConfig>,
    ) -> Self {
        Self {
            unique_id,
            resource_type,
            name,
            original_file_path,
            fqn,
            config,
            description: None,
            columns: Vec::new(),
            depends_on: Vec::new(),
            depends_on_macros: Vec::new(),
            relation: None,
            raw_code: None,
            compiled_code: None,
            compiled_incremental_code: None,
            pre_hooks: Vec::new(),
            post_hooks: Vec::new(),
            checksum: String::new(),
            compiled_checksum: None,
            test: None,
            source: None,
            exposure: None,
            contract: None,
            lineage: None,
            freshness: None,
            logs: Vec::new(),
            late_query: None,
            line: 1,
        }
    }

    /// The materialization, with the resource type's default.
    pub fn materialized(&self) -> Materialized {
        match self.resource_type {
            ResourceType::Seed => Materialized::Seed,
            ResourceType::Test => Materialized::Test,
            _ => self.config.materialized.unwrap_or(Materialized::View),
        }
    }
}
