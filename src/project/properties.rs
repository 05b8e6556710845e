//! Properties YAML (`models:`, `sources:`, `seeds:`, `exposures:`), read with positions so that
//! every unknown key and bad value is reported at its line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value as J;

use super::yaml::{self, Kind, MapReader, Node};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span};
use crate::ir::config::{ConfigScope, NodeConfig, is_test_top_level_config};
use crate::ir::{Freshness, FreshnessThreshold, ModelFreshness, QuotingProps};

/// Everything read from the properties files of a project, in file order.
#[derive(Clone, Debug, Default)]
pub struct Properties {
    /// `models:` entries.
    pub models: Vec<ModelProps>,
    /// `sources:` entries.
    pub sources: Vec<SourceProps>,
    /// `seeds:` entries.
    pub seeds: Vec<SeedProps>,
    /// `exposures:` entries.
    pub exposures: Vec<ExposureProps>,
    /// `unit_tests:` entries.
    pub unit_tests: Vec<UnitTestProps>,
}

/// Rows of a unit test as written: inline mappings, CSV text, or a CSV file.
#[derive(Clone, Debug)]
pub enum RowsDef {
    /// `rows:` as a list of mappings (`format: dict`, the default), keys in written order.
    Maps(Vec<Vec<(String, J)>>),
    /// `format: csv` with `rows:` as text.
    Csv(String),
    /// `format: csv` with `fixture:` naming a CSV file (relative to the project root).
    Fixture(String),
}

/// One `given:` input of a unit test.
#[derive(Clone, Debug)]
pub struct GivenDef {
    /// `ref('x')`, `source('s', 't')` or `this`.
    pub input: String,
    /// Its rows.
    pub rows: RowsDef,
    /// Where the input is written.
    pub span: Span,
}

/// A unit test as declared under `unit_tests:`.
#[derive(Clone, Debug)]
pub struct UnitTestProps {
    /// Its name.
    pub name: String,
    /// The tested model.
    pub model: String,
    /// Description.
    pub description: Option<String>,
    /// Inputs.
    pub given: Vec<GivenDef>,
    /// Expected rows.
    pub expect: RowsDef,
    /// `overrides: {macros: {is_incremental: true}}`: test the incremental query.
    pub is_incremental: bool,
    /// Config (tags, meta, enabled).
    pub config: NodeConfig,
    /// Where the name is written.
    pub span: Span,
    /// Where `model:` is written.
    pub model_span: Span,
}

/// Properties of one model or seed.
#[derive(Clone, Debug)]
pub struct ModelProps {
    /// The model's name.
    pub name: String,
    /// Where the entry's name is written.
    pub span: Span,
    /// Description (may contain `{{ doc('...') }}`).
    pub description: Option<String>,
    /// Config from `config:` plus the top-level shortcuts (tags, meta, owner).
    pub config: NodeConfig,
    /// Documented columns.
    pub columns: Vec<ColumnProps>,
    /// Model-level tests.
    pub tests: Vec<TestDef>,
    /// `loaded_at_field:` with `freshness:`: checked after the model builds and by
    /// `strata freshness`.
    pub freshness: Option<ModelFreshness>,
    /// Where `loaded_at_field:` is written (for a column it names that does not exist).
    pub freshness_span: Option<Span>,
}

/// Seeds take the same properties as models.
pub type SeedProps = ModelProps;

/// A documented column.
#[derive(Clone, Debug, Serialize)]
pub struct ColumnProps {
    /// Column name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Declared data type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// Free-form metadata (`pii`, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, J>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Column tests.
    #[serde(skip)]
    pub tests: Vec<TestDef>,
    /// Where the column is declared.
    #[serde(skip)]
    pub span: Span,
}

/// One generic test as declared in YAML.
#[derive(Clone, Debug)]
pub struct TestDef {
    /// The test's kind (`not_null`, `accepted_values`, a custom test's name).
    pub test_name: String,
    /// Arguments (`values`, `to`, `field`, ...), inline or under `arguments:`.
    pub args: BTreeMap<String, J>,
    /// Where each argument is written, for messages about a bad argument.
    pub arg_spans: BTreeMap<String, Span>,
    /// Test config (severity, where, ...); none when the declaration sets none (boxed: most
    /// tests set none, and a large project declares a hundred thousand).
    pub config: Option<Box<NodeConfig>>,
    /// A name given with `name:`.
    pub custom_name: Option<String>,
    /// The column the test is declared on.
    pub column: Option<String>,
    /// Where the test is declared.
    pub span: Span,
}

