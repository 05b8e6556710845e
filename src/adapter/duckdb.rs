//! The embedded DuckDB adapter: one database instance per run, one connection per worker
//! (clones of the instance's first connection), transactional DDL, interruptible statements.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use duckdb::{AccessMode, Config};

use super::engine::{Engine, TypeFamily};
use super::{
    Adapter, AdapterError, Capabilities, ColumnMeta, Connection, DbResult, ErrorClass, Interrupter,
    RelationKind,
};
use crate::ir::AdapterKind;
use crate::ir::Relation;

/// DuckDB, described (see `engine`).
pub const ENGINE: Engine = Engine {
    kind: AdapterKind::Duckdb,
    type_names: &["duckdb"],
    default_schema: "main",
    // DuckDB has no limit: Postgres' is kept so that generated names are alike on both.
    identifier_limit: 63,
    target_fields: &[
        "path",
        "schema",
        "threads",
        "extensions",
        "settings",
        "attach",
    ],
    required_target_fields: &[&["path"]],
    dialect: || Box::new(sqlparser::dialect::DuckDbDialect {}),
    own_functions: OWN_FUNCTIONS,
    types: &[
        ("tinyint", TypeFamily::Integer),
        ("smallint", TypeFamily::Integer),
        ("integer", TypeFamily::Integer),
        ("int", TypeFamily::Integer),
        ("bigint", TypeFamily::Integer),
        ("hugeint", TypeFamily::Integer),
        ("utinyint", TypeFamily::Integer),
        ("usmallint", TypeFamily::Integer),
        ("uinteger", TypeFamily::Integer),
        ("ubigint", TypeFamily::Integer),
        ("uhugeint", TypeFamily::Integer),
        ("int1", TypeFamily::Integer),
        ("int2", TypeFamily::Integer),
        ("int4", TypeFamily::Integer),
        ("int8", TypeFamily::Integer),
        ("decimal", TypeFamily::Number),
        ("numeric", TypeFamily::Number),
        ("double", TypeFamily::Number),
        ("float", TypeFamily::Number),
        ("float4", TypeFamily::Number),
        ("float8", TypeFamily::Number),
        ("real", TypeFamily::Number),
        ("varchar", TypeFamily::Text),
        ("text", TypeFamily::Text),
        ("char", TypeFamily::Text),
        ("character", TypeFamily::Text),
        ("string", TypeFamily::Text),
        ("bpchar", TypeFamily::Text),
        ("uuid", TypeFamily::Text),
        ("date", TypeFamily::Date),
        ("timestamp", TypeFamily::Timestamp),
        ("timestamptz", TypeFamily::Timestamp),
        ("datetime", TypeFamily::Timestamp),
        ("boolean", TypeFamily::Boolean),
        ("bool", TypeFamily::Boolean),
        ("json", TypeFamily::Json),
    ],
    type_for: |family| match family {
        TypeFamily::Integer => "bigint",
        TypeFamily::Number => "double precision",
        TypeFamily::Text => "varchar",
        TypeFamily::Date => "date",
        TypeFamily::Timestamp => "timestamp",
        TypeFamily::Boolean => "boolean",
        TypeFamily::Json => "json",
    },
    // A DuckDB target names a file, which holds no secret.
    redact: str::to_string,
    // A DuckDB target names its file with `path`.
    connection_string: |_| Ok(None),
    // `epoch_us` needs no ICU (not bundled), for timestamps with and without time zone alike.
    epoch_seconds: |e| format!("epoch_us({e}) / 1000000.0"),
    type_name_of: |e| format!("typeof({e})"),
    strategy_error: super::engine::no_partition_overwrite,
    type_spellings: &[],
};

