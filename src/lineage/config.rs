//! Where events go, found and ranked as OpenLineage's Python client does:
//!
//! 1. `OPENLINEAGE_DISABLED=true` (or `lineage: {enabled: false}`): no events.
//! 2. The transport of project.yml's `lineage:` section (the client's "user-defined config").
//! 3. The transport of an `openlineage.yml`: the file `OPENLINEAGE_CONFIG` names, else one in
//!    the current directory, else in the project directory, else `~/.openlineage/`.
//! 4. `OPENLINEAGE_URL` (with `OPENLINEAGE_API_KEY`, `OPENLINEAGE_ENDPOINT`): the http
//!    transport.
//! 5. Nothing configured: no events at all (the Python client would print them).
//!
//! The job namespace is `OPENLINEAGE_NAMESPACE`, else `lineage.namespace`, else the project name.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::project::lineage::{LineageConfig, TransportConfig};

/// A resolved transport.
#[derive(Clone, Debug, PartialEq)]
pub enum Transport {
    /// Each event as one JSON line on stderr.
    Console,
    /// Each event as one JSON line appended to a file.
    File(PathBuf),
    /// POSTed to an OpenLineage backend.
    Http(HttpTarget),
}

/// An OpenLineage HTTP endpoint and how to call it.
#[derive(Clone, PartialEq)]
pub struct HttpTarget {
    /// `{url}/{endpoint}`.
    pub url: String,
    /// Bearer token.
    pub api_key: Option<String>,
    /// Per request.
    pub timeout: Duration,
    /// Further attempts after a failed one.
    pub retries: u32,
    /// Gzip request bodies.
    pub gzip: bool,
}

impl std::fmt::Debug for HttpTarget {
    // The API key is a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTarget")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "****"))
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("gzip", &self.gzip)
            .finish()
    }
}

/// The lineage settings of an invocation.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Job namespace.
    pub namespace: String,
    /// Where events go.
    pub transport: Transport,
}

/// What the environment holds, read once (tests pass their own).
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: std::collections::BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    home: Option<PathBuf>,
}

