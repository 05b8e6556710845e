//! The embedded DuckDB adapter: one database instance per run, one connection per worker
//! (clones of the instance's first connection), transactional DDL, interruptible statements.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use duckdb::{AccessMode, Config};

use super::{
    Adapter, AdapterError, Capabilities, ColumnMeta, Connection, DbResult, ErrorClass, Interrupter,
    RelationKind,
};
use crate::compiler::Relation;
use crate::project::AdapterKind;

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
    AdapterError {
        class: classify(&message),
        message,
    }
}

/// A DuckDB database file (or an in-memory database for dry runs of a file that does not exist).
pub struct DuckDbAdapter {
    root: Mutex<duckdb::Connection>,
    path: PathBuf,
}

impl DuckDbAdapter {
    /// Opens (and, unless `read_only`, creates) the database file. A read-only open of a file
    /// that does not exist yet opens an empty in-memory database instead, so nothing is created.
    pub fn open(path: &Path, read_only: bool) -> DbResult<DuckDbAdapter> {
        let conn = if read_only {
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
        })
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
            transactional_ddl: true,
            materialized_views: false,
            concurrent_writers: true,
        }
    }

    fn connect(&self) -> DbResult<Box<dyn Connection>> {
        let conn = self.root.lock().unwrap().try_clone().map_err(err)?;
        let handle = conn.interrupt_handle();
        Ok(Box::new(DuckDbConnection {
            conn,
            interrupter: Arc::new(move || handle.interrupt()),
        }))
    }
}

/// One DuckDB connection.
pub struct DuckDbConnection {
    conn: duckdb::Connection,
    interrupter: Interrupter,
}

impl Connection for DuckDbConnection {
    fn execute(&mut self, sql: &str) -> DbResult<u64> {
        let mut stmt = match self.conn.prepare(sql) {
            Ok(s) => s,
            // Several statements in one string (a hook): run them as a batch.
            Err(e) if e.to_string().to_lowercase().contains("multiple statements") => {
                self.conn.execute_batch(sql).map_err(err)?;
                return Ok(0);
            }
            Err(e) => return Err(err(e)),
        };
        let n = stmt.execute([]).map_err(err)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str) -> DbResult<Vec<Vec<Option<String>>>> {
        // Every column comes back as text: DuckDB casts them all in one projection.
        let wrapped = format!(
            "select columns(*)::varchar from (\n{}\n) as strata_q",
            sql.trim_end().trim_end_matches(';')
        );
        let mut stmt = self.conn.prepare(&wrapped).map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
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
        let mut stmt = self
            .conn
            .prepare("select table_type from information_schema.tables where table_schema = ? and table_name = ?")
            .map_err(err)?;
        let mut rows = stmt
            .query([&relation.schema, &relation.identifier])
            .map_err(err)?;
        match rows.next().map_err(err)? {
            Some(row) => {
                let t: String = row.get(0).map_err(err)?;
                Ok(Some(if t.eq_ignore_ascii_case("VIEW") {
                    RelationKind::View
                } else {
                    RelationKind::Table
                }))
            }
            None => Ok(None),
        }
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
}
