//! `run_query(sql)` for `strata run-operation`: dbt's way for a macro to run a statement, or
//! read rows, while it renders. A query (`select`, `with`, `values`, ...) returns its rows as a
//! table shaped like dbt's agate table; any other statement runs and returns none, as in dbt.
//! Each statement commits on its own, on the connection the operation's output runs on later.
//!
//! The table: `results.rows` (each row indexed by position or column name: `row[0]`,
//! `row['name']`, `row.name`, with `keys()`, `values()`, `items()`, `dict()`),
//! `results.columns` (by position or name, each with `name`, `data_type` and `values()`),
//! `results.column_names`, `results.column_types`, `results | length`, `for row in results`,
//! `results.print_table()`. Values are typed by their column: whole numbers, other numbers
//! and booleans as such, the rest as text, NULL as none.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use super::show::{family, json_value, table};
use crate::adapter::{Adapter, AdapterError, Connection, DbResult, Notices};
use crate::compile::Compiled;
use crate::compile::adhoc::RelationTexts;
use crate::ir::{ColumnMeta, Target};

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
        let sql = sql.as_str();
        let kind = self.target.info.kind;
        let result = self.with_conn(|conn| {
            if crate::sql::returns_rows(sql, kind) {
                let columns = conn.describe(sql)?;
                let rows = conn.query(sql)?;
                Ok(Some((columns, rows)))
            } else {
                conn.execute(sql).map(|_| None)
            }
        });
        match result {
            Ok(Some((columns, rows))) => Ok(Value::from_object(Table::new(columns, rows))),
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

/// A query's result, shaped like dbt's agate table.
#[derive(Debug)]
struct Table {
    columns: Vec<ColumnMeta>,
    raw: Vec<Vec<Option<String>>>,
    rows: Vec<Value>,
    by_column: Value,
}

impl Table {
    fn new(columns: Vec<ColumnMeta>, raw: Vec<Vec<Option<String>>>) -> Table {
        let names: Arc<[String]> = columns.iter().map(|c| c.name.clone()).collect();
        let families: Vec<_> = columns.iter().map(|c| family(&c.data_type)).collect();
        let typed: Vec<Vec<Value>> = raw
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&families)
                    .map(|(v, f)| crate::jinja::to_value(&json_value(v.as_deref(), *f)))
                    .collect()
            })
            .collect();
        let by_column = columns
            .iter()
            .enumerate()
            .map(|(k, c)| {
                Value::from_object(Column {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                    values: typed
                        .iter()
                        .map(|r| r.get(k).cloned().unwrap_or_default())
                        .collect(),
                })
            })
            .collect();
        let rows = typed
            .into_iter()
            .map(|values| {
                Value::from_object(Mapped {
                    keys: names.clone(),
                    values,
                })
            })
            .collect();
        Table {
            columns,
            raw,
            rows,
            by_column: Value::from_object(Mapped {
                keys: names,
                values: by_column,
            }),
        }
    }
}

impl Object for Table {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.rows.get(i).cloned();
        }
        match key.as_str()? {
            "rows" => Some(Value::from(self.rows.clone())),
            "columns" => Some(self.by_column.clone()),
            "column_names" => Some(Value::from_iter(
                self.columns.iter().map(|c| c.name.clone()),
            )),
            "column_types" => Some(Value::from_iter(
                self.columns.iter().map(|c| c.data_type.clone()),
            )),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.rows.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "print_table" => {
                let families: Vec<_> = self.columns.iter().map(|c| family(&c.data_type)).collect();
                super::print_line(&table(&self.columns, &self.raw, &families));
                Ok(Value::from(()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A sequence whose items are also reached by name: a row (values by column name) or the
/// columns of a table (by column name).
#[derive(Debug)]
struct Mapped {
    keys: Arc<[String]>,
    values: Vec<Value>,
}

impl Object for Mapped {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_usize() {
            Some(i) => self.values.get(i).cloned(),
            None => {
                let k = key.as_str()?;
                let at = self.keys.iter().position(|n| n == k)?;
                self.values.get(at).cloned()
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.values.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let pairs = || self.keys.iter().cloned().zip(self.values.iter().cloned());
        match method {
            "keys" => Ok(Value::from_iter(self.keys.iter().cloned())),
            "values" => Ok(Value::from(self.values.clone())),
            "items" => Ok(Value::from_iter(
                pairs().map(|(k, v)| Value::from(vec![Value::from(k), v])),
            )),
            "dict" => Ok(Value::from(
                pairs()
                    .map(|(k, v)| (Value::from(k), v))
                    .collect::<std::collections::BTreeMap<Value, Value>>(),
            )),
            "get" => {
                let key = args.first().cloned().unwrap_or_default();
                Ok(self
                    .get_value(&key)
                    .or_else(|| args.get(1).cloned())
                    .unwrap_or_default())
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// One column of a result: its name, type and values.
#[derive(Debug)]
struct Column {
    name: String,
    data_type: String,
    values: Vec<Value>,
}

impl Object for Column {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.values.get(i).cloned();
        }
        match key.as_str()? {
            "name" => Some(Value::from(self.name.clone())),
            "data_type" => Some(Value::from(self.data_type.clone())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.values.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "values" => Ok(Value::from(self.values.clone())),
            "values_without_nulls" => Ok(Value::from_iter(
                self.values.iter().filter(|v| !v.is_none()).cloned(),
            )),
            "values_distinct" => {
                let mut seen: Vec<Value> = Vec::new();
                for v in &self.values {
                    if !seen.contains(v) {
                        seen.push(v.clone());
                    }
                }
                Ok(Value::from(seen))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
