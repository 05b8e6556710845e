//! Node configuration: the typed set of config keys, their validation, and dbt's merge rules
//! (project folder < properties YAML < `config()` in SQL; tags, meta and hooks accumulate).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as J;

use crate::diagnostics::suggest;

/// `self.f = later.f` for each field `f` that `later` sets: a more specific level wins.
macro_rules! override_set {
    ($self:ident, $later:ident; $($f:ident),* $(,)?) => {
        $( if $later.$f.is_some() { $self.$f = $later.$f.clone(); } )*
    };
}

/// How a model is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Materialized {
    /// `create view`.
    View,
    /// `create table as`, swapped in atomically.
    Table,
    /// Inserts or merges new rows into an existing table.
    Incremental,
    /// Not built; inlined as a CTE into the models that read it.
    Ephemeral,
    /// A materialized view (Postgres).
    MaterializedView,
    /// A CSV seed.
    Seed,
    /// A data test.
    Test,
}

impl Materialized {
    /// The name written in configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Materialized::View => "view",
            Materialized::Table => "table",
            Materialized::Incremental => "incremental",
            Materialized::Ephemeral => "ephemeral",
            Materialized::MaterializedView => "materialized_view",
            Materialized::Seed => "seed",
            Materialized::Test => "test",
        }
    }
}

/// How new rows reach an incremental model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum IncrementalStrategy {
    /// Insert every new row.
    #[serde(rename = "append")]
    Append,
    /// Upsert on `unique_key`.
    #[serde(rename = "merge")]
    Merge,
    /// Delete the rows matching `unique_key`, then insert.
    #[serde(rename = "delete+insert")]
    DeleteInsert,
    /// Replace the partitions the new rows fall in (the whole table when it has no
    /// `partition_by`): Spark's `insert overwrite`.
    #[serde(rename = "insert_overwrite")]
    InsertOverwrite,
}

impl IncrementalStrategy {
    /// The name written in configs.
    pub fn as_str(self) -> &'static str {
        match self {
            IncrementalStrategy::Append => "append",
            IncrementalStrategy::Merge => "merge",
            IncrementalStrategy::DeleteInsert => "delete+insert",
            IncrementalStrategy::InsertOverwrite => "insert_overwrite",
        }
    }
}

/// What an incremental run does when the model's columns changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnSchemaChange {
    /// Keep the existing columns.
    Ignore,
    /// Add new columns to the table.
    AppendNewColumns,
    /// Fail the model.
    Fail,
}

/// A test's severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestSeverity {
    /// Failures fail the run.
    Error,
    /// Failures are reported but do not fail the run.
    Warn,
}

/// An index to create on a table (Postgres).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IndexConfig {
    /// Indexed columns.
    pub columns: Vec<String>,
    /// A unique index.
    pub unique: bool,
    /// Index method (`btree`, `hash`, ...).
    #[serde(skip_serializing_if = "Option::is_none", rename = "type")]
    pub index_type: Option<String>,
}

/// A data contract declared on a model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContractConfig {
    /// Path of the JSON Schema file, relative to the project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Whether the contract is enforced.
    pub enforced: bool,
}

/// Every config key a node can carry. Options stay `None` until some level sets them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NodeConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materialized: Option<Materialized>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, J>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental_strategy: Option<IncrementalStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_schema_change: Option<OnSchemaChange>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_hook: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_hook: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexes: Option<Vec<IndexConfig>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docs: Option<J>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_refresh: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_initial_delay: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_timeout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractConfig>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub column_types: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<TestSeverity>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "where")]
    pub where_clause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_if: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_if: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_failures: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// A test's failure count: an aggregate over its rows (dbt's `fail_calc`, default
    /// `count(*)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_calc: Option<String>,
    /// How a table's files are laid out (Spark; the other engines have no such choice).
    #[serde(flatten)]
    pub layout: TableLayout,
}

