//! `strata seed`, `strata run`, `strata build` and `strata retry`: compile, select, then run
//! the nodes on the target with the scheduler, and write `run_results.json`.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{ExitStatus, Output, check_output_paths, compile_project, count, select_nodes};
use crate::adapter::retry::Backoff;
use crate::adapter::{self, Adapter, Connection, DbResult, Interrupter, RelationKind};
use crate::artifacts::run_results::{self, Invocation};
use crate::cli::{CompileArgs, GlobalArgs, RunArgs, SelectArgs};
use crate::compile::Compiled;
use crate::execute::{self, CancelToken, NodeResult, Reporter, RunOptions, Status};
use crate::ir::ResourceType;
use crate::ir::config::Materialized;
use crate::ir::{ColumnMeta, CompiledNode, Relation, Target};

/// Which verb is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// Seeds only.
    Seed,
    /// Models only.
    Run,
    /// Tests only.
    Test,
    /// Seeds, models and tests.
    Build,
}

impl RunKind {
    fn name(self) -> &'static str {
        match self {
            RunKind::Seed => "seed",
            RunKind::Run => "run",
            RunKind::Test => "test",
            RunKind::Build => "build",
        }
    }

    fn parse(s: &str) -> Option<RunKind> {
        match s {
            "seed" => Some(RunKind::Seed),
            "run" => Some(RunKind::Run),
            "test" => Some(RunKind::Test),
            "build" => Some(RunKind::Build),
            _ => None,
        }
    }

    /// What the verb runs, for messages.
    fn runs_what(self) -> &'static str {
        match self {
            RunKind::Seed => "seeds",
            RunKind::Run => "models (not ephemeral ones)",
            RunKind::Test => "data tests and unit tests",
            RunKind::Build => "seeds, models and tests",
        }
    }

    fn runs(self, n: &CompiledNode) -> bool {
        match n.resource_type {
            ResourceType::Seed => matches!(self, RunKind::Seed | RunKind::Build),
            ResourceType::Model => {
                matches!(self, RunKind::Run | RunKind::Build)
                    && n.materialized() != Materialized::Ephemeral
            }
            ResourceType::Test => matches!(self, RunKind::Test | RunKind::Build),
            ResourceType::Source | ResourceType::Exposure => false,
        }
    }
}

/// Records each finished node in `run_results.json` and prints one line for it (above a
/// progress bar on a terminal), or a JSON event. When stdout is closed, the run is stopped.
struct LineReporter {
    json: bool,
    /// `--quiet`: only the nodes that failed are printed.
    quiet: bool,
    bar: Option<indicatif::ProgressBar>,
    lock: Mutex<()>,
    live: run_results::Live,
    cancel: CancelToken,
}

impl LineReporter {
    fn new(
        out: &Output,
        total: usize,
        live: run_results::Live,
        cancel: CancelToken,
    ) -> LineReporter {
        let json = out.is_json();
        let quiet = out.is_quiet();
        let bar = (!json && !quiet && std::io::stderr().is_terminal() && total > 0).then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {pos}/{len} {elapsed_precise}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        LineReporter {
            json,
            quiet,
            bar,
            lock: Mutex::new(()),
            live,
            cancel,
        }
    }

    /// Clears the progress bar and stops recording (the caller writes the final results).
    fn finish(self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        self.live.stop();
    }

    /// Prints a line; a closed stdout stops the run.
    fn print(&self, line: &str) {
        if !super::print_line(line) {
            self.cancel.cancel_because("the output was closed");
        }
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Success => "OK",
        Status::Error => "ERROR",
        Status::Skipped => "SKIP",
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Warn => "WARN",
        Status::Interrupted => "STOP",
    }
}

