//! The offline pipeline shared by `parse`, `compile`, `ls` and every later command:
//! load → render → resolve relations → build the DAG → analyze SQL → compiled nodes.
//! Needs no database; deterministic for the same files, target and vars.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::OutputSpan;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value as J;

use crate::checks;
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, display_path, suggest};
use crate::graph::{Dag, Edge, ResourceType};
use crate::jinja::{self, RelationCall, Renderer, THIS_TOKEN, TargetInfo, relation_token};
use crate::project::config::{ConfigScope, Materialized, NodeConfig};
use crate::project::properties::{ColumnProps, DependsOn, ModelProps, TestDef};
use crate::project::{self, AdapterKind, LoadOptions, Project};
use crate::sorted::FastMap;
use crate::sql;

/// A resolved target: what the adapter will connect to. The DSN stays out of every output.
#[derive(Clone, Debug)]
pub struct Target {
    /// What templates see.
    pub info: TargetInfo,
    /// DuckDB database file, relative to the project or absolute.
    pub path: Option<PathBuf>,
    /// Postgres connection string (secret).
    pub dsn: Option<String>,
    /// Seconds to wait for a connection.
    pub connect_timeout: Option<f64>,
    /// Seconds a run waits for another run on the same target to finish (default 60).
    pub lock_timeout: Option<f64>,
    /// Schemas searched for unqualified names, comma-separated.
    pub search_path: Option<String>,
}

/// A relation in the database: schema and name, quoted for SQL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Relation {
    /// Schema.
    pub schema: String,
    /// Relation name.
    pub identifier: String,
}

impl Relation {
    /// `"schema"."identifier"`.
    pub fn quoted(&self) -> String {
        let mut out = String::with_capacity(self.schema.len() + self.identifier.len() + 5);
        sql::push_quoted_ident(&mut out, &self.schema);
        out.push('.');
        sql::push_quoted_ident(&mut out, &self.identifier);
        out
    }
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
    pub unit: Option<Box<crate::checks::unit::UnitSpec>>,
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
    pub freshness: Option<crate::project::properties::Freshness>,
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

/// One node after compilation.
#[derive(Clone, Debug, Serialize)]
pub struct CompiledNode {
    /// Unique id (`model.ofitec.mart_ar_aging`).
    pub unique_id: String,
    /// Kind.
    pub resource_type: ResourceType,
    /// Name.
    pub name: String,
    /// Defining file, relative to the project.
    #[serde(serialize_with = "ser_path")]
    pub original_file_path: PathBuf,
    /// Project, folders, name.
    pub fqn: Vec<String>,
    /// Resolved config (shared between nodes that have the same: most tests).
    #[serde(serialize_with = "ser_config")]
    pub config: Arc<NodeConfig>,
    /// Description (doc blocks resolved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Columns: documented ones first, then the ones analysis found.
    pub columns: Vec<ColumnInfo>,
    /// Ids of the nodes this one reads, sorted.
    pub depends_on: Vec<String>,
    /// The relation it builds or reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<Relation>,
    /// SQL as written (shared with the project's copy of the file).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_text"
    )]
    pub raw_code: Option<Arc<str>>,
    /// SQL ready to run on the target (ephemeral parents inlined as CTEs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compiled_code: Option<String>,
    /// SQL for runs where the model's table exists (`is_incremental()` true); incremental only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compiled_incremental_code: Option<String>,
    /// Rendered pre-hooks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_hooks: Vec<String>,
    /// Rendered post-hooks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_hooks: Vec<String>,
    /// sha256 of the defining file.
    pub checksum: String,
    /// sha256 of the compiled SQL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compiled_checksum: Option<String>,
    /// Test facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<Box<TestInfo>>,
    /// Source facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Box<SourceInfo>>,
    /// Exposure facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure: Option<Box<ExposureInfo>>,
    /// The model's data contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<Box<crate::checks::contract::ContractInfo>>,
    /// `log()` output of the render.
    #[serde(skip)]
    pub logs: Vec<String>,
}

fn ser_path<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::diagnostics::display_path_cow(p))
}

impl crate::graph::Node for CompiledNode {
    fn id(&self) -> &str {
        &self.unique_id
    }
    fn resource_type(&self) -> ResourceType {
        self.resource_type
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn path(&self) -> Option<&Path> {
        Some(&self.original_file_path)
    }
    fn fqn(&self) -> &[String] {
        &self.fqn
    }
    fn tags(&self) -> &[String] {
        &self.config.tags
    }
    fn config_value(&self, key: &str) -> Option<J> {
        match key {
            "materialized" => Some(J::String(self.materialized().as_str().into())),
            "test_type" => self.test.as_ref().map(|t| J::String(t.test_type.into())),
            _ => match serde_json::to_value(&*self.config) {
                Ok(J::Object(mut m)) => m.remove(key),
                _ => None,
            },
        }
    }
    fn test_type(&self) -> Option<&'static str> {
        self.test.as_ref().map(|t| t.test_type)
    }
    fn source_name(&self) -> Option<&str> {
        self.source.as_ref().map(|s| s.source_name.as_str())
    }
}

fn ser_config<S: serde::Serializer>(c: &Arc<NodeConfig>, s: S) -> Result<S::Ok, S::Error> {
    c.as_ref().serialize(s)
}

fn ser_opt_text<S: serde::Serializer>(t: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&**t),
        None => s.serialize_none(),
    }
}

impl CompiledNode {
    /// The materialization, with the resource type's default.
    pub fn materialized(&self) -> Materialized {
        match self.resource_type {
            ResourceType::Seed => Materialized::Seed,
            ResourceType::Test => Materialized::Test,
            _ => self.config.materialized.unwrap_or(Materialized::View),
        }
    }
}

/// The result of compiling a project.
#[derive(Debug)]
pub struct Compiled {
    /// The loaded project.
    pub project: Project,
    /// The target in use.
    pub target: Target,
    /// Every enabled node; indices match the DAG's.
    pub nodes: Vec<CompiledNode>,
    /// The dependency graph.
    pub dag: Dag,
    /// Rendered `on-run-start` statements.
    pub on_run_start: Vec<String>,
    /// Rendered `on-run-end` statements.
    pub on_run_end: Vec<String>,
    /// Warnings found on the way.
    pub warnings: Diagnostics,
    /// The caches of this compile for the next one, serialized in the background.
    pub caches: CacheFiles,
    /// The previous compiled SQL files, checked in the background (when asked for).
    pub compiled_index: crate::artifacts::IndexCheck,
}

/// The analysis cache (see `sql::cache`) and the render cache (see `jinja::cache`) of a
/// compile, as the bytes of their files. They are serialized on their own thread as soon as
/// the compile has made them, while it goes on.
pub struct CacheFiles(std::sync::Mutex<Option<std::thread::JoinHandle<CacheBytes>>>);

/// The contents of the analysis cache file and of the render cache file; `None` for a file
/// that already holds what it would be written with.
pub struct CacheBytes {
    pub analysis: Option<Vec<u8>>,
    pub render: Option<Vec<u8>>,
}

/// What a compile leaves for the next one's caches: the caches as read and this compile's
/// entries (in any order).
struct CacheUpdate {
    analyses_read: sql::cache::Loaded,
    analyses: Vec<(String, sql::Analysis)>,
    renders_read: jinja::cache::Cache,
    renders: Vec<(String, jinja::cache::Entry)>,
    render_global: String,
    render_env: jinja::EnvReads,
    schemas: BTreeMap<String, String>,
}

impl CacheFiles {
    /// Sorts the entries and serializes each cache whose file does not already hold them, on
    /// another thread (where the caches as read are dropped too).
    fn serialize(u: CacheUpdate) -> Self {
        let job = std::thread::spawn(move || {
            let analyses = sql::cache::Entries::new(u.analyses);
            let analysis = (!sql::cache::holds(&u.analyses_read, &analyses))
                .then(|| sql::cache::to_bytes(&analyses));
            let renders = jinja::cache::Out {
                global: u.render_global,
                env: u.render_env,
                entries: jinja::cache::Entries::new(u.renders),
                schemas: u.schemas,
            };
            let render =
                (!u.renders_read.holds(&renders)).then(|| jinja::cache::to_bytes(&renders));
            CacheBytes { analysis, render }
        });
        Self(std::sync::Mutex::new(Some(job)))
    }

    /// The bytes, once: `None` when taken before (or when serializing panicked).
    pub fn take(&self) -> Option<CacheBytes> {
        let job = self.0.lock().ok()?.take()?;
        job.join().ok()
    }
}

impl std::fmt::Debug for CacheFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheFiles")
    }
}

/// The node `generate_schema_name` gets: serialized as the JSON object with these keys would
/// be (keys sorted), without building one for every node.
#[derive(Serialize)]
struct SchemaNode<'a> {
    fqn: &'a [String],
    name: &'a str,
    original_file_path: std::borrow::Cow<'a, str>,
    resource_type: &'a str,
}

fn sha256(s: &str) -> String {
    crate::digest::sha256_hex(s.as_bytes())
}

/// Renders one target field (`dsn`, `path`, `schema`) with `env_var` and `var`.
fn render_target_field(
    text: &str,
    vars: &BTreeMap<String, J>,
    span: &Span,
) -> Result<String, Diagnostic> {
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(text.to_string());
    }
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let vars = vars.clone();
    env.add_function(
        "var",
        move |name: String,
              default: Option<minijinja::Value>|
              -> Result<minijinja::Value, minijinja::Error> {
            match vars.get(&name) {
                Some(v) => Ok(crate::jinja::to_value(v)),
                None => default.ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("var `{name}` is not defined and has no default"),
                    )
                }),
            }
        },
    );
    env.add_function(
        "env_var",
        |name: String, default: Option<String>| -> Result<String, minijinja::Error> {
            match std::env::var(&name) {
                Ok(v) => Ok(v),
                Err(_) => default.ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("environment variable `{name}` is not set and has no default"),
                    )
                }),
            }
        },
    );
    env.render_str(text, ()).map_err(|e| {
        let detail = e.detail().unwrap_or("cannot render").to_string();
        let code = if detail.starts_with("environment variable") {
            Code::MissingEnvVar
        } else {
            Code::JinjaError
        };
        Diagnostic::error(code, detail).at(span.clone())
    })
}

fn resolve_target(p: &Project) -> Result<Target, Diagnostic> {
    let def = p.target_def();
    let get = |k: &str| -> Result<Option<String>, Diagnostic> {
        match def.fields.get(k) {
            Some((text, span)) => render_target_field(text, &p.vars, span).map(Some),
            None => Ok(None),
        }
    };
    let schema = get("schema")?.unwrap_or_else(|| match def.kind {
        AdapterKind::Duckdb => "main".into(),
        AdapterKind::Postgres => "public".into(),
    });
    let threads = match get("threads")? {
        Some(t) => t
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| {
                Diagnostic::error(Code::InvalidValue, "`threads` must be a positive integer")
                    .at(def.fields["threads"].1.clone())
            })?,
        None => 4,
    };
    let seconds = |k: &str| -> Result<Option<f64>, Diagnostic> {
        match get(k)? {
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Some)
                .ok_or_else(|| {
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("`{k}` must be a number of seconds, not `{v}`"),
                    )
                    .at(def.fields[k].1.clone())
                }),
            None => Ok(None),
        }
    };
    Ok(Target {
        connect_timeout: seconds("connect_timeout")?,
        lock_timeout: seconds("lock_timeout")?,
        search_path: get("search_path")?,
        info: TargetInfo {
            name: def.name.clone(),
            kind: def.kind,
            schema,
            threads,
        },
        path: get("path")?.map(PathBuf::from),
        dsn: get("dsn")?,
    })
}