/// How a table's files are laid out, as dbt-spark configures it: the table format, partition
/// and bucket columns, a folder, table properties. Engines that choose none of this themselves
/// (DuckDB, Postgres) ignore it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TableLayout {
    /// The table format (`parquet`, `delta`, ...); the target's `file_format` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_format: Option<String>,
    /// Partition columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_by: Option<Vec<String>>,
    /// Bucket columns (with `buckets`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clustered_by: Option<Vec<String>>,
    /// How many buckets `clustered_by` hashes into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buckets: Option<u64>,
    /// A folder the table's files go in, under a subfolder named after the table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_root: Option<String>,
    /// Table properties.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tblproperties: Option<BTreeMap<String, String>>,
}

impl TableLayout {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == TableLayout::default()
    }

    /// Applies a later, more specific level on top of this one.
    fn merge(&mut self, later: &TableLayout) {
        override_set!(self, later;
            file_format,
            partition_by,
            clustered_by,
            buckets,
            location_root,
            tblproperties
        );
    }
}

/// The keys of [`TableLayout`].
const LAYOUT_KEYS: &[&str] = &[
    "file_format",
    "partition_by",
    "clustered_by",
    "buckets",
    "location_root",
    "tblproperties",
];

/// The kind of resource a config applies to; each accepts its own set of keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigScope {
    /// SQL models.
    Model,
    /// CSV seeds.
    Seed,
    /// Data tests.
    Test,
    /// Source tables (`sources:` in the project file: `enabled`, `tags`, `meta`, `docs`).
    Source,
}

const COMMON_KEYS: &[&str] = &["enabled", "tags", "meta", "docs"];
const MODEL_KEYS: &[&str] = &[
    "materialized",
    "schema",
    "alias",
    "owner",
    "unique_key",
    "incremental_strategy",
    "on_schema_change",
    "pre_hook",
    "pre-hook",
    "post_hook",
    "post-hook",
    "grants",
    "indexes",
    "full_refresh",
    "retries",
    "retry_initial_delay",
    "statement_timeout",
    "contract",
    "file_format",
    "partition_by",
    "clustered_by",
    "buckets",
    "location_root",
    "tblproperties",
];
const SEED_KEYS: &[&str] = &[
    "schema",
    "alias",
    "owner",
    "column_types",
    "pre_hook",
    "pre-hook",
    "post_hook",
    "post-hook",
    "grants",
    "full_refresh",
];
/// A test's own config keys. The one list of them: a test's properties entry may also hold
/// them at its top level (dbt allows them there), with [`TEST_TOP_LEVEL_COMMON`].
pub const TEST_CONFIG_KEYS: &[&str] = &[
    "severity",
    "where",
    "warn_if",
    "error_if",
    "store_failures",
    "limit",
    "fail_calc",
];
/// The common config keys a test's properties entry may hold at its top level.
pub const TEST_TOP_LEVEL_COMMON: &[&str] = &["tags", "enabled", "meta"];
/// Keys of a test's properties entry that are neither config nor arguments.
pub const TEST_ENTRY_KEYS: &[&str] = &["config", "arguments", "name"];
/// Test config keys that only `config:` blocks and project files take.
const TEST_ONLY_IN_CONFIG: &[&str] = &["schema"];

/// True when a test's properties entry may hold config key `key` at its top level.
pub fn is_test_top_level_config(key: &str) -> bool {
    TEST_CONFIG_KEYS.contains(&key) || TEST_TOP_LEVEL_COMMON.contains(&key)
}

impl ConfigScope {
    /// Every key accepted in this scope.
    pub fn keys(self) -> Vec<&'static str> {
        let own = match self {
            ConfigScope::Model => MODEL_KEYS,
            ConfigScope::Seed => SEED_KEYS,
            ConfigScope::Test => {
                return COMMON_KEYS
                    .iter()
                    .chain(TEST_CONFIG_KEYS)
                    .chain(TEST_ONLY_IN_CONFIG)
                    .copied()
                    .collect();
            }
            ConfigScope::Source => &[],
        };
        COMMON_KEYS.iter().chain(own).copied().collect()
    }

    /// True when `key` is a config key in this scope.
    pub fn accepts(self, key: &str) -> bool {
        COMMON_KEYS.contains(&key)
            || match self {
                ConfigScope::Model => MODEL_KEYS.contains(&key),
                ConfigScope::Seed => SEED_KEYS.contains(&key),
                ConfigScope::Test => {
                    TEST_CONFIG_KEYS.contains(&key) || TEST_ONLY_IN_CONFIG.contains(&key)
                }
                ConfigScope::Source => false,
            }
    }

    /// The name of the scope in messages.
    pub fn noun(self) -> &'static str {
        match self {
            ConfigScope::Model => "model config",
            ConfigScope::Seed => "seed config",
            ConfigScope::Test => "test config",
            ConfigScope::Source => "source config",
        }
    }
}

