//! The `lineage:` section of project.yml: where OpenLineage events go. Read as written (with
//! positions for diagnostics); `lineage::config` ranks it against `openlineage.yml` and the
//! `OPENLINEAGE_*` variables.
//!
//! ```yaml
//! lineage:
//!   namespace: ofitec            # job namespace (default: the project name)
//!   transport:
//!     type: http                 # console | file | http
//!     url: http://localhost:5000
//!     endpoint: api/v1/lineage
//!     api_key: "{{ env_var('MARQUEZ_API_KEY') }}"
//!     timeout: 5
//!     retries: 2
//!     compression: gzip
//! ```

use std::path::Path;

use crate::diagnostics::{Code, Diagnostic, Diagnostics};

use super::yaml::{self, MapReader, Node};

/// What project.yml says about lineage events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineageConfig {
    /// `enabled: false` turns events off.
    pub enabled: Option<bool>,
    /// The job namespace.
    pub namespace: Option<String>,
    /// Where events go.
    pub transport: Option<TransportConfig>,
}

/// A transport as configured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransportConfig {
    /// `console`, `file` or `http`.
    pub kind: String,
    /// http: the backend's base URL.
    pub url: Option<String>,
    /// http: the path events are posted to (default `api/v1/lineage`).
    pub endpoint: Option<String>,
    /// http: the bearer token; may be `{{ env_var('NAME') }}`.
    pub api_key: Option<String>,
    /// http: seconds per request (default 5).
    pub timeout: Option<f64>,
    /// http: further attempts after a failed one (default 2).
    pub retries: Option<u64>,
    /// http: `gzip` compresses request bodies.
    pub compression: Option<String>,
    /// file: the JSON-lines file events are appended to.
    pub path: Option<String>,
}

/// The transport types strata knows.
pub const TRANSPORT_TYPES: [&str; 3] = ["console", "file", "http"];

/// Reads the `lineage:` mapping; every problem is reported at its line.
pub fn read(node: &Node, file: &Path, diags: &mut Diagnostics) -> LineageConfig {
    let Some(mut r) = MapReader::new(node, file, "`lineage`", diags) else {
        return LineageConfig::default();
    };
    let enabled = r.bool(&["enabled"], diags);
    let namespace = r.string(&["namespace"], diags);
    let transport = r
        .take(&["transport"])
        .and_then(|t| read_transport(t, file, diags));
    r.finish(diags);
    LineageConfig {
        enabled,
        namespace,
        transport,
    }
}

fn read_transport(node: &Node, file: &Path, diags: &mut Diagnostics) -> Option<TransportConfig> {
    let mut r = MapReader::new(node, file, "`lineage.transport`", diags)?;
    let kind = r.required_string("type", node, diags);
    let kind_node = r.take(&["type"]);
    let t = TransportConfig {
        kind: kind.clone().unwrap_or_default(),
        url: r.string(&["url"], diags),
        endpoint: r.string(&["endpoint"], diags),
        api_key: r.string(&["api_key"], diags),
        timeout: r
            .take(&["timeout"])
            .and_then(|n| yaml::expect_f64(n, file, "timeout", diags)),
        retries: r
            .take(&["retries"])
            .and_then(|n| yaml::expect_u64(n, file, "retries", diags)),
        compression: r.string(&["compression"], diags),
        path: r.string(&["path", "log_file_path"], diags),
    };
    r.finish(diags);
    let kind = kind?;
    let at = kind_node.unwrap_or(node).span(file);
    if !TRANSPORT_TYPES.contains(&kind.as_str()) {
        diags.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!("unknown lineage transport type `{kind}`"),
            )
            .at(at)
            .with_help_opt(
                crate::diagnostics::suggest(&kind, TRANSPORT_TYPES)
                    .or_else(|| Some(format!("expected one of: {}", TRANSPORT_TYPES.join(", ")))),
            ),
        );
        return None;
    }
    let missing = match kind.as_str() {
        "http" if t.url.is_none() => Some("url"),
        "file" if t.path.is_none() => Some("path"),
        _ => None,
    };
    if let Some(key) = missing {
        diags.push(
            Diagnostic::error(
                Code::MissingKey,
                format!("the `{kind}` lineage transport needs `{key}`"),
            )
            .at(at),
        );
        return None;
    }
    if let Some(c) = &t.compression
        && c != "gzip"
    {
        diags.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!("unknown compression `{c}`: only `gzip` is supported"),
            )
            .at(node.span(file)),
        );
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> (LineageConfig, Diagnostics) {
        let n = yaml::parse(text, Path::new("project.yml")).unwrap();
        let mut d = Diagnostics::new();
        let c = read(&n, Path::new("project.yml"), &mut d);
        (c, d)
    }

    #[test]
    fn reads_an_http_transport() {
        let (c, d) = read_text(
            "namespace: ofitec\ntransport:\n  type: http\n  url: http://x:5000\n  compression: gzip\n  timeout: 2.5\n",
        );
        assert!(d.items().is_empty(), "{:?}", d.items());
        assert_eq!(c.namespace.as_deref(), Some("ofitec"));
        let t = c.transport.unwrap();
        assert_eq!(
            (t.kind.as_str(), t.url.as_deref()),
            ("http", Some("http://x:5000"))
        );
        assert_eq!(t.timeout, Some(2.5));
    }

    #[test]
    fn unknown_keys_and_types_are_errors() {
        let (_, d) = read_text("namespce: x\ntransport:\n  type: htp\n  url: u\n");
        let msgs: Vec<String> = d
            .items()
            .iter()
            .map(|i| format!("{} {:?}", i.message, i.help))
            .collect();
        assert!(
            msgs.iter()
                .any(|m| m.contains("unknown key `namespce`") && m.contains("namespace")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("`htp`") && m.contains("http")),
            "{msgs:?}"
        );
    }
}