fn describe(n: &CompiledNode) -> String {
    match n.resource_type {
        ResourceType::Seed => format!(
            "seed {}",
            n.relation
                .as_ref()
                .map(|r| format!("{}.{}", r.schema, r.identifier))
                .unwrap_or_default()
        ),
        ResourceType::Model => format!(
            "{} {}",
            n.materialized().as_str(),
            n.relation
                .as_ref()
                .map(|r| format!("{}.{}", r.schema, r.identifier))
                .unwrap_or_default()
        ),
        ResourceType::Test if n.test.as_ref().is_some_and(|t| t.unit.is_some()) => {
            format!("unit test {}", n.name)
        }
        ResourceType::Test => format!("test {}", n.name),
        ResourceType::Source => format!(
            "freshness of source {}.{}",
            n.source
                .as_ref()
                .map(|s| s.source_name.as_str())
                .unwrap_or(""),
            n.name
        ),
        _ => n.name.clone(),
    }
}

impl Reporter for LineReporter {
    fn finished(&self, node: &CompiledNode, r: &NodeResult, done: usize, total: usize) {
        let _guard = self.lock.lock().unwrap();
        self.live.record(r);
        if self.quiet && !matches!(r.status, Status::Error | Status::Fail | Status::Interrupted) {
            return;
        }
        if self.json {
            let line = serde_json::json!({
                "event": "node_finished",
                "unique_id": r.unique_id,
                "status": r.status,
                "execution_time": r.execution_time,
                "rows_affected": r.rows_affected,
                "failures": r.failures,
                "attempts": r.attempts,
                "message": r.message,
                "details": r.details,
                "freshness": r.freshness.as_deref().map(crate::freshness::sources_json::log_fields),
                "index": done,
                "total": total,
            });
            self.print(&line.to_string());
            return;
        }
        let what = describe(node);
        let detail = match (r.status, r.rows_affected) {
            (Status::Success, Some(rows)) => format!(
                "{} in {:.2}s",
                count(rows as usize, "row"),
                r.execution_time
            ),
            (Status::Pass, _) if r.freshness.is_some() => {
                let age = r.freshness.as_deref().and_then(|f| f.age_seconds);
                let age = age.map(crate::freshness::time::age).unwrap_or_default();
                format!("loaded {age} ago, in {:.2}s", r.execution_time)
            }
            (Status::Success | Status::Pass, _) => format!("in {:.2}s", r.execution_time),
            (Status::Skipped, _) => "skipped".to_string(),
            _ => format!("{:.2}s", r.execution_time),
        };
        let width = done.to_string().len().max(total.to_string().len());
        let dots = ".".repeat(60usize.saturating_sub(what.chars().count()).max(3));
        let mut line = format!(
            "{done:>width$} of {total} {:<5} {what} {dots} [{detail}]",
            status_word(r.status)
        );
        if r.attempts > 1 {
            line.push_str(&format!(" after {} attempts", r.attempts));
        }
        if matches!(
            r.status,
            Status::Error | Status::Fail | Status::Warn | Status::Skipped | Status::Interrupted
        ) && !r.message.is_empty()
        {
            line.push_str(&format!("\n      {}", r.message.replace('\n', "\n      ")));
        }
        for d in &r.details {
            line.push_str(&format!("\n        {d}"));
        }
        match &self.bar {
            Some(b) => {
                b.println(line);
                b.inc(1);
            }
            None => self.print(&line),
        }
    }
}

/// Records statements instead of running them; reads what exists from a read-only connection.
struct DryRunConnection {
    inner: Box<dyn Connection>,
    statements: Vec<String>,
}

impl Connection for DryRunConnection {
    fn execute(&mut self, sql: &str) -> DbResult<u64> {
        self.statements.push(sql.to_string());
        Ok(0)
    }

    fn query(&mut self, sql: &str) -> DbResult<Vec<Vec<Option<String>>>> {
        self.statements.push(sql.to_string());
        Ok(Vec::new())
    }

    fn relation_kind(&mut self, relation: &Relation) -> DbResult<Option<RelationKind>> {
        self.inner.relation_kind(relation)
    }

