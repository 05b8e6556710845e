//! The Postgres adapter, on tokio-postgres: one session per worker, each driven by its own
//! single-threaded runtime (the connection task runs while a statement is awaited), statements
//! sent with the simple query protocol (so hooks may hold several statements and rows come back
//! as text), seeds loaded with `COPY ... FROM STDIN`, and statements cancelled from another
//! thread with the server's cancel request. Every connection (sessions, cancel requests, the
//! side session that says who holds a lock) speaks TLS as libpq's `sslmode` says (see
//! `postgres_tls`). The DSN's password never leaves this module: every message that names the
//! server uses the redacted DSN.

use std::sync::{Arc, Mutex};

use futures_util::SinkExt;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::engine::{Engine, FieldError, TypeFamily};
use super::postgres_tls::{self, PgTls, SslMode, TlsSettings};
use super::{
    Adapter, AdapterError, Capabilities, ColumnMeta, Connection, DbResult, Dependent, ErrorClass,
    Interrupter, Notices, RelationKind, RunLock,
};
use crate::ir::AdapterKind;
use crate::ir::Relation;

/// PostgreSQL, described (see `engine`).
pub const ENGINE: Engine = Engine {
    kind: AdapterKind::Postgres,
    type_names: &["postgres", "postgresql"],
    default_schema: "public",
    identifier_limit: 63,
    target_fields: &[
        "dsn",
        "host",
        "port",
        "user",
        "password",
        "pass",
        "dbname",
        "database",
        "schema",
        "threads",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "keepalives_idle",
        "connect_timeout",
        "search_path",
        "role",
        "lock_timeout",
    ],
    required_target_fields: &[&["dsn", "host"]],
    dialect: || Box::new(sqlparser::dialect::PostgreSqlDialect {}),
    own_functions: OWN_FUNCTIONS,
    types: &[
        ("smallint", TypeFamily::Integer),
        ("integer", TypeFamily::Integer),
        ("int", TypeFamily::Integer),
        ("bigint", TypeFamily::Integer),
        ("int2", TypeFamily::Integer),
        ("int4", TypeFamily::Integer),
        ("int8", TypeFamily::Integer),
        ("serial", TypeFamily::Integer),
        ("bigserial", TypeFamily::Integer),
        ("smallserial", TypeFamily::Integer),
        ("decimal", TypeFamily::Number),
        ("numeric", TypeFamily::Number),
        ("double precision", TypeFamily::Number),
        ("float", TypeFamily::Number),
        ("float4", TypeFamily::Number),
        ("float8", TypeFamily::Number),
        ("real", TypeFamily::Number),
        ("varchar", TypeFamily::Text),
        ("character varying", TypeFamily::Text),
        ("text", TypeFamily::Text),
        ("char", TypeFamily::Text),
        ("character", TypeFamily::Text),
        ("bpchar", TypeFamily::Text),
        ("uuid", TypeFamily::Text),
        ("name", TypeFamily::Text),
        ("date", TypeFamily::Date),
        ("timestamp", TypeFamily::Timestamp),
        ("timestamptz", TypeFamily::Timestamp),
        ("boolean", TypeFamily::Boolean),
        ("bool", TypeFamily::Boolean),
        ("json", TypeFamily::Json),
        ("jsonb", TypeFamily::Json),
    ],
    type_for: |family| match family {
        TypeFamily::Integer => "bigint",
        TypeFamily::Number => "double precision",
        TypeFamily::Text => "varchar",
        TypeFamily::Date => "date",
        TypeFamily::Timestamp => "timestamp",
        TypeFamily::Boolean => "boolean",
        TypeFamily::Json => "jsonb",
    },
    redact: redact_dsn,
    connection_string: postgres_dsn,
    // A `timestamp` gives its nominal seconds (read as UTC), a `timestamptz` its instant's.
    epoch_seconds: |e| format!("extract(epoch from {e})"),
    type_name_of: |e| format!("pg_typeof({e})::text"),
    strategy_error: super::engine::no_partition_overwrite,
    type_spellings: &[],
};

