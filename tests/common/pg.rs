//! A throwaway PostgreSQL server for the tests: started once per test binary from the installed
//! binaries (`/usr/lib/postgresql/15/bin`, or `STRATA_PG_BIN`) in a temp dir on a free
//! loopback port, as user `postgres` when the tests run as root (initdb refuses root), with
//! password authentication over TCP; or the server at `STRATA_TEST_PG_URL` when set. A watchdog
//! process stops the server when the test binary exits. Missing Postgres is a failure with a
//! message, never a skipped test. `start_tls_cluster` starts one with TLS on, its certificates
//! made with the openssl CLI (see `TlsFiles`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The superuser's password of the throwaway cluster.
pub const PASSWORD: &str = "strata-test-s3cret";

/// Roles every test may use (cluster-wide, so created once with the server).
const ROLES: &[&str] = &["bi_reader", "company_1_reader", "company_2_reader"];

/// A running server.
pub struct PgServer {
    /// `postgresql://user:password@127.0.0.1:port` without a database.
    pub base_url: String,
    /// Where the throwaway cluster lives (none for STRATA_TEST_PG_URL).
    pub dir: Option<PathBuf>,
    /// Its port.
    pub port: u16,
}

impl PgServer {
    fn data(&self) -> PathBuf {
        self.dir.as_ref().expect("a throwaway cluster").join("data")
    }