    fn columns(&mut self, relation: &Relation) -> DbResult<Vec<ColumnMeta>> {
        self.inner.columns(relation)
    }

    fn dependents(&mut self, relation: &Relation) -> DbResult<Vec<crate::adapter::Dependent>> {
        self.inner.dependents(relation)
    }

    fn grants(&mut self, relation: &Relation) -> DbResult<Vec<(String, String)>> {
        self.inner.grants(relation)
    }

    fn describe(&mut self, sql: &str) -> DbResult<Vec<ColumnMeta>> {
        self.statements.push(format!("describe {sql}"));
        Ok(Vec::new())
    }

    fn load_text_rows(
        &mut self,
        relation: &Relation,
        columns: &[String],
        rows: &[Vec<Option<String>>],
    ) -> DbResult<()> {
        self.statements.push(format!(
            "-- load {} ({}) into {}",
            count(rows.len(), "row"),
            columns.join(", "),
            relation.quoted()
        ));
        Ok(())
    }

    fn interrupter(&self) -> Interrupter {
        self.inner.interrupter()
    }
}

/// Opens the target, retrying while the database is busy (another process holds the file).
pub(super) fn open_adapter(
    c: &Compiled,
    read_only: bool,
    out: &Output,
) -> DbResult<Arc<dyn Adapter>> {
    open_target(&c.target, &c.project.root, read_only, super::notices(out))
}

/// `open_adapter` for a target and a project directory.
pub(super) fn open_target(
    target: &Target,
    root: &Path,
    read_only: bool,
    notices: adapter::Notices,
) -> DbResult<Arc<dyn Adapter>> {
    let backoff = Backoff {
        attempts: 6,
        initial_delay: 0.5,
        max_delay: 8.0,
    };
    // A database file another process holds (DuckDB admits one writer): after a second of
    // retrying, say so, with the engine's words on who holds it.
    let started = Instant::now();
    let mut told = false;
    let attempt = || {
        let r = adapter::open(target, root, read_only, notices.clone());
        if let Err(e) = &r
            && e.is_transient()
            && !told
            && started.elapsed() >= Duration::from_secs(1)
        {
            told = true;
            notices(&format!(
                "waiting for the database of target `{}`, which another process holds: {}",
                target.info.name, e.message
            ));
        }
        r
    };
    backoff.run(attempt, || false).0
}

/// Calls `f` again while the database is busy: five calls over about four seconds.
fn with_retries<T>(f: impl FnMut() -> DbResult<T>) -> DbResult<T> {
    let backoff = Backoff {
        attempts: 5,
        initial_delay: 0.25,
        max_delay: f64::INFINITY,
    };
    backoff.run(f, || false).0
}

/// Runs `strata seed|run|test|build`; `empty` is `--empty` (run and build).
pub fn run(
    global: &GlobalArgs,
    kind: RunKind,
    args: &CompileArgs,
    sel: &SelectArgs,
    run_args: &RunArgs,
    empty: bool,
) -> Result<ExitStatus> {
    let invocation = Invocation {
        command: kind.name().into(),
        target: args.target.clone(),
        vars: args.vars.clone(),
        threads: run_args.threads,
        full_refresh: run_args.full_refresh,
        fail_fast: run_args.fail_fast,
        select: sel.select.clone(),
        exclude: sel.exclude.clone(),
        indirect_selection: sel.indirect_selection,
        state: args.state.clone(),
        junit_xml: run_args.junit_xml.clone(),
        profiles_dir: args.profiles_dir.clone(),
        profile: args.profile.clone(),
        empty,
        warn_error: global.warn_error,
        skip_freshness: run_args.skip_freshness,
    };
    execute_invocation(
        global,
        &invocation,
        run_args.dry_run,
        None,
        &run_args.metrics,
    )
}

