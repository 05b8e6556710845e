//! OpenLineage's run event and the facets strata sends, as serde types spelled as in the spec
//! (core 2-0-2 and the newest version of each facet). Every facet is a [`Facet`]: its body with
//! `_producer` and `_schemaURL` pointing at the exact schema file of that facet version.

use std::collections::BTreeMap;

use serde::Serialize;

/// Who produced the events: strata's source tree at this version.
pub const PRODUCER: &str = concat!(
    "https://github.com/strata-sql/strata/tree/v",
    env!("CARGO_PKG_VERSION")
);

/// The core schema of a run event.
pub const RUN_EVENT_SCHEMA: &str =
    "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

/// The transition of a run an event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// The run started.
    Start,
    /// The run finished successfully.
    Complete,
    /// The run failed.
    Fail,
    /// The run was stopped before it could finish (skipped, interrupted).
    Abort,
}

/// One `RunEvent`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunEvent {
    /// START, COMPLETE, FAIL or ABORT.
    pub event_type: EventType,
    /// When it happened (RFC 3339, UTC).
    pub event_time: String,
    /// [`PRODUCER`].
    pub producer: &'static str,
    /// [`RUN_EVENT_SCHEMA`].
    #[serde(rename = "schemaURL")]
    pub schema_url: &'static str,
    /// The run.
    pub run: Run,
    /// The job the run is of.
    pub job: Job,
    /// Datasets read.
    pub inputs: Vec<InputDataset>,
    /// Datasets written.
    pub outputs: Vec<OutputDataset>,
}

/// A run: its id (a UUID v7) and facets.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// The run's id.
    pub run_id: String,
    /// Its facets.
    #[serde(skip_serializing_if = "RunFacets::is_empty")]
    pub facets: RunFacets,
}

/// A job: namespace, name and facets.
#[derive(Clone, Debug, Serialize)]
pub struct Job {
    /// The job namespace (from config; default the project name).
    pub namespace: String,
    /// The job's name, unique in its namespace.
    pub name: String,
    /// Its facets.
    #[serde(skip_serializing_if = "JobFacets::is_empty")]
    pub facets: JobFacets,
}

/// A dataset: where it lives (namespace), its name, its facets.
#[derive(Clone, Debug, Serialize)]
pub struct Dataset {
    /// `duckdb:///abs/path.duckdb`, `postgres://host:5432`.
    pub namespace: String,
    /// `database.schema.table`.
    pub name: String,
    /// Its facets.
    #[serde(skip_serializing_if = "DatasetFacets::is_empty")]
    pub facets: DatasetFacets,
}

/// A dataset read by a run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputDataset {
    /// The dataset.
    #[serde(flatten)]
    pub dataset: Dataset,
    /// Facets about this read (test results).
    #[serde(skip_serializing_if = "InputFacets::is_empty")]
    pub input_facets: InputFacets,
}

/// A dataset written by a run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputDataset {
    /// The dataset.
    #[serde(flatten)]
    pub dataset: Dataset,
    /// Facets about this write (row count).
    #[serde(skip_serializing_if = "OutputFacets::is_empty")]
    pub output_facets: OutputFacets,
}

/// Which schema file and definition a facet body conforms to.
pub trait FacetSchema {
    /// The schema file under `https://openlineage.io/spec/facets/`, without `.json`.
    const FILE: &'static str;
    /// The definition in that file.
    const DEF: &'static str;
}

/// A facet: its body plus the base facet's `_producer` and `_schemaURL`.
#[derive(Clone, Debug, Serialize)]
pub struct Facet<T> {
    /// [`PRODUCER`].
    #[serde(rename = "_producer")]
    pub producer: &'static str,
    /// The facet schema's URL.
    #[serde(rename = "_schemaURL")]
    pub schema_url: String,
    /// What the facet says.
    #[serde(flatten)]
    pub body: T,
}

