//! `strata source freshness` (sources only, dbt's command) and `strata freshness` (sources,
//! models and seeds): compile, select, run the checks on a read-only connection per worker,
//! write sources.json, metrics and, when asked, Prometheus alerting rules.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Result;

use super::{ExitStatus, Output, check_output_paths, compile_project, count, select_nodes};
use crate::cli::{FreshnessArgs, GlobalArgs, MetricsArgs};
use crate::compile::Compiled;
use crate::freshness::metrics::{Metrics, RunFacts, unix_now};
use crate::freshness::runner::run_checks;
use crate::freshness::{FreshnessResult, FreshnessStatus, Spec, sources_json, spec_of};
use crate::ir::ResourceType;

/// What a freshness command checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `strata source freshness`: source tables.
    Sources,
    /// `strata freshness`: sources, models and seeds.
    All,
}

impl Scope {
    fn command(self) -> &'static str {
        match self {
            Scope::Sources => "source freshness",
            Scope::All => "freshness",
        }
    }

    fn takes(self, t: ResourceType) -> bool {
        match self {
            Scope::Sources => t == ResourceType::Source,
            Scope::All => matches!(
                t,
                ResourceType::Source | ResourceType::Model | ResourceType::Seed
            ),
        }
    }
}

/// The checks of the selected nodes, in the project's order.
pub fn selected_specs<'c>(c: &'c Compiled, picked: &[usize], scope: Scope) -> Vec<Spec<'c>> {
    picked
        .iter()
        .map(|&i| &c.nodes[i])
        .filter(|n| scope.takes(n.resource_type))
        .filter_map(spec_of)
        .collect()
}

/// Runs `strata source freshness` or `strata freshness`.
pub fn run(
    global: &GlobalArgs,
    args: &FreshnessArgs,
    scope: Scope,
    rules: Option<&Path>,
) -> Result<ExitStatus> {
    let out = Output::new(global);
    let started_at = crate::freshness::time::now_rfc3339();
    let started = Instant::now();
    let Some(c) = compile_project(global, &args.compile, false, &out)? else {
        return Ok(ExitStatus::Error);
    };
    let Some(picked) = select_nodes(&c, &args.select, &out) else {
        return Ok(ExitStatus::Error);
    };
    let specs = selected_specs(&c, &picked, scope);
    for &i in &picked {
        let n = &c.nodes[i];
        if let Some(s) = n.source.as_deref()
            && s.freshness.is_some()
            && s.loaded_at_field.is_none()
        {
            out.note(&format!(
                "source {}.{} has `freshness:` but no `loaded_at_field:`: it is not checked",
                s.source_name, n.name
            ));
        }
    }
    if let Some(path) = rules {
        let yaml = crate::freshness::rules::rules_yaml(&c.project.name, &specs);
        crate::artifacts::replace_atomically(path, yaml.as_bytes())?;
        out.event(
            &format!("wrote Prometheus alerting rules to {}", path.display()),
            serde_json::json!({"event": "rules_written", "path": path}),
        );
    }
    if specs.is_empty() {
        let what = match scope {
            Scope::Sources => "source table",
            Scope::All => "source, model or seed",
        };
        out.event(
            &format!(
                "nothing to check: no selected {what} has `freshness:` with `loaded_at_field:`"
            ),
            serde_json::json!({"event": "freshness_finished", "results": 0}),
        );
        return Ok(ExitStatus::Success);
    }
    if !check_output_paths(&c, args.junit_xml.as_deref(), &out) {
        return Ok(ExitStatus::Error);
    }
    let adapter = match super::run::open_adapter(&c, true, &out) {
        Ok(a) => a,
        Err(e) => {
            out.always(
                &format!("cannot open target `{}`: {e}", c.target.info.name),
                serde_json::json!({"event": "error", "message": e.message}),
            );
            return Ok(ExitStatus::Failure);
        }
    };
    let threads = args
        .threads
        .unwrap_or(c.target.info.threads as usize)
        .max(1);
    if !out.is_json() && !out.is_quiet() {
        out.event(
            &format!(
                "Checking the freshness of {} on target `{}` with {}",
                count(specs.len(), "node"),
                c.target.info.name,
                count(threads.min(specs.len()), "thread")
            ),
            serde_json::Value::Null,
        );
    }
    let done = AtomicUsize::new(0);
    let lock = Mutex::new(());
    let total = specs.len();
    let on_done = |r: &FreshnessResult, _t: usize| {
        let _g = lock.lock().unwrap();
        let k = done.fetch_add(1, Ordering::SeqCst) + 1;
        print_result(&out, r, k, total);
    };
    let results = run_checks(adapter.as_ref(), &specs, threads, None, &on_done);
    let finished: Vec<(FreshnessResult, usize)> = results.into_iter().flatten().collect();
    let elapsed = started.elapsed().as_secs_f64();
    let run = Finished {
        c: &c,
        specs: &specs,
        finished: &finished,
        scope,
        elapsed,
        started_at: &started_at,
    };
    write_outputs(&run, args, &out)?;
    let failed = finished.iter().any(|(r, _)| r.is_failure());
    summary(&out, &finished, elapsed);
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// What a freshness command checked, for the files it writes.
struct Finished<'a> {
    c: &'a Compiled,
    specs: &'a [Spec<'a>],
    finished: &'a [(FreshnessResult, usize)],
    scope: Scope,
    elapsed: f64,
    started_at: &'a str,
}

