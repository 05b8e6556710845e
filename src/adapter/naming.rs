//! Where a target's datasets live, named as the OpenLineage naming spec says: the namespace
//! (`duckdb://<absolute path of the database file>`, `postgres://host:port`) and the database
//! that prefixes each dataset name (`database.schema.table`). Nothing secret is kept: no user,
//! password or connection parameter.

use std::path::Path;

use crate::ir::{AdapterKind, Target};

/// The namespace and database of a target's datasets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetLocation {
    /// `duckdb:///abs/warehouse.duckdb` or `postgres://127.0.0.1:5432`.
    pub namespace: String,
    /// The database (DuckDB: the file's catalog name, its stem; Postgres: `dbname`).
    pub database: String,
}

/// The location of `target`'s datasets; a DuckDB path is made absolute against `root`.
pub fn dataset_location(target: &Target, root: &Path) -> DatasetLocation {
    match target.info.kind {
        AdapterKind::Duckdb => duckdb_location(target.path.as_deref(), root),
        AdapterKind::Postgres => postgres_location(target.dsn.as_deref().unwrap_or("")),
        AdapterKind::Spark => spark_location(target.dsn.as_deref()),
    }
}

/// `spark://host:port` of the Spark Connect server (no token, no user), and Spark's session
/// catalog, `spark_catalog`, as the database.
fn spark_location(url: Option<&str>) -> DatasetLocation {
    let url = url
        .map(str::to_string)
        .or_else(|| std::env::var("SPARK_REMOTE").ok())
        .and_then(|u| super::spark::url::SparkUrl::parse(&u).ok());
    let namespace = match url {
        Some(u) if u.host.contains(':') => format!("spark://[{}]:{}", u.host, u.port),
        Some(u) => format!("spark://{}:{}", u.host, u.port),
        None => "spark://localhost:15002".to_string(),
    };
    DatasetLocation {
        namespace,
        database: "spark_catalog".into(),
    }
}

/// The secrets of a target's connection (a Postgres password), to keep out of every output.
pub fn target_secrets(target: &Target) -> Vec<String> {
    let Some(dsn) = target.dsn.as_deref() else {
        return Vec::new();
    };
    if let Ok(url) = super::spark::url::SparkUrl::parse(dsn) {
        return url.token.into_iter().filter(|t| !t.is_empty()).collect();
    }
    // Without libpq's TLS keys, which tokio-postgres refuses.
    let config: Option<tokio_postgres::Config> = super::postgres_tls::split_dsn(dsn).0.parse().ok();
    config
        .and_then(|c| {
            c.get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        })
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect()
}

fn duckdb_location(path: Option<&Path>, root: &Path) -> DatasetLocation {
    let Some(path) = path.filter(|p| p.file_name().is_some_and(|n| n != ":memory:")) else {
        return DatasetLocation {
            namespace: "duckdb://memory".into(),
            database: "memory".into(),
        };
    };
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::path::absolute(root.join(path)).unwrap_or_else(|_| root.join(path))
    };
    // DuckDB names a file's catalog after the file's stem.
    let database = abs
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "memory".into());
    let text = abs.to_string_lossy().replace('\\', "/");
    let text = if text.starts_with('/') {
        text
    } else {
        format!("/{text}")
    };
    DatasetLocation {
        namespace: format!("duckdb://{}", percent_encode_path(&text)),
        database,
    }
}

/// Keeps a path a valid URI: characters outside the unreserved and path sets are escaped.
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn postgres_location(dsn: &str) -> DatasetLocation {
    // Without libpq's TLS keys, which tokio-postgres refuses.
    let config: Option<tokio_postgres::Config> = super::postgres_tls::split_dsn(dsn).0.parse().ok();
    let host = config
        .as_ref()
        .and_then(|c| {
            c.get_hosts().first().map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                // A Unix socket is the local server.
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(_) => "localhost".to_string(),
            })
        })
        .unwrap_or_else(|| "localhost".into());
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let port = config
        .as_ref()
        .and_then(|c| c.get_ports().first().copied())
        .unwrap_or(5432);
    // libpq's default database is the user's name.
    let database = config
        .as_ref()
        .and_then(|c| c.get_dbname().or(c.get_user()).map(str::to_string))
        .unwrap_or_else(|| "postgres".into());
    DatasetLocation {
        namespace: format!("postgres://{host}:{port}"),
        database,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_namespace_keeps_no_secret() {
        let l =
            postgres_location("postgres://ana:s3cret@db.example:6543/warehouse?sslmode=disable");
        assert_eq!(l.namespace, "postgres://db.example:6543");
        assert_eq!(l.database, "warehouse");
        let l = postgres_location("host=127.0.0.1 port=5433 user=ana password=s3cret dbname=dw");
        assert_eq!(l.namespace, "postgres://127.0.0.1:5433");
        assert_eq!(l.database, "dw");
        let l = postgres_location("host=127.0.0.1 user=ana");
        assert_eq!(
            (l.namespace.as_str(), l.database.as_str()),
            ("postgres://127.0.0.1:5432", "ana")
        );
    }

    #[test]
    fn tls_keys_do_not_hide_the_server_or_its_password() {
        let dsn =
            "postgresql://ana:s3cret@db.example:6543/dw?sslmode=verify-full&sslrootcert=%2Fca.pem";
        let l = postgres_location(dsn);
        assert_eq!(l.namespace, "postgres://db.example:6543");
        let target = Target {
            info: crate::ir::TargetInfo {
                name: "pg".into(),
                kind: crate::ir::AdapterKind::Postgres,
                schema: "public".into(),
                database: "dw".into(),
                threads: 1,
            },
            path: None,
            dsn: Some(dsn.into()),
            connect_timeout: None,
            lock_timeout: None,
            search_path: None,
            extensions: Vec::new(),
            settings: Vec::new(),
            attach: Vec::new(),
            file_format: None,
        };
        assert_eq!(target_secrets(&target), vec!["s3cret".to_string()]);
    }

    #[test]
    fn spark_namespace_is_the_connect_server_without_token_or_user() {
        let l = spark_location(Some("sc://spark.example:443/;token=s3cret;user_id=ana"));
        assert_eq!(l.namespace, "spark://spark.example:443");
        assert_eq!(l.database, "spark_catalog");
        let l = spark_location(Some("sc://[::1]"));
        assert_eq!(l.namespace, "spark://[::1]:15002");
    }

    #[test]
    fn duckdb_namespace_is_the_absolute_file() {
        let l = duckdb_location(Some(Path::new("data/wh.duckdb")), Path::new("/p/proj"));
        assert_eq!(l.namespace, "duckdb:///p/proj/data/wh.duckdb");
        assert_eq!(l.database, "wh");
        let l = duckdb_location(Some(Path::new("/a b/x.duckdb")), Path::new("/p"));
        assert_eq!(l.namespace, "duckdb:///a%20b/x.duckdb");
        let l = duckdb_location(Some(Path::new(":memory:")), Path::new("/p"));
        assert_eq!(l.namespace, "duckdb://memory");
    }
}