/// A source: a set of tables loaded by something other than strata.
#[derive(Clone, Debug)]
pub struct SourceProps {
    /// Source name.
    pub name: String,
    /// Schema of its tables (defaults to the source name).
    pub schema: String,
    /// The database (catalog) holding it, when not the target's.
    pub database: Option<String>,
    /// What loads it (`loader:`, shown in the manifest).
    pub loader: Option<String>,
    /// `quoting:` of its tables' names.
    pub quoting: QuotingProps,
    /// `config:` (and `docs:`): enabled, tags, meta, docs.
    pub config: NodeConfig,
    /// Description.
    pub description: Option<String>,
    /// Column holding the load time, for freshness.
    pub loaded_at_field: Option<String>,
    /// Freshness rules.
    pub freshness: Option<Freshness>,
    /// Metadata.
    pub meta: BTreeMap<String, J>,
    /// Tags.
    pub tags: Vec<String>,
    /// Tables.
    pub tables: Vec<SourceTableProps>,
    /// Where the source's name is written.
    pub span: Span,
}

/// A table of a source.
#[derive(Clone, Debug)]
pub struct SourceTableProps {
    /// Name used in `source('src', 'name')`.
    pub name: String,
    /// The relation's name in the database.
    pub identifier: String,
    /// `quoting:`, over the source's.
    pub quoting: QuotingProps,
    /// `config:` (and `docs:`), over the source's.
    pub config: NodeConfig,
    /// Description.
    pub description: Option<String>,
    /// Overrides the source's `loaded_at_field`.
    pub loaded_at_field: Option<String>,
    /// Overrides the source's freshness: `Some(None)` is `freshness: null`, which turns it
    /// off for this table.
    pub freshness: Option<Option<Freshness>>,
    /// Metadata.
    pub meta: BTreeMap<String, J>,
    /// Tags.
    pub tags: Vec<String>,
    /// Columns.
    pub columns: Vec<ColumnProps>,
    /// Table-level tests.
    pub tests: Vec<TestDef>,
    /// Where the table's name is written.
    pub span: Span,
}

/// A downstream use of the project's data (a dashboard, an application).
#[derive(Clone, Debug)]
pub struct ExposureProps {
    /// Exposure name.
    pub name: String,
    /// dashboard | notebook | analysis | ml | application.
    pub exposure_type: String,
    /// Owner name.
    pub owner_name: Option<String>,
    /// Owner e-mail.
    pub owner_email: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Label shown in docs.
    pub label: Option<String>,
    /// Link to the dashboard or app.
    pub url: Option<String>,
    /// low | medium | high.
    pub maturity: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Metadata.
    pub meta: BTreeMap<String, J>,
    /// `ref(...)` / `source(...)` calls it depends on, with their positions.
    pub depends_on: Vec<(DependsOn, Span)>,
    /// Where the name is written.
    pub span: Span,
}

/// A dependency written in YAML as `ref('x')` or `source('a', 'b')`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DependsOn {
    /// `ref('name')` (or `ref('project', 'name')`).
    Ref(String),
    /// `source('source', 'table')`.
    Source(String, String),
}

/// Parses `ref('x')`, `ref("p", "x")` and `source('a', 'b')` as written in YAML values.
pub fn parse_depends_on(text: &str) -> Option<DependsOn> {
    let t = text.trim();
    let t = t
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or(t)
        .trim();
    let (func, rest) = t.split_once('(')?;
    let inner = rest.trim_end().strip_suffix(')')?;
    let args: Vec<String> = inner
        .split(',')
        .map(|a| a.trim().trim_matches(['\'', '"']).to_string())
        .collect();
    if args.iter().any(|a| a.is_empty()) {
        return None;
    }
    match (func.trim(), args.as_slice()) {
        ("ref", [name]) => Some(DependsOn::Ref(name.clone())),
        ("ref", [_project, name]) => Some(DependsOn::Ref(name.clone())),
        ("source", [s, t]) => Some(DependsOn::Source(s.clone(), t.clone())),
        _ => None,
    }
}

/// Reads one properties file into `out`, reporting problems into `diags`.
pub fn read_file(root: &Node, file: &Path, out: &mut Properties, diags: &mut Diagnostics) {
    let Some(mut top) = MapReader::new(root, file, "a properties file", diags) else {
        return;
    };
    if let Some(v) = top.take(&["version"])
        && v.as_str() != Some("2")
    {
        diags.push(
            Diagnostic::error(Code::InvalidValue, "`version` must be 2 when given")
                .at(v.span(file)),
        );
    }
    if let Some(models) = top.take(&["models"]) {
        let items = yaml::expect_seq(models, file, "models", diags);
        out.models.reserve(items.len());
        for item in items {
            if let Some(m) = read_model(item, file, ConfigScope::Model, diags) {
                out.models.push(m);
            }
        }
    }
    if let Some(seeds) = top.take(&["seeds"]) {
        let items = yaml::expect_seq(seeds, file, "seeds", diags);
        out.seeds.reserve(items.len());
        for item in items {
            if let Some(m) = read_model(item, file, ConfigScope::Seed, diags) {
                out.seeds.push(m);
            }
        }
    }
    if let Some(sources) = top.take(&["sources"]) {
        for item in yaml::expect_seq(sources, file, "sources", diags) {
            if let Some(s) = read_source(item, file, diags) {
                out.sources.push(s);
            }
        }
    }
    if let Some(units) = top.take(&["unit_tests"]) {
        for item in yaml::expect_seq(units, file, "unit_tests", diags) {
            if let Some(u) = read_unit_test(item, file, diags) {
                out.unit_tests.push(u);
            }
        }
    }
    if let Some(exposures) = top.take(&["exposures"]) {
        for item in yaml::expect_seq(exposures, file, "exposures", diags) {
            if let Some(e) = read_exposure(item, file, diags) {
                out.exposures.push(e);
            }
        }
    }
    top.finish(diags);
}