/// Writes sources.json, the JUnit report and the metrics, as asked.
fn write_outputs(run: &Finished, args: &FreshnessArgs, out: &Output) -> Result<()> {
    let Finished {
        c,
        specs,
        finished,
        scope,
        elapsed,
        started_at,
    } = *run;
    let invocation_id = uuid::Uuid::new_v4().to_string();
    let doc = sources_json::document(
        finished,
        &sources_json::Invocation {
            invocation_id: &invocation_id,
            started_at,
            elapsed,
        },
    );
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| crate::artifacts::artifacts_dir(c).join("sources.json"));
    crate::artifacts::replace_atomically(&path, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    if let Some(path) = &args.junit_xml {
        let results: Vec<crate::execute::NodeResult> = finished
            .iter()
            .map(|(r, t)| as_node_result(r, *t))
            .collect();
        let xml = crate::artifacts::junit::report(c, &results, scope.command(), elapsed);
        crate::artifacts::replace_atomically(path, xml.as_bytes())?;
    }
    let failed = finished.iter().any(|(r, _)| r.is_failure());
    let metrics = Metrics::new(&c.project.name);
    for s in specs {
        metrics.add_thresholds(s);
    }
    for (r, _) in finished {
        metrics.add_freshness(r);
    }
    let dir = crate::artifacts::artifacts_dir(c);
    let last_success = last_success(&dir, scope.command(), !failed);
    metrics.add_run(&RunFacts {
        command: scope.command(),
        success: !failed,
        seconds: elapsed,
        finished_at: unix_now(),
        last_success,
    });
    publish(&metrics, &args.metrics, &c.project.name, out)
}

fn word(s: FreshnessStatus) -> &'static str {
    match s {
        FreshnessStatus::Pass => "PASS",
        FreshnessStatus::Warn => "WARN",
        FreshnessStatus::Error => "ERROR STALE",
        FreshnessStatus::RuntimeError => "ERROR",
    }
}

fn print_result(out: &Output, r: &FreshnessResult, k: usize, total: usize) {
    let max = r.max_loaded_at.map(crate::freshness::time::rfc3339);
    let json = serde_json::json!({
        "event": "freshness_checked",
        "unique_id": r.unique_id,
        "status": r.status,
        "max_loaded_at": max,
        "age_seconds": r.age_seconds,
        "read_as_utc": r.read_as_utc,
        "message": r.message,
        "execution_time": r.execution_time,
        "index": k,
        "total": total,
    });
    let line = format!(
        "{k:>w$} of {total} {:<5} freshness of {} {} — {}",
        word(r.status),
        r.resource_type.as_str(),
        r.display,
        r.message,
        w = total.to_string().len()
    );
    if r.status == FreshnessStatus::Pass || r.status == FreshnessStatus::Warn {
        out.event(&line, json);
    } else {
        out.always(&line, json);
    }
}

fn summary(out: &Output, finished: &[(FreshnessResult, usize)], elapsed: f64) {
    let n = |s: FreshnessStatus| finished.iter().filter(|(r, _)| r.status == s).count();
    out.event(
        &format!(
            "Done in {elapsed:.2}s: {} PASS, {} WARN, {} ERROR STALE, {} RUNTIME ERROR",
            n(FreshnessStatus::Pass),
            n(FreshnessStatus::Warn),
            n(FreshnessStatus::Error),
            n(FreshnessStatus::RuntimeError)
        ),
        serde_json::json!({"event": "freshness_finished", "elapsed_time": elapsed,
            "results": finished.len(), "pass": n(FreshnessStatus::Pass), "warn": n(FreshnessStatus::Warn),
            "error": n(FreshnessStatus::Error), "runtime_error": n(FreshnessStatus::RuntimeError)}),
    );
}

/// When a run of `command` last succeeded: now when this one did, else the time recorded by
/// the last one that did (kept in the artifacts directory, `metrics-state.json`).
pub fn last_success(artifacts: &Path, command: &str, succeeded: bool) -> Option<f64> {
    let path = artifacts.join("metrics-state.json");
    let mut state: serde_json::Map<String, serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    if succeeded {
        let now = unix_now();
        state.insert(command.to_string(), now.into());
        let text = serde_json::to_string_pretty(&state).unwrap_or_default();
        let _ = crate::artifacts::replace_atomically(&path, text.as_bytes());
        return Some(now);
    }
    state.get(command).and_then(serde_json::Value::as_f64)
}