impl<T: FacetSchema> Facet<T> {
    /// Wraps a body with strata as producer and the body's schema URL.
    pub fn new(body: T) -> Facet<T> {
        Facet {
            producer: PRODUCER,
            schema_url: format!(
                "https://openlineage.io/spec/facets/{}.json#/$defs/{}",
                T::FILE,
                T::DEF
            ),
            body,
        }
    }
}

macro_rules! facet_schema {
    ($t:ty, $file:literal, $def:literal) => {
        impl FacetSchema for $t {
            const FILE: &'static str = $file;
            const DEF: &'static str = $def;
        }
    };
}

/// The facets of a run.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunFacets {
    /// The invocation a node run belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Facet<ParentRunFacet>>,
    /// strata and its version.
    #[serde(rename = "processing_engine", skip_serializing_if = "Option::is_none")]
    pub processing_engine: Option<Facet<ProcessingEngineRunFacet>>,
    /// Why the run failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<Facet<ErrorMessageRunFacet>>,
    /// When the invocation was started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nominal_time: Option<Facet<NominalTimeRunFacet>>,
}

impl RunFacets {
    /// True when no facet is set.
    pub fn is_empty(&self) -> bool {
        self.parent.is_none()
            && self.processing_engine.is_none()
            && self.error_message.is_none()
            && self.nominal_time.is_none()
    }
}

/// The facets of a job.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobFacets {
    /// BATCH, STRATA, MODEL/SEED/TEST/SNAPSHOT/JOB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_type: Option<Facet<JobTypeJobFacet>>,
    /// The compiled query and its dialect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<Facet<SqlJobFacet>>,
    /// The node's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documentation: Option<Facet<DocumentationFacet>>,
    /// The node's owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ownership: Option<Facet<OwnershipFacet>>,
    /// The node's file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_code_location: Option<Facet<SourceCodeLocationJobFacet>>,
}

impl JobFacets {
    /// True when no facet is set.
    pub fn is_empty(&self) -> bool {
        self.job_type.is_none()
            && self.sql.is_none()
            && self.documentation.is_none()
            && self.ownership.is_none()
            && self.source_code_location.is_none()
    }
}

/// The facets of a dataset.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetFacets {
    /// Typed columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Facet<SchemaDatasetFacet>>,
    /// The database it lives in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_source: Option<Facet<DatasourceDatasetFacet>>,
    /// Where each column comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column_lineage: Option<Facet<ColumnLineageDatasetFacet>>,
    /// The node's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documentation: Option<Facet<DocumentationDatasetFacet>>,
    /// The node's owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ownership: Option<Facet<OwnershipDatasetFacet>>,
    /// CREATE, OVERWRITE or ALTER (outputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_state_change: Option<Facet<LifecycleStateChangeDatasetFacet>>,
}

impl DatasetFacets {
    /// True when no facet is set.
    pub fn is_empty(&self) -> bool {
        self.schema.is_none()
            && self.data_source.is_none()
            && self.column_lineage.is_none()
            && self.documentation.is_none()
            && self.ownership.is_none()
            && self.lifecycle_state_change.is_none()
    }
}

/// The facets of a dataset read.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputFacets {
    /// Test results on the dataset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_quality_assertions: Option<Facet<DataQualityAssertionsDatasetFacet>>,
}

impl InputFacets {
    /// True when no facet is set.
    pub fn is_empty(&self) -> bool {
        self.data_quality_assertions.is_none()
    }
}

/// The facets of a dataset written.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputFacets {
    /// Rows written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_statistics: Option<Facet<OutputStatisticsOutputDatasetFacet>>,
}

impl OutputFacets {
    /// True when no facet is set.
    pub fn is_empty(&self) -> bool {
        self.output_statistics.is_none()
    }
}

/// A run and job named by id, as in the parent facet.
#[derive(Clone, Debug, Serialize)]
pub struct RunRef {
    /// The run.
    pub run: RunId,
    /// Its job.
    pub job: JobRef,
}

/// `{runId}`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunId {
    /// The run's id.
    pub run_id: String,
}

