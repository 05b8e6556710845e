//! The Spark adapter, over Spark Connect (`client`): one Spark Connect session per worker,
//! statements sent as SQL commands, query results read from Arrow batches, seeds appended as
//! one Arrow batch, statements interrupted with the session's `Interrupt` call. Spark's
//! session catalog has no transactions: `begin`/`commit`/`rollback` do nothing, so a build
//! is made under a temporary name and put in place by a drop and a rename (see docs/spark.md
//! for the window in which the old table is gone). The token never leaves this module:
//! messages name the redacted URL.

pub mod client;
mod dialect;
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    rustdoc::all,
    unreachable_pub,
    dead_code
)]
mod proto {
    include!("proto/spark.connect.rs");
}
pub mod url;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field, Schema};

use self::client::{Client, ClientError};
use self::url::SparkUrl;
use super::ddl::{Key, catalog_effect, key};
use super::engine::{Engine, FieldError, TypeFamily};
use super::respell::skip_quoted_or_comment;
use super::{
    Adapter, AdapterError, Capabilities, ColumnMeta, Connection, DbResult, ErrorClass, Interrupter,
    RelationKind,
};
use crate::ir::config::{IncrementalStrategy, TableLayout};
use crate::ir::{AdapterKind, Relation};

pub use self::dialect::SparkDialect;

/// Apache Spark over Spark Connect, described (see `engine`).
pub const ENGINE: Engine = Engine {
    kind: AdapterKind::Spark,
    type_names: &["spark"],
    default_schema: "default",
    // The Hive metastore's column for table names holds 128 characters.
    identifier_limit: 128,
    target_fields: &[
        "method",
        "host",
        "port",
        "schema",
        "token",
        "use_ssl",
        "user",
        "file_format",
        "threads",
        "connect_timeout",
        "lock_timeout",
    ],
    required_target_fields: &[],
    dialect: || Box::new(SparkDialect::default()),
    own_functions: OWN_FUNCTIONS,
    types: &[
        ("tinyint", TypeFamily::Integer),
        ("byte", TypeFamily::Integer),
        ("smallint", TypeFamily::Integer),
        ("short", TypeFamily::Integer),
        ("int", TypeFamily::Integer),
        ("integer", TypeFamily::Integer),
        ("bigint", TypeFamily::Integer),
        ("long", TypeFamily::Integer),
        ("decimal", TypeFamily::Number),
        ("dec", TypeFamily::Number),
        ("numeric", TypeFamily::Number),
        ("float", TypeFamily::Number),
        ("real", TypeFamily::Number),
        ("double", TypeFamily::Number),
        ("string", TypeFamily::Text),
        ("varchar", TypeFamily::Text),
        ("char", TypeFamily::Text),
        ("date", TypeFamily::Date),
        ("timestamp", TypeFamily::Timestamp),
        ("timestamp_ltz", TypeFamily::Timestamp),
        ("timestamp_ntz", TypeFamily::Timestamp),
        ("boolean", TypeFamily::Boolean),
    ],
    type_for: |family| match family {
        TypeFamily::Integer => "bigint",
        TypeFamily::Number => "double",
        TypeFamily::Text | TypeFamily::Json => "string",
        TypeFamily::Date => "date",
        TypeFamily::Timestamp => "timestamp",
        TypeFamily::Boolean => "boolean",
    },
    redact: url::redact,
    connection_string,
    // Sessions run in UTC (see `settings`): a `timestamp_ntz` cast to `timestamp_ltz` is read
    // as UTC, a `timestamp_ltz` is the instant it is.
    epoch_seconds: |e| format!("(unix_micros(cast({e} as timestamp_ltz)) / 1000000.0)"),
    type_name_of: |e| format!("typeof({e})"),
    strategy_error,
    // Spark has no `varchar` without a length, no `text`, no `double precision`.
    type_spellings: &[
        ("character varying", "string"),
        ("varchar", "string"),
        ("text", "string"),
        ("double precision", "double"),
    ],
};

/// Table formats whose tables take `MERGE INTO` and `DELETE` on Spark.
const ROW_LEVEL_FORMATS: &[&str] = &["delta", "iceberg", "hudi"];