/// Why a config entry was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The key is not a config key of this scope.
    #[error("unknown {scope} key `{key}`")]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The scope's name.
        scope: &'static str,
        /// "did you mean ...?" when a known key is close.
        help: Option<String>,
    },
    /// The value does not fit the key.
    #[error("invalid value for `{key}`: {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// What was expected.
        reason: String,
    },
}

impl ConfigError {
    /// The fix suggestion, if any.
    pub fn help(&self) -> Option<String> {
        match self {
            ConfigError::UnknownKey { help, .. } => help.clone(),
            ConfigError::InvalidValue { .. } => None,
        }
    }
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        reason: reason.into(),
    }
}

fn want_str(key: &str, v: &J) -> Result<String, ConfigError> {
    match v {
        J::String(s) => Ok(s.clone()),
        J::Number(n) => Ok(n.to_string()),
        _ => Err(invalid(key, "expected a string")),
    }
}

fn want_bool(key: &str, v: &J) -> Result<bool, ConfigError> {
    v.as_bool()
        .ok_or_else(|| invalid(key, "expected true or false"))
}

fn want_list(key: &str, v: &J) -> Result<Vec<String>, ConfigError> {
    match v {
        J::Null => Ok(Vec::new()),
        J::String(s) => Ok(vec![s.clone()]),
        J::Array(items) => items.iter().map(|i| want_str(key, i)).collect(),
        _ => Err(invalid(key, "expected a string or a list of strings")),
    }
}

fn want_enum<T: Copy>(key: &str, v: &J, options: &[(&str, T)]) -> Result<T, ConfigError> {
    let s = want_str(key, v)?;
    if let Some((_, t)) = options.iter().find(|(n, _)| *n == s) {
        return Ok(*t);
    }
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    let hint = suggest(&s, names.iter().copied())
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    Err(invalid(
        key,
        format!("`{s}` is not one of {}{hint}", names.join(", ")),
    ))
}

/// `docs: {show: ..., node_color: ...}`, kept as written once its keys are checked.
fn want_docs(key: &str, v: &J) -> Result<J, ConfigError> {
    match v {
        J::Object(m) => {
            for k in m.keys() {
                if k != "show" && k != "node_color" {
                    return Err(invalid(
                        key,
                        format!("unknown key `{k}` (expected `show` or `node_color`)"),
                    ));
                }
            }
            Ok(v.clone())
        }
        _ => Err(invalid(key, "expected a mapping like {show: true}")),
    }
}

/// `grants: {privilege: [role, ...]}`, privileges lowercased.
fn want_grants(key: &str, v: &J) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
    match v {
        J::Object(m) => {
            let mut grants = BTreeMap::new();
            for (privilege, roles) in m {
                grants.insert(privilege.to_lowercase(), want_list(key, roles)?);
            }
            Ok(grants)
        }
        _ => Err(invalid(key, "expected a mapping like {select: [role]}")),
    }
}

/// `indexes: [{columns: [...], unique: bool, type: ...}, ...]`.
fn want_indexes(key: &str, v: &J) -> Result<Vec<IndexConfig>, ConfigError> {
    let J::Array(items) = v else {
        return Err(invalid(
            key,
            "expected a list of {columns: [...], unique: bool}",
        ));
    };
    let mut out = Vec::new();
    for item in items {
        let J::Object(m) = item else {
            return Err(invalid(key, "each index must be a mapping"));
        };
        for k in m.keys() {
            if !["columns", "unique", "type"].contains(&k.as_str()) {
                return Err(invalid(
                    key,
                    format!("unknown index key `{k}` (expected columns, unique, type)"),
                ));
            }
        }
        let columns = want_list(key, m.get("columns").unwrap_or(&J::Null))?;
        if columns.is_empty() {
            return Err(invalid(key, "an index needs `columns`"));
        }
        out.push(IndexConfig {
            columns,
            unique: m.get("unique").and_then(J::as_bool).unwrap_or(false),
            index_type: m.get("type").and_then(J::as_str).map(str::to_string),
        });
    }
    Ok(out)
}