/// Applies each entry of a `config:` mapping to `config`, reporting bad keys at their line.
pub fn read_config_map(
    node: &Node,
    file: &Path,
    scope: ConfigScope,
    config: &mut NodeConfig,
    diags: &mut Diagnostics,
) {
    let Some(entries) = node.as_map() else {
        if !node.is_null() {
            diags.push(
                Diagnostic::error(Code::InvalidValue, "`config` must be a mapping")
                    .at(node.span(file)),
            );
        }
        return;
    };
    for (k, v) in entries {
        let key = k.as_str().unwrap_or_default();
        apply_config(
            config,
            scope,
            key.trim_start_matches('+'),
            v,
            k,
            file,
            diags,
        );
    }
}

/// Applies one config entry written in YAML, turning a refusal into a diagnostic.
pub fn apply_config(
    config: &mut NodeConfig,
    scope: ConfigScope,
    key: &str,
    value: &Node,
    key_node: &Node,
    file: &Path,
    diags: &mut Diagnostics,
) {
    if let Err(e) = config.set(scope, key, &value.to_json()) {
        let (code, span, label) = match e {
            crate::ir::config::ConfigError::UnknownKey { .. } => (
                Code::UnknownKey,
                key_node.span(file),
                Some("not a known config key"),
            ),
            crate::ir::config::ConfigError::InvalidValue { .. } => {
                (Code::InvalidValue, value.span(file), None)
            }
        };
        let mut d = Diagnostic::error(code, e.to_string())
            .at(span)
            .with_help_opt(e.help());
        if let Some(label) = label {
            d = d.with_label(label);
        }
        diags.push(d);
    }
}

