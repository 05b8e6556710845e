//! TLS for the Postgres adapter, with libpq's meanings: `sslmode` (disable, allow, prefer,
//! require, verify-ca, verify-full), `sslrootcert`, `sslcert` and `sslkey`. tokio-postgres knows
//! only three of the modes and none of the files, so they are taken out of the DSN here
//! (`split_dsn`) and the handshake is rustls' (ring, webpki roots) behind tokio-postgres'
//! `MakeTlsConnect`. Owns the TLS settings, the certificate checks and what a failed handshake
//! tells the user; sessions, statements and redaction stay in `postgres`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, Connection, Socket};

/// The DSN keys this module reads (and takes out of the DSN before tokio-postgres parses it).
const TLS_KEYS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// What tokio-postgres says when the server answers the TLS request with "no".
const SERVER_REFUSED_TLS: &str = "server does not support TLS";

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it (tried first, as `prefer`).
    Allow,
    /// TLS when the server offers it; a failed handshake falls back to a plain connection.
    Prefer,
    /// TLS or no connection; the certificate is checked only against a given `sslrootcert`.
    Require,
    /// TLS, the certificate chain checked against the roots, not the host name.
    VerifyCa,
    /// TLS, the chain and the host name checked.
    VerifyFull,
}

impl SslMode {
    /// The values, as a message lists them.
    pub const CHOICES: &'static str = "disable, allow, prefer, require, verify-ca or verify-full";

    /// The mode a `sslmode` value names.
    pub fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The value as written in a DSN.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether a plain connection is acceptable when TLS is not to be had.
    fn falls_back(self) -> bool {
        matches!(self, SslMode::Allow | SslMode::Prefer)
    }

    /// The nearest mode tokio-postgres knows (it decides whether to ask for TLS at all).
    fn postgres(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        }
    }
}

/// The TLS settings of a DSN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// `sslmode` (libpq's default: `prefer`).
    pub mode: SslMode,
    /// `sslrootcert`: a PEM file of trusted certificate authorities (`system`: the webpki roots).
    pub root_cert: Option<String>,
    /// `sslcert`: the client's certificate chain (PEM).
    pub client_cert: Option<String>,
    /// `sslkey`: the client certificate's private key (PEM, not encrypted).
    pub client_key: Option<String>,
}

impl TlsSettings {
    /// The settings of the TLS keys `split_dsn` took out; a mode that does not exist is an error.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<TlsSettings, String> {
        let mut s = TlsSettings {
            mode: SslMode::Prefer,
            root_cert: None,
            client_cert: None,
            client_key: None,
        };
        for (key, value) in pairs {
            let value = Some(value.clone()).filter(|v| !v.is_empty());
            match key.as_str() {
                "sslmode" => {
                    let v = value.unwrap_or_default();
                    s.mode = SslMode::parse(&v).ok_or_else(|| {
                        format!("sslmode `{v}` is not one of {}", SslMode::CHOICES)
                    })?;
                }
                "sslrootcert" => s.root_cert = value,
                "sslcert" => s.client_cert = value,
                _ => s.client_key = value,
            }
        }
        Ok(s)
    }

    /// The certificate files with a relative path taken as relative to `base` (the project).
    pub fn relative_to(mut self, base: &std::path::Path) -> TlsSettings {
        for file in [
            &mut self.root_cert,
            &mut self.client_cert,
            &mut self.client_key,
        ] {
            if let Some(f) = file.as_mut().filter(|f| *f != "system") {
                let path = std::path::Path::new(f.as_str());
                if path.is_relative() {
                    *f = base.join(path).to_string_lossy().into_owned();
                }
            }
        }
        self
    }

    /// Sets tokio-postgres' side of the mode on `config`.
    pub fn apply(&self, config: &mut Config) {
        config.ssl_mode(self.mode.postgres());
    }
}