/// A node before rendering.
struct Pending<'a> {
    id: String,
    resource_type: ResourceType,
    name: String,
    path: PathBuf,
    fqn: Vec<String>,
    config: NodeConfig,
    description: Option<String>,
    description_span: Option<Span>,
    columns: &'a [ColumnProps],
    template: Option<Arc<str>>,
    checksum: String,
    seed_columns: Vec<String>,
    /// Its properties entry, if any.
    props: Option<&'a ModelProps>,
}

impl Pending<'_> {
    /// The config keys its template's `config()` accepts.
    fn scope(&self) -> ConfigScope {
        if self.resource_type == ResourceType::Test {
            ConfigScope::Test
        } else {
            ConfigScope::Model
        }
    }
}

/// Maps positions in rendered output back to the template source.
struct SourceMap<'a> {
    spans: &'a [OutputSpan],
    rendered: &'a str,
    source: &'a str,
    file: &'a Path,
}

impl SourceMap<'_> {
    /// The source position of byte `offset` of the rendered output.
    fn at_offset(&self, offset: usize) -> Span {
        let idx = self
            .spans
            .partition_point(|s| s.output_range().start <= offset);
        let Some(span) = idx.checked_sub(1).map(|i| &self.spans[i]) else {
            return Span::line(self.file, 1);
        };
        if span.name() != display_path(self.file) {
            return Span::line(self.file, span.line());
        }
        let src = span.source_range();
        let (range, whole) = match span.kind() {
            minijinja::OutputSpanKind::Raw => {
                let at =
                    (src.start + offset.saturating_sub(span.output_range().start)).min(src.end);
                (at..at + 1, false)
            }
            // Output of `{{ ... }}`: mark the whole expression.
            _ => (src.clone(), true),
        };
        let mut s = jinja::span_of_range(self.file, self.source, range);
        if !whole {
            s.len = 1;
        }
        s
    }

    /// The source position of `line:col` (1-based) of the rendered output.
    fn at_line_col(&self, line: usize, col: usize) -> Span {
        let mut offset = 0;
        for (i, l) in self.rendered.split_inclusive('\n').enumerate() {
            if i + 1 == line {
                let within = l
                    .char_indices()
                    .nth(col.saturating_sub(1))
                    .map(|(b, _)| b)
                    .unwrap_or(0);
                return self.at_offset(offset + within);
            }
            offset += l.len();
        }
        self.at_offset(self.rendered.len().saturating_sub(1))
    }
}

/// A node's renders beyond its main SQL.
#[derive(Default)]
struct Extra {
    /// The SQL with is_incremental() true (incremental models only; boxed: one per node).
    incremental: Option<Box<Result<jinja::Rendered, Diagnostic>>>,
    /// (pre?, hook text, render).
    hooks: Vec<(bool, String, Result<jinja::Rendered, Diagnostic>)>,
}

/// Output columns (when the SQL parsed) and the diagnostics of one node's analysis.
/// Output columns (None when the SQL does not parse), diagnostics, and the analysis to keep.
type AnalysisOutcome = (
    Option<Vec<String>>,
    Vec<Diagnostic>,
    Option<(String, sql::Analysis)>,
);

/// The generic tests declared in the properties, taken out of them: each owner's own tests,
/// then its columns' tests, in declaration order.
struct DeclaredTests {
    /// By model properties entry, in order.
    models: Vec<Vec<TestDef>>,
    /// By seed properties entry, in order.
    seeds: Vec<Vec<TestDef>>,
    /// By source, then by table, in order.
    sources: Vec<Vec<Vec<TestDef>>>,
}

impl DeclaredTests {
    fn take(props: &mut project::properties::Properties) -> Self {
        fn own_then_columns(
            own: &mut Vec<TestDef>,
            columns: &mut [project::properties::ColumnProps],
        ) -> Vec<TestDef> {
            // Each list is moved out whole, so that its buffer is freed too.
            let total = own.len() + columns.iter().map(|c| c.tests.len()).sum::<usize>();
            if total == own.len() {
                return std::mem::take(own);
            }
            let mut all = Vec::with_capacity(total);
            all.extend(std::mem::take(own));
            for c in columns {
                all.extend(std::mem::take(&mut c.tests));
            }
            all
        }
        let of = |list: &mut Vec<ModelProps>| -> Vec<Vec<TestDef>> {
            list.iter_mut()
                .map(|p| own_then_columns(&mut p.tests, &mut p.columns))
                .collect()
        };
        let (models, seeds) = (of(&mut props.models), of(&mut props.seeds));
        let sources = props
            .sources
            .iter_mut()
            .map(|s| {
                s.tables
                    .iter_mut()
                    .map(|t| own_then_columns(&mut t.tests, &mut t.columns))
                    .collect()
            })
            .collect();
        Self {
            models,
            seeds,
            sources,
        }
    }
}

/// A node name that ref() can reach.
#[derive(Clone)]
struct Refable {
    index: usize,
    relation: Option<Relation>,
    ephemeral: bool,
}