/// `merge` and `delete+insert` need row-level operations, which only some formats have.
fn strategy_error(
    strategy: IncrementalStrategy,
    file_format: Option<&str>,
) -> Option<(String, String)> {
    let format = file_format.unwrap_or("parquet").to_ascii_lowercase();
    let (name, needs) = match strategy {
        IncrementalStrategy::Append | IncrementalStrategy::InsertOverwrite => return None,
        IncrementalStrategy::Merge => ("merge", "MERGE INTO"),
        IncrementalStrategy::DeleteInsert => ("delete+insert", "DELETE"),
    };
    if ROW_LEVEL_FORMATS.contains(&format.as_str()) {
        return None;
    }
    Some((
        format!(
            "incremental strategy `{name}` needs {needs}, which Spark's `{format}` tables do not have"
        ),
        format!(
            "use `incremental_strategy='append'`, or a target `file_format` that has {needs} ({})",
            ROW_LEVEL_FORMATS.join(", ")
        ),
    ))
}

/// Built-in functions of Spark SQL that another engine's list names too (Spark has them as
/// well, so they are not foreign here), and those only Spark has.
const OWN_FUNCTIONS: &[(&str, Option<&str>)] = &[
    ("datediff", None),
    ("date_add", None),
    ("date_sub", None),
    ("max_by", None),
    ("min_by", None),
    ("approx_count_distinct", None),
    ("dayname", None),
    ("monthname", None),
    ("last_day", None),
    ("contains", None),
    ("to_char", None),
    ("collect_list", Some("{{ dbt.listagg(...) }}")),
    ("collect_set", None),
];

/// The methods of dbt-spark's targets; strata speaks Spark Connect only.
const OTHER_METHODS: &[&str] = &["thrift", "odbc", "http", "session"];