/// Runs `strata retry`: the last invocation again, on the nodes that did not succeed: failed,
/// skipped, interrupted, or never reached because the run was killed. Failed tests run again
/// first, and the children of their models wait for them, as in a full build.
pub fn retry(global: &GlobalArgs) -> Result<ExitStatus> {
    let out = Output::new(global);
    // The artifacts path is in project.yml; read it without compiling.
    let Some(p) = super::load_project(global, &out) else {
        return Ok(ExitStatus::Error);
    };
    let dir = p.root.join(&p.paths.artifacts);
    let prev = run_results::read(&dir)?;
    let ids = prev.not_done();
    if prev.state == Some(run_results::RunState::Running) {
        out.event(
            &format!(
                "the last run did not finish (it was killed or crashed): {} of its {} nodes did not succeed",
                ids.len(),
                prev.selected.len()
            ),
            serde_json::json!({"event": "retry_unfinished", "nodes": ids.len()}),
        );
    }
    if ids.is_empty() {
        out.event(
            "nothing to retry: the last run had no failed or skipped nodes",
            serde_json::json!({"event": "retry", "nodes": 0}),
        );
        return Ok(ExitStatus::Success);
    }
    // `--warn-error` given to `retry` applies as well as the one the run was given.
    let mut invocation = prev.invocation.clone();
    invocation.warn_error |= global.warn_error;
    execute_invocation(global, &invocation, false, Some(ids), &Default::default())
}

fn execute_invocation(
    global: &GlobalArgs,
    inv: &Invocation,
    dry_run: bool,
    only: Option<BTreeSet<String>>,
    metrics: &crate::cli::MetricsArgs,
) -> Result<ExitStatus> {
    let out = Output::new(global);
    let Some(kind) = RunKind::parse(&inv.command) else {
        anyhow::bail!("the last run's command `{}` cannot be retried", inv.command);
    };
    let Some((mut c, selected)) = compile_and_select(global, inv, kind, only, &out)? else {
        return Ok(ExitStatus::Error);
    };
    let threads = inv.threads.unwrap_or(c.target.info.threads as usize).max(1);

    if dry_run {
        if inv.empty {
            super::empty::apply(&mut c, &selected);
        }
        return dry_run_plan(&c, &selected, &out, inv);
    }
    if !check_output_paths(&c, inv.junit_xml.as_deref(), &out) {
        return Ok(ExitStatus::Error);
    }
    let (written, manifest) = rayon::join(
        || crate::artifacts::write_compiled(&c, &selected),
        || crate::artifacts::write_manifest(&c, true),
    );
    written?;
    manifest?;
    // The compiled SQL written above is the models' own; only what runs reads zero rows.
    if inv.empty {
        super::empty::apply(&mut c, &selected);
    }

    let started = Instant::now();
    // One run at a time per target: the lock lives until this function returns.
    let Some((adapter, _run_lock)) = prepare_target(&c, &selected, &out) else {
        return Ok(ExitStatus::Failure);
    };

    let cancel = CancelToken::default();
    {
        let cancel = cancel.clone();
        // A second handler cannot be installed in one process; the first one stays in charge.
        let _ = ctrlc::set_handler(move || cancel.cancel());
    }
    let header = run_results::RunHeader::new(
        crate::artifacts::artifacts_dir(&c),
        inv.clone(),
        c.target.info.name.clone(),
        selected
            .iter()
            .map(|&i| c.nodes[i].unique_id.clone())
            .collect(),
    );
    let live = run_results::Live::start(header.clone(), started)?;
    let reporter = LineReporter::new(&out, selected.len(), live, cancel.clone());
    let opts = RunOptions {
        threads,
        fail_fast: inv.fail_fast,
        full_refresh: inv.full_refresh,
        warn_error: inv.warn_error,
        freshness: !inv.skip_freshness,
    };
    if !out.is_json() && !out.is_quiet() {
        reporter.print(&running_line(&c, selected.len(), threads, inv.empty));
    }
    let lineage = super::openlineage::start(&c, kind.name(), &out);
    let with_lineage = lineage.as_ref().map(|e| e.reporter(&reporter));
    let progress: &dyn Reporter = match &with_lineage {
        Some(r) => r,
        None => &reporter,
    };
    let late = super::late::Late::new(&c, &selected, inv.empty);
    let results = execute::run(
        &c,
        &selected,
        adapter.clone(),
        &opts,
        progress,
        &cancel,
        late.compiler(),
    );
    reporter.finish();
    let end_error = run_on_run_end(&c, adapter.as_ref(), &cancel);
    let elapsed = started.elapsed().as_secs_f64();
    let state = if cancel.is_cancelled() {
        run_results::RunState::Interrupted
    } else {
        run_results::RunState::Finished
    };
    run_results::write(&header, state, &results, elapsed)?;
    if let Some(path) = &inv.junit_xml {
        let xml = crate::artifacts::junit::report(&c, &results, kind.name(), elapsed);
        std::fs::write(path, xml)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }

    super::openlineage::finish(lineage, &results, cancel.is_cancelled(), &out);
    let status = report_run(&out, &results, elapsed, end_error.as_ref(), &cancel);
    super::freshness::publish_run(&c, kind.name(), &results, elapsed, status, metrics, &out)?;
    // The failures again, as the last thing printed.
    super::failures::print(&out, &c, &results, end_error.as_ref());
    let late_nodes = late.into_nodes();
    if !inv.empty {
        write_late_code(&mut c, &late_nodes, &results)?;
    }
    Ok(status)
}