/// `contract: {schema: ..., enforced: ...}`.
fn want_contract(key: &str, v: &J) -> Result<ContractConfig, ConfigError> {
    let J::Object(m) = v else {
        return Err(invalid(
            key,
            "expected a mapping like {schema: contracts/x.json, enforced: true}",
        ));
    };
    for k in m.keys() {
        if k != "schema" && k != "enforced" {
            return Err(invalid(
                key,
                format!("unknown contract key `{k}` (expected schema, enforced)"),
            ));
        }
    }
    Ok(ContractConfig {
        schema: m.get("schema").and_then(J::as_str).map(str::to_string),
        enforced: m.get("enforced").and_then(J::as_bool).unwrap_or(false),
    })
}

impl NodeConfig {
    /// Validates one `key: value` entry for `scope` and records it, overriding what this config
    /// already had (or accumulating, for tags, meta and hooks).
    pub fn set(&mut self, scope: ConfigScope, key: &str, v: &J) -> Result<(), ConfigError> {
        if !scope.accepts(key) {
            let mut keys = scope.keys();
            keys.retain(|k| !k.contains('-'));
            return Err(ConfigError::UnknownKey {
                key: key.to_string(),
                scope: scope.noun(),
                help: suggest(key, keys.iter().copied()),
            });
        }
        match key {
            "enabled" => self.enabled = Some(want_bool(key, v)?),
            "materialized" => {
                self.materialized = Some(want_enum(
                    key,
                    v,
                    &[
                        ("view", Materialized::View),
                        ("table", Materialized::Table),
                        ("incremental", Materialized::Incremental),
                        ("ephemeral", Materialized::Ephemeral),
                        ("materialized_view", Materialized::MaterializedView),
                    ],
                )?)
            }
            "schema" => self.schema = Some(want_str(key, v)?),
            "alias" => self.alias = Some(want_str(key, v)?),
            "owner" => self.owner = Some(want_str(key, v)?),
            "tags" => {
                for t in want_list(key, v)? {
                    if !self.tags.contains(&t) {
                        self.tags.push(t);
                    }
                }
            }
            "meta" => match v {
                J::Object(m) => {
                    for (k, val) in m {
                        self.meta.insert(k.clone(), val.clone());
                    }
                }
                J::Null => {}
                _ => return Err(invalid(key, "expected a mapping")),
            },
            "docs" => self.docs = Some(want_docs(key, v)?),
            "unique_key" => {
                let keys = want_list(key, v)?;
                if keys.is_empty() {
                    return Err(invalid(key, "expected at least one column"));
                }
                self.unique_key = Some(keys);
            }
            "incremental_strategy" => {
                self.incremental_strategy = Some(want_enum(
                    key,
                    v,
                    &[
                        ("append", IncrementalStrategy::Append),
                        ("merge", IncrementalStrategy::Merge),
                        ("delete+insert", IncrementalStrategy::DeleteInsert),
                        ("insert_overwrite", IncrementalStrategy::InsertOverwrite),
                    ],
                )?)
            }
            "on_schema_change" => {
                self.on_schema_change = Some(want_enum(
                    key,
                    v,
                    &[
                        ("ignore", OnSchemaChange::Ignore),
                        ("append_new_columns", OnSchemaChange::AppendNewColumns),
                        ("fail", OnSchemaChange::Fail),
                    ],
                )?)
            }
            "pre_hook" | "pre-hook" => self.pre_hook.extend(want_hooks(key, v)?),
            "post_hook" | "post-hook" => self.post_hook.extend(want_hooks(key, v)?),
            "grants" => self.grants = Some(want_grants(key, v)?),
            "indexes" => self.indexes = Some(want_indexes(key, v)?),
            "full_refresh" => self.full_refresh = Some(want_bool(key, v)?),
            "retries" => {
                self.retries = Some(
                    v.as_u64()
                        .ok_or_else(|| invalid(key, "expected a non-negative integer"))?,
                )
            }
            "retry_initial_delay" | "statement_timeout" => {
                let f = v
                    .as_f64()
                    .filter(|f| *f >= 0.0)
                    .ok_or_else(|| invalid(key, "expected a number of seconds"))?;
                if key == "retry_initial_delay" {
                    self.retry_initial_delay = Some(f);
                } else {
                    self.statement_timeout = Some(f);
                }
            }
            "contract" => self.contract = Some(want_contract(key, v)?),
            "column_types" => match v {
                J::Object(m) => {
                    for (col, ty) in m {
                        self.column_types.insert(col.clone(), want_str(key, ty)?);
                    }
                }
                _ => return Err(invalid(key, "expected a mapping of column to type")),
            },
            _ if LAYOUT_KEYS.contains(&key) => self.layout.set(key, v)?,
            _ => self.set_test_key(key, v)?,
        }
        Ok(())
    }