/// The `sc://` URL of a target from its fields (`host`, `port`, `token`, `use_ssl`,
/// `user`), or `None` when it has no `host` (then `SPARK_REMOTE` is read when connecting).
fn connection_string(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, FieldError> {
    if let Some(method) = get("method") {
        let method = method.trim().to_ascii_lowercase();
        if method != "connect" {
            let known = OTHER_METHODS.contains(&method.as_str());
            return Err(FieldError {
                field: "method",
                message: if known {
                    format!("strata reaches Spark through Spark Connect only, not `{method}`")
                } else {
                    format!("`{method}` is not a Spark connection method")
                },
                help: Some(
                    "use `method: connect` with the host and port of a Spark Connect server (Spark 3.4 or later; `sbin/start-connect-server.sh`)"
                        .into(),
                ),
            });
        }
    }
    if let Some(f) = get("file_format")
        && (f.is_empty() || !f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(FieldError {
            field: "file_format",
            message: format!("`{f}` is not a table format name"),
            help: Some("use parquet (the default), delta, iceberg, orc, ...".into()),
        });
    }
    let Some(host) = get("host") else {
        return Ok(None);
    };
    let host = host.trim();
    let mut url = if host.starts_with("sc://") {
        host.to_string()
    } else {
        let port = get("port").unwrap_or_else(|| url::DEFAULT_PORT.to_string());
        format!("sc://{host}:{}/", port.trim())
    };
    if let Some(t) = get("token") {
        url.push_str(&format!(";token={t}"));
    }
    if let Some(s) = get("use_ssl") {
        url.push_str(&format!(";use_ssl={}", s.trim().to_ascii_lowercase()));
    }
    if let Some(u) = get("user") {
        url.push_str(&format!(";user_id={u}"));
    }
    match SparkUrl::parse(&url) {
        Ok(_) => Ok(Some(url)),
        Err(message) => Err(FieldError {
            field: if host.starts_with("sc://") {
                "host"
            } else {
                "port"
            },
            message,
            help: None,
        }),
    }
}

/// How long connecting waits by default: a server that is down is reported within 10 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);

/// A Spark Connect server.
pub struct SparkAdapter {
    url: SparkUrl,
    file_format: String,
    connect_timeout: Duration,
    catalog: Arc<Mutex<Catalog>>,
}

/// What relations exist, per schema: read once per schema (`show tables`, `show views`) and
/// kept up to date from the DDL strata's sessions run (`ddl::catalog_effect`), shared by the
/// run's sessions. Asking Spark costs two round trips a model, each through Spark's
/// analyzer; a statement whose effect is not understood (a hook's own DDL) empties it.
#[derive(Default)]
struct Catalog {
    loaded: HashSet<String>,
    kinds: HashMap<Key, RelationKind>,
}

impl Catalog {
    /// Records what `sql`, which just ran (or failed: `ok` false), did.
    fn track(&mut self, sql: &str, ok: bool) {
        match catalog_effect(sql, "default") {
            Some(changes) if ok => {
                for (k, v) in changes {
                    if !self.loaded.contains(&k.0) {
                        continue;
                    }
                    match v {
                        Some(kind) => self.kinds.insert(k, kind),
                        None => self.kinds.remove(&k),
                    };
                }
            }
            // A failed statement with no effect on relations changed nothing.
            Some(changes) if changes.is_empty() => {}
            _ => *self = Catalog::default(),
        }
    }
}

impl SparkAdapter {
    /// The adapter for `url` (a target's, else `SPARK_REMOTE`); nothing is connected yet.
    /// Tables are created in `file_format` (parquet when `None`).
    pub fn new(url: Option<&str>, file_format: Option<&str>) -> DbResult<SparkAdapter> {
        let text = match url {
            Some(u) => u.to_string(),
            None => std::env::var("SPARK_REMOTE").map_err(|_| {
                AdapterError::permanent(
                    "the Spark target has no `host` and SPARK_REMOTE is not set: give the target `host: <Spark Connect server>` (and `port`, 15002 by default), or set SPARK_REMOTE=sc://host:port",
                )
            })?,
        };
        let url = SparkUrl::parse(&text).map_err(AdapterError::permanent)?;
        Ok(SparkAdapter {
            url,
            file_format: file_format.unwrap_or("parquet").to_string(),
            connect_timeout: CONNECT_TIMEOUT,
            catalog: Arc::default(),
        })
    }

    /// How long connecting waits.
    pub fn set_connect_timeout(&mut self, d: Duration) {
        self.connect_timeout = d;
    }

    /// The session settings every connection starts with.
    fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            // strata's compiled SQL quotes identifiers with double quotes (ANSI).
            ("spark.sql.ansi.enabled", "true".into()),
            ("spark.sql.ansi.doubleQuotedIdentifiers", "true".into()),
            // Freshness reads timestamps without time zone as UTC.
            ("spark.sql.session.timeZone", "UTC".into()),
            // `timestamp` means what it means in SQL, DuckDB and Postgres: without time zone.
            ("spark.sql.timestampType", "TIMESTAMP_NTZ".into()),
            // `create table ... as` without `using` makes a table of the target's format.
            ("spark.sql.sources.default", self.file_format.clone()),
            ("spark.sql.legacy.createHiveTableByDefault", "false".into()),
            // `insert_overwrite` replaces the partitions its new rows fall in, not the table.
            ("spark.sql.sources.partitionOverwriteMode", "dynamic".into()),
            // A table with `location_root` is made again in its folder, which still holds the
            // files of the version dropped before it (an external table's files stay).
            (
                "spark.sql.legacy.allowNonEmptyLocationInCTAS",
                "true".into(),
            ),
        ]
    }
}

impl Adapter for SparkAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Spark
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            kind: AdapterKind::Spark,
            transactional_ddl: false,
            materialized_views: false,
            concurrent_writers: true,
            grants: false,
            indexes: false,
            // Views bind late, by name: any new column list replaces the old one.
            replace_view_any_columns: true,
            // The session catalog's parquet tables refuse `create or replace table ... as`.
            replace_table: false,
            // MERGE INTO works on tables of formats that have it (delta, iceberg).
            merge_statement: true,
            row_counts: false,
            // A run killed during `create table ... as` leaves the table's folder in the
            // warehouse, and Spark refuses a managed table whose folder is not empty.
            fresh_temp_names: true,
            // partition_by, clustered_by, buckets, location_root, tblproperties, file_format.
            table_layout: true,
        }
    }

    fn connect(&self) -> DbResult<Box<dyn Connection>> {
        let client = Client::connect(&self.url, self.connect_timeout, &self.settings())
            .map_err(|e| {
                let hint = if e.code == tonic::Code::Unavailable {
                    "check that a Spark Connect server is running there (`$SPARK_HOME/sbin/start-connect-server.sh`), that host and port are right, and that `use_ssl` matches the server"
                } else {
                    "check that the server is a Spark Connect server (Spark 3.4 or later) and that the token is right"
                };
                AdapterError::permanent(format!(
                    "cannot connect to Spark Connect at {}: {}; {hint}",
                    self.url, e.message
                ))
            })?;
        let session = client.session_id().to_string();
        Ok(Box::new(SparkConnection {
            client,
            file_format: self.file_format.clone(),
            catalog: self.catalog.clone(),
            url: self.url.clone(),
            session,
            broken: Arc::new(AtomicBool::new(false)),
        }))
    }
}

