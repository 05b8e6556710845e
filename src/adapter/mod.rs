//! The only place that talks to a database. `Adapter` opens connections; `Connection` runs
//! statements, reports what exists, loads seed rows and can be interrupted. Differences between
//! engines are one description per engine (`engine`), capability flags and error
//! classification, never `if postgres` in callers; `retry` is the one retry loop.
//!
//! May import: `ir` and the utilities. The offline stages import `adapter::engine` only.

mod ddl;
pub mod duckdb;
pub mod engine;
pub mod naming;
pub mod postgres;
pub mod postgres_tls;
pub mod respell;
pub mod retry;
pub mod spark;

use std::fmt;
use std::sync::Arc;

use crate::ir::config::TableLayout;
use crate::ir::{AdapterKind, ColumnMeta, Relation, Target};

/// What kind of relation exists in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelationKind {
    /// A table.
    Table,
    /// A view.
    View,
    /// A materialized view.
    MaterializedView,
}

impl RelationKind {
    /// The SQL keyword for `drop <kind>`.
    pub fn keyword(self) -> &'static str {
        match self {
            RelationKind::Table => "table",
            RelationKind::View => "view",
            RelationKind::MaterializedView => "materialized view",
        }
    }
}

/// What an engine can do; callers pick statements by these flags.
#[derive(Clone, Copy, Debug)]
pub struct Capabilities {
    /// Which engine (its description spells the types strata chooses).
    pub kind: AdapterKind,
    /// DDL (create, drop, rename) is transactional, so a swap is atomic.
    pub transactional_ddl: bool,
    /// Materialized views exist.
    pub materialized_views: bool,
    /// Several connections may write at the same time.
    pub concurrent_writers: bool,
    /// Privileges can be granted to roles (`grants` config).
    pub grants: bool,
    /// Indexes survive renaming their table (`indexes` config).
    pub indexes: bool,
    /// `create or replace view` accepts any new column list (else: drop and create).
    pub replace_view_any_columns: bool,
    /// `create or replace table ... as` replaces a table in one atomic statement.
    pub replace_table: bool,
    /// Incremental `merge` runs as one SQL `MERGE` (else an update and an insert).
    pub merge_statement: bool,
    /// A statement reports the rows it wrote (Spark's SQL commands do not).
    pub row_counts: bool,
    /// Dropping a table may leave its files behind (a run killed while writing one), and a new
    /// table may not take a name whose folder exists: each build's temporary table then gets a
    /// name of its own.
    pub fresh_temp_names: bool,
    /// Tables take a layout (`partition_by`, `location_root`, ...: see
    /// `Connection::create_table_as`); the other engines ignore those configs.
    pub table_layout: bool,
}

/// A view or materialized view that depends on a relation about to be replaced, with the
/// statements that recreate it as it is now (definition, indexes, grants, comment).
#[derive(Clone, Debug)]
pub struct Dependent {
    /// The dependent relation.
    pub relation: Relation,
    /// View or materialized view.
    pub kind: RelationKind,
    /// Statements that recreate it, in order.
    pub statements: Vec<String>,
}

/// Held for the length of a run: while it lives, no other run can take the target's lock.
pub type RunLock = Box<dyn std::any::Any + Send>;

/// Whether retrying can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// A lock or write conflict, a busy database file, a dropped connection: try again.
    Transient,
    /// The statement itself is wrong or the data breaks it: retrying gives the same error.
    Permanent,
    /// The statement was interrupted (Ctrl-C, timeout).
    Interrupted,
}

/// A database error with its class.
#[derive(Clone, Debug, thiserror::Error)]
pub struct AdapterError {
    /// Whether retrying can help.
    pub class: ErrorClass,
    /// The database's message (never containing a password).
    pub message: String,
    /// The statement that failed and where in it the database says the error is, when it
    /// says so (a syntax or binder error).
    pub at: Option<Box<ErrorAt>>,
}