    /// The keys only tests take (`schema` is shared, so `set` handles it).
    fn set_test_key(&mut self, key: &str, v: &J) -> Result<(), ConfigError> {
        match key {
            "severity" => {
                let s = want_str(key, v)?.to_lowercase();
                self.severity = Some(want_enum(
                    key,
                    &J::String(s),
                    &[("error", TestSeverity::Error), ("warn", TestSeverity::Warn)],
                )?)
            }
            "where" => self.where_clause = Some(want_str(key, v)?),
            "warn_if" | "error_if" => {
                let text = want_str(key, v)?;
                super::threshold::Threshold::parse(&text).map_err(|m| invalid(key, m))?;
                if key == "warn_if" {
                    self.warn_if = Some(text);
                } else {
                    self.error_if = Some(text);
                }
            }
            "store_failures" => self.store_failures = Some(want_bool(key, v)?),
            "fail_calc" => self.fail_calc = Some(want_str(key, v)?),
            "limit" => {
                self.limit = Some(
                    v.as_u64()
                        .ok_or_else(|| invalid(key, "expected a non-negative integer"))?,
                )
            }
            _ => unreachable!("accepted keys are all handled: {key}"),
        }
        Ok(())
    }

    /// Applies a later, more specific level on top of this one.
    pub fn merge(&mut self, later: &NodeConfig) {
        override_set!(self, later;
            enabled,
            materialized,
            schema,
            alias,
            owner,
            unique_key,
            incremental_strategy,
            on_schema_change,
            grants,
            indexes,
            docs,
            full_refresh,
            retries,
            retry_initial_delay,
            statement_timeout,
            contract,
            severity,
            where_clause,
            warn_if,
            error_if,
            store_failures,
            limit,
            fail_calc
        );
        for t in &later.tags {
            if !self.tags.contains(t) {
                self.tags.push(t.clone());
            }
        }
        for (k, v) in &later.meta {
            self.meta.insert(k.clone(), v.clone());
        }
        for (k, v) in &later.column_types {
            self.column_types.insert(k.clone(), v.clone());
        }
        self.pre_hook.extend(later.pre_hook.iter().cloned());
        self.post_hook.extend(later.post_hook.iter().cloned());
        self.layout.merge(&later.layout);
    }

