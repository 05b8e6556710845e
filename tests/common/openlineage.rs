//! Validation of OpenLineage events against the official JSON Schemas in
//! `../shared/openlineage-spec/` (the spec tree published under `https://openlineage.io/spec/`,
//! mapped to that folder): the event against the core schema, each facet against its own
//! schema file, formats asserted (UUIDs, RFC 3339 times, URIs). Also an in-process HTTP
//! receiver that records what an OpenLineage backend would get.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

/// Where the published spec tree is kept.
pub fn spec_dir() -> PathBuf {
    super::root().join("../shared/openlineage-spec")
}

const SPEC_URL: &str = "https://openlineage.io/spec/";

/// Resolves `https://openlineage.io/spec/...` to the local copy.
struct SpecRetriever;

impl jsonschema::Retrieve for SpecRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let s = uri.as_str();
        let rel = s
            .strip_prefix(SPEC_URL)
            .ok_or_else(|| format!("not an OpenLineage spec URL: {s}"))?;
        let rel = rel.split('#').next().unwrap_or(rel);
        let text =
            std::fs::read_to_string(spec_dir().join(rel)).map_err(|e| format!("{s}: {e}"))?;
        Ok(serde_json::from_str(&text)?)
    }
}

fn compile(file: &str) -> (jsonschema::Validator, Value) {
    let text = std::fs::read_to_string(spec_dir().join(file))
        .unwrap_or_else(|e| panic!("{file}: {e} (is ../shared/openlineage-spec there?)"));
    let schema: Value = serde_json::from_str(&text).unwrap();
    let v = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .with_retriever(SpecRetriever)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{file} compiles: {e}"));
    (v, schema)
}

type Compiled = Arc<(jsonschema::Validator, Value)>;

fn schema(file: &str) -> Compiled {
    static CACHE: OnceLock<Mutex<HashMap<String, Compiled>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(file) {
        return v.clone();
    }
    let v = Arc::new(compile(file));
    cache.lock().unwrap().insert(file.to_string(), v.clone());
    v
}

fn errors(v: &jsonschema::Validator, instance: &Value, what: &str) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{what}: {e} at {}", e.instance_path()))
        .collect()
}

/// Checks one facet (`key` → `facet`) against the schema file its `_schemaURL` names.
fn facet_errors(key: &str, facet: &Value, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    let what = format!("{at}.{key}");
    let (Some(producer), Some(url)) = (
        facet.get("_producer").and_then(Value::as_str),
        facet.get("_schemaURL").and_then(Value::as_str),
    ) else {
        return vec![format!("{what}: no _producer or _schemaURL")];
    };
    if !producer.starts_with("https://") {
        out.push(format!("{what}: _producer `{producer}` is not a URL"));
    }
    let Some(file) = url
        .split('#')
        .next()
        .and_then(|u| u.strip_prefix(SPEC_URL))
        .filter(|f| f.starts_with("facets/"))
    else {
        return vec![format!("{what}: _schemaURL `{url}` is not a facet schema")];
    };
    let compiled = schema(file);
    let (v, doc) = &*compiled;
    // The schema file declares the facet's key; a facet under another key would pass unseen.
    if doc["properties"].get(key).is_none() {
        out.push(format!("{what}: {file} declares no facet `{key}`"));
    }
    let def = url.split("#/$defs/").nth(1).unwrap_or("");
    if doc["$defs"].get(def).is_none() {
        out.push(format!("{what}: {file} has no definition `{def}`"));
    }
    let newest = newest_version(file);
    if newest != file {
        out.push(format!("{what}: {file} is not the newest ({newest})"));
    }
    out.extend(errors(v, &serde_json::json!({ key: facet }), &what));
    out
}