/// The DSN without its TLS keys (which tokio-postgres refuses), and those keys with their values.
/// Both forms: `postgresql://...?sslmode=require` and `host=... sslmode=require`. A DSN that
/// cannot be read comes back as it is, for tokio-postgres to refuse.
pub fn split_dsn(dsn: &str) -> (String, Vec<(String, String)>) {
    let split = if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        Some(split_url(dsn))
    } else {
        split_keywords(dsn)
    };
    split.unwrap_or_else(|| (dsn.to_string(), Vec::new()))
}

fn split_url(dsn: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = dsn.split_once('?') else {
        return (dsn.to_string(), Vec::new());
    };
    let mut found = Vec::new();
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode(k);
            if TLS_KEYS.contains(&k.as_str()) {
                found.push((k, percent_decode(v)));
                false
            } else {
                true
            }
        })
        .collect();
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, found)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = || u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok();
        match (bytes[i], hex()) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `key=value` pairs as libpq reads them: blanks between pairs and around `=`, values bare or
/// in single quotes, `\` escaping the next character.
fn split_keywords(dsn: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut kept = Vec::new();
    let mut found = Vec::new();
    let mut rest = dsn.trim_start();
    while !rest.is_empty() {
        let key_end = rest.find(|c: char| c == '=' || c.is_whitespace())?;
        let key = &rest[..key_end];
        let after = rest[key_end..].trim_start().strip_prefix('=')?.trim_start();
        let (value, remaining) = read_value(after)?;
        if TLS_KEYS.contains(&key) {
            found.push((key.to_string(), value));
        } else {
            kept.push(&rest[..rest.len() - remaining.len()]);
        }
        rest = remaining.trim_start();
    }
    Some((kept.join(" "), found))
}

/// One value and what follows it.
fn read_value(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let (quoted, body) = match s.strip_prefix('\'') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '\'' if quoted => return Some((out, &body[i + 1..])),
            c if !quoted && c.is_whitespace() => return Some((out, &body[i..])),
            c => out.push(c),
        }
    }
    (!quoted).then_some((out, ""))
}

/// Makes TLS sessions to one server (tokio-postgres' `MakeTlsConnect`): one rustls
/// configuration per adapter, shared by its sessions, cancel requests and side sessions.
#[derive(Clone)]
pub struct PgTls {
    config: Arc<rustls::ClientConfig>,
    mode: SslMode,
    /// Which roots the chain is checked against, as a message says it.
    roots: Arc<str>,
    /// Whether a given `sslrootcert` makes a weak mode check the chain (as libpq does).
    checks_chain: bool,
}

impl PgTls {
    /// The TLS side of `settings`: reads the certificate files (a missing or unreadable one is
    /// an error that names it).
    pub fn new(settings: &TlsSettings) -> Result<PgTls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let own_roots = settings.root_cert.as_deref().filter(|p| *p != "system");
        let mut roots = RootCertStore::empty();
        let described = match own_roots {
            Some(path) => {
                for cert in read_certs(path, "sslrootcert")? {
                    roots.add(cert).map_err(|e| {
                        format!("sslrootcert `{path}` holds a certificate rustls cannot use: {e}")
                    })?;
                }
                format!("`sslrootcert` ({path})")
            }
            None => {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                "the webpki roots (no `sslrootcert` is given)".to_string()
            }
        };
        // libpq checks the chain whenever it has a root certificate; without one only the
        // verify modes check it.
        let checks_chain = settings.root_cert.is_some()
            || matches!(settings.mode, SslMode::VerifyCa | SslMode::VerifyFull);
        let chain = if checks_chain {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("cannot check server certificates: {e}"))?,
            )
        } else {
            None
        };
        let verifier = Arc::new(Verifier {
            chain,
            check_name: settings.mode == SslMode::VerifyFull,
            algorithms: provider.signature_verification_algorithms,
        });
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match (&settings.client_cert, &settings.client_key) {
            (Some(cert), Some(key)) => {
                let chain = read_certs(cert, "sslcert")?;
                let key = read_key(key)?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    format!("cannot use the client certificate `{cert}` with its key: {e}")
                })?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => {
                return Err(
                    "`sslcert` is given without `sslkey` (the client certificate's private key)"
                        .into(),
                );
            }
            (None, Some(_)) => {
                return Err("`sslkey` is given without `sslcert` (the client certificate)".into());
            }
        };
        // What PostgreSQL 17 asks of a direct TLS connection; older servers ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(PgTls {
            config: Arc::new(config),
            mode: settings.mode,
            roots: described.into(),
            checks_chain,
        })
    }

    /// The mode in use.
    pub fn mode(&self) -> SslMode {
        self.mode
    }
}