/// `{namespace, name}` of a job.
#[derive(Clone, Debug, Serialize)]
pub struct JobRef {
    /// Job namespace.
    pub namespace: String,
    /// Job name.
    pub name: String,
}

/// `parent`: the run this one was started by, and the root of the tree.
#[derive(Clone, Debug, Serialize)]
pub struct ParentRunFacet {
    /// The parent run.
    pub run: RunId,
    /// The parent job.
    pub job: JobRef,
    /// The root run (the invocation, for strata).
    pub root: RunRef,
}
facet_schema!(ParentRunFacet, "1-2-0/ParentRunFacet", "ParentRunFacet");

/// `processing_engine`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingEngineRunFacet {
    /// strata's version.
    pub version: String,
    /// `strata`.
    pub name: String,
    /// The version of the code that makes the events (strata's own).
    pub openlineage_adapter_version: String,
}
facet_schema!(
    ProcessingEngineRunFacet,
    "1-1-1/ProcessingEngineRunFacet",
    "ProcessingEngineRunFacet"
);

/// `errorMessage`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorMessageRunFacet {
    /// The error, as strata reports it.
    pub message: String,
    /// `SQL`.
    pub programming_language: String,
}
facet_schema!(
    ErrorMessageRunFacet,
    "1-0-1/ErrorMessageRunFacet",
    "ErrorMessageRunFacet"
);

/// `nominalTime`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NominalTimeRunFacet {
    /// When the invocation started.
    pub nominal_start_time: String,
}
facet_schema!(
    NominalTimeRunFacet,
    "1-0-1/NominalTimeRunFacet",
    "NominalTimeRunFacet"
);

/// `jobType`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTypeJobFacet {
    /// `BATCH`.
    pub processing_type: String,
    /// `STRATA`.
    pub integration: String,
    /// `MODEL`, `SEED`, `TEST`, `SNAPSHOT`, or `JOB` for the invocation.
    pub job_type: String,
}
facet_schema!(JobTypeJobFacet, "2-0-4/JobTypeJobFacet", "JobTypeJobFacet");

/// `sql`.
#[derive(Clone, Debug, Serialize)]
pub struct SqlJobFacet {
    /// The compiled query.
    pub query: String,
    /// `duckdb` or `postgres`.
    pub dialect: String,
}
facet_schema!(SqlJobFacet, "1-1-0/SQLJobFacet", "SQLJobFacet");

/// `documentation` of a job.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentationFacet {
    /// The description.
    pub description: String,
    /// `text/markdown`.
    pub content_type: String,
}
facet_schema!(
    DocumentationFacet,
    "1-1-0/DocumentationJobFacet",
    "DocumentationJobFacet"
);

/// `documentation` of a dataset (same body as the job's, another schema).
#[derive(Clone, Debug, Serialize)]
pub struct DocumentationDatasetFacet(pub DocumentationFacet);
facet_schema!(
    DocumentationDatasetFacet,
    "1-1-0/DocumentationDatasetFacet",
    "DocumentationDatasetFacet"
);

