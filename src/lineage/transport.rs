//! Sending one serialized event: to stderr, to a JSON-lines file, or POSTed to an OpenLineage
//! backend (bearer key, timeout, retries with backoff, optional gzip).

use std::io::Write;
use std::time::Duration;

use super::config::{HttpTarget, Transport};

/// A transport, ready to send.
pub enum Sink {
    /// stderr.
    Console,
    /// A file opened for appending.
    File(std::fs::File),
    /// An HTTP backend.
    Http(Box<HttpSink>),
}

/// An HTTP backend and the agent that calls it.
pub struct HttpSink {
    target: HttpTarget,
    /// The URL as messages show it: without user or password.
    shown: String,
    agent: ureq::Agent,
}

/// `url` without the `user:password@` part.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

impl Sink {
    /// Opens `t` (a file transport creates its file and folder).
    pub fn open(t: &Transport) -> Result<Sink, String> {
        match t {
            Transport::Console => Ok(Sink::Console),
            Transport::File(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map(Sink::File)
                    .map_err(|e| format!("cannot open {}: {e}", p.display()))
            }
            Transport::Http(h) => {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(h.timeout))
                    .http_status_as_error(false)
                    .build()
                    .into();
                Ok(Sink::Http(Box::new(HttpSink {
                    target: h.clone(),
                    shown: without_userinfo(&h.url),
                    agent,
                })))
            }
        }
    }

    /// True for a sink that can be down (http): its undelivered events are kept in the spool.
    pub fn is_remote(&self) -> bool {
        matches!(self, Sink::Http(_))
    }

    /// Sends one event (a JSON object on one line), retrying an HTTP backend as configured.
    pub fn send(&mut self, event: &str) -> Result<(), String> {
        match self {
            Sink::Console => {
                eprintln!("{event}");
                Ok(())
            }
            Sink::File(f) => writeln!(f, "{event}").map_err(|e| e.to_string()),
            Sink::Http(h) => h.send(event, true),
        }
    }

    /// Sends one event with a single attempt (used once the backend is known to be down, and
    /// by `lineage send`, which stops at the first failure).
    pub fn send_once(&mut self, event: &str) -> Result<(), String> {
        match self {
            Sink::Http(h) => h.send(event, false),
            other => other.send(event),
        }
    }
}

impl HttpSink {
    fn send(&self, event: &str, retry: bool) -> Result<(), String> {
        let body = if self.target.gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(3));
            enc.write_all(event.as_bytes())
                .and_then(|_| enc.finish())
                .map_err(|e| format!("cannot compress an event: {e}"))?
        } else {
            event.as_bytes().to_vec()
        };
        let attempts = if retry { self.target.retries + 1 } else { 1 };
        let mut delay = Duration::from_millis(100);
        let mut last = String::new();
        for k in 0..attempts {
            if k > 0 {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            match self.post(&body) {
                Ok(()) => return Ok(()),
                Err((msg, retryable)) => {
                    last = msg;
                    if !retryable {
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    /// One POST; the error says whether another attempt may succeed.
    fn post(&self, body: &[u8]) -> Result<(), (String, bool)> {
        let mut req = self
            .agent
            .post(&self.target.url)
            .header("Content-Type", "application/json");
        if self.target.gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        if let Some(key) = &self.target.api_key {
            req = req.header("Authorization", &format!("Bearer {key}"));
        }
        match req.send(body) {
            Ok(resp) => {
                let status = resp.status().as_u16();
                if (200..300).contains(&status) {
                    Ok(())
                } else {
                    let retryable = status == 429 || status >= 500;
                    Err((format!("{} answered HTTP {status}", self.shown), retryable))
                }
            }
            Err(e) => Err((
                format!("cannot reach {}: {e}", self.shown).replace(&self.target.url, &self.shown),
                true,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_show_no_credentials() {
        assert_eq!(
            super::without_userinfo("http://ana:pw@m:5000/api/v1/lineage"),
            "http://m:5000/api/v1/lineage"
        );
        assert_eq!(
            super::without_userinfo("http://m:5000/x@y"),
            "http://m:5000/x@y"
        );
    }
}