/// Reads the certificates of a PEM file.
fn read_certs(path: &str, field: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {field} `{path}`: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{field} `{path}` is not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{field} `{path}` holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certs)
}

/// Reads the private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read sslkey `{path}`: {e}"))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        format!("sslkey `{path}` holds no usable private key ({e}); an encrypted key is not supported: decrypt it with `openssl pkey -in KEY -out PLAIN_KEY`")
    })
}

/// Checks the server's certificate as the mode says: not at all, the chain, or the chain and
/// the host name. The handshake's signatures are always checked.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // rustls checks the chain before the name: a name error means the chain was good.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS handshake that failed, with what to do about it.
#[derive(Debug)]
pub struct HandshakeError {
    /// The message for the user (mode, host, why, what to change).
    pub message: String,
    source: io::Error,
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A host name that cannot name a TLS server (only for `verify-full`, which checks it).
#[derive(Debug)]
pub struct BadHostName(String);

impl std::fmt::Display for BadHostName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sslmode `verify-full` checks the host name, and `{}` is not one a certificate can name",
            self.0
        )
    }
}

impl std::error::Error for BadHostName {}

impl<S> MakeTlsConnect<S> for PgTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type TlsConnect = PgTlsConnect;
    type Error = BadHostName;

    fn make_tls_connect(&mut self, host: &str) -> Result<PgTlsConnect, BadHostName> {
        let name = match ServerName::try_from(host.to_string()) {
            Ok(n) => n,
            // Without a name check any name does (none is sent when it is an address).
            Err(_) if self.mode != SslMode::VerifyFull => {
                ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into())
            }
            Err(_) => return Err(BadHostName(host.to_string())),
        };
        Ok(PgTlsConnect {
            tls: self.clone(),
            name,
            host: host.to_string(),
        })
    }
}

/// One handshake about to happen (tokio-postgres' `TlsConnect`).
pub struct PgTlsConnect {
    tls: PgTls,
    name: ServerName<'static>,
    host: String,
}

impl<S> TlsConnect<S> for PgTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type Error = HandshakeError;
    type Future = Pin<Box<dyn Future<Output = Result<PgTlsStream<S>, HandshakeError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(self.tls.config.clone());
            match connector.connect(self.name, stream).await {
                Ok(s) => Ok(PgTlsStream(s)),
                Err(e) => Err(HandshakeError {
                    message: explain(&e, &self.tls, &self.host),
                    source: e,
                }),
            }
        })
    }
}

/// What a failed handshake means, and what to change.
fn explain(e: &io::Error, tls: &PgTls, host: &str) -> String {
    let mode = tls.mode.as_str();
    let cause = e.get_ref().and_then(|c| c.downcast_ref::<rustls::Error>());
    let Some(rustls::Error::InvalidCertificate(why)) = cause else {
        return format!("the TLS handshake with the server failed (sslmode `{mode}`): {e}");
    };
    let help_unverified = if tls.mode == SslMode::Require || !tls.checks_chain {
        "or leave `sslrootcert` out to encrypt without checking the certificate (sslmode `require`)"
    } else {
        "or use `sslmode: require` to encrypt without checking the certificate"
    };
    match why {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            let names = match why {
                CertificateError::NotValidForNameContext { presented, .. }
                    if !presented.is_empty() =>
                {
                    let names: Vec<String> = presented.iter().map(|n| plain_name(n)).collect();
                    format!(", only for {}", names.join(", "))
                }
                _ => String::new(),
            };
            format!(
                "the server's certificate is not valid for host `{host}`{names} (sslmode `{mode}` checks the host name): connect with a host name the certificate names, or use `sslmode: verify-ca` to check the certificate authority only"
            )
        }
        _ => {
            let detail = match why {
                CertificateError::UnknownIssuer => format!(
                    "it is not signed by a certificate authority of {}",
                    tls.roots
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    format!("it has expired ({why})")
                }
                _ => why.to_string(),
            };
            format!(
                "the server's certificate failed verification (sslmode `{mode}`): {detail}. Set `sslrootcert` to the PEM file of the certificate authority that signed the server's certificate, {help_unverified}"
            )
        }
    }
}

