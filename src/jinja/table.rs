//! A query's result in templates, shaped like dbt's agate table: what `run_query()` returns
//! and `load_result(name).table` holds.
//!
//! `results.rows` (each row indexed by position or column name: `row[0]`, `row['name']`,
//! `row.name`, with `keys()`, `values()`, `items()`, `dict()`), `results.columns` (by
//! position or name, each with `name`, `data_type` and `values()`), `results.column_names`,
//! `results.column_types`, `results | length`, `for row in results`, `results.print_table()`
//! (its lines go where `log()`'s do). Values are typed by their column: whole numbers, other
//! numbers and booleans as such, the rest as text, NULL as none.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use super::{to_value, with_rec};
use crate::ir::{ColumnMeta, QueryTable};
use crate::rows::{family, json_value, table};

/// A query's result as a template value.
pub fn value(t: QueryTable) -> Value {
    Value::from_object(Table::new(t))
}

/// The rows of a table value as lists of values (`load_result(name).data`); none for a value
/// that is not a table.
pub fn data(table: &Value) -> Value {
    let Some(t) = table.downcast_object_ref::<Table>() else {
        return Value::from(());
    };
    Value::from_iter(
        t.rows
            .iter()
            .map(|r| match r.downcast_object_ref::<Mapped>() {
                Some(m) => Value::from(m.values.clone()),
                None => r.clone(),
            }),
    )
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
    fn new(t: QueryTable) -> Table {
        let QueryTable { columns, rows: raw } = t;
        let names: Arc<[String]> = columns.iter().map(|c| c.name.clone()).collect();
        let families: Vec<_> = columns.iter().map(|c| family(&c.data_type)).collect();
        let typed: Vec<Vec<Value>> = raw
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&families)
                    .map(|(v, f)| to_value(&json_value(v.as_deref(), *f)))
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
        state: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "print_table" => {
                let families: Vec<_> = self.columns.iter().map(|c| family(&c.data_type)).collect();
                let text = table(&self.columns, &self.raw, &families);
                with_rec(state, |r| {
                    r.recorded
                        .lock()
                        .unwrap()
                        .logs
                        .extend(text.lines().map(str::to_string))
                });
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