/// Compiles the project in `root`. All problems are collected; warnings are returned with the
/// result, errors instead of it.
pub fn compile(root: &Path, opts: &LoadOptions) -> Result<Compiled, Diagnostics> {
    let (mut project, mut diags) = project::load(root, opts)?;
    // Test declarations leave the properties: they are needed only until their test nodes
    // exist (at 100k models they are a large share of the memory).
    let declared_tests = DeclaredTests::take(&mut project.properties);
    let project = project;
    let target = match resolve_target(&project) {
        Ok(t) => t,
        Err(d) => {
            diags.push(d);
            return Err(diags);
        }
    };

    crate::timing::mark("load");
    // Template sources, for error positions: built on the first error.
    let source_texts: std::sync::OnceLock<jinja::SourceTexts> = std::sync::OnceLock::new();
    let sources = || {
        source_texts.get_or_init(|| {
            project
                .models
                .iter()
                .chain(&project.singular_tests)
                .chain(&project.macro_files)
                .map(|f| (f.path.clone(), f.text.clone()))
                .collect()
        })
    };
    let macro_sources: Vec<(String, String)> = project
        .macro_files
        .iter()
        .map(|f| (display_path(&f.path), jinja::rewrite_test_blocks(&f.text)))
        .collect();
    let artifacts = project.root.join(&project.paths.artifacts);
    let render_global = jinja::cache::global_key(&project, &target.info, &macro_sources);
    // The caches of the last compile are read in the background while the project is prepared.
    let render_cache_job = {
        let (dir, global) = (artifacts.clone(), render_global.clone());
        std::thread::spawn(move || jinja::cache::load(&dir, &global))
    };
    let analysis_cache_job = {
        let dir = artifacts.clone();
        std::thread::spawn(move || sql::cache::load(&dir))
    };
    let renderer = Renderer::new(&project, &target.info, &macro_sources, &mut diags);

    let mut pending: Vec<Pending> = Vec::new();
    let pname = project.name.clone();

    // Properties by name, with duplicate and unknown entries reported.
    let model_props = index_props(&project.properties.models, "model", &mut diags);
    let seed_props = index_props(&project.properties.seeds, "seed", &mut diags);

    // (A function-typed binding: the closure's result borrows from `props`.)
    fn pending_fn<'p, F>(f: F) -> F
    where
        F: Fn(ResourceType, &project::SqlFile, NodeConfig, Option<&'p ModelProps>) -> Pending<'p>,
    {
        f
    }
    let pending_of = pending_fn(
        |kind: ResourceType,
         file: &project::SqlFile,
         config: NodeConfig,
         props: Option<&ModelProps>| Pending {
            id: format!("{}.{pname}.{}", kind.as_str(), file.name),
            resource_type: kind,
            name: file.name.clone(),
            path: file.path.clone(),
            fqn: fqn(&pname, &file.folders, &file.name),
            config,
            description: props.and_then(|p| p.description.clone()),
            description_span: props.map(|p| p.span.clone()),
            columns: props.map(|p| p.columns.as_slice()).unwrap_or_default(),
            template: Some(file.text.clone()),
            checksum: file.checksum.clone(),
            seed_columns: Vec::new(),
            props,
        },
    );
    for s in &project.seeds {
        let mut config = project.seed_configs.resolve(&s.folders, &s.name);
        let props = seed_props.get(s.name.as_str()).copied();
        if let Some(p) = props {
            config.merge(&p.config);
        }
        let file = project::SqlFile {
            name: s.name.clone(),
            path: s.path.clone(),
            folders: s.folders.clone(),
            text: Arc::from(""),
            checksum: s.checksum.clone(),
        };
        pending.push(Pending {
            template: None,
            seed_columns: s.columns.clone(),
            ..pending_of(ResourceType::Seed, &file, config, props)
        });
    }
    pending.reserve(project.models.len() + project.singular_tests.len());
    // A model's config before its template's `config()` calls: project.yml's, then its
    // properties'.
    let model_base_config = |folders: &[String], name: &str, props: Option<&ModelProps>| {
        let mut config = project.model_configs.resolve(folders, name);
        if let Some(p) = props {
            config.merge(&p.config);
        }
        config
    };
    pending.par_extend(project.models.par_iter().map(|m| {
        let props = model_props.get(m.name.as_str()).copied();
        let config = model_base_config(&m.folders, &m.name, props);
        pending_of(ResourceType::Model, m, config, props)
    }));
    for t in &project.singular_tests {
        pending.push(pending_of(
            ResourceType::Test,
            t,
            NodeConfig::default(),
            None,
        ));
    }

    // Properties for files that do not exist.
    let model_names: Vec<&str> = project.models.iter().map(|m| m.name.as_str()).collect();
    report_undescribed(
        &project.properties.models,
        &model_names,
        "model",
        "models/**/{}.sql",
        &mut diags,
    );
    let seed_names: Vec<&str> = project.seeds.iter().map(|s| s.name.as_str()).collect();
    report_undescribed(
        &project.properties.seeds,
        &seed_names,
        "seed",
        "seeds/**/{}.csv",
        &mut diags,
    );

    // Duplicate names among ref()-able nodes and among singular tests.
    let mut first_by_name: FastMap<(bool, &str), &Pending> =
        FastMap::with_capacity_and_hasher(pending.len(), Default::default());
    for p in &pending {
        let key = (p.resource_type == ResourceType::Test, p.name.as_str());
        if let Some(first) = first_by_name.get(&key) {
            let what = |r: ResourceType| r.as_str();
            diags.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("two {}s are named `{}`: {} and {}", if key.0 { "test" } else { "node" }, p.name, display_path(&first.path), display_path(&p.path)),
                )
                .at(Span::file(&p.path))
                .with_label(format!("this {} is named `{}`", what(p.resource_type), p.name))
                .with_related(Span::file(&first.path), format!("and so is this {}", what(first.resource_type)))
                .with_help("names must be unique across models and seeds: rename one file or give it an alias"),
            );
        } else {
            first_by_name.insert(key, p);
        }
    }

    crate::timing::mark("prepare");
    // Renders of the last compile with the same inputs are taken as they are.
    let render_cache = render_cache_job.join().unwrap_or_default();
    crate::timing::mark("render_cache_read");
    let render = |p: &Pending,
                  source: &str,
                  scope: ConfigScope,
                  incremental: bool|
     -> Result<jinja::Rendered, Diagnostic> {
        let name = crate::diagnostics::display_path_cow(&p.path);
        let base = serde_json::to_string(&p.config).unwrap_or_default();
        let flags = u8::from(scope == ConfigScope::Test) | (u8::from(incremental) << 1);
        let key = jinja::cache::key(&render_global, &name, source, &base, flags);
        if let Some(e) = render_cache.take(&key) {
            return Ok(cached_render(e, key, scope, &p.path));
        }
        let mut r = renderer
            .render_node(&name, source, scope, &p.config, incremental)
            .map_err(|e| jinja::jinja_diagnostic(&e, &p.path, Some(&p.path), sources()))?;
        let map = SourceMap {
            spans: r.spans.as_deref().unwrap_or_default(),
            rendered: &r.text,
            source,
            file: &p.path,
        };
        r.relation_spans = r
            .recorded
            .relations
            .iter()
            .enumerate()
            .map(|(n, call)| {
                r.text
                    .find(&relation_token(n))
                    .map(|o| map.at_offset(o))
                    .unwrap_or_else(|| call_span(source, &p.path, call))
            })
            .collect();
        r.cache_key = Some(key);
        Ok(r)
    };
    // The positions of a render's output in its template, rendering again if it was cached.
    let spans_of = |p: &Pending, r: &jinja::Rendered, incremental: bool| -> Vec<OutputSpan> {
        if let Some(s) = &r.spans {
            return s.clone();
        }
        let scope = if incremental {
            ConfigScope::Model
        } else {
            p.scope()
        };
        // What the render saw: the config before `config()` calls for the main SQL (built
        // again rather than kept for every node), the node's config for the incremental SQL.
        let before_calls;
        let base = if incremental {
            &p.config
        } else {
            before_calls = match p.resource_type {
                ResourceType::Model => {
                    // A model's fqn is the project, its folders, its name.
                    let folders = &p.fqn[1..p.fqn.len() - 1];
                    model_base_config(folders, &p.name, p.props)
                }
                _ => NodeConfig::default(),
            };
            &before_calls
        };
        let source = p.template.as_deref().unwrap_or("");
        renderer
            .render_node(&display_path(&p.path), source, scope, base, incremental)
            .ok()
            .and_then(|r| r.spans)
            .unwrap_or_default()
    };
    // Render every model and singular test once, in parallel.
    let rendered: Vec<Option<Result<jinja::Rendered, Diagnostic>>> = pending
        .par_iter()
        .map(|p| {
            let text = p.template.as_ref()?;
            Some(render(p, text, p.scope(), false))
        })
        .collect();
    let mut rendered_ok: Vec<Option<jinja::Rendered>> = Vec::with_capacity(pending.len());
    for (p, r) in pending.iter_mut().zip(rendered) {
        match r {
            None => rendered_ok.push(None),
            Some(Ok(mut r)) => {
                if let Some(c) = r.recorded.config.take() {
                    p.config.merge(&c);
                }
                rendered_ok.push(Some(r));
            }
            Some(Err(d)) => {
                diags.push(d);
                rendered_ok.push(None);
            }
        }
    }

    crate::timing::mark("render");
    // Incremental models are rendered a second time with is_incremental() true: a first build
    // and later runs need different SQL, and the refs of both are dependencies. Hooks are
    // rendered in the node's context (`this`, `ref`).
    let mut extra: Vec<Extra> = pending
        .par_iter()
        .zip(&rendered_ok)
        .map(|(p, r)| {
            let mut out = Extra::default();
            let render = |source: &str, incremental: bool| {
                render(p, source, ConfigScope::Model, incremental)
            };
            if let (Some(text), Some(_)) = (p.template.as_ref(), r)
                && p.config.materialized == Some(Materialized::Incremental)
            {
                out.incremental = Some(Box::new(render(text, true)));
            }
            for (pre, hooks) in [(true, &p.config.pre_hook), (false, &p.config.post_hook)] {
                for h in hooks {
                    out.hooks.push((pre, h.clone(), render(h, false)));
                }
            }
            out
        })
        .collect();

    let render_hits = rendered_ok.iter().flatten().any(|r| r.spans.is_none());

    crate::timing::mark("render_incremental_hooks");
    // Drop disabled nodes (in place: these vectors are large), remembering their names for
    // clearer ref errors.
    let mut rendered = rendered_ok;

    let keep: Vec<bool> = pending.iter().map(|p| p.config.is_enabled()).collect();
    let disabled: BTreeSet<String> = pending
        .iter()
        .zip(&keep)
        .filter(|(_, k)| !**k)
        .map(|(p, _)| p.name.clone())
        .collect();
    if !disabled.is_empty() {
        let mut k = keep.iter();
        pending.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        rendered.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        extra.retain(|_| *k.next().unwrap_or(&true));
    }

    // Relations of models and seeds (generate_schema_name may be a project macro).
    let has_schema_macro = renderer.has_macro("generate_schema_name");
    type WithSchemaMemo = (Option<Relation>, Option<(String, String)>);
    let relations: Vec<Result<WithSchemaMemo, Diagnostic>> = pending
        .par_iter()
        .map(|p| {
            if p.resource_type == ResourceType::Test
                || p.config.materialized == Some(Materialized::Ephemeral)
            {
                return Ok((None, None));
            }
            let mut memo = None;
            let schema = if has_schema_macro {
                let node = SchemaNode {
                    fqn: &p.fqn,
                    name: &p.name,
                    original_file_path: crate::diagnostics::display_path_cow(&p.path),
                    resource_type: p.resource_type.as_str(),
                };
                // A pure function of the macros, the target and these arguments: cached too.
                let key = jinja::cache::key(
                    &render_global,
                    "generate_schema_name",
                    &serde_json::to_string(&node).unwrap_or_default(),
                    &serde_json::to_string(&p.config.schema).unwrap_or_default(),
                    0,
                );
                let schema = match render_cache.schema(&key) {
                    Some(s) => s.clone(),
                    None => {
                        let custom = match &p.config.schema {
                            Some(s) => minijinja::Value::from(s.clone()),
                            None => minijinja::Value::from(()),
                        };
                        renderer
                            .call_macro(
                                "generate_schema_name",
                                &[
                                    custom,
                                    jinja::to_value(
                                        &serde_json::to_value(&node).unwrap_or_default(),
                                    ),
                                ],
                            )
                            .map(|s| s.trim().to_string())
                            .map_err(|e| {
                                jinja::jinja_diagnostic(&e, &p.path, Some(&p.path), sources())
                            })?
                    }
                };
                memo = Some((key, schema.clone()));
                schema
            } else {
                match &p.config.schema {
                    Some(custom) => format!("{}_{}", target.info.schema, custom.trim()),
                    None => target.info.schema.clone(),
                }
            };
            Ok((
                Some(Relation {
                    schema,
                    identifier: p.config.alias.clone().unwrap_or_else(|| p.name.clone()),
                }),
                memo,
            ))
        })
        .collect();
    let mut node_relations: Vec<Option<Relation>> = Vec::with_capacity(pending.len());
    let mut schema_entries: BTreeMap<String, String> = BTreeMap::new();
    for r in relations {
        match r {
            Ok((rel, memo)) => {
                node_relations.push(rel);
                if let Some((k, v)) = memo {
                    schema_entries.insert(k, v);
                }
            }
            Err(d) => {
                diags.push(d);
                node_relations.push(None);
            }
        }
    }

    let mut refable: FastMap<&str, Refable> =
        FastMap::with_capacity_and_hasher(pending.len(), Default::default());
    for (i, p) in pending.iter().enumerate() {
        if p.resource_type != ResourceType::Test {
            refable.entry(p.name.as_str()).or_insert(Refable {
                index: i,
                relation: node_relations[i].clone(),
                ephemeral: p.config.materialized == Some(Materialized::Ephemeral),
            });
        }
    }

    // Sources: each table is a node.
    let mut source_nodes: Vec<CompiledNode> = Vec::new();
    let mut source_index: BTreeMap<(String, String), (usize, Relation)> = BTreeMap::new();
    let mut seen_sources: BTreeMap<(String, String), Span> = BTreeMap::new();
    let base = pending.len();
    for s in &project.properties.sources {
        for t in &s.tables {
            let key = (s.name.clone(), t.name.clone());
            if let Some(first) = seen_sources.get(&key) {
                diags.push(
                    Diagnostic::error(
                        Code::DuplicateName,
                        format!("source table `{}.{}` is declared twice", s.name, t.name),
                    )
                    .at(t.span.clone())
                    .with_related(first.clone(), "first declared here"),
                );
                continue;
            }
            seen_sources.insert(key.clone(), t.span.clone());
            let relation = Relation {
                schema: s.schema.clone(),
                identifier: t.identifier.clone(),
            };
            let mut config = NodeConfig::default();
            let mut tags = s.tags.clone();
            for tag in &t.tags {
                if !tags.contains(tag) {
                    tags.push(tag.clone());
                }
            }
            config.tags = tags;
            config.meta = s.meta.clone();
            config.meta.extend(t.meta.clone());
            source_index.insert(key, (base + source_nodes.len(), relation.clone()));
            source_nodes.push(CompiledNode {
                unique_id: format!("source.{pname}.{}.{}", s.name, t.name),
                resource_type: ResourceType::Source,
                name: t.name.clone(),
                original_file_path: t.span.file.to_path_buf(),
                fqn: vec![pname.clone(), s.name.clone(), t.name.clone()],
                config: Arc::new(config),
                description: t.description.clone().or_else(|| s.description.clone()),
                columns: t.columns.iter().map(column_info).collect(),
                depends_on: Vec::new(),
                relation: Some(relation),
                raw_code: None,
                compiled_code: None,
                checksum: crate::digest::sha256_fmt(format_args!("{}.{}", s.name, t.name)),
                compiled_checksum: None,
                compiled_incremental_code: None,
                pre_hooks: Vec::new(),
                post_hooks: Vec::new(),
                test: None,
                source: Some(Box::new(SourceInfo {
                    source_name: s.name.clone(),
                    loaded_at_field: t
                        .loaded_at_field
                        .clone()
                        .or_else(|| s.loaded_at_field.clone()),
                    freshness: t.freshness.clone().or_else(|| s.freshness.clone()),
                })),
                exposure: None,
                contract: None,
                logs: Vec::new(),
            });
        }
    }

    crate::timing::mark("relations_sources");
    // Resolve each rendered text's relation calls (main SQL, incremental SQL, hooks), in
    // parallel; edges and diagnostics are gathered in node order after.
    struct ResolvedNode {
        sql: Option<String>,
        incremental: Option<String>,
        hooks: (Vec<String>, Vec<String>),
        edges: Vec<Edge>,
        diags: Diagnostics,
    }
    let resolved: Vec<ResolvedNode> = pending
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let own = node_relations[i]
                .as_ref()
                .map(Relation::quoted)
                .unwrap_or_else(|| sql::quote_ident(&p.name));
            let mut out = ResolvedNode {
                sql: None,
                incremental: None,
                hooks: (Vec::new(), Vec::new()),
                edges: Vec::new(),
                diags: Diagnostics::new(),
            };
            let resolve = |r: &jinja::Rendered, src: &str, out: &mut ResolvedNode| {
                let mut replacements: Vec<String> = Vec::with_capacity(r.recorded.relations.len());
                for (n, call) in r.recorded.relations.iter().enumerate() {
                    let span = r
                        .relation_spans
                        .get(n)
                        .cloned()
                        .unwrap_or_else(|| call_span(src, &p.path, call));
                    match resolve_call(
                        call,
                        &pname,
                        &refable,
                        &source_index,
                        &disabled,
                        &span,
                        &mut out.diags,
                    ) {
                        Some((parent, replacement)) => {
                            out.edges.push(Edge {
                                parent,
                                child: i,
                                span: Some(span),
                            });
                            replacements.push(replacement);
                        }
                        None => return None,
                    }
                }
                Some(substitute_tokens(&r.text, &own, &replacements))
            };
            let src = p.template.as_deref().unwrap_or("");
            if let Some(r) = &rendered[i] {
                out.sql = resolve(r, src, &mut out);
            }
            match extra[i].incremental.as_deref() {
                Some(Ok(r)) => out.incremental = resolve(r, src, &mut out),
                Some(Err(d)) => out.diags.push(d.clone()),
                None => {}
            }
            for (pre, hook_src, r) in &extra[i].hooks {
                match r {
                    Ok(r) => {
                        if let Some(t) = resolve(r, hook_src, &mut out) {
                            if *pre {
                                out.hooks.0.push(t);
                            } else {
                                out.hooks.1.push(t);
                            }
                        }
                    }
                    Err(d) => out.diags.push(
                        d.clone()
                            .at(Span::file(&p.path))
                            .with_note(format!("in hook `{hook_src}`")),
                    ),
                }
            }
            out
        })
        .collect();
    let mut edges: Vec<Edge> = Vec::with_capacity(resolved.iter().map(|r| r.edges.len()).sum());
    let mut substituted: Vec<Option<String>> = Vec::with_capacity(pending.len());
    let mut substituted_incremental: Vec<Option<String>> = Vec::with_capacity(pending.len());
    let mut hooks: Vec<(Vec<String>, Vec<String>)> = Vec::with_capacity(pending.len());
    for r in resolved {
        substituted.push(r.sql);
        substituted_incremental.push(r.incremental);
        hooks.push(r.hooks);
        edges.extend(r.edges);
        diags.extend(r.diags);
    }

    // A source table whose relation a seed builds depends on that seed.
    let seed_by_relation: HashMap<(String, String), usize> = pending
        .iter()
        .enumerate()
        .filter(|(_, p)| p.resource_type == ResourceType::Seed)
        .filter_map(|(i, _)| {
            node_relations[i]
                .as_ref()
                .map(|r| ((r.schema.to_lowercase(), r.identifier.to_lowercase()), i))
        })
        .collect();
    for (idx, rel) in source_index.values() {
        if let Some(&seed) =
            seed_by_relation.get(&(rel.schema.to_lowercase(), rel.identifier.to_lowercase()))
        {
            edges.push(Edge {
                parent: seed,
                child: *idx,
                span: None,
            });
        }
    }

    crate::timing::mark("resolve");
    // SQL analysis in the target dialect, in parallel, for every node whose relations resolved
    // (even when other files have errors, so one run reports everything); lines are mapped back
    // to the model files.
    let kind = target.info.kind;
    let relation_of = |idx: usize| -> Option<&Relation> {
        if idx < base {
            node_relations[idx].as_ref()
        } else {
            source_nodes
                .get(idx - base)
                .and_then(|n| n.relation.as_ref())
        }
    };
    // What a hard-coded relation should have been written as, by lowercased schema and name:
    // built for the first such warning only.
    let known_relations = std::sync::OnceLock::<HashMap<(String, String), String>>::new();
    let known_relations = || {
        known_relations.get_or_init(|| {
            let key_of = |r: &Relation| (r.schema.to_lowercase(), r.identifier.to_lowercase());
            let mut known = HashMap::new();
            for (i, p) in pending.iter().enumerate() {
                if let Some(r) = &node_relations[i] {
                    known
                        .entry(key_of(r))
                        .or_insert_with(|| format!("ref('{}')", p.name));
                }
            }
            for n in &source_nodes {
                if let (Some(r), Some(s)) = (&n.relation, &n.source) {
                    known
                        .entry(key_of(r))
                        .or_insert_with(|| format!("source('{}', '{}')", s.source_name, n.name));
                }
            }
            known
        })
    };
    // Each node's parents through ref() and source(), in one flat list per node (by counts).
    let mut parent_start = vec![0usize; pending.len() + 1];
    for e in &edges {
        if e.child < pending.len() {
            parent_start[e.child + 1] += 1;
        }
    }
    for k in 1..parent_start.len() {
        parent_start[k] += parent_start[k - 1];
    }
    let mut parent_list = vec![0usize; parent_start[pending.len()]];
    let mut filled = parent_start.clone();
    for e in &edges {
        if e.child < pending.len() {
            parent_list[filled[e.child]] = e.parent;
            filled[e.child] += 1;
        }
    }
    drop(filled);
    let parents_of = |i: usize| &parent_list[parent_start[i]..parent_start[i + 1]];
    // Whether two names are equal once lowercased (without building the lowercase strings).
    let same_lowercase = |a: &str, b: &str| {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    };
    let ephemeral_names: BTreeSet<String> = pending
        .iter()
        .filter(|p| p.config.materialized == Some(Materialized::Ephemeral))
        .map(|p| ephemeral_cte_name(&p.name))
        .collect();
    // Analyses of an earlier compile, by the hash of the SQL: unchanged models are not parsed.
    let cache = analysis_cache_job.join().unwrap_or_default();
    let analyses: Vec<Option<AnalysisOutcome>> = pending
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let code = substituted[i].as_ref()?;
            let r = rendered[i].as_ref()?;
            let source = p.template.as_deref().unwrap_or("");
            // Positions are needed only for diagnostics (rare): map them lazily.
            let at_line_col = |line: usize, col: usize| {
                let spans = spans_of(p, r, false);
                SourceMap {
                    spans: &spans,
                    rendered: &r.text,
                    source,
                    file: &p.path,
                }
                .at_line_col(line, col)
            };
            let key = sql::cache::key(kind, code);
            let analyzed = match cache.take(&key) {
                Some(a) => Ok(a),
                None => sql::analyze(code, kind),
            };
            match analyzed {
                Ok(a) => {
                    let mut warnings = Vec::new();
                    for rel in &a.relations {
                        let (schema, table) = match rel.parts.as_slice() {
                            [.., s, t] => (s.as_str(), t.as_str()),
                            [t] => {
                                if ephemeral_names.contains(&t.to_lowercase()) {
                                    continue;
                                }
                                (target.info.schema.as_str(), t.as_str())
                            }
                            [] => continue,
                        };
                        // A relation one of its ref() or source() calls gave it.
                        let own = parents_of(i).iter().any(|&parent| {
                            relation_of(parent).is_some_and(|r| {
                                same_lowercase(&r.identifier, table)
                                    && same_lowercase(&r.schema, schema)
                            })
                        });
                        if own {
                            continue;
                        }
                        let key = (schema.to_lowercase(), table.to_lowercase());
                        let help = match known_relations().get(&key) {
                            Some(call) => format!("write {{{{ {call} }}}} so strata knows the dependency"),
                            None => "declare it as a source in a properties file and read it with source()".to_string(),
                        };
                        warnings.push(
                            Diagnostic::warning(
                                Code::HardCodedRelation,
                                format!("`{}` reads `{}`, which is neither a ref() nor a source()", p.name, rel.text),
                            )
                            .at(mark_text(at_line_col(rel.line, rel.col), source, &rel.text))
                            .with_label("hard-coded relation")
                            .with_help(help),
                        );
                    }
                    for f in &a.foreign_functions {
                        let mut d = Diagnostic::error(
                            Code::DialectFunction,
                            format!(
                                "`{}` calls `{}()`, which {} has and {} does not",
                                p.name,
                                f.name,
                                f.only_in.as_str(),
                                kind.as_str()
                            ),
                        )
                        .at(mark_text(at_line_col(f.line, f.col), source, &f.name))
                        .with_label(format!("not a {} function", kind.as_str()));
                        d = match &f.instead {
                            Some(i) => d.with_help(format!("write it so that both engines run it: {i}")),
                            None => d.with_help("call it from a macro dispatched per engine (adapter.dispatch), with a variant for each".to_string()),
                        };
                        warnings.push(d);
                    }
                    Some((Some(a.columns.clone()), warnings, Some((key, a))))
                }
                Err(e) => Some((
                    None,
                    vec![
                        Diagnostic::error(
                            Code::SqlSyntax,
                            format!("SQL syntax error ({} dialect): {}", kind.as_str(), e.message),
                        )
                        .at(at_line_col(e.line, e.col))
                        .with_label("the rendered SQL does not parse here")
                        .with_note(format!(
                            "line {} of the rendered SQL; the rendered SQL is what `strata compile` writes once the project is valid",
                            e.line
                        )),
                    ],
                    None,
                )),
            }
        })
        .collect();
    // The incremental variant must parse too.
    let incremental_checked: Vec<Result<(String, sql::Analysis), Diagnostic>> = pending
        .par_iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let code = substituted_incremental[i].as_ref()?;
            let r = extra[i].incremental.as_deref()?.as_ref().ok()?;
            let key = sql::cache::key(kind, code);
            if let Some(a) = cache.take(&key) {
                return Some(Ok((key, a)));
            }
            let e = match sql::analyze(code, kind) {
                Ok(a) => return Some(Ok((key, a))),
                Err(e) => e,
            };
            let spans = spans_of(p, r, true);
            let map = SourceMap {
                spans: &spans,
                rendered: &r.text,
                source: p.template.as_deref().unwrap_or(""),
                file: &p.path,
            };
            Some(Err(Diagnostic::error(
                Code::SqlSyntax,
                format!(
                    "SQL syntax error ({} dialect) when is_incremental() is true: {}",
                    kind.as_str(),
                    e.message
                ),
            )
            .at(map.at_line_col(e.line, e.col))
            .with_label("the rendered SQL does not parse here")))
        })
        .collect();
    let mut output_columns: Vec<Vec<String>> = vec![Vec::new(); pending.len()];
    let mut analysis_entries: Vec<(String, sql::Analysis)> =
        Vec::with_capacity(pending.len() + incremental_checked.len());
    for checked in incremental_checked {
        match checked {
            Ok(entry) => analysis_entries.push(entry),
            Err(d) => diags.push(d),
        }
    }
    for (i, a) in analyses.into_iter().enumerate() {
        let Some((cols, found, keep)) = a else {
            continue;
        };
        diags.extend(found);
        if let Some(entry) = keep {
            analysis_entries.push(entry);
        }
        if let Some(cols) = cols {
            output_columns[i] = cols;
        }
    }

    // What the next compile may reuse: the rendered texts are not needed any more, so they
    // move into the cache's entries.
    let renders = rendered.iter().flatten().count()
        + extra
            .iter()
            .map(|x| x.hooks.len() + usize::from(x.incremental.is_some()))
            .sum::<usize>();
    let mut render_entries: Vec<(String, jinja::cache::Entry)> = Vec::with_capacity(renders);
    for (r, x) in rendered.iter_mut().zip(extra.iter_mut()) {
        let hooks = x.hooks.iter_mut().filter_map(|(_, _, r)| r.as_mut().ok());
        for r in r
            .iter_mut()
            .chain(x.incremental.iter_mut().filter_map(|r| (**r).as_mut().ok()))
            .chain(hooks)
        {
            if let Some(key) = r.cache_key.take() {
                render_entries.push((key, render_entry(r)));
            }
        }
    }
    drop(extra);
    // Every render that can be cached is done: the caches are sorted and serialized meanwhile
    // (a cache whose file already holds it is not written again: a compile where nothing
    // changed writes neither). A render taken from the cache read no environment variable this
    // time: the reads it made before are kept.
    let mut render_env = renderer.env_reads();
    if render_hits {
        for (k, v) in render_cache.env() {
            render_env.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let caches = CacheFiles::serialize(CacheUpdate {
        analyses_read: cache,
        analyses: analysis_entries,
        renders_read: render_cache,
        renders: render_entries,
        render_global,
        render_env,
        schemas: schema_entries,
    });

    crate::timing::mark("analyze");
    // Generic tests from properties.
    // Test nodes, then exposures, go first into the vector that becomes the project's nodes,
    // sized once for all of them: the models, seeds and sources before them are added last,
    // and moved to the front (see "assemble").
    let mut test_nodes: Vec<CompiledNode> = Vec::new();
    let custom_tests: BTreeSet<String> = renderer
        .macros()
        .keys()
        .filter_map(|m| m.strip_prefix("test_").map(str::to_string))
        .collect();
    let mut test_defs: Vec<(&TestDef, usize, std::borrow::Cow<str>, &Relation)> = Vec::new();
    let props = project
        .properties
        .models
        .iter()
        .chain(&project.properties.seeds);
    let declared = declared_tests.models.iter().chain(&declared_tests.seeds);
    for (p, tests) in props.zip(declared) {
        let Some(index) = refable.get(p.name.as_str()).map(|r| r.index) else {
            continue;
        };
        let Some(rel) = &node_relations[index] else {
            continue;
        };
        for t in tests {
            test_defs.push((t, index, p.name.as_str().into(), rel));
        }
    }
    for (s, tables) in project
        .properties
        .sources
        .iter()
        .zip(&declared_tests.sources)
    {
        for (t, tests) in s.tables.iter().zip(tables) {
            let Some((index, rel)) = source_index.get(&(s.name.clone(), t.name.clone())) else {
                continue;
            };
            for td in tests {
                test_defs.push((td, *index, format!("{}_{}", s.name, t.name).into(), rel));
            }
        }
    }
    let test_base = base + source_nodes.len();
    let mut test_names: FastMap<String, usize> = FastMap::default();
    let all_node_ids: Vec<&str> = pending
        .iter()
        .map(|p| p.id.as_str())
        .chain(source_nodes.iter().map(|s| s.unique_id.as_str()))
        .collect();
    // Each test's SQL in parallel (the macros and the SQL builders are pure); names, edges and
    // nodes in declaration order after.
    struct PreparedTest<'a> {
        def: &'a TestDef,
        attached: usize,
        attached_name: std::borrow::Cow<'a, str>,
        extra_parents: Vec<usize>,
        sql_text: String,
        /// The name before duplicates are numbered.
        base_name: String,
        /// sha256 of the definition.
        checksum: String,
    }
    let prepared: Vec<(Diagnostics, Option<PreparedTest>)> = test_defs
        .into_par_iter()
        .map(|(def, attached, attached_name, rel)| {
        let mut diags = Diagnostics::new();
        let is_builtin = checks::BUILTIN_TESTS.contains(&def.test_name.as_str());
        if !is_builtin && !custom_tests.contains(&def.test_name) {
            let candidates: Vec<&str> = checks::BUILTIN_TESTS
                .iter()
                .copied()
                .chain(custom_tests.iter().map(String::as_str))
                .collect();
            diags.push(
                Diagnostic::error(Code::UnknownTest, format!("unknown test `{}`", def.test_name))
                    .at(def.span.clone())
                    .with_help_opt(suggest(&def.test_name, candidates.iter().copied()).or_else(|| {
                        Some(format!("built-in tests: {}; custom tests are macros defined with {{% test name(model, column_name) %}}", checks::BUILTIN_TESTS.join(", ")))
                    })),
            );
            return (diags, None);
        }
        if is_builtin {
            let allowed = checks::builtin_args(&def.test_name);
            let mut bad = false;
            for arg in def.args.keys() {
                if !allowed.contains(&arg.as_str()) {
                    let span = def
                        .arg_spans
                        .get(arg)
                        .cloned()
                        .unwrap_or_else(|| def.span.clone());
                    let mut keys: Vec<&str> = allowed.to_vec();
                    keys.extend([
                        "config",
                        "arguments",
                        "name",
                        "severity",
                        "where",
                        "warn_if",
                        "error_if",
                        "store_failures",
                        "limit",
                        "tags",
                        "enabled",
                        "meta",
                    ]);
                    diags.push(crate::project::yaml::unknown_key(
                        arg,
                        &format!("test `{}`", def.test_name),
                        &keys,
                        span,
                    ));
                    bad = true;
                }
            }
            for req in checks::builtin_required(&def.test_name) {
                if !def.args.contains_key(*req) {
                    diags.push(
                        Diagnostic::error(
                            Code::MissingKey,
                            format!("test `{}` needs `{req}`", def.test_name),
                        )
                        .at(def.span.clone()),
                    );
                    bad = true;
                }
            }
            if checks::needs_column(&def.test_name) && def.column.is_none() {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!(
                            "test `{}` must be declared on a column (under `columns:`)",
                            def.test_name
                        ),
                    )
                    .at(def.span.clone()),
                );
                bad = true;
            }
            if bad {
                return (diags, None);
            }
        }
        // Relations named in arguments (`to`, `compare_model`).
        let mut extra_parents = Vec::new();
        let mut resolve_arg = |key: &str, diags: &mut Diagnostics| -> Result<Option<String>, ()> {
            let Some(J::String(text)) = def.args.get(key) else {
                return Ok(None);
            };
            let span = def
                .arg_spans
                .get(key)
                .cloned()
                .unwrap_or_else(|| def.span.clone());
            let call = match crate::project::properties::parse_depends_on(text) {
                Some(DependsOn::Ref(name)) => RelationCall::Ref {
                    project: None,
                    name,
                },
                Some(DependsOn::Source(source, table)) => RelationCall::Source { source, table },
                None => {
                    diags.push(
                        Diagnostic::error(Code::InvalidValue, format!("`{key}` must be ref('model') or source('source', 'table'), found `{text}`"))
                            .at(span),
                    );
                    return Err(());
                }
            };
            match resolve_call(
                &call,
                &pname,
                &refable,
                &source_index,
                &disabled,
                &span,
                diags,
            ) {
                Some((parent, replacement)) => {
                    extra_parents.push(parent);
                    Ok(Some(replacement))
                }
                None => Err(()),
            }
        };
        let Ok(to) = resolve_arg("to", &mut diags) else {
            return (diags, None);
        };
        let Ok(compare) = resolve_arg("compare_model", &mut diags) else {
            return (diags, None);
        };
        let model_rel = match def.config.as_ref().and_then(|c| c.where_clause.as_ref()) {
            Some(w) => format!(
                "(select * from {} where {w}) as strata_subquery",
                rel.quoted()
            ),
            None => rel.quoted(),
        };
        let column_sql = def.column.as_deref().map(sql::quote_ident);
        let sql_text = if is_builtin {
            match checks::builtin_sql(
                &def.test_name,
                &model_rel,
                column_sql.as_deref(),
                &def.args,
                to.as_deref(),
                compare.as_deref(),
            ) {
                Ok(s) => s,
                Err(msg) => {
                    diags.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            format!("test `{}`: {msg}", def.test_name),
                        )
                        .at(def.span.clone()),
                    );
                    return (diags, None);
                }
            }
        } else {
            let mut kwargs: Vec<(String, minijinja::Value)> =
                vec![("model".into(), minijinja::Value::from(model_rel.clone()))];
            if let Some(c) = &column_sql {
                kwargs.push(("column_name".into(), minijinja::Value::from(c.clone())));
            }
            for (k, v) in &def.args {
                kwargs.push((k.clone(), crate::jinja::to_value(v)));
            }
            let kw = minijinja::value::Kwargs::from_iter(kwargs);
            match renderer.call_macro(
                &format!("test_{}", def.test_name),
                &[minijinja::Value::from(kw)],
            ) {
                Ok(s) => s.trim().to_string(),
                Err(e) => {
                    diags.push(
                        jinja::jinja_diagnostic(&e, &def.span.file, None, sources()).with_note(
                            format!(
                                "while compiling test `{}` declared at {}",
                                def.test_name, def.span
                            ),
                        ),
                    );
                    return (diags, None);
                }
            }
        };
        let base_name = def.custom_name.clone().unwrap_or_else(|| {
            checks::test_name(
                &def.test_name,
                &attached_name,
                def.column.as_deref(),
                &def.args,
            )
        });
        let checksum = crate::digest::sha256_fmt(format_args!(
            "{}:{}:{:?}",
            def.test_name, all_node_ids[attached], def.args
        ));
        (
            diags,
            Some(PreparedTest {
                def,
                attached,
                attached_name,
                extra_parents,
                sql_text,
                base_name,
                checksum,
            }),
        )
        })
        .collect();
    test_nodes.reserve_exact(
        base + source_nodes.len()
            + prepared.len()
            + project.properties.unit_tests.len()
            + project.properties.exposures.len(),
    );
    // Names (duplicates numbered in declaration order) and edges; then the nodes, in parallel.
    let mut named: Vec<(PreparedTest, String)> = Vec::with_capacity(prepared.len());
    for (found, prepared) in prepared {
        diags.extend(found);
        let Some(t) = prepared else {
            continue;
        };
        let count = test_names.entry(t.base_name.clone()).or_insert(0);
        *count += 1;
        let name = if *count == 1 {
            t.base_name.clone()
        } else {
            format!("{}_{}", t.base_name, *count)
        };
        let index = test_base + test_nodes.len() + named.len();
        for parent in std::iter::once(&t.attached).chain(&t.extra_parents) {
            edges.push(Edge {
                parent: *parent,
                child: index,
                span: Some(t.def.span.clone()),
            });
        }
        named.push((t, name));
    }
    let default_test_config = Arc::new(NodeConfig {
        severity: Some(crate::project::config::TestSeverity::Error),
        ..NodeConfig::default()
    });
    test_nodes.par_extend(named.into_par_iter().map(|(t, name)| {
        let def = t.def;
        // Most tests set no config: they share one.
        let config = match def.config.as_deref() {
            None => Arc::clone(&default_test_config),
            Some(c) => {
                let mut config = c.clone();
                if config.severity.is_none() {
                    config.severity = Some(crate::project::config::TestSeverity::Error);
                }
                Arc::new(config)
            }
        };
        let audit = audit_relation(&target.info.schema, &config, &name);
        CompiledNode {
            unique_id: format!("test.{pname}.{name}"),
            resource_type: ResourceType::Test,
            name,
            original_file_path: def.span.file.to_path_buf(),
            fqn: vec![
                pname.clone(),
                t.attached_name.into_owned(),
                def.test_name.clone(),
            ],
            config,
            description: None,
            columns: Vec::new(),
            depends_on: Vec::new(),
            relation: None,
            raw_code: None,
            compiled_checksum: None,
            compiled_incremental_code: None,
            pre_hooks: Vec::new(),
            post_hooks: Vec::new(),
            compiled_code: Some(t.sql_text),
            checksum: t.checksum,
            test: Some(Box::new(TestInfo {
                test_name: def.test_name.clone(),
                test_type: "generic",
                kwargs: def.args.clone(),
                column_name: def.column.clone(),
                attached_node: Some(all_node_ids[t.attached].to_string()),
                audit_relation: audit,
                unit: None,
            })),
            source: None,
            exposure: None,
            contract: None,
            logs: Vec::new(),
        }
    }));

    // Freed on another thread: at 100k models, a serial tenth of a second.
    std::thread::spawn(move || drop(declared_tests));

    crate::timing::mark("generic_tests");
    // Unit tests: nodes now (so that selection and the DAG know them); their SQL once the
    // model's final SQL exists.
    let mut unit_pending: Vec<UnitPending> = Vec::new();
    let mut unit_names: HashMap<String, Span> = HashMap::new();
    for u in &project.properties.unit_tests {
        if !u.config.is_enabled() {
            continue;
        }
        if let Some(first) = unit_names.get(&u.name) {
            diags.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("two unit tests are named `{}`", u.name),
                )
                .at(u.span.clone())
                .with_related(first.clone(), "first declared here"),
            );
            continue;
        }
        unit_names.insert(u.name.clone(), u.span.clone());
        let model = match refable.get(u.model.as_str()) {
            Some(r) if pending[r.index].resource_type == ResourceType::Model && !r.ephemeral => r,
            Some(_) => {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("unit test `{}`: `{}` is not a model that builds a relation (seeds and ephemeral models cannot be unit tested)", u.name, u.model),
                    )
                    .at(u.model_span.clone()),
                );
                continue;
            }
            None => {
                let names = refable.keys().copied();
                diags.push(
                    Diagnostic::error(
                        Code::MissingRef,
                        format!(
                            "unit test `{}` tests `{}`, which is not a model of this project",
                            u.name, u.model
                        ),
                    )
                    .at(u.model_span.clone())
                    .with_help_opt(
                        suggest(&u.model, names).map(|s| format!("did you mean `{s}`?")),
                    ),
                );
                continue;
            }
        };
        let m = model.index;
        if u.is_incremental && pending[m].config.materialized != Some(Materialized::Incremental) {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!(
                        "unit test `{}` overrides is_incremental, but `{}` is not incremental",
                        u.name, u.model
                    ),
                )
                .at(u.span.clone()),
            );
            continue;
        }
        let read_rows =
            |def: &crate::project::properties::RowsDef| -> Result<checks::unit::Rows, String> {
                use crate::project::properties::RowsDef;
                match def {
                    RowsDef::Maps(maps) => Ok(checks::unit::Rows::from_maps(maps)),
                    RowsDef::Csv(text) => checks::unit::Rows::from_csv(text),
                    RowsDef::Fixture(f) => {
                        let text = std::fs::read_to_string(project.root.join(f))
                            .map_err(|e| format!("cannot read fixture `{f}`: {e}"))?;
                        checks::unit::Rows::from_csv(&text)
                            .map_err(|e| format!("fixture `{f}`: {e}"))
                    }
                }
            };
        let mut given = Vec::new();
        let mut ok = true;
        for (k, g) in u.given.iter().enumerate() {
            let relation = if g.input.trim() == "this" {
                node_relations[m].clone()
            } else {
                match crate::project::properties::parse_depends_on(&g.input) {
                    Some(DependsOn::Ref(name)) => match refable.get(name.as_str()) {
                        Some(r) if r.ephemeral => {
                            diags.push(
                                Diagnostic::error(Code::InvalidValue, format!("`{name}` is ephemeral: give rows for its own inputs instead"))
                                    .at(g.span.clone()),
                            );
                            ok = false;
                            None
                        }
                        Some(r) => r.relation.clone(),
                        None => {
                            diags.push(
                                Diagnostic::error(Code::MissingRef, format!("unit test `{}` gives rows for `{name}`, which is not a model or seed", u.name))
                                    .at(g.span.clone())
                                    .with_help_opt(suggest(&name, refable.keys().copied()).map(|s| format!("did you mean `{s}`?"))),
                            );
                            ok = false;
                            None
                        }
                    },
                    Some(DependsOn::Source(src, table)) => {
                        match source_index.get(&(src.clone(), table.clone())) {
                            Some((_, rel)) => Some(rel.clone()),
                            None => {
                                diags.push(
                                Diagnostic::error(Code::MissingSource, format!("unit test `{}` gives rows for source `{src}.{table}`, which is not declared", u.name))
                                    .at(g.span.clone()),
                            );
                                ok = false;
                                None
                            }
                        }
                    }
                    None => {
                        diags.push(
                            Diagnostic::error(Code::InvalidValue, format!("`input` must be ref('model'), source('source', 'table') or this, found `{}`", g.input))
                                .at(g.span.clone()),
                        );
                        ok = false;
                        None
                    }
                }
            };
            let rows = match read_rows(&g.rows) {
                Ok(r) => r,
                Err(e) => {
                    diags.push(Diagnostic::error(Code::InvalidValue, e).at(g.span.clone()));
                    ok = false;
                    continue;
                }
            };
            given.push(checks::unit::Given {
                input: g.input.trim().to_string(),
                cte: format!("__strata_given_{k}"),
                relation,
                rows,
            });
        }
        let expect = match read_rows(&u.expect) {
            Ok(r) => r,
            Err(e) => {
                diags.push(Diagnostic::error(Code::InvalidValue, e).at(u.span.clone()));
                continue;
            }
        };
        if !ok {
            continue;
        }
        if expect.columns.is_empty() {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!(
                        "unit test `{}`: `expect` names no column (give rows, or a CSV header)",
                        u.name
                    ),
                )
                .at(u.span.clone()),
            );
            continue;
        }
        let index = test_base + test_nodes.len();
        edges.push(Edge {
            parent: m,
            child: index,
            span: Some(u.span.clone()),
        });
        unit_pending.push(UnitPending {
            index,
            model: m,
            is_incremental: u.is_incremental,
            span: u.span.clone(),
        });
        test_nodes.push(CompiledNode {
            unique_id: format!("unit_test.{pname}.{}.{}", u.model, u.name),
            resource_type: ResourceType::Test,
            name: u.name.clone(),
            original_file_path: u.span.file.to_path_buf(),
            fqn: vec![pname.clone(), u.model.clone(), u.name.clone()],
            config: Arc::new(u.config.clone()),
            description: u.description.clone(),
            columns: Vec::new(),
            depends_on: Vec::new(),
            relation: None,
            raw_code: None,
            compiled_code: None,
            compiled_checksum: None,
            compiled_incremental_code: None,
            pre_hooks: Vec::new(),
            post_hooks: Vec::new(),
            checksum: crate::digest::sha256_fmt(format_args!(
                "{}:{}:{:?}:{:?}",
                u.name, u.model, given, expect
            )),
            test: Some(Box::new(TestInfo {
                test_name: "unit".into(),
                test_type: "unit",
                kwargs: BTreeMap::new(),
                column_name: None,
                attached_node: Some(all_node_ids[m].to_string()),
                audit_relation: None,
                unit: Some(Box::new(checks::unit::UnitSpec {
                    model: u.model.clone(),
                    model_sql: String::new(),
                    given,
                    expect,
                })),
            })),
            source: None,
            exposure: None,
            contract: None,
            logs: Vec::new(),
        });
    }

    // Exposures.
    let mut seen_exposures: BTreeMap<String, Span> = BTreeMap::new();
    for e in &project.properties.exposures {
        if let Some(first) = seen_exposures.get(&e.name) {
            diags.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("exposure `{}` is declared twice", e.name),
                )
                .at(e.span.clone())
                .with_related(first.clone(), "first declared here"),
            );
            continue;
        }
        seen_exposures.insert(e.name.clone(), e.span.clone());
        let index = test_base + test_nodes.len();
        for (dep, span) in &e.depends_on {
            let call = match dep {
                DependsOn::Ref(name) => RelationCall::Ref {
                    project: None,
                    name: name.clone(),
                },
                DependsOn::Source(source, table) => RelationCall::Source {
                    source: source.clone(),
                    table: table.clone(),
                },
            };
            if let Some((parent, _)) = resolve_call(
                &call,
                &pname,
                &refable,
                &source_index,
                &disabled,
                span,
                &mut diags,
            ) {
                edges.push(Edge {
                    parent,
                    child: index,
                    span: Some(span.clone()),
                });
            }
        }
        let mut config = NodeConfig {
            tags: e.tags.clone(),
            meta: e.meta.clone(),
            ..Default::default()
        };
        config.owner = e.owner_email.clone().or_else(|| e.owner_name.clone());
        test_nodes.push(CompiledNode {
            unique_id: format!("exposure.{pname}.{}", e.name),
            resource_type: ResourceType::Exposure,
            name: e.name.clone(),
            original_file_path: e.span.file.to_path_buf(),
            fqn: vec![pname.clone(), e.name.clone()],
            config: Arc::new(config),
            description: e.description.clone(),
            columns: Vec::new(),
            depends_on: Vec::new(),
            relation: None,
            raw_code: None,
            compiled_code: None,
            checksum: crate::digest::sha256_fmt(format_args!("{e:?}")),
            compiled_checksum: None,
            compiled_incremental_code: None,
            pre_hooks: Vec::new(),
            post_hooks: Vec::new(),
            test: None,
            source: None,
            exposure: Some(Box::new(ExposureInfo {
                exposure_type: e.exposure_type.clone(),
                owner_name: e.owner_name.clone(),
                owner_email: e.owner_email.clone(),
                url: e.url.clone(),
                maturity: e.maturity.clone(),
                label: e.label.clone(),
            })),
            contract: None,
            logs: Vec::new(),
        });
    }

    if diags.has_errors() {
        // Cycles are only meaningful once every ref resolved; report what we have.
        diags.sort();
        return Err(diags);
    }

    crate::timing::mark("unit_tests_exposures");
    // Assemble model/seed/singular-test nodes.
    let later = test_nodes.len();
    let mut nodes = test_nodes;
    // Descriptions may call doc(): rendered in parallel.
    let descriptions: Vec<Result<Option<String>, Diagnostic>> = pending
        .par_iter()
        .map(|p| {
            let Some(d) = &p.description else {
                return Ok(None);
            };
            let file: &Path = match &p.description_span {
                Some(s) => &s.file,
                None => &p.path,
            };
            renderer
                .render_str(&display_path(file), d)
                .map(Some)
                .map_err(|e| {
                    let mut d = jinja::jinja_diagnostic(&e, file, None, sources());
                    if let Some(span) = &p.description_span {
                        d.span = Some(span.clone());
                    }
                    d
                })
        })
        .collect();
    // Data contracts: each schema file is read and checked once.
    let mut loaded: HashMap<String, Result<crate::checks::contract::ContractInfo, ()>> =
        HashMap::new();
    let mut contracts: Vec<Option<crate::checks::contract::ContractInfo>> =
        vec![None; pending.len()];
    for (i, p) in pending.iter().enumerate() {
        let Some(cfg) = &p.config.contract else {
            continue;
        };
        if p.resource_type != ResourceType::Model {
            continue;
        }
        let Some(schema) = cfg.schema.as_deref() else {
            diags.push(
                Diagnostic::error(
                    Code::ContractInvalid,
                    format!("model `{}` declares a contract without a schema", p.name),
                )
                .at(Span::file(&p.path))
                .with_help("write contract: {schema: contracts/<name>.v1.json, enforced: true}"),
            );
            continue;
        };
        let entry = loaded.entry(schema.to_string()).or_insert_with(|| {
            crate::checks::contract::load(&project.root, schema, true).map_err(|e| {
                let span = match e.at {
                    Some((line, col)) => Span::new(schema, line, col, 1),
                    None => Span::file(schema),
                };
                diags.push(
                    Diagnostic::error(Code::ContractInvalid, e.message)
                        .at(span)
                        .with_note(format!(
                            "the contract of model `{}` ({})",
                            p.name,
                            display_path(&p.path)
                        )),
                );
            })
        });
        if let Ok(info) = entry {
            let mut info = info.clone();
            info.enforced = cfg.enforced;
            contracts[i] = Some(info);
        }
    }
    // The nodes, built in parallel straight into the vector.
    let descriptions: Vec<Option<String>> = descriptions
        .into_iter()
        .map(|d| {
            d.unwrap_or_else(|d| {
                diags.push(d);
                None
            })
        })
        .collect();
    let n = pending.len();
    assert!(
        [
            descriptions.len(),
            rendered.len(),
            hooks.len(),
            node_relations.len()
        ]
        .into_iter()
        .chain([
            substituted.len(),
            substituted_incremental.len(),
            contracts.len()
        ])
        .all(|len| len == n),
        "one entry per pending node"
    );
    let target_schema = target.info.schema.as_str();
    nodes.par_extend(
        pending
            .into_par_iter()
            .zip(descriptions)
            .zip(rendered)
            .zip(hooks)
            .zip(node_relations)
            .zip(substituted)
            .zip(substituted_incremental)
            .zip(contracts)
            .map(
                |(((((((p, description), rendered), hooks), relation), code), inc), contract)| {
                    let mut columns: Vec<ColumnInfo> = p.columns.iter().map(column_info).collect();
                    for c in &p.seed_columns {
                        if !columns.iter().any(|x| x.name.eq_ignore_ascii_case(c)) {
                            columns.push(ColumnInfo {
                                name: c.clone(),
                                data_type: p.config.column_types.get(c).cloned(),
                                ..Default::default()
                            });
                        }
                    }
                    for c in &mut columns {
                        if c.data_type.is_none() {
                            c.data_type = p.config.column_types.get(&c.name).cloned();
                        }
                    }
                    let logs = rendered.map(|r| r.recorded.logs).unwrap_or_default();
                    let (pre_hooks, post_hooks) = hooks;
                    CompiledNode {
                        test: (p.resource_type == ResourceType::Test).then(|| {
                            Box::new(TestInfo {
                                test_name: "singular".into(),
                                test_type: "singular",
                                kwargs: BTreeMap::new(),
                                column_name: None,
                                attached_node: None,
                                audit_relation: audit_relation(target_schema, &p.config, &p.name),
                                unit: None,
                            })
                        }),
                        unique_id: p.id,
                        resource_type: p.resource_type,
                        name: p.name,
                        original_file_path: p.path,
                        fqn: p.fqn,
                        config: Arc::new(p.config),
                        description,
                        columns,
                        depends_on: Vec::new(),
                        relation,
                        raw_code: p.template,
                        compiled_code: code,
                        checksum: p.checksum,
                        compiled_checksum: None,
                        compiled_incremental_code: inc,
                        pre_hooks,
                        post_hooks,
                        source: None,
                        exposure: None,
                        contract: contract.map(Box::new),
                        logs,
                    }
                },
            ),
    );
    if diags.has_errors() {
        diags.sort();
        return Err(diags);
    }
    nodes.extend(source_nodes);
    // [tests, exposures, models and seeds, sources] -> [models and seeds, sources, tests, exposures]
    let first = nodes.len() - later;
    nodes.rotate_right(first);

    crate::timing::mark("assemble");
    // The files compiled last time are checked against their index on another thread. Started
    // here, not with the compile, it runs while the DAG is built and wildcards are expanded,
    // which leave a core idle, instead of competing with the read of the caches that the
    // renders wait for.
    let compiled_index = if opts.check_compiled {
        crate::artifacts::IndexCheck::start(&artifacts, &target.info.name)
    } else {
        crate::artifacts::IndexCheck::none()
    };
    // The DAG.
    let dag = match Dag::build(&nodes, &edges) {
        Ok(d) => d,
        Err(cycles) => {
            diags.extend(cycles);
            diags.sort();
            return Err(diags);
        }
    };
    let depends_on: Vec<Vec<String>> = (0..nodes.len())
        .into_par_iter()
        .map(|i| {
            let mut deps: Vec<String> = dag
                .parents(i)
                .iter()
                .map(|&p| nodes[p].unique_id.clone())
                .collect();
            deps.sort();
            deps
        })
        .collect();
    nodes
        .par_iter_mut()
        .zip(depends_on)
        .for_each(|(n, deps)| n.depends_on = deps);

    crate::timing::mark("dag");
    // Wildcards: expand `*` from the parent's columns when exactly one parent is read.
    output_columns.resize(nodes.len(), Vec::new());
    for &i in dag.topo_order() {
        if nodes[i].resource_type != ResourceType::Model {
            continue;
        }
        let mut cols = Vec::new();
        for c in std::mem::take(&mut output_columns[i]) {
            if c == "*" || c.ends_with(".*") {
                let parents: Vec<usize> = dag.parents(i).to_vec();
                if parents.len() == 1 {
                    cols.extend(nodes[parents[0]].columns.iter().map(|c| c.name.clone()));
                    continue;
                }
            }
            cols.push(c);
        }
        if let Some(info) = &nodes[i].contract
            && !cols.iter().any(|c| c.contains('*'))
        {
            let schema_text =
                std::fs::read_to_string(project.root.join(&info.schema)).unwrap_or_default();
            let model_src = nodes[i].raw_code.as_deref().unwrap_or("");
            for (col, message) in crate::checks::contract::check_columns(info, &cols) {
                let line = last_line_with_word(model_src, &col).unwrap_or(1);
                let mut d = Diagnostic::error(Code::ContractColumns, message)
                    .at(Span::line(&nodes[i].original_file_path, line));
                if let Some(l) = crate::checks::contract::property_line(&schema_text, &col) {
                    d = d
                        .with_related(Span::line(&info.schema, l), "declared in the contract here");
                }
                diags.push(d.with_help(
                    "change the model's select list, or publish the change as a new contract version (a new schema file)",
                ));
            }
        }
        for c in cols {
            if c.contains('*') {
                continue;
            }
            if !nodes[i]
                .columns
                .iter()
                .any(|x| x.name.eq_ignore_ascii_case(&c))
            {
                nodes[i].columns.push(ColumnInfo {
                    name: c,
                    ..Default::default()
                });
            }
        }
    }

    crate::timing::mark("wildcards");
    // Inline ephemeral parents as CTEs, in dependency order (each body as written: nested
    // ephemerals become CTEs of their own), in parallel.
    let mut topo_pos = vec![0usize; nodes.len()];
    for (k, &i) in dag.topo_order().iter().enumerate() {
        topo_pos[i] = k;
    }
    let injected: Vec<Option<(String, Option<String>)>> = nodes
        .par_iter()
        .enumerate()
        .map(|(i, n)| {
            let code = n.compiled_code.as_ref()?;
            let mut eph: Vec<usize> = Vec::new();
            collect_ephemeral(&dag, &nodes, i, &mut eph, &mut BTreeSet::new());
            if eph.is_empty() {
                return None;
            }
            eph.sort_by_key(|e| topo_pos[*e]);
            let ctes: Vec<String> = eph
                .iter()
                .map(|e| {
                    let body = nodes[*e].compiled_code.as_deref().unwrap_or_default();
                    format!(
                        "{} as (\n{}\n)",
                        ephemeral_cte_name(&nodes[*e].name),
                        body.trim().trim_end_matches(';')
                    )
                })
                .collect();
            Some((
                inject_ctes(code, &ctes),
                n.compiled_incremental_code
                    .as_deref()
                    .map(|inc| inject_ctes(inc, &ctes)),
            ))
        })
        .collect();
    for (n, inj) in nodes.iter_mut().zip(injected) {
        if let Some((code, inc)) = inj {
            n.compiled_code = Some(code);
            n.compiled_incremental_code = inc;
        }
    }
    crate::timing::mark("ephemeral");
    // Unit tests: the model's final SQL with each input replaced by its given rows.
    for u in &unit_pending {
        let model = &nodes[u.model];
        let code = if u.is_incremental {
            model.compiled_incremental_code.clone()
        } else {
            model.compiled_code.clone()
        }
        .unwrap_or_default();
        let mut read: Vec<usize> = Vec::new();
        collect_inputs(&dag, &nodes, u.model, &mut read, &mut BTreeSet::new());
        let test_name = nodes[u.index].name.clone();
        let Some(mut spec) = nodes[u.index].test.as_mut().and_then(|t| t.unit.take()) else {
            continue;
        };
        let mut sql_text = code;
        let mut given_rel: BTreeSet<String> = BTreeSet::new();
        for g in &spec.given {
            let Some(rel) = &g.relation else { continue };
            let quoted = rel.quoted();
            let is_this = g.input == "this";
            let reads = is_this
                || read
                    .iter()
                    .any(|&p| nodes[p].relation.as_ref() == Some(rel));
            if !reads {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!(
                            "unit test `{test_name}` gives rows for {}, which `{}` does not read",
                            g.input, spec.model
                        ),
                    )
                    .at(u.span.clone()),
                );
                continue;
            }
            given_rel.insert(quoted.clone());
            sql_text = sql_text.replace(&quoted, &g.cte);
        }
        for &p in &read {
            let Some(rel) = &nodes[p].relation else {
                continue;
            };
            if !given_rel.contains(&rel.quoted()) {
                let what = match &nodes[p].source {
                    Some(s) => format!("source('{}', '{}')", s.source_name, nodes[p].name),
                    None => format!("ref('{}')", nodes[p].name),
                };
                diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("unit test `{test_name}`: `{}` reads {what}, which has no given rows", spec.model),
                    )
                    .at(u.span.clone())
                    .with_help(format!("add `- input: {what}` with `rows:` under `given:` (an empty list gives no rows)")),
                );
            }
        }
        spec.model_sql = sql_text;
        let display = checks::unit::diff_sql(&spec, &[], &[]);
        nodes[u.index].compiled_code = Some(display);
        if let Some(t) = nodes[u.index].test.as_mut() {
            t.unit = Some(spec);
        }
    }
    nodes.par_iter_mut().for_each(|n| {
        if n.resource_type == ResourceType::Model || n.resource_type == ResourceType::Test {
            n.compiled_checksum = n.compiled_code.as_deref().map(sha256);
        }
    });

    crate::timing::mark("checksums");
    // Project hooks, rendered with the global context.
    let mut run_hooks: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for (k, list) in [&project.on_run_start, &project.on_run_end]
        .into_iter()
        .enumerate()
    {
        for h in list {
            match renderer.render_str(project::PROJECT_FILE, h) {
                Ok(t) => run_hooks[k].push(t),
                Err(e) => diags.push(
                    jinja::jinja_diagnostic(&e, Path::new(project::PROJECT_FILE), None, sources())
                        .with_note(format!("in hook `{h}`")),
                ),
            }
        }
    }
    if diags.has_errors() {
        diags.sort();
        return Err(diags);
    }
    let [on_run_start, on_run_end] = run_hooks;
    drop(renderer);

    diags.sort();
    Ok(Compiled {
        project,
        target,
        nodes,
        dag,
        on_run_start,
        on_run_end,
        warnings: diags,
        caches,
        compiled_index,
    })
}