/// One Spark Connect session.
pub struct SparkConnection {
    client: Client,
    /// The target's table format, for tables whose model names none.
    file_format: String,
    catalog: Arc<Mutex<Catalog>>,
    url: SparkUrl,
    session: String,
    broken: Arc<AtomicBool>,
}

impl SparkConnection {
    fn err(&self, e: ClientError, statement: Option<&str>) -> AdapterError {
        let class = match e.code {
            tonic::Code::Cancelled => ErrorClass::Interrupted,
            _ if e.message.contains("OPERATION_CANCELED") => ErrorClass::Interrupted,
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Aborted => {
                ErrorClass::Transient
            }
            _ => ErrorClass::Permanent,
        };
        if matches!(e.code, tonic::Code::Unavailable | tonic::Code::Unknown) {
            self.broken.store(true, Ordering::Relaxed);
        }
        let message = if e.code == tonic::Code::Unavailable {
            format!(
                "lost the Spark Connect server at {}: {}",
                self.url, e.message
            )
        } else {
            e.message
        };
        let err = AdapterError::new(class, message);
        match statement.and_then(|s| error_offset(&err.message, s).map(|o| (s, o))) {
            Some((s, offset)) => err.at(s, offset),
            None => err,
        }
    }

    fn command(&mut self, sql: &str) -> DbResult<u64> {
        let outcome = self.client.sql_command(sql);
        self.catalog.lock().unwrap().track(sql, outcome.is_ok());
        match outcome {
            Ok(x) => Ok(x.rows_written.unwrap_or(0)),
            Err(e) => Err(self.err(e, Some(sql))),
        }
    }

    /// The tables and views of `schema` (none when it does not exist).
    fn list(&mut self, schema: &str) -> DbResult<HashMap<Key, RelationKind>> {
        let q = format!("`{}`", schema.replace('`', "``"));
        let names = |rows: Vec<Vec<Option<String>>>| -> Vec<String> {
            rows.into_iter()
                .filter_map(|r| r.into_iter().nth(1).flatten())
                .collect()
        };
        let tables = match self.query(&format!("show tables in {q}")) {
            Ok(rows) => names(rows),
            Err(e) if is_not_found(&e) => return Ok(HashMap::new()),
            Err(e) => return Err(e),
        };
        let views = names(self.query(&format!("show views in {q}"))?);
        let mut kinds: HashMap<Key, RelationKind> = tables
            .iter()
            .map(|t| (key(schema, t), RelationKind::Table))
            .collect();
        for v in &views {
            kinds.insert(key(schema, v), RelationKind::View);
        }
        Ok(kinds)
    }
}

/// The byte offset of Spark's `(line N, pos M)` in `statement`, when the message has one.
fn error_offset(message: &str, statement: &str) -> Option<usize> {
    let at = message.rfind("(line ")?;
    let rest = &message[at + 6..];
    let (line, rest) = rest.split_once(", pos ")?;
    let line: usize = line.trim().parse().ok()?;
    let pos: usize = rest.split(')').next()?.trim().parse().ok()?;
    let start: usize = statement
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(str::len)
        .sum();
    let line_text = statement[start..].lines().next().unwrap_or("");
    let col = line_text
        .char_indices()
        .nth(pos)
        .map(|(i, _)| i)
        .unwrap_or(line_text.len());
    Some(start + col)
}