/// Where in a statement an error is: the statement and a byte offset into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorAt {
    /// The statement as sent.
    pub statement: String,
    /// The byte offset the database points at (the start of the line when it gives a line).
    pub offset: usize,
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl AdapterError {
    /// An error that retrying will not fix.
    pub fn permanent(message: impl Into<String>) -> AdapterError {
        AdapterError::new(ErrorClass::Permanent, message)
    }

    /// An error of `class` with no position.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> AdapterError {
        AdapterError {
            class,
            message: message.into(),
            at: None,
        }
    }

    /// The same error, pointing at byte `offset` of `statement`.
    pub fn at(mut self, statement: &str, offset: usize) -> AdapterError {
        self.at = Some(Box::new(ErrorAt {
            statement: statement.to_string(),
            offset: offset.min(statement.len()),
        }));
        self
    }

    /// True when a retry may succeed.
    pub fn is_transient(&self) -> bool {
        self.class == ErrorClass::Transient
    }
}

/// Result of a database call.
pub type DbResult<T> = Result<T, AdapterError>;

/// Receives what a run should tell its user while it waits (a lock another session holds):
/// the adapter says it, the command prints it.
pub type Notices = Arc<dyn Fn(&str) + Send + Sync>;

/// Stops the statement running on a connection, from another thread.
pub type Interrupter = Arc<dyn Fn() + Send + Sync>;

/// Runs `f` inside a transaction: commit on success, rollback on any error.
pub fn in_transaction<T>(
    conn: &mut dyn Connection,
    f: impl FnOnce(&mut dyn Connection) -> DbResult<T>,
) -> DbResult<T> {
    conn.begin()?;
    match f(conn) {
        Ok(v) => {
            conn.commit()?;
            Ok(v)
        }
        Err(e) => {
            // The connection may already have aborted the transaction; the original error matters.
            let _ = conn.rollback();
            Err(e)
        }
    }
}

/// An engine: opens connections for the workers.
pub trait Adapter: Send + Sync {
    /// Which engine.
    fn kind(&self) -> AdapterKind;
    /// What it can do.
    fn capabilities(&self) -> Capabilities;
    /// A new connection (one per worker).
    fn connect(&self) -> DbResult<Box<dyn Connection>>;
    /// Takes the run lock of target `name` (writing into `schema`), waiting up to `wait` for
    /// another run to release it.
    /// Engines whose database admits a single writer process lock by themselves (`None`).
    fn lock_target(
        &self,
        name: &str,
        schema: &str,
        wait: std::time::Duration,
    ) -> DbResult<Option<RunLock>> {
        let _ = (name, schema, wait);
        Ok(None)
    }
}