/// Built-in functions of DuckDB that PostgreSQL (15) does not have, with a portable spelling.
const OWN_FUNCTIONS: &[(&str, Option<&str>)] = &[
    (
        "date_diff",
        Some("{{ dbt.datediff(first, second, 'day') }}"),
    ),
    ("datediff", Some("{{ dbt.datediff(first, second, 'day') }}")),
    ("date_add", Some("{{ dbt.dateadd('day', n, date) }}")),
    ("date_sub", Some("{{ dbt.datediff(first, second, 'day') }}")),
    ("strftime", None),
    ("strptime", None),
    ("epoch_ms", None),
    ("list_value", None),
    ("list_aggregate", None),
    ("list_sort", None),
    ("list_contains", None),
    ("list_slice", None),
    ("struct_pack", None),
    ("arg_max", None),
    ("arg_min", None),
    ("max_by", None),
    ("min_by", None),
    (
        "median",
        Some("percentile_cont(0.5) within group (order by x)"),
    ),
    (
        "quantile_cont",
        Some("percentile_cont(q) within group (order by x)"),
    ),
    ("approx_count_distinct", None),
    ("string_split", None),
    ("str_split", None),
    ("regexp_full_match", None),
    ("dayname", None),
    ("monthname", None),
    ("yearweek", None),
    ("epoch", Some("extract(epoch from x)")),
    ("last_day", None),
    ("contains", Some("position(needle in haystack) > 0")),
    ("list_extract", None),
    ("try_strptime", None),
];

/// Classifies a DuckDB error message: conflicts and file locks are worth a retry.
pub fn classify(message: &str) -> ErrorClass {
    let m = message.to_lowercase();
    if m.contains("interrupt") {
        ErrorClass::Interrupted
    } else if m.contains("conflict")
        || m.contains("could not set lock")
        || m.contains("database is locked")
        || m.contains("lock on file")
        || m.contains("resource temporarily unavailable")
    {
        ErrorClass::Transient
    } else {
        ErrorClass::Permanent
    }
}

fn err(e: duckdb::Error) -> AdapterError {
    let message = e.to_string();
    AdapterError::new(classify(&message), message)
}

/// The error of running `sql`, pointing at the line DuckDB names (`LINE n:` in its message).
fn err_in(sql: &str) -> impl Fn(duckdb::Error) -> AdapterError + '_ {
    move |e| {
        let a = err(e);
        match error_line(&a.message) {
            Some(n) => {
                let offset = sql
                    .split_inclusive('\n')
                    .take(n - 1)
                    .map(str::len)
                    .sum::<usize>();
                a.at(sql, offset)
            }
            None => a,
        }
    }
}

/// The statement line DuckDB's message points at: its last `LINE n:` marker.
pub fn error_line(message: &str) -> Option<usize> {
    message.lines().rev().find_map(|l| {
        let rest = l.strip_prefix("LINE ")?;
        let (n, _) = rest.split_once(':')?;
        n.parse().ok().filter(|&n| n > 0)
    })
}

/// A DuckDB database file (or an in-memory database for dry runs of a file that does not exist).
pub struct DuckDbAdapter {
    root: Mutex<duckdb::Connection>,
    path: PathBuf,
    catalog: Arc<Mutex<Catalog>>,
}

/// What relations exist, read once per run and kept up to date from the DDL strata runs:
/// DuckDB's catalog functions scan every relation (and render each view's SQL), so asking for
/// one relation per model made a run quadratic. Changes made inside a transaction are applied
/// when it commits; a statement whose effect is not understood (a hook's own DDL) empties the
/// cache, which is then read again.
#[derive(Default)]
struct Catalog {
    loaded: bool,
    kinds: HashMap<(String, String), RelationKind>,
}

use super::ddl::{Key, catalog_effect, key};

