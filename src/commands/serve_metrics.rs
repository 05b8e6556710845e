//! `strata serve-metrics`: a Prometheus exporter. The project is compiled once; each scrape of
//! `/metrics` opens the target read-only, checks freshness live (within `--scrape-timeout`)
//! and answers with the OpenMetrics exposition. The connection is closed between scrapes, so
//! a DuckDB file stays free for the runs that write it.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::freshness::{Scope, selected_specs};
use super::{ExitStatus, Output, compile_project, select_nodes};
use crate::cli::{CompileArgs, GlobalArgs, SelectArgs};
use crate::compile::Compiled;
use crate::freshness::Spec;
use crate::freshness::metrics::Metrics;
use crate::freshness::runner::run_checks;

/// Runs the exporter until the process is stopped.
pub fn run(
    global: &GlobalArgs,
    compile: &CompileArgs,
    select: &SelectArgs,
    listen: &str,
    scrape_timeout: f64,
) -> Result<ExitStatus> {
    let out = Output::new(global);
    let Some(c) = compile_project(global, compile, false, &out)? else {
        return Ok(ExitStatus::Error);
    };
    let Some(picked) = select_nodes(&c, select, &out) else {
        return Ok(ExitStatus::Error);
    };
    let specs = selected_specs(&c, &picked, Scope::All);
    let Some((server, addr)) = super::bind_http(listen, "", &out) else {
        return Ok(ExitStatus::Error);
    };
    out.always(
        &format!(
            "serving metrics of {} freshness checks on http://{addr}/metrics",
            specs.len()
        ),
        serde_json::json!({"event": "serving", "address": addr, "checks": specs.len()}),
    );
    let timeout = Duration::from_secs_f64(scrape_timeout.max(0.1));
    for request in server.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("").to_string();
        let response = if path == "/metrics" {
            let body = scrape(&c, &specs, timeout, &out);
            let header = tiny_http::Header::from_bytes(
                "Content-Type",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
            .expect("a valid header");
            tiny_http::Response::from_string(body).with_header(header)
        } else {
            tiny_http::Response::from_string("strata exporter: see /metrics\n")
                .with_status_code(404)
        };
        let _ = request.respond(response);
    }
    Ok(ExitStatus::Success)
}

/// One scrape: every check, live, within `timeout`.
pub fn scrape(c: &Compiled, specs: &[Spec], timeout: Duration, out: &Output) -> String {
    let t0 = Instant::now();
    let metrics = Metrics::new(&c.project.name);
    for s in specs {
        metrics.add_thresholds(s);
    }
    // No waiting for a busy database (a build holding a DuckDB file): the scrape says the
    // checks failed now rather than late.
    match crate::adapter::open(&c.target, &c.project.root, true, super::notices(out)) {
        Ok(adapter) => {
            let threads = (c.target.info.threads as usize).max(1);
            let results = run_checks(
                adapter.as_ref(),
                specs,
                threads,
                Some(t0 + timeout),
                &|_, _| {},
            );
            for (spec, r) in specs.iter().zip(results) {
                match r {
                    Some((r, _)) => metrics.add_freshness(&r),
                    None => metrics.add_unfinished(spec),
                }
            }
        }
        Err(_) => {
            for s in specs {
                metrics.add_unfinished(s);
            }
        }
    }
    metrics.add_scrape(t0.elapsed().as_secs_f64());
    metrics.openmetrics()
}