/// Built-in functions of PostgreSQL that DuckDB does not have.
const OWN_FUNCTIONS: &[(&str, Option<&str>)] = &[
    ("clock_timestamp", Some("{{ dbt.current_timestamp() }}")),
    ("statement_timestamp", Some("{{ dbt.current_timestamp() }}")),
    ("timeofday", None),
    ("to_tsvector", None),
    ("to_tsquery", None),
    ("jsonb_build_object", None),
    ("jsonb_agg", None),
    ("json_build_object", None),
    ("row_to_json", None),
    ("jsonb_array_elements", None),
    ("json_array_elements", None),
    ("justify_days", None),
    ("justify_hours", None),
    ("set_config", None),
    ("to_char", None),
    ("array_upper", None),
    ("array_lower", None),
];

/// A Postgres connection string from dbt-postgres' fields (`host`, `port`, `user`, `password`,
/// `dbname`, `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `keepalives_idle`, `role`), when the
/// target has a `host`.
fn postgres_dsn(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, FieldError> {
    let Some(host) = get("host") else {
        return Ok(None);
    };
    // key='value' pairs, quoted as libpq reads them.
    let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut dsn = format!("host={}", quote(&host));
    for (key, names) in [
        ("port", &["port"][..]),
        ("user", &["user"][..]),
        ("password", &["password", "pass"][..]),
        ("dbname", &["dbname", "database"][..]),
        ("keepalives_idle", &["keepalives_idle"][..]),
        ("sslmode", &["sslmode"][..]),
        ("sslrootcert", &["sslrootcert"][..]),
        ("sslcert", &["sslcert"][..]),
        ("sslkey", &["sslkey"][..]),
    ] {
        if let Some(v) = names.iter().find_map(|name| get(name)) {
            dsn.push_str(&format!(" {key}={}", quote(&v)));
        }
    }
    if let Some(mode) = get("sslmode").filter(|m| SslMode::parse(m).is_none()) {
        return Err(FieldError {
            field: "sslmode",
            message: format!("sslmode `{mode}` is not one of {}", SslMode::CHOICES),
            help: Some("`require` encrypts; `verify-ca` and `verify-full` also check the server's certificate (against `sslrootcert`, else the webpki roots)".into()),
        });
    }
    for (field, other) in [("sslcert", "sslkey"), ("sslkey", "sslcert")] {
        if get(field).is_some() && get(other).is_none() {
            return Err(FieldError {
                field,
                message: format!("`{field}` is given without `{other}`"),
                help: Some("a client certificate needs both: `sslcert` (the certificate, PEM) and `sslkey` (its private key, PEM)".into()),
            });
        }
    }
    if let Some(role) = get("role") {
        dsn.push_str(&format!(" options={}", quote(&format!("-c role={role}"))));
    }
    Ok(Some(dsn))
}

/// A DSN with its password replaced by `****` (URL or key=value form).
pub fn redact_dsn(dsn: &str) -> String {
    if let Some(scheme_end) = dsn.find("://") {
        let rest = &dsn[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some(colon) = userinfo.find(':') {
                return format!(
                    "{}{}:****{}",
                    &dsn[..scheme_end + 3],
                    &userinfo[..colon],
                    &dsn[scheme_end + 3 + at..]
                );
            }
        }
        // A password can also come as a query parameter.
        return redact_param(dsn, "password=");
    }
    redact_param(dsn, "password=")
}

fn redact_param(dsn: &str, key: &str) -> String {
    let mut out = String::new();
    let mut rest = dsn;
    while let Some(at) = rest.find(key) {
        let boundary = at == 0 || matches!(rest.as_bytes()[at - 1], b' ' | b'&' | b'?');
        out.push_str(&rest[..at + key.len()]);
        rest = &rest[at + key.len()..];
        if !boundary {
            continue;
        }
        let end = if let Some(stripped) = rest.strip_prefix('\'') {
            stripped.find('\'').map(|e| e + 2).unwrap_or(rest.len())
        } else {
            rest.find([' ', '&']).unwrap_or(rest.len())
        };
        out.push_str("****");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Classifies a Postgres error: serialization failures, deadlocks, lock timeouts, a server
/// shutting down or a lost connection are worth a retry; a cancelled statement is an interrupt.
pub fn classify(e: &tokio_postgres::Error) -> ErrorClass {
    if let Some(code) = e.code() {
        if *code == SqlState::QUERY_CANCELED {
            return ErrorClass::Interrupted;
        }
        if [
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::CONNECTION_FAILURE,
            SqlState::CONNECTION_EXCEPTION,
            SqlState::TOO_MANY_CONNECTIONS,
        ]
        .contains(code)
        {
            return ErrorClass::Transient;
        }
        return ErrorClass::Permanent;
    }
    if e.is_closed() || e.to_string().to_lowercase().contains("connection") {
        ErrorClass::Transient
    } else {
        ErrorClass::Permanent
    }
}

fn err(e: tokio_postgres::Error) -> AdapterError {
    let class = classify(&e);
    // The database error's own text (message, detail, hint) is what people need.
    let message = match e.as_db_error() {
        Some(db) => {
            let mut m = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                m.push_str(&format!("\nDETAIL: {d}"));
            }
            if let Some(h) = db.hint() {
                m.push_str(&format!("\nHINT: {h}"));
            }
            m
        }
        None => e.to_string(),
    };
    AdapterError::new(class, message)
}

fn runtime() -> DbResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AdapterError::permanent(format!("cannot start the Postgres client: {e}")))
}