/// A name as rustls presents it (`DnsName("db.example")`), without the wrapping.
fn plain_name(presented: &str) -> String {
    let inner = presented
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or(presented);
    format!("`{}`", inner.trim_matches('"'))
}

/// The handshake error a connection error carries, if it is one.
pub fn handshake_error(e: &tokio_postgres::Error) -> Option<&HandshakeError> {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(h) = c.downcast_ref::<HandshakeError>() {
            return Some(h);
        }
        cause = c.source();
    }
    None
}

/// Whether a connection error is the server refusing TLS (its `ssl` setting is off).
pub fn server_refused_tls(e: &tokio_postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|c| c.to_string() == SERVER_REFUSED_TLS)
}

/// A TLS session to the server (tokio-postgres' `TlsStream`).
pub struct PgTlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for PgTlsStream<S> {
    /// `tls-server-end-point` (RFC 5929), so that SCRAM authentication is bound to this TLS
    /// session (SCRAM-SHA-256-PLUS) as libpq does.
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.0.get_ref();
        session
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|cert| end_point_hash(cert))
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

/// The certificate's hash for channel binding: by the hash of its signature algorithm, SHA-256
/// for MD5 and SHA-1. None for others (SHA-224, Ed25519, RSA-PSS): SCRAM then goes without
/// channel binding.
fn end_point_hash(cert: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest;
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm SEQUENCE { OID, ... }, ... }
    let (0x30, body, _) = der_item(cert)? else {
        return None;
    };
    let (0x30, _, after_tbs) = der_item(body)? else {
        return None;
    };
    let (0x30, algorithm, _) = der_item(after_tbs)? else {
        return None;
    };
    let (0x06, oid, _) = der_item(algorithm)? else {
        return None;
    };
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA_SHA2: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
    const ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
    let hash = match oid {
        // md5, sha1, sha256 with RSA; sha256 and sha1 with ECDSA (the server hashes as these).
        [r @ .., 4 | 5 | 11] if r == RSA => 256,
        [e @ .., 2] if e == ECDSA_SHA2 => 256,
        e if e == ECDSA_SHA1 => 256,
        [r @ .., 12] if r == RSA => 384,
        [e @ .., 3] if e == ECDSA_SHA2 => 384,
        [r @ .., 13] if r == RSA => 512,
        [e @ .., 4] if e == ECDSA_SHA2 => 512,
        _ => return None,
    };
    Some(match hash {
        256 => sha2::Sha256::digest(cert).to_vec(),
        384 => sha2::Sha384::digest(cert).to_vec(),
        _ => sha2::Sha512::digest(cert).to_vec(),
    })
}