    /// False only when some level disabled the node.
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

impl TableLayout {
    /// Validates and records one of [`LAYOUT_KEYS`].
    fn set(&mut self, key: &str, v: &J) -> Result<(), ConfigError> {
        let name = |s: String| {
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                Ok(s)
            } else {
                Err(invalid(
                    key,
                    format!("`{s}` is not a table format name (parquet, delta, iceberg, orc, ...)"),
                ))
            }
        };
        let columns = |v: &J| {
            let cols = want_list(key, v)?;
            if cols.is_empty() || cols.iter().any(|c| c.trim().is_empty()) {
                return Err(invalid(key, "expected a column name or a list of them"));
            }
            Ok(Some(cols))
        };
        match key {
            "file_format" => self.file_format = Some(name(want_str(key, v)?.to_lowercase())?),
            "partition_by" => self.partition_by = columns(v)?,
            "clustered_by" => self.clustered_by = columns(v)?,
            "buckets" => {
                self.buckets = Some(
                    v.as_u64()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| invalid(key, "expected a positive integer"))?,
                )
            }
            "location_root" => {
                let root = want_str(key, v)?;
                if root.trim().is_empty() {
                    return Err(invalid(key, "expected a folder path or URI"));
                }
                self.location_root = Some(root.trim_end_matches('/').to_string());
            }
            "tblproperties" => match v {
                J::Object(m) => {
                    let mut props = BTreeMap::new();
                    for (k, val) in m {
                        let text = match val {
                            J::Bool(b) => b.to_string(),
                            other => want_str(key, other)?,
                        };
                        props.insert(k.clone(), text);
                    }
                    self.tblproperties = Some(props);
                }
                _ => return Err(invalid(key, "expected a mapping of property to value")),
            },
            _ => unreachable!("layout keys are all handled: {key}"),
        }
        Ok(())
    }
}

fn want_hooks(key: &str, v: &J) -> Result<Vec<String>, ConfigError> {
    match v {
        J::Object(m) => match m.get("sql") {
            Some(sql) => Ok(vec![want_str(key, sql)?]),
            None => Err(invalid(key, "a hook mapping needs `sql`")),
        },
        _ => want_list(key, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_key_suggests_the_close_one() {
        let mut c = NodeConfig::default();
        let e = c
            .set(ConfigScope::Model, "materialzed", &json!("table"))
            .unwrap_err();
        assert_eq!(e.help().as_deref(), Some("did you mean `materialized`?"));
    }

    #[test]
    fn bad_enum_value_lists_options() {
        let mut c = NodeConfig::default();
        let e = c
            .set(ConfigScope::Model, "materialized", &json!("tabel"))
            .unwrap_err();
        assert!(e.to_string().contains("did you mean `table`?"), "{e}");
    }

    #[test]
    fn later_levels_override_and_tags_accumulate() {
        let mut a = NodeConfig::default();
        a.set(ConfigScope::Model, "materialized", &json!("view"))
            .unwrap();
        a.set(ConfigScope::Model, "tags", &json!(["x"])).unwrap();
        let mut b = NodeConfig::default();
        b.set(ConfigScope::Model, "materialized", &json!("table"))
            .unwrap();
        b.set(ConfigScope::Model, "tags", &json!("y")).unwrap();
        a.merge(&b);
        assert_eq!(a.materialized, Some(Materialized::Table));
        assert_eq!(a.tags, vec!["x", "y"]);
    }

    #[test]
    fn layout_keys_are_checked_and_merge_by_key() {
        let mut a = NodeConfig::default();
        a.set(ConfigScope::Model, "partition_by", &json!("day"))
            .unwrap();
        a.set(ConfigScope::Model, "file_format", &json!("ORC"))
            .unwrap();
        a.set(
            ConfigScope::Model,
            "tblproperties",
            &json!({"x": true, "y": 2}),
        )
        .unwrap();
        assert_eq!(a.layout.partition_by, Some(vec!["day".to_string()]));
        assert_eq!(a.layout.file_format.as_deref(), Some("orc"));
        assert_eq!(
            a.layout.tblproperties.as_ref().unwrap()["x"],
            "true".to_string()
        );
        let e = a.set(ConfigScope::Model, "buckets", &json!(0)).unwrap_err();
        assert!(e.to_string().contains("positive integer"), "{e}");
        let e = a
            .set(ConfigScope::Model, "file_format", &json!("del ta"))
            .unwrap_err();
        assert!(e.to_string().contains("not a table format name"), "{e}");
        let e = a
            .set(ConfigScope::Model, "partition_by", &json!([]))
            .unwrap_err();
        assert!(e.to_string().contains("column name"), "{e}");
        let mut b = NodeConfig::default();
        b.set(ConfigScope::Model, "location_root", &json!("/lake/"))
            .unwrap();
        a.merge(&b);
        assert_eq!(a.layout.partition_by, Some(vec!["day".to_string()]));
        assert_eq!(a.layout.location_root.as_deref(), Some("/lake"));
        assert!(!a.layout.is_empty());
    }
}