/// A Postgres server reached through a DSN.
pub struct PostgresAdapter {
    config: tokio_postgres::Config,
    tls: PgTls,
    redacted: String,
    read_only: bool,
    notices: Notices,
}

/// How long a session of a killed run may hold its transaction open while idle; the server
/// then ends it and rolls back, so the next run does not wait on its locks for long.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "15s";
/// Idle seconds before TCP keepalives probe a silent peer.
const KEEPALIVES_IDLE: std::time::Duration = std::time::Duration::from_secs(15);
/// How long a statement or the run lock waits before strata says on what and for whom.
const WAIT_NOTICE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

impl PostgresAdapter {
    /// Parses the DSN and reads its certificate files (a relative path is relative to
    /// `project_root`); nothing is connected yet. `read_only` sessions cannot write (dry runs).
    pub fn new(
        dsn: &str,
        project_root: &std::path::Path,
        read_only: bool,
        notices: Notices,
    ) -> DbResult<PostgresAdapter> {
        let redacted = redact_dsn(dsn);
        // tokio-postgres refuses libpq's TLS keys: they are read apart.
        let (rest, tls_keys) = postgres_tls::split_dsn(dsn);
        let settings = TlsSettings::from_pairs(&tls_keys)
            .map_err(|e| {
                AdapterError::permanent(format!("invalid Postgres DSN `{redacted}`: {e}"))
            })?
            .relative_to(project_root);
        let mut config: tokio_postgres::Config =
            rest.parse().map_err(|_: tokio_postgres::Error| {
                // The parser's message can quote the DSN, password included.
                AdapterError::permanent(format!("invalid Postgres DSN `{redacted}`"))
            })?;
        settings.apply(&mut config);
        let tls = PgTls::new(&settings)
            .map_err(|e| AdapterError::permanent(format!("cannot connect to {redacted}: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name("strata");
        }
        config.keepalives(true).keepalives_idle(KEEPALIVES_IDLE);
        let mut a = PostgresAdapter {
            config,
            tls,
            redacted,
            read_only,
            notices,
        };
        // The server's side too: it notices a client that vanished without closing its
        // connection (a killed VM, a cut network) after about 15 + 3 × 5 seconds.
        let idle = KEEPALIVES_IDLE.as_secs().to_string();
        let settings = [
            (
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_TIMEOUT,
            ),
            ("tcp_keepalives_idle", idle.as_str()),
            ("tcp_keepalives_interval", "5"),
            ("tcp_keepalives_count", "3"),
        ];
        for (name, value) in settings {
            if !a.config.get_options().is_some_and(|o| o.contains(name)) {
                a.add_option(&format!("-c {name}={value}"));
            }
        }
        Ok(a)
    }

    /// Adds a server option (`-c name=value`) to every session, after the DSN's own.
    fn add_option(&mut self, option: &str) {
        let options = match self.config.get_options() {
            Some(o) if !o.is_empty() => format!("{o} {option}"),
            _ => option.to_string(),
        };
        self.config.options(options);
    }

    /// Seconds to wait for a connection.
    pub fn set_connect_timeout(&mut self, d: std::time::Duration) {
        self.config.connect_timeout(d);
    }

    /// The `search_path` of every session (schemas, comma-separated).
    pub fn set_search_path(&mut self, path: &str) {
        self.add_option(&format!("-c search_path={}", path.replace(' ', "")));
    }
}

impl Adapter for PostgresAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Postgres
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            kind: AdapterKind::Postgres,
            transactional_ddl: true,
            materialized_views: true,
            concurrent_writers: true,
            grants: true,
            indexes: true,
            replace_view_any_columns: false,
            replace_table: false,
            // PostgreSQL 15 and later.
            merge_statement: true,
            row_counts: true,
            fresh_temp_names: false,
            table_layout: false,
        }
    }

    fn lock_target(
        &self,
        name: &str,
        schema: &str,
        wait: std::time::Duration,
    ) -> DbResult<Option<RunLock>> {
        let mut conn = self.open()?;
        // A session-level advisory lock (this database) keyed by the target's name and schema;
        // it goes away with the session, so a crashed run never leaves it behind.
        let digest =
            <sha2::Sha256 as sha2::Digest>::digest(format!("strata:{name}:{schema}").as_bytes());
        // Positive, so that it reads back the same from pg_locks' two 32-bit halves.
        let key = i64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8])) & i64::MAX;
        let started = std::time::Instant::now();
        let mut told = false;
        loop {
            let rows = conn.query(&format!("select pg_try_advisory_lock({key})"))?;
            if rows.first().and_then(|r| r[0].as_deref()) == Some("t") {
                return Ok(Some(Box::new(conn)));
            }
            let holder = |conn: &mut PostgresConnection| {
                conn.query(&format!(
                    "select a.pid::text, coalesce(a.application_name, ''), coalesce(a.client_addr::text, 'local') \
                     from pg_locks l join pg_stat_activity a on a.pid = l.pid \
                     where l.locktype = 'advisory' and l.granted \
                     and ((l.classid::bigint << 32) | l.objid::bigint) = {key} limit 1"
                ))
                .ok()
                .and_then(|r| r.into_iter().next())
                .map(|r| {
                    format!(
                        " (server process {}, {}, from {})",
                        r[0].clone().unwrap_or_default(),
                        r[1].clone().unwrap_or_default(),
                        r[2].clone().unwrap_or_default()
                    )
                })
                .unwrap_or_default()
            };
            if !told && started.elapsed() >= WAIT_NOTICE_AFTER {
                told = true;
                (self.notices)(&format!(
                    "waiting for the run lock of target `{name}`: another run holds it{}; waiting up to {:.0}s (target `lock_timeout`)",
                    holder(&mut conn),
                    wait.as_secs_f64()
                ));
            }
            if started.elapsed() >= wait {
                let holder = holder(&mut conn);
                return Err(AdapterError::permanent(format!(
                    "another run holds the lock on target `{name}`{holder}; waited {:.1}s (target `lock_timeout`). Runs on one target never interleave: try again when it has finished",
                    wait.as_secs_f64()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    fn connect(&self) -> DbResult<Box<dyn Connection>> {
        Ok(Box::new(self.open()?))
    }
}

impl PostgresAdapter {
    fn open(&self) -> DbResult<PostgresConnection> {
        let rt = runtime()?;
        let (client, connection) = rt
            .block_on(postgres_tls::connect(&self.config, &self.tls))
            .map_err(|e| self.connect_error(e))?;
        let failure: Arc<Mutex<Option<String>>> = Arc::default();
        {
            let failure = failure.clone();
            rt.spawn(async move {
                if let Err(e) = connection.await {
                    *failure.lock().unwrap() = Some(e.to_string());
                }
            });
        }
        let token = client.cancel_token();
        let cancel_tls = self.tls.clone();
        let mut conn = PostgresConnection {
            rt,
            client,
            failure,
            interrupter: Arc::new(move || {
                let token = token.clone();
                // A short-lived runtime on the calling thread sends the cancel request.
                if let Ok(rt) = runtime() {
                    let _ = rt.block_on(token.cancel_query(cancel_tls.clone()));
                }
            }),
            watch: Watch {
                config: self.config.clone(),
                tls: self.tls.clone(),
                pid: 0,
                notices: self.notices.clone(),
            },
        };
        // A statement whose client was killed is stopped within a second (Postgres 14 and
        // later), instead of running on and holding its locks against the next run.
        let check = if self
            .config
            .get_options()
            .is_some_and(|o| o.contains("client_connection_check_interval"))
        {
            ""
        } else {
            ", case when current_setting('server_version_num')::int >= 140000 \
               then set_config('client_connection_check_interval', '1s', false) end"
        };
        let pid = conn.query(&format!("select pg_backend_pid(){check}"))?;
        conn.watch.pid = pid
            .first()
            .and_then(|r| r[0].as_deref())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if self.read_only {
            conn.execute("set default_transaction_read_only = on")?;
        }
        Ok(conn)
    }

    /// Why a connection failed, naming the server (password redacted) and, for TLS, the
    /// `sslmode` and what to change.
    fn connect_error(&self, e: tokio_postgres::Error) -> AdapterError {
        let mode = self.tls.mode().as_str();
        let tls = if let Some(h) = postgres_tls::handshake_error(&e) {
            Some(h.message.clone())
        } else if postgres_tls::server_refused_tls(&e) {
            Some(format!(
                "the server does not accept TLS connections (its `ssl` setting is off), and sslmode `{mode}` requires TLS: turn `ssl` on in the server's configuration, or use `sslmode: prefer` (TLS when the server offers it) or `disable`"
            ))
        } else {
            None
        };
        if let Some(message) = tls {
            return AdapterError::permanent(format!(
                "cannot connect to {}: {message}",
                self.redacted
            ));
        }
        let mut a = err(e);
        a.message = format!("cannot connect to {}: {}", self.redacted, a.message);
        a
    }
}

/// One Postgres session.
pub struct PostgresConnection {
    rt: tokio::runtime::Runtime,
    client: Client,
    /// Why the connection task ended, when it did (server gone, network down).
    failure: Arc<Mutex<Option<String>>>,
    interrupter: Interrupter,
    watch: Watch,
}

/// What a session needs to say, when one of its statements waits on a lock, who holds it.
struct Watch {
    config: tokio_postgres::Config,
    tls: PgTls,
    /// The session's server process.
    pid: i32,
    notices: Notices,
}

impl Watch {
    /// Tells which sessions block this one's statement, from a short second session (this one
    /// is busy waiting). Nothing when the statement is slow without waiting on a lock.
    async fn tell_blockers(&self) {
        let Ok((side, connection)) = postgres_tls::connect(&self.config, &self.tls).await else {
            return;
        };
        let task = tokio::spawn(connection);
        let sql = format!(
            "select b.pid::text, coalesce(nullif(b.application_name, ''), 'unknown'), \
             coalesce(b.client_addr::text, 'local'), coalesce(b.state, 'active'), \
             coalesce(extract(epoch from now() - b.state_change)::bigint::text, '0'), \
             coalesce((select 'a lock on ' || string_agg(l.relation::regclass::text, ', ') \
                       from pg_locks l where l.pid = w.pid and not l.granted and l.relation is not null), \
                      (select string_agg(case l.locktype when 'transactionid' \
                                then 'the end of another transaction (it writes the same relation or name)' \
                                else 'a lock of type ' || l.locktype end, ', ') \
                       from pg_locks l where l.pid = w.pid and not l.granted), 'a lock') \
             from pg_stat_activity w cross join lateral unnest(pg_blocking_pids(w.pid)) as x(pid) \
             join pg_stat_activity b on b.pid = x.pid where w.pid = {}",
            self.pid
        );
        let rows = side.simple_query(&sql).await.unwrap_or_default();
        drop(side);
        task.abort();
        for m in rows {
            let SimpleQueryMessage::Row(r) = m else {
                continue;
            };
            let f = |i: usize| r.get(i).unwrap_or_default().to_string();
            let idle = if f(3).starts_with("idle in transaction") {
                format!(
                    "; the server ends such a session after {IDLE_IN_TRANSACTION_TIMEOUT} (idle_in_transaction_session_timeout)"
                )
            } else {
                String::new()
            };
            (self.notices)(&format!(
                "waiting for {}, held by server process {} ({}, from {}, {} for {}s){idle}",
                f(5),
                f(0),
                f(1),
                f(2),
                f(3),
                f(4)
            ));
        }
    }
}

impl PostgresConnection {
    /// Runs `sql`; when it has waited `WAIT_NOTICE_AFTER`, says on what lock and for whom.
    fn simple(&mut self, sql: &str) -> DbResult<Vec<SimpleQueryMessage>> {
        let (client, watch) = (&self.client, &self.watch);
        self.rt
            .block_on(async {
                let query = std::pin::pin!(client.simple_query(sql));
                let timer = std::pin::pin!(tokio::time::sleep(WAIT_NOTICE_AFTER));
                match futures_util::future::select(query, timer).await {
                    futures_util::future::Either::Left((r, _)) => r,
                    futures_util::future::Either::Right(((), query)) => {
                        watch.tell_blockers().await;
                        query.await
                    }
                }
            })
            .map_err(|e| {
                let position = e.as_db_error().and_then(|db| match db.position() {
                    Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p),
                    _ => None,
                });
                let a = self.lost(e);
                match position {
                    // A 1-based character index into the statement.
                    Some(p) => {
                        let offset = sql
                            .char_indices()
                            .nth((p as usize).saturating_sub(1))
                            .map_or(sql.len(), |(b, _)| b);
                        a.at(sql, offset)
                    }
                    None => a,
                }
            })
    }

    /// The error of a call, saying so when the connection itself is gone.
    fn lost(&self, e: tokio_postgres::Error) -> AdapterError {
        let mut a = err(e);
        if self.client.is_closed() {
            a.class = ErrorClass::Transient;
            let why = self.failure.lock().unwrap().clone();
            a.message = format!(
                "the connection to the server was lost{}: {}",
                why.map(|w| format!(" ({w})")).unwrap_or_default(),
                a.message
            );
        }
        a
    }

    fn rows(
        &mut self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> DbResult<Vec<tokio_postgres::Row>> {
        self.rt
            .block_on(self.client.query(sql, params))
            .map_err(|e| self.lost(e))
    }
}

/// The first key of the advisory locks taken on dependents being recreated ("strd").
const DEPENDENT_LOCK_CLASS: i32 = 0x7374_7264;

/// The views and materialized views reading the relation named `$1` (quoted), directly or
/// through each other: a CTE `deps(oid, depth)` for the queries below. A name that does not
/// exist has none (`to_regclass` is null).
macro_rules! dependents_cte {
    () => {
        "with recursive deps(oid, depth) as ( \
            select r.ev_class, 1 from pg_catalog.pg_depend d \
            join pg_catalog.pg_rewrite r on r.oid = d.objid \
            where d.classid = 'pg_catalog.pg_rewrite'::regclass \
              and d.refclassid = 'pg_catalog.pg_class'::regclass \
              and d.refobjid = pg_catalog.to_regclass($1) and r.ev_class <> pg_catalog.to_regclass($1) \
            union all \
            select r.ev_class, deps.depth + 1 from deps \
            join pg_catalog.pg_depend d on d.refobjid = deps.oid \
            join pg_catalog.pg_rewrite r on r.oid = d.objid \
            where d.classid = 'pg_catalog.pg_rewrite'::regclass \
              and d.refclassid = 'pg_catalog.pg_class'::regclass \
              and r.ev_class <> deps.oid and deps.depth < 50 \
        ) "
    };
}

/// The dependents with their definitions and comments, in the order to recreate them.
const DEPENDENTS_SQL: &str = concat!(
    dependents_cte!(),
    "select c.oid::bigint, n.nspname::text, c.relname::text, c.relkind::text, \
            pg_catalog.pg_get_viewdef(c.oid), pg_catalog.obj_description(c.oid, 'pg_class'), \
            max(deps.depth) \
     from deps join pg_catalog.pg_class c on c.oid = deps.oid \
     join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
     group by 1, 2, 3, 4, 5, 6 order by max(deps.depth), 2, 3"
);

/// The dependents' quoted names only (reading a definition fails on a view that another
/// transaction is dropping).
const DEPENDENT_NAMES_SQL: &str = concat!(
    dependents_cte!(),
    "select distinct pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) \
     from deps join pg_catalog.pg_class c on c.oid = deps.oid \
     join pg_catalog.pg_namespace n on n.oid = c.relnamespace order by 1"
);

impl Connection for PostgresConnection {
    fn execute(&mut self, sql: &str) -> DbResult<u64> {
        let msgs = self.simple(sql)?;
        Ok(msgs
            .iter()
            .rev()
            .find_map(|m| match m {
                SimpleQueryMessage::CommandComplete(n) => Some(*n),
                _ => None,
            })
            .unwrap_or(0))
    }

    fn query(&mut self, sql: &str) -> DbResult<Vec<Vec<Option<String>>>> {
        let msgs = self.simple(sql.trim_end().trim_end_matches(';'))?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect())
    }

    fn relation_kind(&mut self, relation: &Relation) -> DbResult<Option<RelationKind>> {
        let rows = self
            .rt
            .block_on(self.client.query(
                "select c.relkind::text from pg_catalog.pg_class c \
                 join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
                 where n.nspname = $1 and c.relname = $2",
                &[&relation.schema, &relation.identifier],
            ))
            .map_err(|e| self.lost(e))?;
        Ok(rows.first().and_then(|r| {
            let kind: String = r.get(0);
            match kind.as_str() {
                "v" => Some(RelationKind::View),
                "m" => Some(RelationKind::MaterializedView),
                "r" | "p" | "f" => Some(RelationKind::Table),
                _ => None,
            }
        }))
    }

    fn columns(&mut self, relation: &Relation) -> DbResult<Vec<ColumnMeta>> {
        let rows = self
            .rt
            .block_on(self.client.query(
                "select a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), not a.attnotnull \
                 from pg_catalog.pg_attribute a \
                 join pg_catalog.pg_class c on c.oid = a.attrelid \
                 join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
                 where n.nspname = $1 and c.relname = $2 and a.attnum > 0 and not a.attisdropped \
                 order by a.attnum",
                &[&relation.schema, &relation.identifier],
            ))
            .map_err(|e| self.lost(e))?;
        Ok(rows
            .iter()
            .map(|r| ColumnMeta {
                name: r.get(0),
                data_type: r.get(1),
                nullable: r.get(2),
            })
            .collect())
    }

    fn describe(&mut self, sql: &str) -> DbResult<Vec<ColumnMeta>> {
        let stmt = self
            .rt
            .block_on(self.client.prepare(sql.trim_end().trim_end_matches(';')))
            .map_err(|e| self.lost(e))?;
        Ok(stmt
            .columns()
            .iter()
            .map(|c| ColumnMeta {
                name: c.name().to_string(),
                data_type: c.type_().name().to_string(),
                nullable: true,
            })
            .collect())
    }

    fn load_text_rows(
        &mut self,
        relation: &Relation,
        columns: &[String],
        rows: &[Vec<Option<String>>],
    ) -> DbResult<()> {
        let cols: Vec<String> = columns.iter().map(|c| crate::ir::quote_ident(c)).collect();
        let copy = format!(
            "copy {} ({}) from stdin with (format csv)",
            relation.quoted(),
            cols.join(", ")
        );
        // CSV: NULL is an unquoted empty field; every value is quoted, so '' stays a string.
        let mut data = String::new();
        for row in rows {
            let fields: Vec<String> = row
                .iter()
                .map(|v| match v {
                    None => String::new(),
                    Some(s) => format!("\"{}\"", s.replace('"', "\"\"")),
                })
                .collect();
            data.push_str(&fields.join(","));
            data.push('\n');
        }
        let client = &self.client;
        self.rt
            .block_on(async {
                let sink = client.copy_in(&copy).await?;
                futures_util::pin_mut!(sink);
                sink.send(bytes::Bytes::from(data)).await?;
                sink.finish().await
            })
            .map_err(|e| self.lost(e))?;
        Ok(())
    }

    fn interrupter(&self) -> Interrupter {
        self.interrupter.clone()
    }

    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }

    fn dependents(&mut self, relation: &Relation) -> DbResult<Vec<Dependent>> {
        let target = relation.quoted();
        let rows = self.rows(DEPENDENTS_SQL, &[&target])?;
        let mut out = Vec::new();
        for r in rows {
            let oid: i64 = r.get(0);
            let dep = Relation {
                database: None,
                schema: r.get(1),
                identifier: r.get(2),
            };
            let kind: String = r.get(3);
            let definition: String = r.get(4);
            let comment: Option<String> = r.get(5);
            let (kind, keyword) = if kind == "m" {
                (RelationKind::MaterializedView, "materialized view")
            } else {
                (RelationKind::View, "view")
            };
            let mut statements = vec![format!(
                "create {keyword} {} as\n{}",
                dep.quoted(),
                definition.trim_end().trim_end_matches(';')
            )];
            // Indexes of a materialized view (its unique index makes concurrent refresh work).
            for ix in self.rows(
                "select pg_catalog.pg_get_indexdef(i.indexrelid) from pg_catalog.pg_index i \
                 where i.indrelid = $1::bigint::oid order by i.indexrelid",
                &[&oid],
            )? {
                statements.push(ix.get(0));
            }
            for g in self.rows(
                "select a.privilege_type::text, coalesce(quote_ident(ro.rolname), 'public') \
                 from pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a \
                 left join pg_catalog.pg_roles ro on ro.oid = a.grantee \
                 where c.oid = $1::bigint::oid and a.grantee <> c.relowner",
                &[&oid],
            )? {
                let privilege: String = g.get(0);
                let grantee: String = g.get(1);
                statements.push(format!(
                    "grant {privilege} on {} to {grantee}",
                    dep.quoted()
                ));
            }
            if let Some(c) = comment {
                statements.push(format!(
                    "comment on {keyword} {} is {}",
                    dep.quoted(),
                    crate::ir::quote_literal(&c)
                ));
            }
            out.push(Dependent {
                relation: dep,
                kind,
                statements,
            });
        }
        Ok(out)
    }

    fn lock_dependents(&mut self, relation: &Relation) -> DbResult<()> {
        // Transaction-level advisory locks in name order (LOCK TABLE refuses materialized
        // views); the two-key form keeps them apart from the run lock's keys.
        let target = relation.quoted();
        let names: Vec<String> = self
            .rows(DEPENDENT_NAMES_SQL, &[&target])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for n in names {
            self.execute(&format!(
                "select pg_advisory_xact_lock({}, hashtext({}))",
                DEPENDENT_LOCK_CLASS,
                crate::ir::quote_literal(&n)
            ))?;
        }
        Ok(())
    }

    fn grants(&mut self, relation: &Relation) -> DbResult<Vec<(String, String)>> {
        let rows = self.rows(
            "select lower(a.privilege_type::text), coalesce(ro.rolname::text, 'public') \
             from pg_catalog.pg_class c \
             join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
             cross join lateral pg_catalog.aclexplode(c.relacl) a \
             left join pg_catalog.pg_roles ro on ro.oid = a.grantee \
             where n.nspname = $1 and c.relname = $2 and a.grantee <> c.relowner \
             order by 1, 2",
            &[&relation.schema, &relation.identifier],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbt_tls_fields_go_into_the_dsn() {
        let fields = |v: &'static [(&'static str, &'static str)]| {
            move |k: &str| v.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let dsn = postgres_dsn(&fields(&[
            ("host", "db"),
            ("sslmode", "verify-full"),
            ("sslrootcert", "/etc/ca's.pem"),
            ("sslcert", "/c.pem"),
            ("sslkey", "/k.pem"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            dsn,
            "host='db' sslmode='verify-full' sslrootcert='/etc/ca\\'s.pem' sslcert='/c.pem' sslkey='/k.pem'"
        );
        let (rest, tls) = postgres_tls::split_dsn(&dsn);
        assert_eq!(rest, "host='db'");
        let s = TlsSettings::from_pairs(&tls).unwrap();
        assert_eq!(s.root_cert.as_deref(), Some("/etc/ca's.pem"));
        let e = postgres_dsn(&fields(&[("host", "db"), ("sslkey", "/k.pem")])).unwrap_err();
        assert_eq!(e.field, "sslkey");
        assert!(e.message.contains("`sslkey` is given without `sslcert`"));
        let e = postgres_dsn(&fields(&[("host", "db"), ("sslmode", "on")])).unwrap_err();
        assert_eq!(e.field, "sslmode");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_dsn("postgresql://strata:s3cr%40t@127.0.0.1:5432/db?sslmode=disable"),
            "postgresql://strata:****@127.0.0.1:5432/db?sslmode=disable"
        );
        assert_eq!(
            redact_dsn("postgresql://strata@127.0.0.1/db?password=abc&application_name=x"),
            "postgresql://strata@127.0.0.1/db?password=****&application_name=x"
        );
        assert_eq!(
            redact_dsn("host=127.0.0.1 user=strata password='a b' dbname=x"),
            "host=127.0.0.1 user=strata password=**** dbname=x"
        );
        assert_eq!(
            redact_dsn("host=127.0.0.1 password=abc"),
            "host=127.0.0.1 password=****"
        );
    }
}
