//! Spark Connect's connection string, `sc://host:port/;param=value;...`, parsed as Spark's
//! own clients read it: the port defaults to 15002; `token` sends a bearer token and implies
//! TLS; `use_ssl=true` turns TLS on; `user_id` names the user to the server. Anything secret
//! (the token) is kept out of `Display`.

use std::fmt;

/// Spark Connect's default port.
pub const DEFAULT_PORT: u16 = 15002;

/// A parsed `sc://` connection string.
#[derive(Clone, PartialEq, Eq)]
pub struct SparkUrl {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Bearer token (secret).
    pub token: Option<String>,
    /// Whether the channel uses TLS.
    pub use_ssl: bool,
    /// The user the server is told about.
    pub user_id: Option<String>,
    /// Other parameters, passed on as gRPC metadata (as Spark's clients do).
    pub headers: Vec<(String, String)>,
}

impl fmt::Debug for SparkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SparkUrl({self})")
    }
}

impl fmt::Display for SparkUrl {
    /// The connection string with the token replaced by `****`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_url(true))
    }
}

impl SparkUrl {
    /// Parses `sc://host[:port][/][;key=value]*`.
    pub fn parse(text: &str) -> Result<SparkUrl, String> {
        let rest = text.trim().strip_prefix("sc://").ok_or_else(|| {
            format!(
                "`{}` is not a Spark Connect URL: it must start with `sc://`",
                hide_token(text)
            )
        })?;
        let (authority, params) = match rest.find([';', '/']) {
            Some(i) => (&rest[..i], rest[i..].trim_start_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(authority)?;
        if host.is_empty() {
            return Err(format!("`{}` names no host", hide_token(text)));
        }
        let mut url = SparkUrl {
            host,
            port,
            token: None,
            use_ssl: false,
            user_id: None,
            headers: Vec::new(),
        };
        for param in params.split(';').filter(|p| !p.trim().is_empty()) {
            let (key, value) = param.split_once('=').ok_or_else(|| {
                format!(
                    "parameter `{}` of a Spark Connect URL has no `=value`",
                    param.trim()
                )
            })?;
            let value = percent_decode(value.trim());
            match key.trim() {
                "token" => url.token = Some(value),
                "use_ssl" => {
                    url.use_ssl = match value.to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(format!("`use_ssl` must be true or false, not `{value}`")),
                    }
                }
                "user_id" => url.user_id = Some(value),
                other => url.headers.push((other.to_ascii_lowercase(), value)),
            }
        }
        // Spark's clients never send a token in the clear.
        if url.token.is_some() {
            url.use_ssl = true;
        }
        Ok(url)
    }

    /// The URL as text, the token replaced by `****` when `redacted`.
    pub fn to_url(&self, redacted: bool) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let mut out = format!("sc://{host}:{}/", self.port);
        if let Some(t) = &self.token {
            out.push_str(";token=");
            out.push_str(if redacted { "****" } else { t });
        }
        if self.use_ssl {
            out.push_str(";use_ssl=true");
        }
        if let Some(u) = &self.user_id {
            out.push_str(&format!(";user_id={u}"));
        }
        for (k, v) in &self.headers {
            out.push_str(&format!(";{k}={v}"));
        }
        out
    }

    /// The HTTP/2 endpoint the gRPC channel connects to.
    pub fn endpoint(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = if self.use_ssl { "https" } else { "http" };
        format!("{scheme}://{host}:{}", self.port)
    }
}

fn split_host_port(authority: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| format!("`{authority}`: an IPv6 address needs its closing `]`"))?;
        (&rest[..end], rest[end + 1..].strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("`{p}` is not a port number"))?,
        None => DEFAULT_PORT,
    };
    Ok((host.to_string(), port))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A connection string with its token replaced by `****`, parsed or not.
pub fn redact(text: &str) -> String {
    match SparkUrl::parse_quiet(text) {
        Some(url) => url.to_url(true),
        None => hide_token(text),
    }
}

/// `text` with whatever follows each `token=` (up to the next `;`) replaced by `****`.
fn hide_token(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("token=") {
        out.push_str(&rest[..at + 6]);
        out.push_str("****");
        rest = &rest[at + 6..];
        rest = &rest[rest.find(';').unwrap_or(rest.len())..];
    }
    out.push_str(rest);
    out
}

impl SparkUrl {
    fn parse_quiet(text: &str) -> Option<SparkUrl> {
        if !text.trim().starts_with("sc://") {
            return None;
        }
        SparkUrl::parse(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_parameters() {
        let u = SparkUrl::parse("sc://localhost").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.use_ssl),
            ("localhost", 15002, false)
        );
        assert_eq!(u.endpoint(), "http://localhost:15002");
        let u = SparkUrl::parse("sc://h.example:443/;token=abc%3D;user_id=ana;x-extra=1").unwrap();
        assert_eq!(u.token.as_deref(), Some("abc="));
        assert!(u.use_ssl, "a token implies TLS");
        assert_eq!(u.user_id.as_deref(), Some("ana"));
        assert_eq!(u.headers, vec![("x-extra".to_string(), "1".to_string())]);
        assert_eq!(u.endpoint(), "https://h.example:443");
        assert_eq!(
            u.to_string(),
            "sc://h.example:443/;token=****;use_ssl=true;user_id=ana;x-extra=1"
        );
        let u = SparkUrl::parse("sc://[::1]:15003;use_ssl=true").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.use_ssl), ("::1", 15003, true));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert!(SparkUrl::parse("http://x").unwrap_err().contains("sc://"));
        assert!(SparkUrl::parse("sc://x:port").unwrap_err().contains("port"));
        assert!(
            SparkUrl::parse("sc://x/;use_ssl=maybe")
                .unwrap_err()
                .contains("use_ssl")
        );
        assert!(
            SparkUrl::parse("sc://:15002")
                .unwrap_err()
                .contains("no host")
        );
    }

    #[test]
    fn redaction_hides_the_token() {
        assert_eq!(
            redact("sc://h/;token=s3cret"),
            "sc://h:15002/;token=****;use_ssl=true"
        );
        assert_eq!(
            redact("sc://h:x/;token=s3cret;a=b"),
            "sc://h:x/;token=****;a=b"
        );
    }
}
