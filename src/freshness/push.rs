//! Pushing metrics to a Prometheus pushgateway: `PUT <url>/metrics/job/strata/project/<name>`,
//! which replaces the group's metrics with these (a check that stopped being reported goes away).

/// Pushes `body` (Prometheus text format) for `project`.
pub fn push(url: &str, project: &str, body: &str) -> Result<(), String> {
    let target = format!(
        "{}/metrics/job/strata/project/{}",
        url.trim_end_matches('/'),
        path_segment(project)
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    agent
        .put(&target)
        .header("Content-Type", "text/plain; version=0.0.4")
        .send(body)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Percent-encodes what a URL path segment cannot hold as it is.
fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