/// One DER item: its tag, its contents and what follows it.
fn der_item(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |l, b| (l << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A session's client and its connection task.
pub type Session = (Client, Connection<Socket, PgTlsStream<Socket>>);

/// Connects with `tls`; in `allow` and `prefer` a failed handshake falls back to a plain
/// connection, as libpq does.
pub async fn connect(config: &Config, tls: &PgTls) -> Result<Session, tokio_postgres::Error> {
    match config.connect(tls.clone()).await {
        Err(e) if tls.mode.falls_back() && handshake_error(&e).is_some() => {
            let mut plain = config.clone();
            plain.ssl_mode(tokio_postgres::config::SslMode::Disable);
            plain.connect(tls.clone()).await
        }
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tls_keys_come_out_of_url_dsns() {
        let (rest, found) = split_dsn(
            "postgresql://u:p%3Fw@h:5/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca%20x.pem",
        );
        assert_eq!(rest, "postgresql://u:p%3Fw@h:5/db?application_name=x");
        assert_eq!(
            found,
            pairs(&[("sslmode", "verify-full"), ("sslrootcert", "/tmp/ca x.pem")])
        );
        let (rest, found) = split_dsn("postgres://h/db?sslmode=require");
        assert_eq!(rest, "postgres://h/db");
        assert_eq!(found, pairs(&[("sslmode", "require")]));
        assert_eq!(split_dsn("postgres://h/db").0, "postgres://h/db");
    }

    #[test]
    fn tls_keys_come_out_of_keyword_dsns() {
        let (rest, found) = split_dsn(
            "host='db' sslmode = verify-ca password='a b\\'c' sslrootcert='/x/it\\'s ca.pem' sslcert=/c.pem sslkey=/k.pem dbname=w",
        );
        assert_eq!(rest, "host='db' password='a b\\'c' dbname=w");
        assert_eq!(
            found,
            pairs(&[
                ("sslmode", "verify-ca"),
                ("sslrootcert", "/x/it's ca.pem"),
                ("sslcert", "/c.pem"),
                ("sslkey", "/k.pem"),
            ])
        );
        // Unreadable: left as it is for tokio-postgres to refuse.
        assert_eq!(split_dsn("host='db").0, "host='db");
        let rest = split_dsn("host=db sslmode=require").0;
        let config: Config = rest.parse().unwrap();
        assert_eq!(config.get_hosts().len(), 1);
    }

    #[test]
    fn settings_follow_libpq() {
        let s = TlsSettings::from_pairs(&[]).unwrap();
        assert_eq!(s.mode, SslMode::Prefer);
        let s = TlsSettings::from_pairs(&pairs(&[("sslmode", "verify-full")])).unwrap();
        assert_eq!(s.mode, SslMode::VerifyFull);
        let e = TlsSettings::from_pairs(&pairs(&[("sslmode", "verify")])).unwrap_err();
        assert!(
            e.contains("sslmode `verify` is not one of disable, allow"),
            "{e}"
        );
        let e = PgTls::new(&TlsSettings {
            mode: SslMode::Require,
            root_cert: None,
            client_cert: Some("/c.pem".into()),
            client_key: None,
        })
        .err()
        .unwrap();
        assert!(e.contains("`sslcert` is given without `sslkey`"), "{e}");
        let e = PgTls::new(&TlsSettings {
            mode: SslMode::VerifyCa,
            root_cert: Some("/nonexistent/ca.pem".into()),
            client_cert: None,
            client_key: None,
        })
        .err()
        .unwrap();
        assert!(
            e.contains("cannot read sslrootcert `/nonexistent/ca.pem`"),
            "{e}"
        );
        assert!(PgTls::new(&s).is_ok());
        let s = TlsSettings::from_pairs(&pairs(&[
            ("sslrootcert", "certs/ca.pem"),
            ("sslcert", "/abs/c.pem"),
        ]))
        .unwrap()
        .relative_to(std::path::Path::new("/project"));
        assert_eq!(s.root_cert.as_deref(), Some("/project/certs/ca.pem"));
        assert_eq!(s.client_cert.as_deref(), Some("/abs/c.pem"));
    }

    #[test]
    fn presented_names_are_shown_plain() {
        assert_eq!(plain_name("DnsName(\"localhost\")"), "`localhost`");
        assert_eq!(plain_name("IpAddress(127.0.0.1)"), "`127.0.0.1`");
        assert_eq!(plain_name("db.example"), "`db.example`");
    }

    #[test]
    fn der_items_are_read_with_long_lengths() {
        let mut der = vec![0x30, 0x82, 0x01, 0x00];
        der.extend(std::iter::repeat_n(0u8, 256));
        let (tag, body, rest) = der_item(&der).unwrap();
        assert_eq!((tag, body.len(), rest.len()), (0x30, 256, 0));
        assert!(der_item(&[0x30, 0x05, 0x00]).is_none());
    }
}