    /// Stops the server at once (`-m fast`: sessions are terminated, transactions rolled back).
    pub fn stop(&self) {
        let out = pg_command(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the stopped server again on its port.
    pub fn start(&self) {
        pg_ctl_start(self.dir.as_ref().unwrap(), self.port);
    }
}

pub fn bin_dir() -> PathBuf {
    std::env::var_os("STRATA_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL binary, as `postgres` when we are root.
fn pg_command(bin: &str, args: &[&str]) -> std::process::Output {
    let path = bin_dir().join(bin);
    let out = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&path)
            .args(args)
            .current_dir("/")
            .output()
    } else {
        Command::new(&path).args(args).current_dir("/").output()
    };
    out.unwrap_or_else(|e| {
        panic!(
            "cannot run {} ({e}): PostgreSQL 15 must be installed (or set STRATA_TEST_PG_URL)",
            path.display()
        )
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> PgServer {
    if let Ok(url) = std::env::var("STRATA_TEST_PG_URL") {
        let url = url.trim_end_matches('/').to_string();
        let base = match url.rfind('/') {
            Some(i) if i > url.find("://").map(|s| s + 2).unwrap_or(0) => url[..i].to_string(),
            _ => url,
        };
        let server = PgServer {
            base_url: base,
            dir: None,
            port: 0,
        };
        create_roles(&server);
        return server;
    }
    start_cluster()
}

/// A new throwaway cluster of its own (for a test that stops and restarts the server).
pub fn start_cluster() -> PgServer {
    start_cluster_with(false)
}

/// The role of `start_tls_cluster` that logs in with its client certificate only.
pub const CERT_USER: &str = "strata_cert";

/// The certificates of a TLS cluster, in `<cluster dir>/tls`: a certificate authority, the
/// server's certificate (signed by it, valid for the host name `localhost` only, not for
/// `127.0.0.1`) and a client certificate for `CERT_USER`.
pub struct TlsFiles {
    /// The authority's certificate (for `sslrootcert`).
    pub ca: PathBuf,
    /// The client certificate of `CERT_USER` (for `sslcert`).
    pub client_cert: PathBuf,
    /// Its private key (for `sslkey`).
    pub client_key: PathBuf,
}

impl PgServer {
    /// The certificates of a cluster from `start_tls_cluster`.
    pub fn tls_files(&self) -> TlsFiles {
        let tls = self.dir.as_ref().expect("a throwaway cluster").join("tls");
        TlsFiles {
            ca: tls.join("ca.crt"),
            client_cert: tls.join("client.crt"),
            client_key: tls.join("client.key"),
        }
    }
}

/// A new throwaway cluster with `ssl=on`; `CERT_USER` must come over TLS with its client
/// certificate (`hostssl ... cert`), everyone else as `start_cluster`'s does (TLS or not).
pub fn start_tls_cluster() -> PgServer {
    start_cluster_with(true)
}

/// Runs the openssl CLI in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `TlsFiles` in `dir/tls` (EC P-256 keys: fast to make).
fn make_certificates(dir: &Path) {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-new"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "3650",
        "-subj",
        "/CN=strata-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&tls, &ca);
    for (name, cn, ext) in [
        (
            "server",
            "localhost",
            "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n",
        ),
        ("client", CERT_USER, "extendedKeyUsage=clientAuth\n"),
    ] {
        let (key, csr, crt, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        std::fs::write(
            tls.join(&extfile),
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n{ext}"),
        )
        .unwrap();
        let subject = format!("/CN={cn}");
        let mut req = vec!["req", "-new"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
        openssl(&tls, &req);
        openssl(
            &tls,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "3650",
                "-out",
                &crt,
                "-extfile",
                &extfile,
            ],
        );
    }
    // The server refuses a key file others can read.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        tls.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}

fn start_cluster_with(tls: bool) -> PgServer {
    let tmp = tempfile::Builder::new()
        .prefix("strata-pg-")
        .tempdir()
        .unwrap()
        .keep();
    let dir = tmp;
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot give {} to user postgres", dir.display());
    }
    let data = dir.join("data");
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, PASSWORD).unwrap();
    if is_root() {
        Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&pwfile)
            .status()
            .unwrap();
    }
    let out = pg_command(
        "initdb",
        &[
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--pwfile",
            pwfile.to_str().unwrap(),
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
    );
    assert!(
        out.status.success(),
        "initdb failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if tls {
        make_certificates(&dir);
        // First match wins: the certificate role over TLS only, by its certificate.
        let hba = data.join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).unwrap();
        std::fs::write(
            &hba,
            format!("hostssl all {CERT_USER} 127.0.0.1/32 cert\nhost all {CERT_USER} 0.0.0.0/0 reject\n{rules}"),
        )
        .unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.join("tls"))
                .arg(&hba)
                .status()
                .unwrap()
                .success();
            assert!(ok, "cannot give the certificates to user postgres");
        }
    }
    let port = free_port();
    pg_ctl_start(&dir, port);
    watchdog(&data);
    let server = PgServer {
        base_url: format!("postgresql://postgres:{PASSWORD}@127.0.0.1:{port}"),
        dir: Some(dir),
        port,
    };
    create_roles(&server);
    if tls {
        psql(
            &format!("{}/postgres", server.base_url),
            &format!("create role {CERT_USER} login superuser"),
        );
    }
    server
}

fn pg_ctl_start(dir: &Path, port: u16) {
    let data = dir.join("data");
    let mut opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60",
        dir.display()
    );
    let tls = dir.join("tls");
    if tls.join("server.crt").exists() {
        opts.push_str(&format!(
            " -c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key -c ssl_ca_file={0}/ca.crt",
            tls.display()
        ));
    }
    let log = dir.join("server.log");
    let out = pg_command(
        "pg_ctl",
        &[
            "-D",
            data.to_str().unwrap(),
            "-o",
            &opts,
            "-l",
            log.to_str().unwrap(),
            "-w",
            "start",
        ],
    );
    assert!(
        out.status.success(),
        "pg_ctl start failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

fn create_roles(server: &PgServer) {
    for role in ROLES {
        psql(
            &format!("{}/postgres", server.base_url),
            &format!(
                "do $$ begin create role {role} nologin; exception when duplicate_object then null; end $$"
            ),
        );
    }
}

/// Stops the server (and removes its files) once this test process is gone.
fn watchdog(data: &Path) {
    let pid = std::process::id();
    let pg_ctl = bin_dir().join("pg_ctl");
    let as_user = if is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let root = data.parent().unwrap();
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; cd /; {as_user}{} -D {} -m immediate stop >/dev/null 2>&1; rm -rf {}",
        pg_ctl.display(),
        data.display(),
        root.display()
    );
    // `setsid -f` forks the watchdog into a session of its own and returns at once.
    let started = Command::new("setsid")
        .args(["-f", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("setsid and sh exist");
    assert!(started.success(), "cannot start the server's watchdog");
}

/// The server shared by the tests of this binary.
pub fn server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(start)
}

/// Runs SQL with psql on `url`, returning the rows (fields separated by `|`, NULL as `NULL`).
pub fn psql(url: &str, sql: &str) -> Vec<String> {
    let out = Command::new(bin_dir().join("psql"))
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-P",
            "null=NULL",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed on `{sql}`:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Values as both engines print them, for comparing DuckDB's rows with Postgres': numbers as
/// numbers (the engines pad decimals differently), booleans as true/false.
pub fn normalized(table: Vec<Vec<String>>) -> Vec<Vec<String>> {
    table
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| match v.as_str() {
                    "t" => "true".into(),
                    "f" => "false".into(),
                    _ => match v.parse::<f64>() {
                        Ok(f) => format!("{f:.6}"),
                        Err(_) => v,
                    },
                })
                .collect()
        })
        .collect()
}

/// Rows of a query, each split into its fields.
pub fn rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    psql(url, sql)
        .into_iter()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// A new empty database on the shared server; returns its URL.
pub fn fresh_database(prefix: &str) -> String {
    fresh_database_on(server(), prefix)
}

/// A new empty database on `s`; returns its URL.
pub fn fresh_database_on(s: &PgServer, prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    psql(
        &format!("{}/postgres", s.base_url),
        &format!("create database \"{name}\""),
    );
    format!("{}/{name}", s.base_url)
}

/// A `postgresql://user:password@host:port/dbname` URL taken apart into dbt-postgres' profile
/// fields, as environment variables `<PREFIX>_HOST`, `_PORT`, `_USER`, `_PASSWORD`, `_DBNAME`.
pub fn profile_env(url: &str, prefix: &str) -> Vec<(String, String)> {
    let rest = url.strip_prefix("postgresql://").unwrap();
    let (auth, rest) = rest.split_once('@').unwrap();
    let (user, password) = auth.split_once(':').unwrap();
    let (hostport, dbname) = rest.split_once('/').unwrap();
    let (host, port) = hostport.split_once(':').unwrap();
    [
        ("HOST", host),
        ("PORT", port),
        ("USER", user),
        ("PASSWORD", password),
        ("DBNAME", dbname),
    ]
    .iter()
    .map(|(k, v)| (format!("{prefix}_{k}"), v.to_string()))
    .collect()
}