/// Writes the metrics file and pushes to the pushgateway, as asked.
pub fn publish(metrics: &Metrics, args: &MetricsArgs, project: &str, out: &Output) -> Result<()> {
    if let Some(path) = &args.metrics_file {
        crate::artifacts::replace_atomically(path, metrics.text().as_bytes())?;
    }
    if let Some(url) = &args.pushgateway
        && let Err(e) = crate::freshness::push::push(url, project, &metrics.text())
    {
        out.always(
            &format!("cannot push the metrics to {url}: {e}"),
            serde_json::json!({"event": "error", "message": e.to_string()}),
        );
    }
    Ok(())
}

/// The metrics of a `seed`/`run`/`test`/`build`: every node, the freshness checks it ran and
/// the run; written and pushed as `--metrics-file`/`--pushgateway` ask.
pub fn publish_run(
    c: &Compiled,
    command: &str,
    results: &[crate::execute::NodeResult],
    elapsed: f64,
    status: ExitStatus,
    args: &MetricsArgs,
    out: &Output,
) -> Result<()> {
    if args.metrics_file.is_none() && args.pushgateway.is_none() {
        return Ok(());
    }
    let metrics = Metrics::new(&c.project.name);
    let by_id: std::collections::BTreeMap<&str, &crate::ir::CompiledNode> =
        c.nodes.iter().map(|n| (n.unique_id.as_str(), n)).collect();
    for r in results {
        let Some(n) = by_id.get(r.unique_id.as_str()) else {
            continue;
        };
        let status = serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        metrics.add_node(&crate::freshness::metrics::NodeFacts {
            unique_id: &r.unique_id,
            name: &n.name,
            resource_type: n.resource_type.as_str(),
            status: &status,
            seconds: r.execution_time,
            rows: r.rows_affected,
            failures: r.failures,
        });
        if let Some(spec) = spec_of(n) {
            metrics.add_thresholds(&spec);
        }
        if let Some(f) = &r.freshness {
            metrics.add_freshness(f);
        }
    }
    let success = status == ExitStatus::Success;
    let dir = crate::artifacts::artifacts_dir(c);
    metrics.add_run(&RunFacts {
        command,
        success,
        seconds: elapsed,
        finished_at: unix_now(),
        last_success: last_success(&dir, command, success),
    });
    publish(&metrics, args, &c.project.name, out)
}

/// `source_status:fresher` in `--select`, expanded (see `freshness::state`): `Some(None)` when
/// no term uses it, `Some(Some(terms))` with the terms it became (empty: no source is
/// fresher, said here), `None` on an error (printed: exit 2).
pub fn expand_source_status(
    c: &Compiled,
    select: &[String],
    state: Option<&Path>,
    out: &Output,
) -> Option<Option<Vec<String>>> {
    use crate::freshness::state::{Expanded, expand};
    match expand(select, &crate::artifacts::artifacts_dir(c), state) {
        Ok(Expanded::Unchanged) => Some(None),
        Ok(Expanded::Replaced(terms)) => {
            if terms.is_empty() {
                out.event(
                    "source_status:fresher: no source was loaded since the --state run's `source freshness`: nothing to run",
                    serde_json::json!({"event": "nothing_fresher"}),
                );
            }
            Some(Some(terms))
        }
        Err(message) => {
            let mut diags = crate::diagnostics::Diagnostics::new();
            diags.push(crate::diagnostics::Diagnostic::error(
                crate::diagnostics::Code::InvalidSelector,
                message,
            ));
            out.diagnostics(&diags, &c.project.root);
            None
        }
    }
}

/// A check as a node's result (for the JUnit report): pass and warn as a test's, a stale
/// node a failure, a check that could not say an error.
fn as_node_result(r: &FreshnessResult, thread: usize) -> crate::execute::NodeResult {
    use crate::execute::Status;
    let status = match r.status {
        FreshnessStatus::Pass => Status::Pass,
        FreshnessStatus::Warn => Status::Warn,
        FreshnessStatus::Error => Status::Fail,
        FreshnessStatus::RuntimeError => Status::Error,
    };
    crate::execute::NodeResult {
        unique_id: r.unique_id.clone(),
        status,
        thread: Some(thread),
        started_at: Some(r.started_at.clone()),
        completed_at: Some(r.completed_at.clone()),
        execution_time: r.execution_time,
        rows_affected: None,
        failures: None,
        details: Vec::new(),
        message: r.message.clone(),
        attempts: 1,
        relation_name: None,
        compiled_code: None,
        line: None,
        freshness: Some(std::sync::Arc::new(r.clone())),
        start_instant: None,
        end_instant: None,
    }
}