/// `text` with `this` and relation placeholders replaced, in one pass: `__strata_this__` by
/// `own`, `__strata_rel_<n>__` by `relations[n]` (every relation of the render is resolved).
fn substitute_tokens(text: &str, own: &str, relations: &[String]) -> String {
    const PREFIX: &str = "__strata_";
    let mut out = String::with_capacity(text.len() + 32 * relations.len());
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix(THIS_TOKEN) {
            out.push_str(own);
            rest = after;
            continue;
        }
        const REL: &str = "__strata_rel_";
        let number = tail.strip_prefix(REL).and_then(|after| {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let n = after[..digits].parse::<usize>().ok()?;
            after[digits..].starts_with("__").then_some((n, digits))
        });
        match number {
            Some((n, digits)) if n < relations.len() => {
                out.push_str(&relations[n]);
                rest = &tail[REL.len() + digits + 2..];
            }
            _ => {
                out.push_str(PREFIX);
                rest = &tail[PREFIX.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A render taken from the cache; positions in the template are left to a new render.
fn cached_render(
    e: jinja::cache::Entry,
    key: String,
    scope: ConfigScope,
    file: &Path,
) -> jinja::Rendered {
    let config = (!e.config.is_empty()).then(|| {
        let mut config = Box::<NodeConfig>::default();
        for (k, v) in &e.config {
            // Validated when the entry was stored.
            let _ = config.set(scope, k, v);
        }
        config
    });
    jinja::Rendered {
        text: e.text,
        spans: None,
        recorded: jinja::Recorded {
            relations: e.relations,
            config,
            config_calls: e.config,
            logs: e.logs,
        },
        relation_spans: e
            .at
            .iter()
            .map(|&(line, col, len)| Span::new(file, line, col, len))
            .collect(),
        cache_key: Some(key),
    }
}

/// The cache entry of a render, taking its text, relations and config calls (the logs stay:
/// the node keeps them).
fn render_entry(r: &mut jinja::Rendered) -> jinja::cache::Entry {
    jinja::cache::Entry {
        text: std::mem::take(&mut r.text),
        relations: std::mem::take(&mut r.recorded.relations),
        at: r
            .relation_spans
            .iter()
            .map(|s| (s.line, s.col, s.len))
            .collect(),
        config: std::mem::take(&mut r.recorded.config_calls),
        logs: r.recorded.logs.clone(),
    }
}

/// Widens a one-character span to cover `text` when the source has it verbatim at that place
/// (a relation name written in the model file, not produced by Jinja).
fn mark_text(mut span: Span, src: &str, text: &str) -> Span {
    let written = src
        .lines()
        .nth(span.line - 1)
        .map(|l| l.chars().skip(span.col - 1).collect::<String>())
        .unwrap_or_default();
    if !text.is_empty() && written.starts_with(text) {
        span.len = text.chars().count();
    }
    span
}

/// The table a test's failing rows are kept in when `store_failures` is on: the audit schema
/// (`<target schema>_audit`, or `<target schema>_<schema>` with a `schema` config), named after
/// the test, cut to 63 bytes (Postgres' limit) with a hash suffix when longer.
fn audit_relation(target_schema: &str, config: &NodeConfig, name: &str) -> Option<Relation> {
    if config.store_failures != Some(true) {
        return None;
    }
    let schema = format!(
        "{target_schema}_{}",
        config.schema.as_deref().unwrap_or("audit").trim()
    );
    let identifier = if name.len() > 63 {
        let hash = &sha256(name)[..8];
        let mut cut = 54;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}_{hash}", &name[..cut])
    } else {
        name.to_string()
    };
    Some(Relation { schema, identifier })
}

/// The last line (1-based) of `src` where `word` appears as a whole word, case-insensitively.
fn last_line_with_word(src: &str, word: &str) -> Option<usize> {
    let w = word.to_lowercase();
    src.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.to_lowercase();
            l.match_indices(&w).any(|(at, _)| {
                let before = l[..at].chars().next_back();
                let after = l[at + w.len()..].chars().next();
                let word_char =
                    |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !word_char(before) && !word_char(after)
            })
        })
        .map(|(n, _)| n + 1)
        .last()
}

/// A unit test waiting for its model's final SQL.
struct UnitPending {
    index: usize,
    model: usize,
    is_incremental: bool,
    span: Span,
}

/// The relations a model reads, looking through ephemeral parents (inlined as CTEs).
fn collect_inputs(
    dag: &Dag,
    nodes: &[CompiledNode],
    i: usize,
    out: &mut Vec<usize>,
    seen: &mut BTreeSet<usize>,
) {
    for &p in dag.parents(i) {
        if !seen.insert(p) {
            continue;
        }
        if nodes[p].resource_type == ResourceType::Model
            && nodes[p].materialized() == Materialized::Ephemeral
        {
            collect_inputs(dag, nodes, p, out, seen);
        } else if nodes[p].relation.is_some() {
            out.push(p);
        }
    }
}

/// The CTE name an ephemeral model is inlined under.
pub fn ephemeral_cte_name(name: &str) -> String {
    format!("__strata_ephemeral__{name}")
}

fn collect_ephemeral(
    dag: &Dag,
    nodes: &[CompiledNode],
    i: usize,
    out: &mut Vec<usize>,
    seen: &mut BTreeSet<usize>,
) {
    for &p in dag.parents(i) {
        if nodes[p].materialized() == Materialized::Ephemeral
            && nodes[p].resource_type == ResourceType::Model
            && seen.insert(p)
        {
            out.push(p);
            collect_ephemeral(dag, nodes, p, out, seen);
        }
    }
}

/// Prepends CTEs to a query, merging with its own `WITH` when it has one.
fn inject_ctes(sql_text: &str, ctes: &[String]) -> String {
    let list = ctes.join(",\n");
    match sql::leading_with(sql_text) {
        Some(at) => format!("{} {list},{}", &sql_text[..at], &sql_text[at..]),
        None => format!("with {list}\n{sql_text}"),
    }
}

fn fqn(project: &str, folders: &[String], name: &str) -> Vec<String> {
    std::iter::once(project.to_string())
        .chain(folders.iter().cloned())
        .chain(std::iter::once(name.to_string()))
        .collect()
}

fn column_info(c: &ColumnProps) -> ColumnInfo {
    ColumnInfo {
        name: c.name.clone(),
        description: c.description.clone(),
        data_type: c.data_type.clone(),
        meta: c.meta.clone(),
        tags: c.tags.clone(),
    }
}

/// Reports properties entries whose model or seed file does not exist.
fn report_undescribed(
    props: &[ModelProps],
    names: &[&str],
    what: &str,
    pattern: &str,
    diags: &mut Diagnostics,
) {
    let set: std::collections::HashSet<&str> = names.iter().copied().collect();
    for p in props {
        if !set.contains(p.name.as_str()) {
            diags.push(
                Diagnostic::error(
                    Code::UnknownResource,
                    format!(
                        "properties describe {what} `{}`, but there is no {}",
                        p.name,
                        pattern.replace("{}", &p.name)
                    ),
                )
                .at(p.span.clone())
                .with_help_opt(suggest(&p.name, names.iter().copied())),
            );
        }
    }
}

fn index_props<'a>(
    props: &'a [ModelProps],
    what: &str,
    diags: &mut Diagnostics,
) -> HashMap<&'a str, &'a ModelProps> {
    let mut out: HashMap<&str, &ModelProps> = HashMap::new();
    for p in props {
        if let Some(first) = out.get(p.name.as_str()) {
            diags.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("{what} `{}` is described twice in properties files", p.name),
                )
                .at(p.span.clone())
                .with_related(first.span.clone(), "first described here"),
            );
        } else {
            out.insert(&p.name, p);
        }
    }
    out
}