/// The line a run starts with: how many nodes, where, with how many threads.
fn running_line(c: &Compiled, nodes: usize, threads: usize, empty: bool) -> String {
    format!(
        "Running {} on target `{}` ({}) with {}{}",
        count(nodes, "node"),
        c.target.info.name,
        c.target.info.kind.as_str(),
        count(threads.min(nodes.max(1)), "thread"),
        if empty {
            " (--empty: models are built with zero rows)"
        } else {
            ""
        }
    )
}

/// Runs `on-run-end` unless the run was stopped; the error it ended with, if any.
fn run_on_run_end(
    c: &Compiled,
    adapter: &dyn Adapter,
    cancel: &CancelToken,
) -> Option<crate::adapter::AdapterError> {
    if c.on_run_end.is_empty() || cancel.is_cancelled() {
        return None;
    }
    with_retries(|| {
        let mut conn = adapter.connect()?;
        crate::materialize::run_hooks(conn.as_mut(), &c.on_run_end)?;
        Ok(())
    })
    .err()
}

/// The compiled SQL files and manifest again, with the SQL the models compiled at run time
/// (their templates' queries answered) ran.
fn write_late_code(c: &mut Compiled, late: &[usize], results: &[NodeResult]) -> Result<()> {
    let mut changed = Vec::new();
    for &i in late {
        let id = &c.nodes[i].unique_id;
        let ran = results
            .iter()
            .find(|r| &r.unique_id == id && r.status.is_done())
            .and_then(|r| r.compiled_code.as_deref());
        if let Some(code) = ran {
            c.nodes[i].compiled_checksum = Some(crate::digest::sha256_hex(code.as_bytes()));
            c.nodes[i].compiled_code = Some(code.to_string());
            c.nodes[i].late_query = None;
            changed.push(i);
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    crate::artifacts::write_compiled(c, &changed)?;
    crate::artifacts::write_manifest(c, true)?;
    Ok(())
}

/// Compiles and selects the nodes `kind` runs; `None` when either failed (already reported).
fn compile_and_select(
    global: &GlobalArgs,
    inv: &Invocation,
    kind: RunKind,
    only: Option<BTreeSet<String>>,
    out: &Output,
) -> Result<Option<(Compiled, Vec<usize>)>> {
    let compile_args = CompileArgs {
        target: inv.target.clone(),
        profiles_dir: inv.profiles_dir.clone(),
        profile: inv.profile.clone(),
        vars: inv.vars.clone(),
        state: inv.state.clone(),
    };
    let Some(c) = compile_project(global, &compile_args, true, out)? else {
        return Ok(None);
    };
    let mut sel = SelectArgs {
        select: inv.select.clone(),
        exclude: inv.exclude.clone(),
        indirect_selection: inv.indirect_selection,
    };
    match super::freshness::expand_source_status(&c, &sel.select, inv.state.as_deref(), out) {
        None => return Ok(None),
        Some(Some(expanded)) if expanded.is_empty() => return Ok(Some((c, Vec::new()))),
        Some(Some(expanded)) => sel.select = expanded,
        Some(None) => {}
    }
    let Some(picked) = select_nodes(&c, &sel, out) else {
        return Ok(None);
    };
    // `build` checks the freshness of the sources it reads before the models that read them.
    let checks_source = |i: usize| {
        kind == RunKind::Build
            && !inv.skip_freshness
            && c.nodes[i].resource_type == ResourceType::Source
            && crate::freshness::spec_of(&c.nodes[i]).is_some()
    };
    let selected: Vec<usize> = picked
        .iter()
        .copied()
        .filter(|i| kind.runs(&c.nodes[*i]) || checks_source(*i))
        .collect();
    // A `--select` that leaves nothing to run is an error; an `--exclude` alone only when it
    // removed what would have run.
    let narrowed =
        !sel.select.is_empty() || (!sel.exclude.is_empty() && c.nodes.iter().any(|n| kind.runs(n)));
    if selected.is_empty() && narrowed {
        super::nothing_to_run(&c, &sel, kind.name(), kind.runs_what(), &picked, out);
        return Ok(None);
    }
    let selected: Vec<usize> = selected
        .into_iter()
        .filter(|i| {
            only.as_ref()
                .is_none_or(|ids| ids.contains(&c.nodes[*i].unique_id))
        })
        .collect();
    Ok(Some((c, selected)))
}

/// Opens and locks the target, creates the schemas, runs on-run-start; `None` if that failed.
fn prepare_target(
    c: &Compiled,
    selected: &[usize],
    out: &Output,
) -> Option<(Arc<dyn Adapter>, Option<adapter::RunLock>)> {
    let adapter = match open_adapter(c, false, out) {
        Ok(a) => a,
        Err(e) => {
            out.always(
                &format!("cannot open target `{}`: {e}", c.target.info.name),
                serde_json::json!({"event": "error", "message": e.message}),
            );
            return None;
        }
    };
    let wait = Duration::from_secs_f64(c.target.lock_timeout.unwrap_or(60.0));
    let run_lock = match with_retries(|| {
        adapter.lock_target(&c.target.info.name, &c.target.info.schema, wait)
    }) {
        Ok(l) => l,
        Err(e) => {
            out.always(
                &format!("cannot start the run: {e}"),
                serde_json::json!({"event": "error", "message": e.message}),
            );
            return None;
        }
    };
    // Schemas first, then the project's on-run-start hooks, on one connection.
    let mut schemas: Vec<String> = selected
        .iter()
        .filter_map(|i| {
            let n = &c.nodes[*i];
            // A source's schema is its loader's, not the run's to create.
            if n.resource_type == ResourceType::Source {
                return None;
            }
            n.relation
                .as_ref()
                .or_else(|| n.test.as_ref().and_then(|t| t.audit_relation.as_ref()))
        })
        .map(|r| r.schema.clone())
        .collect();
    schemas.sort();
    schemas.dedup();
    let setup = with_retries(|| {
        let mut conn = adapter.connect()?;
        crate::materialize::create_schemas(conn.as_mut(), &schemas)?;
        crate::materialize::run_hooks(conn.as_mut(), &c.on_run_start)?;
        Ok(())
    });
    if let Err(e) = setup {
        out.always(
            &format!("cannot prepare the target (schemas, on-run-start): {e}"),
            serde_json::json!({"event": "error", "message": e.message}),
        );
        return None;
    }
    Some((adapter, run_lock))
}

/// Prints the run's summary and problems; the exit status says whether anything failed.
fn report_run(
    out: &Output,
    results: &[NodeResult],
    elapsed: f64,
    end_error: Option<&adapter::AdapterError>,
    cancel: &CancelToken,
) -> ExitStatus {
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let mut summary = format!(
        "Done in {elapsed:.2}s: {} OK, {} PASS, {} WARN, {} ERROR, {} FAIL, {} SKIP",
        count(Status::Success),
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Error),
        count(Status::Fail),
        count(Status::Skipped)
    );
    if count(Status::Interrupted) > 0 {
        summary.push_str(&format!(", {} STOPPED", count(Status::Interrupted)));
    }
    out.event(
        &summary,
        serde_json::json!({"event": "run_finished", "elapsed_time": elapsed, "results": results.len(),
            "success": count(Status::Success), "pass": count(Status::Pass), "warn": count(Status::Warn),
            "error": count(Status::Error), "fail": count(Status::Fail), "skipped": count(Status::Skipped)}),
    );
    if let Some(e) = &end_error {
        out.always(
            &format!("on-run-end failed: {e}"),
            serde_json::json!({"event": "error", "message": e.message}),
        );
    }
    if cancel.is_cancelled() {
        let text = format!(
            "interrupted ({}): running statements were rolled back; `strata retry` runs what did not finish",
            cancel.reason()
        );
        if super::stdout_closed() {
            eprintln!("{text}");
        } else {
            out.always(
                &text,
                serde_json::json!({"event": "interrupted", "reason": cancel.reason()}),
            );
        }
    }
    let failed = results.iter().any(|r| r.status.is_failure()) || end_error.is_some();
    if cancel.is_cancelled() && !super::stdout_closed() {
        ExitStatus::Interrupted
    } else if failed || cancel.is_cancelled() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    }
}