/// One database session.
pub trait Connection: Send {
    /// Runs one or more statements, returning the rows affected by the last one.
    fn execute(&mut self, sql: &str) -> DbResult<u64>;
    /// Runs one or more statements whose result is not wanted. Engines where reporting the
    /// rows affected costs work of its own skip that here.
    fn run(&mut self, sql: &str) -> DbResult<()> {
        self.execute(sql).map(drop)
    }
    /// Starts a transaction. Engines without transactions (Spark's session catalog) do
    /// nothing: their builds rely on the temporary name and the swap alone.
    fn begin(&mut self) -> DbResult<()> {
        self.run("begin transaction")
    }
    /// Commits the transaction `begin` started.
    fn commit(&mut self) -> DbResult<()> {
        self.run("commit")
    }
    /// Rolls back the transaction `begin` started.
    fn rollback(&mut self) -> DbResult<()> {
        self.run("rollback")
    }
    /// Runs a query and returns every row as text (NULL as `None`).
    fn query(&mut self, sql: &str) -> DbResult<Vec<Vec<Option<String>>>>;
    /// What exists under this name, if anything.
    fn relation_kind(&mut self, relation: &Relation) -> DbResult<Option<RelationKind>>;
    /// The columns of an existing relation, in order.
    fn columns(&mut self, relation: &Relation) -> DbResult<Vec<ColumnMeta>>;
    /// The columns a query returns (names and types), without running it to the end.
    fn describe(&mut self, sql: &str) -> DbResult<Vec<ColumnMeta>>;
    /// Creates table `relation` from a query and returns the rows written. Engines whose
    /// tables take a layout (`Capabilities::table_layout`) lay it out as `layout` says, with
    /// its files in folder `location` when given; the others ignore both.
    fn create_table_as(
        &mut self,
        relation: &Relation,
        sql: &str,
        layout: &TableLayout,
        location: Option<&str>,
    ) -> DbResult<u64> {
        let _ = (layout, location);
        self.execute(&format!("create table {} as\n{sql}", relation.quoted()))
    }
    /// Appends rows (text values, NULL as `None`) to an existing table whose columns are all text.
    fn load_text_rows(
        &mut self,
        relation: &Relation,
        columns: &[String],
        rows: &[Vec<Option<String>>],
    ) -> DbResult<()>;
    /// A handle that interrupts the running statement.
    fn interrupter(&self) -> Interrupter;
    /// True once the session is gone (server stopped, network down): open a new one.
    fn is_broken(&self) -> bool {
        false
    }
    /// Views and materialized views bound to `relation` that dropping it would take along
    /// (engines whose views bind late, by name, have none), in the order to recreate them.
    fn dependents(&mut self, relation: &Relation) -> DbResult<Vec<Dependent>> {
        let _ = relation;
        Ok(Vec::new())
    }
    /// Locks, until the transaction ends, the dependents of `relation` (about to be dropped
    /// and recreated), so that two builds replacing parents of the same view queue up instead
    /// of deadlocking or reading a definition the other one is replacing. Engines without
    /// dependents have nothing to do.
    fn lock_dependents(&mut self, relation: &Relation) -> DbResult<()> {
        let _ = relation;
        Ok(())
    }
    /// Every column of every table and view outside the system schemas, in order: what
    /// `catalog.json` and the docs site show as the warehouse's types. One query; the caller
    /// keeps the relations it knows.
    fn catalog_columns(&mut self) -> DbResult<Vec<CatalogColumn>> {
        let rows = self.query(
            "select c.table_schema, c.table_name, c.column_name, c.data_type, \
             c.ordinal_position, t.table_type \
             from information_schema.columns c join information_schema.tables t \
             on t.table_catalog = c.table_catalog and t.table_schema = c.table_schema \
             and t.table_name = c.table_name \
             where c.table_schema not in ('information_schema', 'pg_catalog') \
             order by c.table_schema, c.table_name, c.ordinal_position",
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut r = r.into_iter();
                let mut next = || r.next().flatten();
                Some(CatalogColumn {
                    relation: Relation {
                        database: None,
                        schema: next()?,
                        identifier: next()?,
                    },
                    name: next()?,
                    data_type: next()?,
                    position: next()?.parse().ok()?,
                    table_type: next().unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Privileges granted on `relation` to roles other than its owner: `(privilege, role)`,
    /// privilege in lower case.
    fn grants(&mut self, relation: &Relation) -> DbResult<Vec<(String, String)>> {
        let _ = relation;
        Ok(Vec::new())
    }
}

/// One column of the warehouse's catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogColumn {
    /// The table or view.
    pub relation: Relation,
    /// Column name.
    pub name: String,
    /// Type as the database names it.
    pub data_type: String,
    /// 1-based position.
    pub position: u32,
    /// `BASE TABLE`, `VIEW`, ...
    pub table_type: String,
}

/// Opens the adapter for a resolved target. `read_only` never creates or writes the database
/// (dry runs, `strata debug`).
pub fn open(
    target: &Target,
    project_root: &std::path::Path,
    read_only: bool,
    notices: Notices,
) -> DbResult<Arc<dyn Adapter>> {
    match target.info.kind {
        AdapterKind::Duckdb => {
            let path = target
                .path
                .as_ref()
                .map(|p| {
                    if p.is_absolute() {
                        p.clone()
                    } else {
                        project_root.join(p)
                    }
                })
                .ok_or_else(|| AdapterError::permanent("the DuckDB target has no `path`"))?;
            let a = duckdb::DuckDbAdapter::open(&path, read_only)?;
            a.configure(&target.extensions, &target.settings, &target.attach)?;
            Ok(Arc::new(a))
        }
        AdapterKind::Postgres => {
            let dsn = target
                .dsn
                .as_deref()
                .ok_or_else(|| AdapterError::permanent("the Postgres target has no `dsn`"))?;
            let mut a = postgres::PostgresAdapter::new(dsn, project_root, read_only, notices)?;
            if let Some(s) = target.connect_timeout {
                a.set_connect_timeout(std::time::Duration::from_secs_f64(s));
            }
            if let Some(p) = &target.search_path {
                a.set_search_path(p);
            }
            Ok(Arc::new(a))
        }
        AdapterKind::Spark => {
            let mut a =
                spark::SparkAdapter::new(target.dsn.as_deref(), target.file_format.as_deref())?;
            if let Some(s) = target.connect_timeout {
                a.set_connect_timeout(std::time::Duration::from_secs_f64(s));
            }
            Ok(Arc::new(a))
        }
    }
}