fn read_model(
    node: &Node,
    file: &Path,
    scope: ConfigScope,
    diags: &mut Diagnostics,
) -> Option<ModelProps> {
    let what = if scope == ConfigScope::Seed {
        "a seed entry"
    } else {
        "a model entry"
    };
    let mut r = MapReader::new(node, file, what, diags)?;
    let name_node = r.take(&["name"]);
    let name = r.required_string("name", node, diags);
    let span = name_node
        .map(|n| n.span(file))
        .unwrap_or_else(|| node.span(file));
    let description = r.string(&["description"], diags);
    let mut config = NodeConfig::default();
    for key in ["tags", "meta", "owner", "docs"] {
        if let Some(v) = r.take(&[key]) {
            apply_config(&mut config, scope, key, v, v, file, diags);
        }
    }
    if let Some(c) = r.take(&["config"]) {
        read_config_map(c, file, scope, &mut config, diags);
    }
    let columns = match r.take(&["columns"]) {
        Some(cols) => read_columns(cols, file, name.as_deref().unwrap_or(""), diags),
        None => Vec::new(),
    };
    let tests = match r.take(&["tests", "data_tests"]) {
        Some(t) => read_tests(t, file, None, diags),
        None => Vec::new(),
    };
    let (freshness, freshness_span) = read_model_freshness(&mut r, node, file, diags);
    r.take(&["access", "group"]);
    // dbt's model versions are not implemented: saying so beats building something else.
    for key in ["versions", "latest_version", "version"] {
        if let Some(v) = r.take(&[key]) {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{key}`: model versions are not supported"),
                )
                .at(v.span(file))
                .with_help(
                    "publish each version as a model of its own with its own contract file (e.g. mart_x with contracts/x.v2.json and mart_x_v1 with contracts/x.v1.json)",
                ),
            );
        }
    }
    r.finish(diags);
    Some(ModelProps {
        name: name?,
        span,
        description,
        config,
        columns,
        tests,
        freshness,
        freshness_span,
    })
}

/// A model's or seed's `loaded_at_field:` and `freshness:` (both or neither).
fn read_model_freshness(
    r: &mut MapReader,
    entry: &Node,
    file: &Path,
    diags: &mut Diagnostics,
) -> (Option<ModelFreshness>, Option<Span>) {
    let field_node = r.take(&["loaded_at_field"]);
    let field = field_node.and_then(|n| yaml::expect_string(n, file, "loaded_at_field", diags));
    let fresh_node = r.take(&["freshness"]);
    let freshness = fresh_node.and_then(|f| read_freshness(f, file, diags));
    let span = field_node.map(|n| n.span(file));
    match (field, freshness) {
        (Some(loaded_at_field), Some(freshness)) => (
            Some(ModelFreshness {
                loaded_at_field,
                freshness,
            }),
            span,
        ),
        (None, Some(_)) => {
            diags.push(
                Diagnostic::error(
                    Code::MissingKey,
                    "`freshness:` needs `loaded_at_field:`: the column holding the load time",
                )
                .at(fresh_node.unwrap_or(entry).span(file))
                .with_help("add `loaded_at_field: load_ts` (your column) beside `freshness:`"),
            );
            (None, None)
        }
        _ => (None, None),
    }
}

fn read_columns(
    node: &Node,
    file: &Path,
    _owner: &str,
    diags: &mut Diagnostics,
) -> Vec<ColumnProps> {
    let items = yaml::expect_seq(node, file, "columns", diags);
    let mut out = Vec::with_capacity(items.len());
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for item in items {
        let Some(mut r) = MapReader::new(item, file, "a column entry", diags) else {
            continue;
        };
        let name_node = r.take(&["name"]);
        let Some(name) = r.required_string("name", item, diags) else {
            r.finish(diags);
            continue;
        };
        let span = name_node
            .map(|n| n.span(file))
            .unwrap_or_else(|| item.span(file));
        if let Some(first) = seen.get(&name) {
            diags.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("column `{name}` is documented twice"),
                )
                .at(span.clone())
                .with_related(first.clone(), "first documented here"),
            );
        }
        seen.insert(name.clone(), span.clone());
        let description = r.string(&["description"], diags);
        let data_type = r.string(&["data_type"], diags);
        let meta = read_meta(r.take(&["meta"]), file, diags);
        let tags = r.string_list(&["tags"], diags);
        let tests = match r.take(&["tests", "data_tests"]) {
            Some(t) => read_tests(t, file, Some(&name), diags),
            None => Vec::new(),
        };
        r.take(&["quote", "constraints", "policy_tags"]);
        r.finish(diags);
        out.push(ColumnProps {
            name,
            description,
            data_type,
            meta,
            tags,
            tests,
            span,
        });
    }
    out
}

fn read_meta(node: Option<&Node>, file: &Path, diags: &mut Diagnostics) -> BTreeMap<String, J> {
    let Some(node) = node else {
        return BTreeMap::new();
    };
    match node.to_json() {
        J::Object(m) => m.into_iter().collect(),
        J::Null => BTreeMap::new(),
        _ => {
            diags.push(
                Diagnostic::error(Code::InvalidValue, "`meta` must be a mapping")
                    .at(node.span(file)),
            );
            BTreeMap::new()
        }
    }
}

fn read_tests(
    node: &Node,
    file: &Path,
    column: Option<&str>,
    diags: &mut Diagnostics,
) -> Vec<TestDef> {
    // Exactly sized: most columns have one or two tests, and a test definition is large.
    let items = yaml::expect_seq(node, file, "tests", diags);
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match &item.kind {
            Kind::Scalar { text, .. } => out.push(TestDef {
                test_name: text.clone(),
                args: BTreeMap::new(),
                arg_spans: BTreeMap::new(),
                config: None,
                custom_name: None,
                column: column.map(str::to_string),
                span: item.span(file),
            }),
            Kind::Map(entries) if entries.len() == 1 => {
                let (k, v) = &entries[0];
                let test_name = k.as_str().unwrap_or_default().to_string();
                let mut def = TestDef {
                    test_name,
                    args: BTreeMap::new(),
                    arg_spans: BTreeMap::new(),
                    config: None,
                    custom_name: None,
                    column: column.map(str::to_string),
                    span: k.span(file),
                };
                read_test_body(v, file, &mut def, diags);
                out.push(def);
            }
            _ => diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    "a test must be a name (`- not_null`) or a mapping with one key (`- accepted_values: {values: [...]}`)",
                )
                .at(item.span(file)),
            ),
        }
    }
    out
}

fn read_test_body(node: &Node, file: &Path, def: &mut TestDef, diags: &mut Diagnostics) {
    let Some(entries) = node.as_map() else {
        if !node.is_null() {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("arguments of test `{}` must be a mapping", def.test_name),
                )
                .at(node.span(file)),
            );
        }
        return;
    };
    for (k, v) in entries {
        let key = k.as_str().unwrap_or_default();
        match key {
            "config" => read_config_map(
                v,
                file,
                ConfigScope::Test,
                def.config.get_or_insert_with(Default::default),
                diags,
            ),
            "arguments" => match v.as_map() {
                Some(args) => {
                    for (ak, av) in args {
                        let name = ak.as_str().unwrap_or_default().to_string();
                        def.arg_spans.insert(name.clone(), ak.span(file));
                        def.args.insert(name, av.to_json());
                    }
                }
                None => diags.push(
                    Diagnostic::error(Code::InvalidValue, "`arguments` must be a mapping")
                        .at(v.span(file)),
                ),
            },
            "name" => def.custom_name = yaml::expect_string(v, file, "name", diags),
            "description" => {}
            k if is_test_top_level_config(k) => apply_config(
                def.config.get_or_insert_with(Default::default),
                ConfigScope::Test,
                k,
                v,
                k_node(k, entries),
                file,
                diags,
            ),
            _ => {
                def.arg_spans.insert(key.to_string(), k.span(file));
                def.args.insert(key.to_string(), v.to_json());
            }
        }
    }
}

fn read_rows<'a>(
    r: &mut MapReader<'a>,
    node: &Node,
    file: &Path,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<RowsDef> {
    let format = r.string(&["format"], diags);
    let rows = r.take(&["rows"]);
    let fixture = r.string(&["fixture"], diags);
    let bad = |msg: String, at: &Node, diags: &mut Diagnostics| {
        diags.push(Diagnostic::error(Code::InvalidValue, msg).at(at.span(file)));
        None
    };
    match format.as_deref().unwrap_or("dict") {
        "dict" => {
            let Some(rows) = rows else {
                return bad(
                    format!("{what} needs `rows:` (a list of mappings)"),
                    node,
                    diags,
                );
            };
            if rows.is_null() {
                return Some(RowsDef::Maps(Vec::new()));
            }
            let Some(items) = rows.as_seq() else {
                return bad(
                    "`rows` must be a list of mappings like `- {id: 1, name: a}`".into(),
                    rows,
                    diags,
                );
            };
            let mut maps = Vec::new();
            for item in items {
                match item.as_map() {
                    Some(entries) => maps.push(
                        entries
                            .iter()
                            .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.to_json()))
                            .collect(),
                    ),
                    None => {
                        return bad(
                            "each row must be a mapping of column to value".into(),
                            item,
                            diags,
                        );
                    }
                }
            }
            Some(RowsDef::Maps(maps))
        }
        "csv" => match (rows, fixture) {
            (Some(rows), None) => match rows.as_str() {
                Some(t) => Some(RowsDef::Csv(t.to_string())),
                None => bad(
                    "with `format: csv`, `rows` is CSV text with a header line (use `rows: |`)"
                        .into(),
                    rows,
                    diags,
                ),
            },
            (None, Some(f)) => Some(RowsDef::Fixture(f)),
            _ => bad(
                format!(
                    "with `format: csv`, {what} needs either `rows: |` (CSV text) or `fixture:` (a CSV file)"
                ),
                node,
                diags,
            ),
        },
        other => bad(
            format!("unknown rows format `{other}` (expected dict or csv)"),
            node,
            diags,
        ),
    }
}

fn read_unit_test(node: &Node, file: &Path, diags: &mut Diagnostics) -> Option<UnitTestProps> {
    let mut r = MapReader::new(node, file, "a unit test", diags)?;
    let name_node = r.take(&["name"]);
    let name = r.required_string("name", node, diags);
    let model_node = r.take(&["model"]);
    let model = r.required_string("model", node, diags);
    let description = r.string(&["description"], diags);
    let mut given = Vec::new();
    if let Some(g) = r.take(&["given"]) {
        for item in yaml::expect_seq(g, file, "given", diags) {
            let Some(mut gr) = MapReader::new(item, file, "a given input", diags) else {
                continue;
            };
            let input_node = gr.take(&["input"]);
            let input = gr.required_string("input", item, diags);
            let rows = read_rows(&mut gr, item, file, "a given input", diags);
            gr.finish(diags);
            if let (Some(input), Some(rows)) = (input, rows) {
                given.push(GivenDef {
                    input,
                    rows,
                    span: input_node
                        .map(|n| n.span(file))
                        .unwrap_or_else(|| item.span(file)),
                });
            }
        }
    } else {
        diags.push(
            Diagnostic::error(
                Code::MissingKey,
                "a unit test needs `given:` (rows for each input of the model)",
            )
            .at(node.span(file)),
        );
    }
    let expect = match r.take(&["expect"]) {
        Some(e) => MapReader::new(e, file, "`expect`", diags).and_then(|mut er| {
            let rows = read_rows(&mut er, e, file, "`expect`", diags);
            er.finish(diags);
            rows
        }),
        None => {
            diags.push(
                Diagnostic::error(
                    Code::MissingKey,
                    "a unit test needs `expect:` (the expected rows)",
                )
                .at(node.span(file)),
            );
            None
        }
    };
    let mut is_incremental = false;
    if let Some(o) = r.take(&["overrides"])
        && let Some(mut or) = MapReader::new(o, file, "`overrides`", diags)
    {
        if let Some(m) = or.take(&["macros"])
            && let Some(mut mr) = MapReader::new(
                m,
                file,
                "`overrides.macros` (only is_incremental can be overridden)",
                diags,
            )
        {
            is_incremental = mr.bool(&["is_incremental"], diags).unwrap_or(false);
            mr.finish(diags);
        }
        or.finish(diags);
    }
    let mut config = NodeConfig::default();
    if let Some(c) = r.take(&["config"]) {
        read_config_map(c, file, ConfigScope::Test, &mut config, diags);
    }
    r.finish(diags);
    Some(UnitTestProps {
        name: name?,
        model: model?,
        description,
        given,
        expect: expect?,
        is_incremental,
        config,
        span: name_node
            .map(|n| n.span(file))
            .unwrap_or_else(|| node.span(file)),
        model_span: model_node
            .map(|n| n.span(file))
            .unwrap_or_else(|| node.span(file)),
    })
}

fn k_node<'a>(key: &str, entries: &'a [(Node, Node)]) -> &'a Node {
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(k, _)| k)
        .expect("key exists")
}

fn read_freshness(node: &Node, file: &Path, diags: &mut Diagnostics) -> Option<Freshness> {
    let mut r = MapReader::new(node, file, "freshness", diags)?;
    let threshold = |r: &mut MapReader, key: &'static str, diags: &mut Diagnostics| {
        let n = r.take(&[key])?;
        let mut t = MapReader::new(n, file, key, diags)?;
        let count = t
            .take(&["count"])
            .and_then(|c| yaml::expect_u64(c, file, "count", diags));
        let period = t.string(&["period"], diags);
        t.finish(diags);
        if let Some(p) = &period
            && !["minute", "hour", "day"].contains(&p.as_str())
        {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("freshness period `{p}` must be minute, hour or day"),
                )
                .at(n.span(file))
                .with_help_opt(crate::diagnostics::suggest(p, ["minute", "hour", "day"])),
            );
            return None;
        }
        match (count, period) {
            (Some(count), Some(period)) => Some(FreshnessThreshold { count, period }),
            _ => {
                diags.push(
                    Diagnostic::error(
                        Code::MissingKey,
                        format!("`{key}` needs `count` and `period`"),
                    )
                    .at(n.span(file)),
                );
                None
            }
        }
    };
    let warn_after = threshold(&mut r, "warn_after", diags);
    let error_after = threshold(&mut r, "error_after", diags);
    let filter = r.string(&["filter"], diags);
    r.finish(diags);
    Some(Freshness {
        warn_after,
        error_after,
        filter,
    })
}

/// `quoting:`, `config:` and `docs:` of a source or a source table; `external:` (an external
/// table's definition, for tools that create it) is accepted: strata reads the relation as it
/// is.
fn read_source_extras(
    r: &mut MapReader,
    file: &Path,
    diags: &mut Diagnostics,
) -> (QuotingProps, NodeConfig) {
    let quoting = r
        .take(&["quoting"])
        .map(|q| read_quoting(q, file, diags))
        .unwrap_or_default();
    let mut config = NodeConfig::default();
    if let Some(c) = r.take(&["config"]) {
        read_config_map(c, file, ConfigScope::Source, &mut config, diags);
    }
    if let Some(v) = r.take(&["docs"]) {
        apply_config(&mut config, ConfigScope::Source, "docs", v, v, file, diags);
    }
    r.take(&["external"]);
    (quoting, config)
}

/// A `quoting:` mapping: `database`, `schema`, `identifier`, each true or false.
pub fn read_quoting(node: &Node, file: &Path, diags: &mut Diagnostics) -> QuotingProps {
    let Some(mut r) = MapReader::new(node, file, "`quoting`", diags) else {
        return QuotingProps::default();
    };
    let q = QuotingProps {
        database: r.bool(&["database"], diags),
        schema: r.bool(&["schema"], diags),
        identifier: r.bool(&["identifier"], diags),
    };
    r.finish(diags);
    q
}

fn read_source(node: &Node, file: &Path, diags: &mut Diagnostics) -> Option<SourceProps> {
    let mut r = MapReader::new(node, file, "a source entry", diags)?;
    let name_node = r.take(&["name"]);
    let name = r.required_string("name", node, diags);
    let span = name_node
        .map(|n| n.span(file))
        .unwrap_or_else(|| node.span(file));
    let schema = r.string(&["schema"], diags);
    let database = r.string(&["database"], diags);
    let loader = r.string(&["loader"], diags);
    let (quoting, config) = read_source_extras(&mut r, file, diags);
    if let Some(v) = r.take(&["overrides"]) {
        diags.push(
            Diagnostic::error(
                Code::InvalidValue,
                "`overrides`: overriding a package's source is not supported",
            )
            .at(v.span(file))
            .with_help(
                "declare the tables under a source of another name in the project, and point the models at it",
            ),
        );
    }
    let description = r.string(&["description"], diags);
    let loaded_at_field = r.string(&["loaded_at_field"], diags);
    let freshness = r
        .take(&["freshness"])
        .and_then(|f| read_freshness(f, file, diags));
    let meta = read_meta(r.take(&["meta"]), file, diags);
    let tags = r.string_list(&["tags"], diags);
    let mut tables = Vec::new();
    if let Some(t) = r.take(&["tables"]) {
        for item in yaml::expect_seq(t, file, "tables", diags) {
            let Some(mut tr) = MapReader::new(item, file, "a source table", diags) else {
                continue;
            };
            let tname_node = tr.take(&["name"]);
            let tname = tr.required_string("name", item, diags);
            let tspan = tname_node
                .map(|n| n.span(file))
                .unwrap_or_else(|| item.span(file));
            let identifier = tr.string(&["identifier"], diags);
            let (tquoting, tconfig) = read_source_extras(&mut tr, file, diags);
            let tdescription = tr.string(&["description"], diags);
            let tloaded = tr.string(&["loaded_at_field"], diags);
            let tfresh = match tr.take_raw("freshness") {
                Some(f) if f.is_null() => Some(None),
                Some(f) => read_freshness(f, file, diags).map(Some),
                None => None,
            };
            let tmeta = read_meta(tr.take(&["meta"]), file, diags);
            let ttags = tr.string_list(&["tags"], diags);
            let columns = match tr.take(&["columns"]) {
                Some(c) => read_columns(c, file, tname.as_deref().unwrap_or(""), diags),
                None => Vec::new(),
            };
            let ttests = match tr.take(&["tests", "data_tests"]) {
                Some(t) => read_tests(t, file, None, diags),
                None => Vec::new(),
            };
            tr.finish(diags);
            if let Some(tname) = tname {
                tables.push(SourceTableProps {
                    identifier: identifier.unwrap_or_else(|| tname.clone()),
                    quoting: tquoting,
                    config: tconfig,
                    name: tname,
                    description: tdescription,
                    loaded_at_field: tloaded,
                    freshness: tfresh,
                    meta: tmeta,
                    tags: ttags,
                    columns,
                    tests: ttests,
                    span: tspan,
                });
            }
        }
    }
    r.finish(diags);
    let name = name?;
    Some(SourceProps {
        schema: schema.unwrap_or_else(|| name.clone()),
        database,
        loader,
        quoting,
        config,
        name,
        description,
        loaded_at_field,
        freshness,
        meta,
        tags,
        tables,
        span,
    })
}

const EXPOSURE_TYPES: &[&str] = &["dashboard", "notebook", "analysis", "ml", "application"];
const EXPOSURE_MATURITIES: &[&str] = &["low", "medium", "high"];

/// An error at `node` unless `value` is one of `allowed` (`what` names the field).
fn check_one_of(
    value: Option<&String>,
    node: Option<&Node>,
    allowed: &[&str],
    what: &str,
    file: &Path,
    diags: &mut Diagnostics,
) {
    if let (Some(v), Some(n)) = (value, node)
        && !allowed.contains(&v.as_str())
    {
        diags.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!("{what} `{v}` must be one of {}", allowed.join(", ")),
            )
            .at(n.span(file))
            .with_help_opt(crate::diagnostics::suggest(v, allowed.iter().copied())),
        );
    }
}

fn read_exposure(node: &Node, file: &Path, diags: &mut Diagnostics) -> Option<ExposureProps> {
    let mut r = MapReader::new(node, file, "an exposure", diags)?;
    let name_node = r.take(&["name"]);
    let name = r.required_string("name", node, diags);
    let span = name_node
        .map(|n| n.span(file))
        .unwrap_or_else(|| node.span(file));
    let type_node = r.take(&["type"]);
    let exposure_type = r.required_string("type", node, diags);
    let (t, n) = (exposure_type.as_ref(), type_node);
    check_one_of(t, n, EXPOSURE_TYPES, "exposure type", file, diags);
    let (mut owner_name, mut owner_email) = (None, None);
    if let Some(o) = r.take(&["owner"]) {
        match &o.kind {
            Kind::Scalar { text, .. } => owner_name = Some(text.clone()),
            _ => {
                if let Some(mut or) = MapReader::new(o, file, "an exposure owner", diags) {
                    owner_name = or.string(&["name"], diags);
                    owner_email = or.string(&["email"], diags);
                    or.finish(diags);
                }
            }
        }
    }
    let description = r.string(&["description"], diags);
    let label = r.string(&["label"], diags);
    let url = r.string(&["url"], diags);
    let maturity_node = r.take(&["maturity"]);
    let maturity = r.string(&["maturity"], diags);
    let (m, n) = (maturity.as_ref(), maturity_node);
    check_one_of(m, n, EXPOSURE_MATURITIES, "exposure maturity", file, diags);
    let tags = r.string_list(&["tags"], diags);
    let meta = read_meta(r.take(&["meta"]), file, diags);
    let mut depends_on = Vec::new();
    if let Some(d) = r.take(&["depends_on"]) {
        for item in yaml::expect_seq(d, file, "depends_on", diags) {
            let Some(text) = yaml::expect_string(item, file, "depends_on", diags) else {
                continue;
            };
            match parse_depends_on(&text) {
                Some(dep) => depends_on.push((dep, item.span(file))),
                None => diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("cannot read dependency `{text}`"),
                    )
                    .at(item.span(file))
                    .with_help("write `ref('model')` or `source('source', 'table')`"),
                ),
            }
        }
    }
    r.finish(diags);
    Some(ExposureProps {
        name: name?,
        exposure_type: exposure_type?,
        owner_name,
        owner_email,
        description,
        label,
        url,
        maturity,
        tags,
        meta,
        depends_on,
        span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_versions_are_refused_at_their_line() {
        let text = "models:\n  - name: m\n    latest_version: 2\n    versions:\n      - v: 1\n";
        let root = yaml::parse(text, Path::new("m.yml")).unwrap();
        let mut out = Properties::default();
        let mut diags = Diagnostics::new();
        read_file(&root, Path::new("m.yml"), &mut out, &mut diags);
        let lines: Vec<usize> = diags
            .into_iter()
            .map(|d| d.span.map(|s| s.line).unwrap_or(0))
            .collect();
        assert_eq!(lines, vec![5, 3]);
    }

    #[test]
    fn depends_on_forms() {
        assert_eq!(
            parse_depends_on("ref('a')"),
            Some(DependsOn::Ref("a".into()))
        );
        assert_eq!(
            parse_depends_on("{{ ref(\"p\", \"a\") }}"),
            Some(DependsOn::Ref("a".into()))
        );
        assert_eq!(
            parse_depends_on("source('s', 't')"),
            Some(DependsOn::Source("s".into(), "t".into()))
        );
        assert_eq!(parse_depends_on("refs('a')"), None);
    }

    #[test]
    fn tests_read_inline_and_under_arguments() {
        let y = "models:\n  - name: m\n    columns:\n      - name: s\n        tests:\n          - not_null\n          - accepted_values:\n              values: [a, b]\n              severity: warn\n          - accepted_values:\n              arguments: {values: [c]}\n              config: {where: \"x > 1\"}\n";
        let node = yaml::parse(y, Path::new("p.yml")).unwrap();
        let mut out = Properties::default();
        let mut d = Diagnostics::new();
        read_file(&node, Path::new("p.yml"), &mut out, &mut d);
        assert!(d.is_empty(), "{d:?}");
        let tests = &out.models[0].columns[0].tests;
        assert_eq!(tests.len(), 3);
        assert_eq!(tests[1].args["values"], serde_json::json!(["a", "b"]));
        assert!(tests[0].config.is_none(), "no config given, none kept");
        assert_eq!(
            tests[1].config.as_ref().unwrap().severity,
            Some(crate::ir::config::TestSeverity::Warn)
        );
        assert_eq!(tests[2].args["values"], serde_json::json!(["c"]));
        let where_clause = tests[2].config.as_ref().unwrap().where_clause.as_deref();
        assert_eq!(where_clause, Some("x > 1"));
    }

    #[test]
    fn an_exposure_type_or_maturity_outside_dbt_s_lists_is_an_error_at_its_line() {
        // Both end up in the manifest, whose schema allows only these values.
        let y = "exposures:\n  - name: e\n    type: dashbord\n    maturity: beta\n    owner: {name: x}\n  - name: f\n    type: ml\n    maturity: low\n    owner: {name: x}\n";
        let node = yaml::parse(y, Path::new("e.yml")).unwrap();
        let mut out = Properties::default();
        let mut d = Diagnostics::new();
        read_file(&node, Path::new("e.yml"), &mut out, &mut d);
        let found: Vec<(usize, String)> = d
            .into_iter()
            .map(|d| (d.span.map(|s| s.line).unwrap_or(0), d.message))
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    3,
                    "exposure type `dashbord` must be one of dashboard, notebook, analysis, ml, application".to_string()
                ),
                (
                    4,
                    "exposure maturity `beta` must be one of low, medium, high".to_string()
                ),
            ]
        );
        assert_eq!(out.exposures.len(), 2);
    }
}
