//! `run_query(sql)` for `strata run-operation`: dbt's way for a macro to run a statement, or
//! read rows, while it renders. A query (`select`, `with`, `values`, ...) returns its rows as a
//! table shaped like dbt's agate table (`jinja::table`); any other statement runs and returns
//! none, as in dbt. Each statement commits on its own, on the connection the operation's
//! output runs on later.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use minijinja::value::Value;
use minijinja::{Error, ErrorKind, State};

use crate::adapter::{Adapter, AdapterError, Connection, DbResult, Notices};
use crate::compile::Compiled;
use crate::compile::adhoc::RelationTexts;
use crate::ir::{AdapterKind, QueryTable, Target};

/// An open target: the adapter, kept as long as its connection, and the connection.
type Opened = (Arc<dyn Adapter>, Box<dyn Connection>);

/// The operation's database session: opened on first use (a macro that never queries opens
/// it only to run its output), shared by `run_query` and the statements the macro outputs.
pub struct Session {
    target: Target,
    root: PathBuf,
    notices: Notices,
    relations: RelationTexts,
    open: Mutex<Option<Opened>>,
    failure: Mutex<Option<AdapterError>>,
}

impl Session {
    /// A session on `c`'s target; nothing is opened yet.
    pub fn new(c: &Compiled, notices: Notices) -> Arc<Session> {
        Arc::new(Session {
            target: c.target.clone(),
            root: c.project.root.clone(),
            notices,
            relations: RelationTexts::of(c),
            open: Mutex::new(None),
            failure: Mutex::new(None),
        })
    }

    /// Runs `f` on the session's connection, opening it first when needed.
    pub fn with_conn<T>(&self, f: impl FnOnce(&mut dyn Connection) -> DbResult<T>) -> DbResult<T> {
        let mut open = self.open.lock().unwrap();
        if open.is_none() {
            let adapter =
                super::run::open_target(&self.target, &self.root, false, self.notices.clone())?;
            let conn = adapter.connect()?;
            *open = Some((adapter, conn));
        }
        let (_, conn) = open.as_mut().expect("opened above");
        f(conn.as_mut())
    }

    /// The database error a `run_query` call failed with, if one did.
    pub fn failure(&self) -> Option<AdapterError> {
        self.failure.lock().unwrap().clone()
    }

    /// `run_query(sql)`: `ref()`/`source()` placeholders in `sql` are resolved first.
    fn run_query(&self, state: &State, sql: &str) -> Result<Value, Error> {
        let calls = crate::jinja::relations_so_far(state);
        let sql = self
            .relations
            .substitute(sql, &calls)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("run_query: {e}")))?;
        let kind = self.target.info.kind;
        let result = self.with_conn(|conn| run_statement(conn, &sql, kind));
        match result {
            Ok(Some(t)) => Ok(crate::jinja::table_value(t)),
            Ok(None) => Ok(Value::from(())),
            Err(e) => {
                let message = format!("run_query: {e}");
                *self.failure.lock().unwrap() = Some(e);
                Err(Error::new(ErrorKind::InvalidOperation, message))
            }
        }
    }
}

/// The `run_query` function of a session, for `Renderer::add_global`.
pub fn function(session: Arc<Session>) -> Value {
    Value::from_function(move |state: &State, sql: String| session.run_query(state, &sql))
}

/// Runs `sql` as `run_query()` does: a query's rows, or none for another statement.
pub fn run_statement(
    conn: &mut dyn Connection,
    sql: &str,
    kind: AdapterKind,
) -> DbResult<Option<QueryTable>> {
    if crate::sql::returns_rows(sql, kind) {
        let columns = conn.describe(sql)?;
        let rows = conn.query(sql)?;
        Ok(Some(QueryTable { columns, rows }))
    } else {
        conn.execute(sql).map(|_| None)
    }
}