impl DuckDbAdapter {
    /// Opens (and, unless `read_only`, creates) the database file. A read-only open of a file
    /// that does not exist yet opens an empty in-memory database instead, so nothing is created.
    pub fn open(path: &Path, read_only: bool) -> DbResult<DuckDbAdapter> {
        let in_memory = path.file_name().is_some_and(|n| n == ":memory:");
        let conn = if in_memory {
            duckdb::Connection::open_in_memory().map_err(err)?
        } else if read_only {
            if path.exists() {
                let config = Config::default()
                    .access_mode(AccessMode::ReadOnly)
                    .map_err(err)?;
                duckdb::Connection::open_with_flags(path, config).map_err(err)?
            } else {
                duckdb::Connection::open_in_memory().map_err(err)?
            }
        } else {
            if let Some(parent) = path.parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    AdapterError::permanent(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            duckdb::Connection::open(path).map_err(err)?
        };
        Ok(DuckDbAdapter {
            root: Mutex::new(conn),
            path: path.to_path_buf(),
            catalog: Arc::default(),
        })
    }

    /// Loads `extensions`, applies `settings` and runs the `attach` statements, as the target
    /// asks, on the database every connection of the run shares.
    pub fn configure(
        &self,
        extensions: &[String],
        settings: &[(String, String)],
        attach: &[String],
    ) -> DbResult<()> {
        let root = self.root.lock().unwrap();
        for ext in extensions {
            if root.execute_batch(&format!("LOAD {ext}")).is_err() {
                // Not installed yet: installing needs DuckDB's extension repository.
                root.execute_batch(&format!("INSTALL {ext}; LOAD {ext}"))
                    .map_err(|e| {
                        AdapterError::permanent(format!(
                            "cannot load DuckDB extension `{ext}`: {e}. It is not built in and not installed, and installing it downloads it; install it once where there is a network (`duckdb -c \"INSTALL {ext}\"`), or remove it from the target's `extensions`"
                        ))
                    })?;
            }
        }
        for (name, value) in settings {
            root.execute_batch(&format!(
                "SET GLOBAL {name} = {}",
                crate::ir::quote_literal(value)
            ))
            .map_err(|e| AdapterError::permanent(format!("cannot apply setting `{name}`: {e}")))?;
        }
        for sql in attach {
            root.execute_batch(sql)
                .map_err(|e| AdapterError::permanent(format!("cannot attach ({sql}): {e}")))?;
        }
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Adapter for DuckDbAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Duckdb
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            kind: AdapterKind::Duckdb,
            transactional_ddl: true,
            materialized_views: false,
            concurrent_writers: true,
            grants: false,
            // DuckDB refuses to rename a table that has an index.
            indexes: false,
            replace_view_any_columns: true,
            replace_table: true,
            merge_statement: false,
            row_counts: true,
            fresh_temp_names: false,
            table_layout: false,
        }
    }

    fn connect(&self) -> DbResult<Box<dyn Connection>> {
        let conn = self.root.lock().unwrap().try_clone().map_err(err)?;
        let handle = conn.interrupt_handle();
        Ok(Box::new(DuckDbConnection {
            conn,
            interrupter: Arc::new(move || handle.interrupt()),
            catalog: self.catalog.clone(),
            in_transaction: false,
            pending: Vec::new(),
            pending_unknown: false,
        }))
    }
}

/// One DuckDB connection.
pub struct DuckDbConnection {
    conn: duckdb::Connection,
    interrupter: Interrupter,
    catalog: Arc<Mutex<Catalog>>,
    in_transaction: bool,
    pending: Vec<(Key, Option<RelationKind>)>,
    pending_unknown: bool,
}

impl DuckDbConnection {
    /// Records what a statement that succeeded did to the catalog.
    fn track(&mut self, sql: &str) {
        let first = sql.split_whitespace().next().unwrap_or("").to_lowercase();
        match first.as_str() {
            "begin" => {
                self.in_transaction = true;
                return;
            }
            "commit" | "end" | "rollback" | "abort" => {
                let (changes, unknown) = (
                    std::mem::take(&mut self.pending),
                    std::mem::replace(&mut self.pending_unknown, false),
                );
                if first != "rollback" && first != "abort" {
                    self.apply(changes, unknown);
                }
                self.in_transaction = false;
                return;
            }
            _ => {}
        }
        // A batch (hooks) may hold several statements: each is looked at.
        for stmt in sql.split(';').filter(|s| !s.trim().is_empty()) {
            match catalog_effect(stmt, "main") {
                Some(changes) => self.pending.extend(changes),
                None => self.pending_unknown = true,
            }
        }
        if !self.in_transaction {
            let changes = std::mem::take(&mut self.pending);
            let unknown = std::mem::replace(&mut self.pending_unknown, false);
            self.apply(changes, unknown);
        }
    }

    fn apply(&self, changes: Vec<(Key, Option<RelationKind>)>, unknown: bool) {
        let mut cat = self.catalog.lock().unwrap();
        if unknown {
            *cat = Catalog::default();
            return;
        }
        if !cat.loaded {
            return;
        }
        for (k, v) in changes {
            match v {
                Some(kind) => cat.kinds.insert(k, kind),
                None => cat.kinds.remove(&k),
            };
        }
    }