impl Env {
    /// The process's environment, current directory and home.
    pub fn current() -> Env {
        Env {
            vars: std::env::vars()
                .filter(|(k, _)| k.starts_with("OPENLINEAGE_"))
                .collect(),
            cwd: std::env::current_dir().ok(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }

    /// An environment with these variables and nothing else.
    pub fn with_vars<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            cwd: None,
            home: None,
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The settings for a project named `project_name` in `root` with project.yml's `lineage:`
/// section; `Ok(None)` when no events are to be sent. An unreadable or invalid
/// `openlineage.yml` is an error (its message names the file).
pub fn resolve(
    project_name: &str,
    root: &Path,
    section: Option<&LineageConfig>,
    env: &Env,
) -> Result<Option<Settings>, String> {
    let disabled = env
        .var("OPENLINEAGE_DISABLED")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if disabled || section.and_then(|s| s.enabled) == Some(false) {
        return Ok(None);
    }
    let namespace = env
        .var("OPENLINEAGE_NAMESPACE")
        .map(str::to_string)
        .or_else(|| section.and_then(|s| s.namespace.clone()))
        .unwrap_or_else(|| project_name.to_string());
    let transport = match section.and_then(|s| s.transport.as_ref()) {
        Some(t) => Some(from_config(t, root)?),
        None => match find_config_file(root, env) {
            Some(path) => read_config_file(&path)?,
            None => None,
        },
    };
    let transport = transport.or_else(|| {
        env.var("OPENLINEAGE_URL").map(|url| {
            Transport::Http(HttpTarget {
                url: join_url(url, env.var("OPENLINEAGE_ENDPOINT")),
                api_key: env.var("OPENLINEAGE_API_KEY").map(str::to_string),
                timeout: DEFAULT_TIMEOUT,
                retries: DEFAULT_RETRIES,
                gzip: false,
            })
        })
    });
    Ok(transport.map(|transport| Settings {
        namespace,
        transport,
    }))
}

/// Seconds an HTTP request may take, as in the Python client.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Further attempts after a failed request.
const DEFAULT_RETRIES: u32 = 2;

fn join_url(url: &str, endpoint: Option<&str>) -> String {
    let endpoint = endpoint.unwrap_or("api/v1/lineage");
    format!(
        "{}/{}",
        url.trim_end_matches('/'),
        endpoint.trim_start_matches('/')
    )
}

/// The first `openlineage.yml` of the ranked places.
fn find_config_file(root: &Path, env: &Env) -> Option<PathBuf> {
    let candidates = [
        env.var("OPENLINEAGE_CONFIG").map(PathBuf::from),
        env.cwd.as_ref().map(|d| d.join("openlineage.yml")),
        Some(root.join("openlineage.yml")),
        env.home
            .as_ref()
            .map(|h| h.join(".openlineage").join("openlineage.yml")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// Reads the `transport:` of an `openlineage.yml` (the Python client's format: `type`, `url`,
/// `endpoint`, `timeout`, `auth: {type: api_key, apiKey}`, `compression`, `log_file_path`).
fn read_config_file(path: &Path) -> Result<Option<Transport>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let node =
        crate::project::yaml::parse(&text, path).map_err(|d| format!("{shown}: {}", d.message))?;
    let json = node.to_json();
    let Some(t) = json.get("transport").filter(|t| t.is_object()) else {
        return Ok(None);
    };
    let s = |k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let api_key = t
        .get("auth")
        .and_then(|a| {
            ["apiKey", "apikey", "api_key"]
                .iter()
                .find_map(|k| a.get(*k))
        })
        .or_else(|| t.get("api_key"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let config = TransportConfig {
        kind: s("type").unwrap_or_default(),
        url: s("url"),
        endpoint: s("endpoint"),
        api_key,
        timeout: t.get("timeout").and_then(|v| v.as_f64()),
        retries: t.get("retries").and_then(|v| v.as_u64()),
        compression: s("compression"),
        path: s("log_file_path").or_else(|| s("path")),
    };
    if config.kind.is_empty() {
        return Ok(None);
    }
    let base = path.parent().unwrap_or(Path::new("."));
    from_config(&config, base)
        .map(Some)
        .map_err(|e| format!("{shown}: {e}"))
}

/// A transport from its configuration; a relative file path is taken from `base`.
fn from_config(t: &TransportConfig, base: &Path) -> Result<Transport, String> {
    match t.kind.as_str() {
        "console" => Ok(Transport::Console),
        "file" => {
            let p = PathBuf::from(t.path.as_deref().ok_or("the file transport needs `path`")?);
            Ok(Transport::File(if p.is_absolute() {
                p
            } else {
                base.join(p)
            }))
        }
        "http" => {
            let url = t.url.as_deref().ok_or("the http transport needs `url`")?;
            Ok(Transport::Http(HttpTarget {
                url: join_url(url, t.endpoint.as_deref()),
                api_key: t.api_key.as_deref().map(render_env_var).transpose()?,
                timeout: t
                    .timeout
                    .map(Duration::from_secs_f64)
                    .unwrap_or(DEFAULT_TIMEOUT),
                retries: t.retries.map(|r| r as u32).unwrap_or(DEFAULT_RETRIES),
                gzip: t.compression.as_deref() == Some("gzip"),
            }))
        }
        other => Err(format!(
            "unknown lineage transport type `{other}` (expected console, file or http)"
        )),
    }
}

/// `{{ env_var('NAME') }}` (optionally with a default) is the variable's value; any other
/// text is itself. The key stays out of project.yml that way.
fn render_env_var(text: &str) -> Result<String, String> {
    let t = text.trim();
    let Some(inner) = t
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .map(str::trim)
        .and_then(|s| s.strip_prefix("env_var("))
        .and_then(|s| s.strip_suffix(')'))
    else {
        return Ok(text.to_string());
    };
    let args: Vec<String> = inner
        .split(',')
        .map(|a| a.trim().trim_matches(['\'', '"']).to_string())
        .collect();
    match std::env::var(&args[0]) {
        Ok(v) => Ok(v),
        Err(_) => args.get(1).cloned().ok_or_else(|| {
            format!(
                "environment variable `{}` (lineage api_key) is not set",
                args[0]
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(url: &str) -> TransportConfig {
        TransportConfig {
            kind: "http".into(),
            url: Some(url.into()),
            ..Default::default()
        }
    }

    #[test]
    fn nothing_configured_means_no_events() {
        let env = Env::with_vars([]);
        assert_eq!(
            resolve("p", Path::new("/nonexistent"), None, &env),
            Ok(None)
        );
    }

    #[test]
    fn disabled_wins_over_everything() {
        let section = LineageConfig {
            transport: Some(http("http://a")),
            ..Default::default()
        };
        let env = Env::with_vars([
            ("OPENLINEAGE_DISABLED", "TRUE"),
            ("OPENLINEAGE_URL", "http://b"),
        ]);
        assert_eq!(
            resolve("p", Path::new("/x"), Some(&section), &env),
            Ok(None)
        );
    }

    #[test]
    fn project_transport_ranks_above_openlineage_url() {
        let section = LineageConfig {
            transport: Some(http("http://a/")),
            ..Default::default()
        };
        let env = Env::with_vars([
            ("OPENLINEAGE_URL", "http://b"),
            ("OPENLINEAGE_NAMESPACE", "ns"),
        ]);
        let s = resolve("p", Path::new("/x"), Some(&section), &env)
            .unwrap()
            .unwrap();
        assert_eq!(s.namespace, "ns");
        match s.transport {
            Transport::Http(h) => assert_eq!(h.url, "http://a/api/v1/lineage"),
            t => panic!("{t:?}"),
        }
    }

    #[test]
    fn openlineage_url_with_key_and_endpoint() {
        let env = Env::with_vars([
            ("OPENLINEAGE_URL", "http://m:5000"),
            ("OPENLINEAGE_API_KEY", "k"),
            ("OPENLINEAGE_ENDPOINT", "/custom"),
        ]);
        let s = resolve("proj", Path::new("/nonexistent"), None, &env)
            .unwrap()
            .unwrap();
        assert_eq!(s.namespace, "proj");
        let Transport::Http(h) = s.transport else {
            panic!()
        };
        assert_eq!(
            (h.url.as_str(), h.api_key.as_deref()),
            ("http://m:5000/custom", Some("k"))
        );
        assert!(!format!("{h:?}").contains("\"k\""));
    }

    #[test]
    fn openlineage_yml_named_by_openlineage_config() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ol.yml");
        std::fs::write(
            &f,
            "transport:\n  type: http\n  url: http://m:5000\n  compression: gzip\n  auth:\n    type: api_key\n    apiKey: abc\n",
        )
        .unwrap();
        let env = Env::with_vars([
            ("OPENLINEAGE_CONFIG", f.to_str().unwrap()),
            ("OPENLINEAGE_URL", "http://other"),
        ]);
        let s = resolve("p", dir.path(), None, &env).unwrap().unwrap();
        let Transport::Http(h) = s.transport else {
            panic!()
        };
        assert_eq!(h.url, "http://m:5000/api/v1/lineage");
        assert_eq!(h.api_key.as_deref(), Some("abc"));
        assert!(h.gzip);
        // In the project directory, a file transport relative to the file.
        std::fs::write(
            dir.path().join("openlineage.yml"),
            "transport:\n  type: file\n  log_file_path: events.jsonl\n  append: true\n",
        )
        .unwrap();
        let s = resolve("p", dir.path(), None, &Env::with_vars([]))
            .unwrap()
            .unwrap();
        assert_eq!(
            s.transport,
            Transport::File(dir.path().join("events.jsonl"))
        );
    }

    #[test]
    fn api_key_from_env_var() {
        // SAFETY-free: a variable name no other test uses.
        assert_eq!(render_env_var("plain").unwrap(), "plain");
        assert_eq!(
            render_env_var("{{ env_var('STRATA_TEST_NO_SUCH_VAR_OL', 'dflt') }}").unwrap(),
            "dflt"
        );
        assert!(render_env_var("{{ env_var(\"STRATA_TEST_NO_SUCH_VAR_OL\") }}").is_err());
    }
}