/// One owner.
#[derive(Clone, Debug, Serialize)]
pub struct Owner {
    /// Who (`meta.owner`, or the `owner` config).
    pub name: String,
    /// `MAINTAINER`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `ownership` of a job.
#[derive(Clone, Debug, Serialize)]
pub struct OwnershipFacet {
    /// The owners.
    pub owners: Vec<Owner>,
}
facet_schema!(
    OwnershipFacet,
    "1-0-1/OwnershipJobFacet",
    "OwnershipJobFacet"
);

/// `ownership` of a dataset.
#[derive(Clone, Debug, Serialize)]
pub struct OwnershipDatasetFacet(pub OwnershipFacet);
facet_schema!(
    OwnershipDatasetFacet,
    "1-0-1/OwnershipDatasetFacet",
    "OwnershipDatasetFacet"
);

/// `sourceCodeLocation`.
#[derive(Clone, Debug, Serialize)]
pub struct SourceCodeLocationJobFacet {
    /// `file`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `file:///abs/path/models/x.sql`.
    pub url: String,
    /// The path in the project.
    pub path: String,
}
facet_schema!(
    SourceCodeLocationJobFacet,
    "1-1-0/SourceCodeLocationJobFacet",
    "SourceCodeLocationJobFacet"
);

/// One column of `schema`.
#[derive(Clone, Debug, Serialize)]
pub struct SchemaField {
    /// Column name.
    pub name: String,
    /// Declared or known type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// 1-based position.
    pub ordinal_position: u64,
}

/// `schema`.
#[derive(Clone, Debug, Serialize)]
pub struct SchemaDatasetFacet {
    /// The columns.
    pub fields: Vec<SchemaField>,
}
facet_schema!(
    SchemaDatasetFacet,
    "1-2-0/SchemaDatasetFacet",
    "SchemaDatasetFacet"
);

/// `dataSource`.
#[derive(Clone, Debug, Serialize)]
pub struct DatasourceDatasetFacet {
    /// The namespace.
    pub name: String,
    /// The namespace, as a URI.
    pub uri: String,
}
facet_schema!(
    DatasourceDatasetFacet,
    "1-0-1/DatasourceDatasetFacet",
    "DatasourceDatasetFacet"
);

/// One transformation of an input field.
#[derive(Clone, Debug, Serialize)]
pub struct Transformation {
    /// `DIRECT` or `INDIRECT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `IDENTITY`, `AGGREGATION`, `JOIN`, ...
    pub subtype: String,
}

/// One upstream field of `columnLineage`.
#[derive(Clone, Debug, Serialize)]
pub struct LineageInputField {
    /// The upstream dataset's namespace.
    pub namespace: String,
    /// The upstream dataset's name.
    pub name: String,
    /// The upstream column.
    pub field: String,
    /// How it is used.
    pub transformations: Vec<Transformation>,
}

/// The inputs of one output column.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnLineageField {
    /// Upstream fields.
    pub input_fields: Vec<LineageInputField>,
}

/// `columnLineage`.
#[derive(Clone, Debug, Serialize)]
pub struct ColumnLineageDatasetFacet {
    /// Output column → its inputs.
    pub fields: BTreeMap<String, ColumnLineageField>,
    /// Inputs that affect every row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dataset: Vec<LineageInputField>,
}
facet_schema!(
    ColumnLineageDatasetFacet,
    "1-2-0/ColumnLineageDatasetFacet",
    "ColumnLineageDatasetFacet"
);

/// `lifecycleStateChange`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleStateChangeDatasetFacet {
    /// `CREATE`, `OVERWRITE` or `ALTER`.
    pub lifecycle_state_change: String,
}
facet_schema!(
    LifecycleStateChangeDatasetFacet,
    "1-0-1/LifecycleStateChangeDatasetFacet",
    "LifecycleStateChangeDatasetFacet"
);

/// `outputStatistics`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputStatisticsOutputDatasetFacet {
    /// Rows written.
    pub row_count: u64,
}
facet_schema!(
    OutputStatisticsOutputDatasetFacet,
    "1-0-2/OutputStatisticsOutputDatasetFacet",
    "OutputStatisticsOutputDatasetFacet"
);

/// One test result of `dataQualityAssertions`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assertion {
    /// The test's kind (`not_null`, `unique`, `singular`, ...).
    pub assertion: String,
    /// True when the test found no failing rows.
    pub success: bool,
    /// The tested column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// `error` or `warn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// The test's name.
    pub name: String,
    /// Failing rows found, when the test ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// `0` failing rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

/// `dataQualityAssertions`.
#[derive(Clone, Debug, Serialize)]
pub struct DataQualityAssertionsDatasetFacet {
    /// The tests.
    pub assertions: Vec<Assertion>,
}
facet_schema!(
    DataQualityAssertionsDatasetFacet,
    "1-1-0/DataQualityAssertionsDatasetFacet",
    "DataQualityAssertionsDatasetFacet"
);