    fn load_catalog(&mut self) -> DbResult<()> {
        let mut stmt = self
            .conn
            .prepare(
                "select schema_name, table_name, false from duckdb_tables() where database_name = current_database() \
                 union all \
                 select schema_name, view_name, true from duckdb_views() where database_name = current_database() and not internal",
            )
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut kinds = HashMap::new();
        while let Some(row) = rows.next().map_err(err)? {
            let schema: String = row.get(0).map_err(err)?;
            let name: String = row.get(1).map_err(err)?;
            let view: bool = row.get(2).map_err(err)?;
            kinds.insert(
                key(&schema, &name),
                if view {
                    RelationKind::View
                } else {
                    RelationKind::Table
                },
            );
        }
        let mut cat = self.catalog.lock().unwrap();
        cat.kinds = kinds;
        cat.loaded = true;
        Ok(())
    }

    fn execute_untracked(&mut self, sql: &str) -> DbResult<u64> {
        let mut stmt = match self.conn.prepare(sql) {
            Ok(s) => s,
            // Several statements in one string (a hook): run them as a batch.
            Err(e) if e.to_string().to_lowercase().contains("multiple statements") => {
                self.conn.execute_batch(sql).map_err(err_in(sql))?;
                return Ok(0);
            }
            Err(e) => return Err(err_in(sql)(e)),
        };
        let n = stmt.execute([]).map_err(err_in(sql))?;
        Ok(n as u64)
    }
}

impl DuckDbConnection {
    /// Records what `sql`, just run with `outcome`, did to the catalog.
    fn tracked<T>(&mut self, sql: &str, outcome: DbResult<T>) -> DbResult<T> {
        match outcome {
            Ok(v) => {
                self.track(sql);
                Ok(v)
            }
            Err(e) => {
                // Inside a transaction the rollback that follows discards everything. Outside
                // one, a batch may have run part of its DDL: read the catalog again.
                if !self.in_transaction && catalog_effect(sql, "main").is_none_or(|c| !c.is_empty())
                {
                    self.apply(Vec::new(), true);
                }
                Err(e)
            }
        }
    }
}

impl Connection for DuckDbConnection {
    fn execute(&mut self, sql: &str) -> DbResult<u64> {
        let outcome = self.execute_untracked(sql);
        self.tracked(sql, outcome)
    }

    /// DuckDB's one-shot query path: a prepared statement that reads a table is planned when
    /// prepared and again when executed (DuckDB rebinds it then), which made `create table
    /// as` through `execute` about 1.5x as slow; the row count is what it would have given.
    fn run(&mut self, sql: &str) -> DbResult<()> {
        let outcome = self.conn.execute_batch(sql).map_err(err_in(sql));
        self.tracked(sql, outcome)
    }