fn dry_run_plan(
    c: &Compiled,
    selected: &[usize],
    out: &Output,
    inv: &Invocation,
) -> Result<ExitStatus> {
    let adapter = match open_adapter(c, true, out) {
        Ok(a) => a,
        Err(e) => {
            out.always(
                &format!("cannot open target `{}` read-only: {e}", c.target.info.name),
                serde_json::json!({"event": "error", "message": e.message}),
            );
            return Ok(ExitStatus::Failure);
        }
    };
    let caps = adapter.capabilities();
    let mut conn = DryRunConnection {
        inner: adapter.connect().map_err(|e| anyhow::anyhow!("{e}"))?,
        statements: Vec::new(),
    };
    for &i in selected {
        let n = &c.nodes[i];
        conn.statements.clear();
        let seed = (n.resource_type == ResourceType::Seed).then(|| {
            crate::materialize::seed::read(
                &c.project.root,
                &n.original_file_path,
                &n.config.column_types,
            )
        });
        let mode = execute::NodeMode {
            full_refresh: inv.full_refresh,
            plan_tests: true,
            warn_error: inv.warn_error,
            // A dry run reads nothing: freshness needs the data.
            freshness: false,
            engine: c.target.info.kind,
        };
        let r = execute::execute_node_once(&mut conn, n, seed.as_ref(), mode, caps).map(|_| ());
        let plan = conn.statements.join(";\n");
        match r {
            Ok(()) => out.always(
                &format!("-- {} ({})\n{plan};\n", n.unique_id, describe(n)),
                serde_json::json!({"event": "planned", "unique_id": n.unique_id, "statements": conn.statements}),
            ),
            Err(e) => out.always(
                &format!("-- {}: cannot plan: {e}\n", n.unique_id),
                serde_json::json!({"event": "planned", "unique_id": n.unique_id, "error": e.message}),
            ),
        }
    }
    out.event(
        &format!(
            "dry run: {} planned, nothing was changed",
            count(selected.len(), "node")
        ),
        serde_json::json!({"event": "dry_run_finished", "nodes": selected.len()}),
    );
    Ok(ExitStatus::Success)
}
