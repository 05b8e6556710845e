//! The target a compile is for: its engine kind, what templates see of it, and how the adapter
//! connects to it (the DSN stays out of every output).

use std::path::PathBuf;

/// The kind of database a target points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterKind {
    /// Embedded DuckDB.
    Duckdb,
    /// A PostgreSQL server (or anything speaking its protocol and SQL).
    Postgres,
    /// Apache Spark, over Spark Connect.
    Spark,
}

impl AdapterKind {
    /// The name used in `type:` and in dispatched macro prefixes.
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterKind::Duckdb => "duckdb",
            AdapterKind::Postgres => "postgres",
            AdapterKind::Spark => "spark",
        }
    }
}

/// The target a render is for: what `target` shows to templates.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TargetInfo {
    /// Target name.
    pub name: String,
    /// Adapter type.
    #[serde(rename = "type")]
    pub kind: AdapterKind,
    /// Default schema.
    pub schema: String,
    /// The database it connects to, as dbt's `target.database`: DuckDB's catalog (the file's
    /// stem, `memory` in memory), Postgres' `dbname`, Spark's `spark_catalog`.
    pub database: String,
    /// Worker threads.
    pub threads: u64,
}

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
    /// DuckDB: extensions loaded into the database.
    pub extensions: Vec<String>,
    /// DuckDB: settings applied to the database (`SET GLOBAL name = value`).
    pub settings: Vec<(String, String)>,
    /// DuckDB: other databases attached, as `ATTACH` statements.
    pub attach: Vec<String>,
    /// Spark: the format of the tables strata creates (parquet when `None`).
    pub file_format: Option<String>,
}