    fn query(&mut self, sql: &str) -> DbResult<Vec<Vec<Option<String>>>> {
        // Every column comes back as text: DuckDB casts them all in one projection.
        let wrapped = format!(
            "select columns(*)::varchar from (\n{}\n) as strata_q",
            sql.trim_end().trim_end_matches(';')
        );
        let mut stmt = self.conn.prepare(&wrapped).map_err(err_in(&wrapped))?;
        let mut rows = stmt.query([]).map_err(err_in(&wrapped))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let n = row.as_ref().column_count();
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(row.get::<_, Option<String>>(i).map_err(err)?);
            }
            out.push(values);
        }
        Ok(out)
    }

    fn relation_kind(&mut self, relation: &Relation) -> DbResult<Option<RelationKind>> {
        if !self.catalog.lock().unwrap().loaded {
            self.load_catalog()?;
        }
        let k = key(&relation.schema, &relation.identifier);
        // This transaction's own changes first, then the committed state.
        if let Some((_, v)) = self.pending.iter().rev().find(|(pk, _)| *pk == k) {
            return Ok(*v);
        }
        if self.pending_unknown {
            // A hook changed relations in ways not tracked: ask the database.
            let mut stmt = self
                .conn
                .prepare("select table_type from information_schema.tables where table_schema = ? and table_name = ?")
                .map_err(err)?;
            let mut rows = stmt
                .query([&relation.schema, &relation.identifier])
                .map_err(err)?;
            return match rows.next().map_err(err)? {
                Some(row) => {
                    let t: String = row.get(0).map_err(err)?;
                    Ok(Some(if t.eq_ignore_ascii_case("VIEW") {
                        RelationKind::View
                    } else {
                        RelationKind::Table
                    }))
                }
                None => Ok(None),
            };
        }
        Ok(self.catalog.lock().unwrap().kinds.get(&k).copied())
    }

    fn columns(&mut self, relation: &Relation) -> DbResult<Vec<ColumnMeta>> {
        let mut stmt = self
            .conn
            .prepare(
                "select column_name, data_type, is_nullable from information_schema.columns \
                 where table_schema = ? and table_name = ? order by ordinal_position",
            )
            .map_err(err)?;
        let mut rows = stmt
            .query([&relation.schema, &relation.identifier])
            .map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let nullable: String = row.get(2).map_err(err)?;
            out.push(ColumnMeta {
                name: row.get(0).map_err(err)?,
                data_type: row.get(1).map_err(err)?,
                nullable: nullable.eq_ignore_ascii_case("YES"),
            });
        }
        Ok(out)
    }

    fn describe(&mut self, sql: &str) -> DbResult<Vec<ColumnMeta>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "describe {}",
                sql.trim_end().trim_end_matches(';')
            ))
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let nullable: Option<String> = row.get(2).map_err(err)?;
            out.push(ColumnMeta {
                name: row.get(0).map_err(err)?,
                data_type: row.get(1).map_err(err)?,
                nullable: nullable.is_none_or(|n| n.eq_ignore_ascii_case("YES")),
            });
        }
        Ok(out)
    }

    fn load_text_rows(
        &mut self,
        relation: &Relation,
        _columns: &[String],
        rows: &[Vec<Option<String>>],
    ) -> DbResult<()> {
        let mut app = self
            .conn
            .appender_to_db(&relation.identifier, &relation.schema)
            .map_err(err)?;
        for row in rows {
            app.append_row(duckdb::appender_params_from_iter(row.iter()))
                .map_err(err)?;
        }
        app.flush().map_err(err)?;
        Ok(())
    }

    fn interrupter(&self) -> Interrupter {
        self.interrupter.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_and_locks_are_transient() {
        assert_eq!(
            classify("TransactionContext Error: Catalog write-write conflict on alter"),
            ErrorClass::Transient
        );
        assert_eq!(
            classify("IO Error: Could not set lock on file \"w.duckdb\": Conflicting lock is held"),
            ErrorClass::Transient
        );
        assert_eq!(
            classify("Binder Error: Referenced column \"x\" not found"),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify("INTERRUPT Error: Interrupted!"),
            ErrorClass::Interrupted
        );
    }

    /// `run` (DuckDB's one-shot query path) keeps the catalog as `execute` does: what it
    /// creates and drops, inside and outside transactions, and after a failure.
    #[test]
    fn run_tracks_the_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let adapter = DuckDbAdapter::open(&dir.path().join("w.duckdb"), false).unwrap();
        let mut conn = adapter.connect().unwrap();
        let rel = |name: &str| Relation::new("main", name);
        conn.run("create or replace table t as select 1 as a; create view v as select * from t")
            .unwrap();
        assert_eq!(
            conn.relation_kind(&rel("t")).unwrap(),
            Some(RelationKind::Table)
        );
        assert_eq!(
            conn.relation_kind(&rel("v")).unwrap(),
            Some(RelationKind::View)
        );
        assert_eq!(
            conn.query("select count(*) from v").unwrap(),
            vec![vec![Some("1".to_string())]]
        );

        conn.run("begin transaction").unwrap();
        conn.run("drop view v").unwrap();
        conn.run("create table u as select 2 as b").unwrap();
        assert_eq!(conn.relation_kind(&rel("v")).unwrap(), None);
        assert_eq!(
            conn.relation_kind(&rel("u")).unwrap(),
            Some(RelationKind::Table)
        );
        conn.run("rollback").unwrap();
        assert_eq!(
            conn.relation_kind(&rel("v")).unwrap(),
            Some(RelationKind::View)
        );
        assert_eq!(conn.relation_kind(&rel("u")).unwrap(), None);

        // A batch that fails half-way has run its first statement: the catalog is read again.
        let e = conn
            .run("create table w as select 3 as c; create table x as select * from missing")
            .unwrap_err();
        assert!(e.message.contains("missing"), "{}", e.message);
        assert_eq!(
            conn.relation_kind(&rel("w")).unwrap(),
            Some(RelationKind::Table)
        );
        assert_eq!(conn.relation_kind(&rel("x")).unwrap(), None);
    }
}