/// The newest version of a facet schema file in the spec tree.
fn newest_version(file: &str) -> String {
    let name = file.rsplit('/').next().unwrap();
    let mut versions: Vec<Vec<u32>> = std::fs::read_dir(spec_dir().join("facets"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(name).is_file())
        .map(|e| {
            e.file_name()
                .to_string_lossy()
                .split('-')
                .map(|p| p.parse().unwrap_or(0))
                .collect()
        })
        .collect();
    versions.sort();
    let v = versions.last().unwrap();
    format!(
        "facets/{}/{name}",
        v.iter().map(u32::to_string).collect::<Vec<_>>().join("-")
    )
}

fn facets_errors(map: Option<&Value>, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = map.and_then(Value::as_object) {
        for (k, f) in m {
            out.extend(facet_errors(k, f, at));
        }
    }
    out
}

/// Every problem of one event: the core schema (2-0-2), each facet against its own schema,
/// the formats of ids and times.
pub fn event_errors(ev: &Value) -> Vec<String> {
    let core = schema("2-0-2/OpenLineage.json");
    let mut out = errors(&core.0, ev, "event");
    let url = ev["schemaURL"].as_str().unwrap_or("");
    if !url.ends_with("#/$defs/RunEvent") || !url.starts_with("https://openlineage.io/spec/2-0-2/")
    {
        out.push(format!("schemaURL `{url}`"));
    }
    let id = ev["run"]["runId"].as_str().unwrap_or("");
    if uuid::Uuid::parse_str(id).is_err() {
        out.push(format!("runId `{id}` is not a UUID"));
    }
    let time = ev["eventTime"].as_str().unwrap_or("");
    let zoned = time.ends_with('Z') || time.rfind(['+', '-']).is_some_and(|p| p > 18);
    if time.len() < 20 || time.as_bytes().get(10) != Some(&b'T') || !zoned {
        out.push(format!("eventTime `{time}` is not RFC 3339 with a zone"));
    }
    out.extend(facets_errors(ev["run"].get("facets"), "run.facets"));
    out.extend(facets_errors(ev["job"].get("facets"), "job.facets"));
    for side in ["inputs", "outputs"] {
        for (k, d) in ev[side].as_array().into_iter().flatten().enumerate() {
            let at = format!("{side}[{k}]");
            out.extend(facets_errors(d.get("facets"), &format!("{at}.facets")));
            out.extend(facets_errors(
                d.get("inputFacets"),
                &format!("{at}.inputFacets"),
            ));
            out.extend(facets_errors(
                d.get("outputFacets"),
                &format!("{at}.outputFacets"),
            ));
        }
    }
    out
}

/// Panics with every problem of every event.
pub fn assert_valid_events(events: &[Value]) {
    let problems: Vec<String> = events
        .iter()
        .enumerate()
        .flat_map(|(k, e)| {
            event_errors(e)
                .into_iter()
                .map(move |p| format!("event {k} ({} {}): {p}", e["eventType"], e["job"]["name"]))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// The request path.
    pub path: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `Content-Encoding` header.
    pub encoding: Option<String>,
    /// The event (decompressed).
    pub event: Value,
}

/// An OpenLineage backend in the test process: records each POST, answers 201.
pub struct Receiver {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// What arrived, in order.
    pub received: Arc<Mutex<Vec<Received>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Listens on `port` (0: any free port) of the loopback address.
    pub fn start(port: u16) -> Receiver {
        let server = Arc::new(tiny_http::Server::http(("127.0.0.1", port)).unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let thread = {
            let server = server.clone();
            let received = received.clone();
            std::thread::spawn(move || {
                for mut req in server.incoming_requests() {
                    let header = |name: &'static str| {
                        req.headers()
                            .iter()
                            .find(|h| h.field.equiv(name))
                            .map(|h| h.value.as_str().to_string())
                    };
                    let authorization = header("Authorization");
                    let encoding = header("Content-Encoding");
                    let mut body = Vec::new();
                    req.as_reader().read_to_end(&mut body).unwrap();
                    if encoding.as_deref() == Some("gzip") {
                        let mut text = Vec::new();
                        flate2::read::GzDecoder::new(&body[..])
                            .read_to_end(&mut text)
                            .unwrap();
                        body = text;
                    }
                    let event = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    received.lock().unwrap().push(Received {
                        path: req.url().to_string(),
                        authorization,
                        encoding,
                        event,
                    });
                    let _ = req.respond(tiny_http::Response::empty(201));
                }
            })
        };
        Receiver {
            url: format!("http://127.0.0.1:{port}"),
            received,
            server,
            thread: Some(thread),
        }
    }

    /// The events received so far.
    pub fn events(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.event.clone())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The events of a JSON-lines file.
pub fn read_jsonl(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