/// Splits text holding several statements at the semicolons outside quotes and comments
/// (Spark Connect runs one statement per command).
fn statements(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        if let Some((end, _)) = skip_quoted_or_comment(b, i) {
            i = end;
            continue;
        }
        if b[i] == b';' {
            out.push(&sql[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    out.push(&sql[start.min(sql.len())..]);
    out.retain(|s| !is_blank(s));
    out
}

/// True when `s` holds nothing but whitespace and comments.
fn is_blank(s: &str) -> bool {
    s.lines()
        .map(|l| l.split("--").next().unwrap_or("").trim())
        .all(|l| l.is_empty() || (l.starts_with("/*") && l.ends_with("*/")))
}

/// Text of every value of a batch, row by row (NULL as `None`).
fn batch_rows(batch: &RecordBatch, out: &mut Vec<Vec<Option<String>>>) -> DbResult<()> {
    // Timestamps as DuckDB and Postgres print them: a space, no trailing zero fraction.
    let options = FormatOptions::default()
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f%:z"));
    let columns = batch
        .columns()
        .iter()
        .map(utc_as_offset)
        .collect::<DbResult<Vec<ArrayRef>>>()?;
    let formatters = columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AdapterError::permanent(format!("cannot read a Spark result: {e}")))?;
    for row in 0..batch.num_rows() {
        out.push(
            columns
                .iter()
                .zip(&formatters)
                .map(|(c, f)| (!c.is_null(row)).then(|| f.value(row).to_string()))
                .collect(),
        );
    }
    Ok(())
}

/// A Spark string literal (backslash escapes).
fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A timestamp column in the session's zone, UTC, relabelled `+00:00`: the same instants, in
/// a zone arrow formats without a time zone database.
fn utc_as_offset(column: &ArrayRef) -> DbResult<ArrayRef> {
    match column.data_type() {
        DataType::Timestamp(unit, Some(tz)) if !tz.starts_with(['+', '-']) => {
            let tz = if ["UTC", "Etc/UTC", "Z", "GMT"].contains(&tz.as_ref()) {
                "+00:00"
            } else {
                return Ok(column.clone());
            };
            arrow_cast::cast(column, &DataType::Timestamp(*unit, Some(tz.into())))
                .map_err(|e| AdapterError::permanent(format!("cannot read a Spark result: {e}")))
        }
        _ => Ok(column.clone()),
    }
}

/// `` `a`, `b` `` for a column list.
fn column_list(cols: &[String]) -> String {
    cols.iter()
        .map(|c| format!("`{}`", c.replace('`', "``")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The clauses of `create table ... as` that lay the table out: its format, partitions,
/// buckets, folder and properties, as dbt-spark writes them.
fn layout_clauses(layout: &TableLayout, default_format: &str, location: Option<&str>) -> String {
    let mut out = format!(
        " using {}",
        layout.file_format.as_deref().unwrap_or(default_format)
    );
    if let Some(cols) = &layout.partition_by {
        out.push_str(&format!("\npartitioned by ({})", column_list(cols)));
    }
    if let (Some(cols), Some(n)) = (&layout.clustered_by, layout.buckets) {
        out.push_str(&format!(
            "\nclustered by ({}) into {n} buckets",
            column_list(cols)
        ));
    }
    if let Some(dir) = location {
        out.push_str(&format!("\nlocation {}", string_literal(dir)));
    }
    if let Some(props) = layout.tblproperties.as_ref().filter(|p| !p.is_empty()) {
        let pairs: Vec<String> = props
            .iter()
            .map(|(k, v)| format!("{} = {}", string_literal(k), string_literal(v)))
            .collect();
        out.push_str(&format!("\ntblproperties ({})", pairs.join(", ")));
    }
    out
}

/// `` `schema`.`name` `` (`` `catalog`.`schema`.`name` `` for a source that names its
/// database) for Spark's multi-part name parser.
fn backticked(r: &Relation) -> String {
    let q = |s: &str| format!("`{}`", s.replace('`', "``"));
    match &r.database {
        Some(d) => format!("{}.{}.{}", q(d), q(&r.schema), q(&r.identifier)),
        None => format!("{}.{}", q(&r.schema), q(&r.identifier)),
    }
}

/// True when Spark says the table, view or schema does not exist.
fn is_not_found(e: &AdapterError) -> bool {
    ["TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND", "NoSuchTable"]
        .iter()
        .any(|c| e.message.contains(c))
}

impl Connection for SparkConnection {
    fn execute(&mut self, sql: &str) -> DbResult<u64> {
        let mut rows = 0;
        for s in statements(sql) {
            rows = self.command(s)?;
        }
        Ok(rows)
    }

    fn begin(&mut self) -> DbResult<()> {
        Ok(())
    }

    fn commit(&mut self) -> DbResult<()> {
        Ok(())
    }

    fn rollback(&mut self) -> DbResult<()> {
        Ok(())
    }

    fn query(&mut self, sql: &str) -> DbResult<Vec<Vec<Option<String>>>> {
        let x = self
            .client
            .sql_query(sql)
            .map_err(|e| self.err(e, Some(sql)))?;
        let mut rows = Vec::new();
        for b in &x.batches {
            batch_rows(b, &mut rows)?;
        }
        Ok(rows)
    }

    fn relation_kind(&mut self, relation: &Relation) -> DbResult<Option<RelationKind>> {
        let k = key(&relation.schema, &relation.identifier);
        let catalog = self.catalog.clone();
        // Held while a schema is listed: a session that changes that schema meanwhile records
        // its change after the listing, not before it (where the listing would undo it).
        let mut cat = catalog.lock().unwrap();
        if !cat.loaded.contains(&k.0) {
            let listed = self.list(&relation.schema)?;
            cat.kinds.extend(listed);
            cat.loaded.insert(k.0.clone());
        }
        Ok(cat.kinds.get(&k).copied())
    }

    fn columns(&mut self, relation: &Relation) -> DbResult<Vec<ColumnMeta>> {
        match self.describe(&format!("select * from {}", backticked(relation))) {
            Err(e) if is_not_found(&e) => Ok(Vec::new()),
            other => other,
        }
    }

    fn describe(&mut self, sql: &str) -> DbResult<Vec<ColumnMeta>> {
        let body = sql.trim().trim_end_matches(';');
        let rows = self.query(&format!("describe query {body}"))?;
        Ok(rows
            .into_iter()
            .map_while(|r| {
                let name = r.first().cloned().flatten().unwrap_or_default();
                (!name.is_empty() && !name.starts_with('#')).then(|| ColumnMeta {
                    name,
                    data_type: r.get(1).cloned().flatten().unwrap_or_default(),
                    nullable: true,
                })
            })
            .collect())
    }

    fn create_table_as(
        &mut self,
        relation: &Relation,
        sql: &str,
        layout: &TableLayout,
        location: Option<&str>,
    ) -> DbResult<u64> {
        let clauses = layout_clauses(layout, &self.file_format, location);
        self.command(&format!(
            "create table {}{clauses}\nas\n{sql}",
            relation.quoted()
        ))
    }

    fn load_text_rows(
        &mut self,
        relation: &Relation,
        columns: &[String],
        rows: &[Vec<Option<String>>],
    ) -> DbResult<()> {
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(c, DataType::Utf8, true))
            .collect();
        let arrays: Vec<ArrayRef> = (0..columns.len())
            .map(|i| {
                Arc::new(
                    rows.iter()
                        .map(|r| r.get(i).cloned().flatten())
                        .collect::<StringArray>(),
                ) as ArrayRef
            })
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| AdapterError::permanent(format!("cannot build the seed's rows: {e}")))?;
        self.client
            .insert_batch(&backticked(relation), &batch)
            .map_err(|e| self.err(e, None))
    }

    fn interrupter(&self) -> Interrupter {
        let url = self.url.clone();
        let session = self.session.clone();
        let running: Arc<Mutex<()>> = Arc::default();
        Arc::new(move || {
            let (url, session, running) = (url.clone(), session.clone(), running.clone());
            // Interrupting takes a round trip on a channel of its own: never block the caller.
            std::thread::spawn(move || {
                let _one_at_a_time = running.lock();
                let _ = client::interrupt(&url, &session, Duration::from_secs(5));
            });
        })
    }

    fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_outside_quotes_and_comments() {
        assert_eq!(
            statements("select ';' as a; -- x;y\ninsert into t values (1);\n/* ; */"),
            vec!["select ';' as a", " -- x;y\ninsert into t values (1)"]
        );
        assert_eq!(statements("select 1"), vec!["select 1"]);
    }

    #[test]
    fn the_catalog_follows_strata_ddl_and_forgets_what_it_cannot_read() {
        let mut cat = Catalog::default();
        cat.loaded.insert("marts".into());
        cat.track(
            "create table \"marts\".\"x__strata_new_1\" using parquet\nas\nselect 1",
            true,
        );
        cat.track(
            "alter table \"marts\".\"x__strata_new_1\" rename to \"x\"",
            true,
        );
        cat.track("create or replace view \"marts\".\"v\" as select 1", true);
        // Schemas not listed yet are not recorded: they are listed when first asked about.
        cat.track("create table \"raw\".\"s\" as select 1", true);
        assert_eq!(
            cat.kinds.get(&key("marts", "x")),
            Some(&RelationKind::Table)
        );
        assert_eq!(cat.kinds.get(&key("marts", "v")), Some(&RelationKind::View));
        assert_eq!(cat.kinds.get(&key("marts", "x__strata_new_1")), None);
        assert_eq!(cat.kinds.get(&key("raw", "s")), None);
        // A failed insert changes nothing; a failed DDL, or DDL not understood, empties it.
        cat.track("insert into \"marts\".\"x\" select 1", false);
        assert!(cat.loaded.contains("marts"));
        cat.track("drop table \"marts\".\"x\"", false);
        assert!(cat.loaded.is_empty() && cat.kinds.is_empty());
        cat.loaded.insert("marts".into());
        cat.track("create temporary view t as select 1", true);
        assert!(cat.loaded.is_empty());
    }

    #[test]
    fn layouts_become_create_table_clauses() {
        assert_eq!(
            layout_clauses(&TableLayout::default(), "parquet", None),
            " using parquet"
        );
        let layout = TableLayout {
            file_format: Some("orc".into()),
            partition_by: Some(vec!["day".into(), "we`ird".into()]),
            clustered_by: Some(vec!["id".into()]),
            buckets: Some(4),
            location_root: Some("/data".into()),
            tblproperties: Some([("a.b".to_string(), "it's".to_string())].into()),
        };
        assert_eq!(
            layout_clauses(&layout, "parquet", Some("/data/t")),
            " using orc\npartitioned by (`day`, `we``ird`)\nclustered by (`id`) into 4 buckets\nlocation '/data/t'\ntblproperties ('a.b' = 'it\\'s')"
        );
    }

    #[test]
    fn error_positions_map_to_byte_offsets() {
        let s = "select 1\nfrom t wher x";
        assert_eq!(
            error_offset(
                "[PARSE_SYNTAX_ERROR] Syntax error at or near 'x'. SQLSTATE: 42601 (line 2, pos 12)",
                s
            ),
            Some(9 + 12)
        );
        assert_eq!(error_offset("no position", s), None);
    }

    fn field(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn targets_become_spark_connect_urls() {
        let url = connection_string(&field(&[("method", "connect"), ("host", "127.0.0.1")]));
        assert_eq!(url.unwrap().as_deref(), Some("sc://127.0.0.1:15002/"));
        let url = connection_string(&field(&[
            ("host", "spark.example"),
            ("port", "443"),
            ("token", "t0k"),
            ("user", "ana"),
        ]));
        assert_eq!(
            url.unwrap().as_deref(),
            Some("sc://spark.example:443/;token=t0k;user_id=ana")
        );
        assert_eq!(connection_string(&field(&[])).unwrap(), None);
    }

    #[test]
    fn other_methods_name_the_one_strata_speaks() {
        let e = connection_string(&field(&[("method", "thrift"), ("host", "h")])).unwrap_err();
        assert_eq!(e.field, "method");
        assert!(
            e.message.contains("Spark Connect only, not `thrift`"),
            "{}",
            e.message
        );
        assert!(e.help.unwrap().contains("method: connect"));
        let e = connection_string(&field(&[("file_format", "del ta")])).unwrap_err();
        assert_eq!(e.field, "file_format");
    }
}
