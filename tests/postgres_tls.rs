//! TLS to a real PostgreSQL server (a throwaway cluster with `ssl=on` and certificates made by
//! the openssl CLI; see `common::pg::start_tls_cluster`), with libpq's `sslmode` meanings: the
//! server itself says whether strata's session is encrypted (`pg_stat_ssl`), the certificate
//! checks of `verify-ca` and `verify-full` pass and fail as they should, client certificates
//! log in, and each failure says what to change.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::pg::{self, PgServer};
use common::strata;

/// The TLS cluster shared by the tests of this binary.
fn tls_server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(pg::start_tls_cluster)
}

/// A project with one table model that records whether its session is encrypted, and a
/// Postgres target of dbt-postgres' fields (written as given) in schema `tls`.
fn project(target: &[(&str, String)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tlscheck");
    std::fs::create_dir_all(dir.join("models")).unwrap();
    let fields: String = target
        .iter()
        .map(|(k, v)| format!("    {k}: {}\n", serde_json::Value::String(v.clone())))
        .collect();
    std::fs::write(
        dir.join("project.yml"),
        format!(
            "name: tlscheck\nversion: \"1.0\"\ntarget: pg\ntargets:\n  pg:\n    type: postgres\n    schema: tls\n    threads: 1\n{fields}"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("models/tls_session.sql"),
        "{{ config(materialized='table') }}\n\
         select ssl, coalesce(version, 'none') as version\n\
         from pg_catalog.pg_stat_ssl where pid = pg_backend_pid()\n",
    )
    .unwrap();
    (tmp, dir)
}

/// dbt-postgres' fields of a fresh database on `server`, reached at `host`.
fn fields_on(server: &PgServer, host: &str) -> (String, Vec<(&'static str, String)>) {
    let url = pg::fresh_database_on(server, "tls");
    let dbname = url.rsplit('/').next().unwrap().to_string();
    let fields = vec![
        ("host", host.to_string()),
        ("port", server.port.to_string()),
        ("user", "postgres".to_string()),
        ("password", pg::PASSWORD.to_string()),
        ("dbname", dbname),
    ];
    (url, fields)
}

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Builds the project and returns what the server said of the model's session: `t`/`f` and the
/// TLS version.
fn build_and_read_session(dir: &Path, url: &str) -> (String, String) {
    let out = strata(dir, &["build"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "build failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = pg::rows(url, "select ssl, version from tls.tls_session");
    assert_eq!(rows.len(), 1, "{rows:?}");
    (rows[0][0].clone(), rows[0][1].clone())
}

/// Builds the project, expecting it to fail; returns stdout and stderr together.
fn build_fails(dir: &Path) -> String {
    let out = strata(dir, &["build"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "build succeeded:\n{text}");
    assert!(
        !text.contains(pg::PASSWORD),
        "the password is in the output:\n{text}"
    );
    text
}

#[test]
fn require_encrypts_the_session_and_disable_does_not() {
    let server = tls_server();
    for (mode, expected) in [
        ("require", "t"),
        ("prefer", "t"),
        ("allow", "t"),
        ("disable", "f"),
    ] {
        let (url, mut fields) = fields_on(server, "127.0.0.1");
        fields.push(("sslmode", mode.to_string()));
        let (_tmp, dir) = project(&fields);
        let (ssl, version) = build_and_read_session(&dir, &url);
        assert_eq!(ssl, expected, "sslmode {mode}");
        if expected == "t" {
            assert!(version.starts_with("TLSv1."), "sslmode {mode}: {version}");
        }
    }
    // libpq's default is `prefer`: TLS when the server offers it.
    let (url, fields) = fields_on(server, "127.0.0.1");
    let (_tmp, dir) = project(&fields);
    assert_eq!(build_and_read_session(&dir, &url).0, "t");
}

#[test]
fn a_dsn_with_sslmode_require_encrypts_and_binds_scram_to_the_tls_session() {
    let server = tls_server();
    let url = pg::fresh_database_on(server, "tls");
    // channel_binding=require: SCRAM-SHA-256-PLUS or no connection.
    let (_tmp, dir) = project(&[(
        "dsn",
        format!("{url}?sslmode=require&channel_binding=require"),
    )]);
    assert_eq!(build_and_read_session(&dir, &url).0, "t");
}

#[test]
fn verify_ca_checks_the_chain_against_sslrootcert() {
    let server = tls_server();
    let ca = path(&server.tls_files().ca);
    // The certificate names `localhost`, not 127.0.0.1: verify-ca does not check the name.
    // A relative path is relative to the project (strata runs from elsewhere here).
    let (url, mut fields) = fields_on(server, "127.0.0.1");
    fields.push(("sslmode", "verify-ca".into()));
    fields.push(("sslrootcert", "certs/ca.crt".into()));
    let (_tmp, dir) = project(&fields);
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    std::fs::copy(&ca, dir.join("certs/ca.crt")).unwrap();
    assert_eq!(build_and_read_session(&dir, &url).0, "t");

    // Without it, the webpki roots do not know the test authority.
    let (_, mut fields) = fields_on(server, "127.0.0.1");
    fields.push(("sslmode", "verify-ca".into()));
    let (_tmp, dir) = project(&fields);
    let text = build_fails(&dir);
    assert!(
        text.contains("the server's certificate failed verification (sslmode `verify-ca`)"),
        "{text}"
    );
    assert!(
        text.contains("not signed by a certificate authority"),
        "{text}"
    );
    assert!(text.contains("Set `sslrootcert`"), "{text}");
    assert!(text.contains("`sslmode: require`"), "{text}");

    // `require` with a root certificate checks the chain as libpq does: the DSN form.
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::copy(&server.tls_files().client_cert, wrong.path()).unwrap();
    let (_tmp, dir) = project(&[(
        "dsn",
        format!("{url}?sslmode=require&sslrootcert={}", path(wrong.path())),
    )]);
    let text = build_fails(&dir);
    assert!(text.contains("(sslmode `require`)"), "{text}");
}

#[test]
fn prefer_falls_back_to_a_plain_session_when_the_certificate_fails() {
    // With a root certificate libpq checks the chain in every mode; in `prefer` a failed
    // handshake means a plain connection instead.
    let server = tls_server();
    let (url, mut fields) = fields_on(server, "127.0.0.1");
    fields.push(("sslmode", "prefer".into()));
    fields.push(("sslrootcert", path(&server.tls_files().client_cert)));
    let (_tmp, dir) = project(&fields);
    assert_eq!(build_and_read_session(&dir, &url).0, "f");
}

#[test]
fn verify_full_checks_the_host_name() {
    let server = tls_server();
    let ca = path(&server.tls_files().ca);
    let (_, mut fields) = fields_on(server, "127.0.0.1");
    fields.push(("sslmode", "verify-full".into()));
    fields.push(("sslrootcert", ca.clone()));
    let (_tmp, dir) = project(&fields);
    let text = build_fails(&dir);
    assert!(
        text.contains(
            "the server's certificate is not valid for host `127.0.0.1`, only for `localhost`"
        ),
        "{text}"
    );
    assert!(text.contains("sslmode `verify-full`"), "{text}");
    assert!(text.contains("`sslmode: verify-ca`"), "{text}");

    let (url, mut fields) = fields_on(server, "localhost");
    fields.push(("sslmode", "verify-full".into()));
    fields.push(("sslrootcert", ca));
    let (_tmp, dir) = project(&fields);
    assert_eq!(build_and_read_session(&dir, &url).0, "t");
}

#[test]
fn a_statement_timeout_cancels_over_tls() {
    // The cancel request is a connection of its own: with `verify-full` it must speak TLS,
    // check the certificate and name the host as the session does.
    let server = tls_server();
    let (url, mut fields) = fields_on(server, "localhost");
    fields.push(("sslmode", "verify-full".into()));
    fields.push(("sslrootcert", path(&server.tls_files().ca)));
    let (_tmp, dir) = project(&fields);
    std::fs::write(
        dir.join("models/slow.sql"),
        "{{ config(materialized='table', statement_timeout=1, retries=0) }}\n\
         select 1 as id from (select pg_sleep(30)) as s\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = strata(&dir, &["run", "-s", "slow"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "the statement was not cancelled: {text}"
    );
    assert!(text.contains("statement timed out after 1s"), "{text}");
    // Cancelled on the server, not merely abandoned.
    assert_eq!(
        pg::psql(
            &url,
            "select count(*) from pg_stat_activity where query like '%pg_sleep(30)%' and pid <> pg_backend_pid()"
        ),
        vec!["0"]
    );
}

#[test]
fn a_client_certificate_logs_in_without_a_password() {
    let server = tls_server();
    let files = server.tls_files();
    let (url, fields) = fields_on(server, "localhost");
    let db = fields
        .iter()
        .find(|(k, _)| *k == "dbname")
        .unwrap()
        .1
        .clone();
    let mut fields: Vec<(&str, String)> = fields
        .into_iter()
        .filter(|(k, _)| !matches!(*k, "user" | "password"))
        .collect();
    fields.push(("user", pg::CERT_USER.into()));
    fields.push(("sslmode", "verify-full".into()));
    fields.push(("sslrootcert", path(&files.ca)));
    fields.push(("sslcert", path(&files.client_cert)));
    fields.push(("sslkey", path(&files.client_key)));
    let (_tmp, dir) = project(&fields);
    assert_eq!(build_and_read_session(&dir, &url).0, "t");
    let owner = pg::psql(
        &url,
        "select tableowner from pg_tables where schemaname = 'tls' and tablename = 'tls_session'",
    );
    assert_eq!(owner, vec![pg::CERT_USER.to_string()], "database {db}");
}

#[test]
fn require_against_a_server_without_tls_fails_clearly() {
    let plain = pg::server();
    let (_, mut fields) = fields_on(plain, "127.0.0.1");
    fields.push(("sslmode", "require".into()));
    let (_tmp, dir) = project(&fields);
    let text = build_fails(&dir);
    assert!(
        text.contains(&format!(
            "cannot connect to host='127.0.0.1' port='{}'",
            plain.port
        )),
        "{text}"
    );
    assert!(
        text.contains("the server does not accept TLS connections"),
        "{text}"
    );
    assert!(text.contains("sslmode `require` requires TLS"), "{text}");
    assert!(text.contains("`sslmode: prefer`"), "{text}");
}

#[test]
fn an_unknown_sslmode_is_reported_at_its_field() {
    let (_tmp, dir) = project(&[("host", "127.0.0.1".into()), ("sslmode", "verify".into())]);
    let text = build_fails(&dir);
    assert!(
        text.contains("sslmode `verify` is not one of disable, allow, prefer, require, verify-ca or verify-full"),
        "{text}"
    );
    assert!(text.contains("project.yml:"), "{text}");
}