/// Where a relation call is written, when its token never reached the output.
fn call_span(src: &str, file: &Path, call: &RelationCall) -> Span {
    let needle = match call {
        RelationCall::Ref { name, .. } => name.as_str(),
        RelationCall::Source { table, .. } => table.as_str(),
    };
    for (i, line) in src.lines().enumerate() {
        if let Some(col) = line.find(needle)
            && (line.contains("ref(") || line.contains("source("))
        {
            return Span::new(
                file,
                i + 1,
                line[..col].chars().count() + 1,
                needle.chars().count(),
            );
        }
    }
    Span::file(file)
}

/// Resolves a ref/source call to (parent index, SQL text), reporting what is missing.
fn resolve_call(
    call: &RelationCall,
    project: &str,
    refable: &FastMap<&str, Refable>,
    sources: &BTreeMap<(String, String), (usize, Relation)>,
    disabled: &BTreeSet<String>,
    span: &Span,
    diags: &mut Diagnostics,
) -> Option<(usize, String)> {
    match call {
        RelationCall::Ref { project: p, name } => {
            if let Some(p) = p
                && p != project
            {
                diags.push(
                    Diagnostic::error(Code::MissingRef, format!("ref('{p}', '{name}') names project `{p}`, but this project is `{project}`"))
                        .at(span.clone())
                        .with_help("strata projects have no packages yet: use ref('name')"),
                );
                return None;
            }
            match refable.get(name.as_str()) {
                Some(r) => {
                    let text = if r.ephemeral {
                        ephemeral_cte_name(name)
                    } else {
                        r.relation.as_ref().map(Relation::quoted)?
                    };
                    Some((r.index, text))
                }
                None if disabled.contains(name) => {
                    diags.push(
                        Diagnostic::error(
                            Code::MissingRef,
                            format!("ref('{name}') points at a disabled node"),
                        )
                        .at(span.clone())
                        .with_label("disabled with `enabled: false`")
                        .with_help(format!("enable `{name}` or remove this ref")),
                    );
                    None
                }
                None => {
                    let names: Vec<&str> = refable.keys().copied().collect();
                    let mut sorted = names.clone();
                    sorted.sort_unstable();
                    diags.push(
                        Diagnostic::error(
                            Code::MissingRef,
                            format!("ref('{name}') names a model or seed that does not exist"),
                        )
                        .at(span.clone())
                        .with_label("no such model or seed")
                        .with_help_opt(suggest(name, sorted.iter().copied())),
                    );
                    None
                }
            }
        }
        RelationCall::Source { source, table } => {
            match sources.get(&(source.clone(), table.clone())) {
                Some((i, rel)) => Some((*i, rel.quoted())),
                None => {
                    let known: Vec<String> =
                        sources.keys().map(|(s, t)| format!("{s}.{t}")).collect();
                    let wanted = format!("{source}.{table}");
                    let help = suggest(&wanted, known.iter().map(String::as_str)).map(|h| {
                        // Show the suggestion in the call's own syntax.
                        let s = h
                            .trim_start_matches("did you mean `")
                            .trim_end_matches("`?");
                        let (a, b) = s.split_once('.').unwrap_or((s, ""));
                        format!("did you mean `source('{a}', '{b}')`?")
                    });
                    diags.push(
                    Diagnostic::error(Code::MissingSource, format!("source('{source}', '{table}') is not declared in any properties file"))
                        .at(span.clone())
                        .with_label("no such source table")
                        .with_help_opt(help.or_else(|| Some(format!("declare it under `sources:` (name: {source}, tables: [{table}])")))),
                );
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_node_serializes_as_its_json_object() {
        let fqn = vec!["proj".to_string(), "staging".into(), "m \"1\"".into()];
        let node = super::SchemaNode {
            fqn: &fqn,
            name: "m \"1\"",
            original_file_path: "models/staging/m.sql".into(),
            resource_type: "model",
        };
        let object = serde_json::json!({
            "name": "m \"1\"", "resource_type": "model", "fqn": fqn,
            "original_file_path": "models/staging/m.sql",
        });
        assert_eq!(
            serde_json::to_string(&node).unwrap(),
            serde_json::to_string(&object).unwrap()
        );
    }

    use super::*;

    #[test]
    fn ctes_merge_with_an_existing_with() {
        assert_eq!(
            inject_ctes("with a as (select 1) select * from a", &["e as (x)".into()]),
            "with e as (x), a as (select 1) select * from a"
        );
        assert_eq!(
            inject_ctes("select 1", &["e as (x)".into()]),
            "with e as (x)\nselect 1"
        );
    }

    #[test]
    fn placeholders_are_substituted_in_one_pass() {
        let rels = vec!["\"a\".\"x\"".to_string(), "\"b\".\"y\"".to_string()];
        let own = "\"main\".\"me\"";
        assert_eq!(
            substitute_tokens(
                "select * from __strata_rel_0__ join __strata_rel_1__ using (id) -- __strata_this__",
                own,
                &rels
            ),
            "select * from \"a\".\"x\" join \"b\".\"y\" using (id) -- \"main\".\"me\""
        );
        // Adjacent tokens, a token at the very end, and look-alikes left alone.
        assert_eq!(
            substitute_tokens("__strata_rel_1____strata_rel_0__", own, &rels),
            "\"b\".\"y\"\"a\".\"x\""
        );
        assert_eq!(
            substitute_tokens("x __strata_rel_0", own, &rels),
            "x __strata_rel_0"
        );
        assert_eq!(
            substitute_tokens("__strata_rel_7__ __strata_other __strata_", own, &rels),
            "__strata_rel_7__ __strata_other __strata_"
        );
        assert_eq!(substitute_tokens("no tokens", own, &rels), "no tokens");
    }
}
