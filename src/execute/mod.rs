//! The scheduler: a ready queue over the selected part of the DAG and N workers, each with its
//! own connection. A node starts as soon as all its selected parents finished; a failed node's
//! descendants are skipped while independent nodes go on. Transient errors are retried with
//! exponential backoff; a statement timeout and Ctrl-C interrupt the running statement, whose
//! transaction rolls back, so no relation is ever half-swapped.
//!
//! May import: `ir`, `compile` (its output), `adapter`, `materialize`, `checks` and the
//! utilities.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::adapter::retry::Backoff;
use crate::adapter::{Adapter, AdapterError, Connection, DbResult, ErrorClass, Interrupter};
use crate::checks::Verdict;
use crate::compile::Compiled;
use crate::ir::CompiledNode;
use crate::ir::{Materialized, Relation, ResourceType};
use crate::materialize::{self, BuildOptions, Outcome, seed};

mod fresh;
pub mod located;

/// How a node ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Built.
    Success,
    /// Failed.
    Error,
    /// Not run because something upstream failed (or the run was stopped).
    Skipped,
    /// A test found no failing rows.
    Pass,
    /// A test found failing rows and its severity is error.
    Fail,
    /// A test found failing rows and its severity is warn.
    Warn,
    /// Stopped while running (Ctrl-C, or the output was closed); its transaction rolled back.
    Interrupted,
}

impl Status {
    /// True for statuses that make the run exit with 1.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Status::Error | Status::Fail | Status::Skipped | Status::Interrupted
        )
    }

    /// True when the node did what it was run for: `retry` leaves it alone.
    pub fn is_done(self) -> bool {
        matches!(self, Status::Success | Status::Pass | Status::Warn)
    }
}

/// The result of one node.
#[derive(Clone, Debug)]
pub struct NodeResult {
    /// Node id.
    pub unique_id: String,
    /// How it ended.
    pub status: Status,
    /// Worker that ran it.
    pub thread: Option<usize>,
    /// When it started (UTC, RFC 3339).
    pub started_at: Option<String>,
    /// When it finished (UTC, RFC 3339).
    pub completed_at: Option<String>,
    /// Seconds spent.
    pub execution_time: f64,
    /// Rows written, when known.
    pub rows_affected: Option<u64>,
    /// Failing rows of a test.
    pub failures: Option<u64>,
    /// Lines shown under the result: a sample of a test's failing rows, a unit test's diff.
    pub details: Vec<String>,
    /// What happened, in one line.
    pub message: String,
    /// Attempts made (1 when no retry was needed).
    pub attempts: u32,
    /// The relation built (for a test: where its failing rows are kept), quoted:
    /// `"schema"."name"`.
    pub relation_name: Option<String>,
    /// The node's compiled SQL (shared: the results of a run are copied as it goes).
    pub compiled_code: Option<Arc<str>>,
    /// The line of the node's file a database error points at, when it points into the
    /// node's own SQL.
    pub line: Option<usize>,
    /// The freshness check of a source, or of a model checked after it was built.
    pub freshness: Option<Arc<crate::freshness::FreshnessResult>>,
    /// Start and end as instants, for ordering checks in tests.
    pub start_instant: Option<Instant>,
    /// See `start_instant`.
    pub end_instant: Option<Instant>,
}

/// Options of a run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker count.
    pub threads: usize,
    /// Stop at the first failure.
    pub fail_fast: bool,
    /// Rebuild incremental models from scratch.
    pub full_refresh: bool,
    /// `--warn-error`: a test that warns fails instead.
    pub warn_error: bool,
    /// Check freshness: sources in the run, models right after they build (off with
    /// `--skip-freshness`).
    pub freshness: bool,
}

/// Receives progress as nodes finish.
pub trait Reporter: Sync {
    /// A node is handed to a worker (called on the scheduler's thread, before its `finished`).
    fn started(&self, node: &CompiledNode) {
        let _ = node;
    }

    /// A node finished; `done` of `total` finished so far.
    fn finished(&self, node: &CompiledNode, result: &NodeResult, done: usize, total: usize);
}

/// Interrupters of the running statements, for Ctrl-C.
#[derive(Clone, Default)]
pub struct CancelToken {
    cancelled: Arc<AtomicBool>,
    reason: Arc<std::sync::OnceLock<&'static str>>,
    interrupters: Arc<Mutex<BTreeMap<usize, Interrupter>>>,
}

impl CancelToken {
    /// Stops the run because of Ctrl-C.
    pub fn cancel(&self) {
        self.cancel_because("Ctrl-C");
    }

    /// Stops the run: no new node starts, running statements are interrupted. The first
    /// reason given is the one reported.
    pub fn cancel_because(&self, reason: &'static str) {
        let _ = self.reason.set(reason);
        self.cancelled.store(true, Ordering::SeqCst);
        for i in self.interrupters.lock().unwrap().values() {
            i();
        }
    }

    /// True once cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Why the run was stopped (`Ctrl-C` unless said otherwise).
    pub fn reason(&self) -> &'static str {
        self.reason.get().copied().unwrap_or("Ctrl-C")
    }
}

/// The current time as RFC 3339 UTC with microseconds.
pub fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    crate::freshness::time::rfc3339(d.as_secs_f64())
}

/// What running a node produced.
pub struct Executed {
    status: Status,
    outcome: Outcome,
    failures: Option<u64>,
    details: Vec<String>,
    freshness: Option<Arc<crate::freshness::FreshnessResult>>,
    /// The SQL a node compiled at run time ran (see [`LateCompile`]).
    late_code: Option<String>,
}

/// Compiles again, while the run goes, a node whose template runs queries as it renders
/// (`CompiledNode::late_query`): dbt renders such a model just before building it, with its
/// parents built.
pub trait LateCompile: Sync {
    /// Runs `node`'s queries on `conn` and returns it compiled with their answers.
    fn settle(&self, conn: &mut dyn Connection, node: &CompiledNode) -> DbResult<CompiledNode>;
}

impl Executed {
    fn built(outcome: Outcome) -> Executed {
        Executed {
            status: Status::Success,
            outcome,
            failures: None,
            details: Vec::new(),
            freshness: None,
            late_code: None,
        }
    }
}

/// How a node is run.
#[derive(Clone, Copy, Debug)]
pub struct NodeMode {
    /// Rebuild incremental models from scratch.
    pub full_refresh: bool,
    /// Tests only record their query (a dry run's plan) instead of running it.
    pub plan_tests: bool,
    /// `--warn-error`: a test that warns fails instead.
    pub warn_error: bool,
    /// Check freshness (sources, and models after they build).
    pub freshness: bool,
    /// The target's engine (the freshness query's SQL is its own).
    pub engine: crate::ir::AdapterKind,
}

/// Runs one node once: the one dispatch by resource type, for runs and dry runs alike. A
/// seed's rows come in `seed` (read before the run).
pub fn execute_node_once(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    seed: Option<&Result<seed::SeedData, seed::SeedError>>,
    mode: NodeMode,
    caps: crate::adapter::Capabilities,
) -> DbResult<Executed> {
    match node.resource_type {
        ResourceType::Seed => {
            let data = match seed {
                Some(Ok(d)) => d,
                Some(Err(e)) => return Err(AdapterError::permanent(e.to_string())),
                None => return Err(AdapterError::permanent("seed data missing")),
            };
            let out = seed::load(conn, node, data, caps)?;
            let built = Executed::built(out);
            match crate::freshness::spec_of(node).filter(|_| mode.freshness) {
                Some(spec) => fresh::after_build(conn, &spec, built, mode),
                None => Ok(built),
            }
        }
        ResourceType::Model => {
            let out = materialize::build_model(
                conn,
                node,
                caps,
                BuildOptions {
                    full_refresh: mode.full_refresh,
                },
            )?;
            let built = Executed::built(out);
            match crate::freshness::spec_of(node).filter(|_| mode.freshness) {
                Some(spec) => fresh::after_build(conn, &spec, built, mode),
                None => Ok(built),
            }
        }
        ResourceType::Test if mode.plan_tests => {
            conn.query(&format!(
                "select count(*) from (\n{}\n) as strata_test",
                node.compiled_code.as_deref().unwrap_or("").trim_end()
            ))?;
            Ok(Executed::built(Outcome::default()))
        }
        ResourceType::Test => {
            let t = match node.test.as_ref().and_then(|t| t.unit.as_deref()) {
                Some(spec) => crate::checks::unit::run(conn, spec)?,
                None => crate::checks::data::run(conn, node)?,
            };
            let (status, message) = match t.verdict {
                Verdict::Pass => (Status::Pass, t.message),
                Verdict::Warn if mode.warn_error => {
                    const MADE: &str = "(a warning, made an error by --warn-error)";
                    let message = match t.message.contains("(warning)") {
                        true => t.message.replacen("(warning)", MADE, 1),
                        false => format!("{} {MADE}", t.message),
                    };
                    (Status::Fail, message)
                }
                Verdict::Warn => (Status::Warn, t.message),
                Verdict::Fail => (Status::Fail, t.message),
            };
            Ok(Executed {
                status,
                outcome: Outcome {
                    rows: None,
                    message,
                },
                failures: Some(t.failures),
                details: t.sample,
                freshness: None,
                late_code: None,
            })
        }
        ResourceType::Source => match crate::freshness::spec_of(node).filter(|_| mode.freshness) {
            Some(spec) => fresh::source(conn, &spec, mode),
            None => Ok(Executed::built(Outcome::default())),
        },
        ResourceType::Exposure => Ok(Executed::built(Outcome::default())),
    }
}

/// Runs with a statement timeout: a watchdog interrupts the connection when time is up.
fn with_timeout<T>(
    interrupter: &Interrupter,
    timeout: Option<f64>,
    f: impl FnOnce() -> DbResult<T>,
) -> DbResult<T> {
    let Some(secs) = timeout.filter(|s| *s > 0.0) else {
        return f();
    };
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let fired = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let fired = fired.clone();
        let interrupter = interrupter.clone();
        std::thread::spawn(move || {
            if done_rx.recv_timeout(Duration::from_secs_f64(secs))
                == Err(mpsc::RecvTimeoutError::Timeout)
            {
                fired.store(true, Ordering::SeqCst);
                interrupter();
            }
        })
    };
    let result = f();
    let _ = done_tx.send(());
    let _ = watchdog.join();
    match result {
        Err(_) if fired.load(Ordering::SeqCst) => Err(AdapterError::permanent(format!(
            "statement timed out after {secs}s (statement_timeout)"
        ))),
        other => other,
    }
}

/// Runs one node with retries for transient errors. The worker's connection lives in `slot`:
/// opened when missing, dropped when the session broke (server restarted, network lost) so
/// that the next attempt, or the next node, opens a new one.
#[allow(clippy::too_many_arguments)]
fn execute_node(
    slot: &mut Option<Box<dyn Connection>>,
    adapter: &dyn Adapter,
    worker: usize,
    c: &Compiled,
    index: usize,
    seeds: &BTreeMap<usize, Result<seed::SeedData, seed::SeedError>>,
    opts: &RunOptions,
    caps: crate::adapter::Capabilities,
    cancel: &CancelToken,
    late: Option<&dyn LateCompile>,
) -> (DbResult<Executed>, u32) {
    let node = &c.nodes[index];
    let backoff = Backoff {
        attempts: (node.config.retries.unwrap_or(2) as u32).saturating_add(1),
        initial_delay: node.config.retry_initial_delay.unwrap_or(1.0),
        max_delay: f64::INFINITY,
    };
    let attempt = || {
        // A new connection is part of the attempt it is opened for.
        if slot.is_none() {
            let conn = adapter.connect()?;
            cancel
                .interrupters
                .lock()
                .unwrap()
                .insert(worker, conn.interrupter());
            *slot = Some(conn);
        }
        let conn = slot.as_mut().expect("opened above");
        let interrupter = conn.interrupter();
        let r = with_timeout(&interrupter, node.config.statement_timeout, || {
            let mode = NodeMode {
                full_refresh: opts.full_refresh,
                plan_tests: false,
                warn_error: opts.warn_error,
                freshness: opts.freshness,
                engine: c.target.info.kind,
            };
            let settled = match late.filter(|_| node.late_query.is_some()) {
                Some(late) => Some(late.settle(conn.as_mut(), node)?),
                None => None,
            };
            let run = settled.as_ref().unwrap_or(node);
            let mut x = execute_node_once(conn.as_mut(), run, seeds.get(&index), mode, caps)?;
            x.late_code = settled.and_then(|n| n.compiled_code);
            Ok(x)
        });
        if conn.is_broken() {
            cancel.interrupters.lock().unwrap().remove(&worker);
            *slot = None;
        }
        r
    };
    backoff.run(attempt, || cancel.is_cancelled())
}

struct Job {
    index: usize,
}

struct Done {
    index: usize,
    result: NodeResult,
}

/// Runs the `selected` nodes of `c` (indices into `c.nodes`, any order).
pub fn run(
    c: &Compiled,
    selected: &[usize],
    adapter: Arc<dyn Adapter>,
    opts: &RunOptions,
    reporter: &dyn Reporter,
    cancel: &CancelToken,
    late: Option<&dyn LateCompile>,
) -> Vec<NodeResult> {
    let total = selected.len();
    let plan = plan_run(c, selected);
    let seeds = read_seeds(c, selected);

    let caps = adapter.capabilities();
    let mut schedule = Schedule::new(c, selected, opts, reporter, cancel, plan);
    let threads = opts.threads.max(1).min(total.max(1));
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let start_all = Instant::now();
    let _ = start_all;

    std::thread::scope(|scope| {
        for t in 0..threads {
            let worker = Worker {
                t,
                job_rx: job_rx.clone(),
                done_tx: done_tx.clone(),
                adapter: adapter.clone(),
                seeds: &seeds,
                cancel: cancel.clone(),
                c,
                opts,
                caps,
                late,
            };
            scope.spawn(move || worker.serve());
        }
        drop(done_tx);

        schedule.coordinate(threads, &job_tx, &done_rx);
        drop(job_tx);
    });
    schedule.into_results()
}

/// The dependencies between the nodes of one run.
struct RunPlan {
    /// Each node's position in the DAG's topological order: ready nodes start in that order.
    topo_pos: BTreeMap<usize, usize>,
    /// The run nodes that wait for each run node.
    run_children: BTreeMap<usize, Vec<usize>>,
    /// How many run parents of each run node have not finished yet.
    waiting: BTreeMap<usize, usize>,
}

/// Links the selected nodes to each other; a node that does not run passes its parents on.
fn plan_run(c: &Compiled, selected: &[usize]) -> RunPlan {
    let in_run: BTreeMap<usize, usize> =
        selected.iter().enumerate().map(|(k, i)| (*i, k)).collect();
    let topo_pos: BTreeMap<usize, usize> = c
        .dag
        .topo_order()
        .iter()
        .enumerate()
        .map(|(k, i)| (*i, k))
        .collect();
    // Dependencies between run nodes, looking through nodes that do not run (a source that a seed
    // feeds, an ephemeral model): a test on a source waits for the seed behind it.
    let mut run_parents: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for &i in selected {
        let mut parents = BTreeSet::new();
        let mut stack: Vec<usize> = c.dag.parents(i).to_vec();
        let mut seen = BTreeSet::new();
        while let Some(p) = stack.pop() {
            if !seen.insert(p) {
                continue;
            }
            if in_run.contains_key(&p) {
                parents.insert(p);
            } else {
                stack.extend_from_slice(c.dag.parents(p));
            }
        }
        run_parents.insert(i, parents);
    }
    gate_on_tests(c, &mut run_parents);
    let mut run_children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut waiting: BTreeMap<usize, usize> = BTreeMap::new();
    for (&i, parents) in &run_parents {
        waiting.insert(i, parents.len());
        for &p in parents {
            run_children.entry(p).or_default().push(i);
        }
    }
    RunPlan {
        topo_pos,
        run_children,
        waiting,
    }
}

/// Seeds are read (and checked) up front, in parallel with nothing else to do yet.
fn read_seeds(
    c: &Compiled,
    selected: &[usize],
) -> BTreeMap<usize, Result<seed::SeedData, seed::SeedError>> {
    selected
        .iter()
        .filter(|i| c.nodes[**i].resource_type == ResourceType::Seed)
        .map(|&i| {
            let n = &c.nodes[i];
            (
                i,
                seed::read(
                    &c.project.root,
                    &n.original_file_path,
                    &n.config.column_types,
                ),
            )
        })
        .collect()
}

/// One worker thread: its number, its ends of the channels and what running a node needs.
struct Worker<'a> {
    t: usize,
    job_rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    done_tx: mpsc::Sender<Done>,
    adapter: Arc<dyn Adapter>,
    seeds: &'a BTreeMap<usize, Result<seed::SeedData, seed::SeedError>>,
    cancel: CancelToken,
    c: &'a Compiled,
    opts: &'a RunOptions,
    caps: crate::adapter::Capabilities,
    late: Option<&'a dyn LateCompile>,
}

impl Worker<'_> {
    /// Runs jobs on the worker's own connection until the coordinator stops sending them.
    fn serve(self) {
        let Worker {
            t,
            job_rx,
            done_tx,
            adapter,
            seeds,
            cancel,
            c,
            opts,
            caps,
            late,
        } = self;
        let mut conn: Option<Box<dyn Connection>> = None;
        loop {
            let job = match job_rx.lock().unwrap().recv() {
                Ok(j) => j,
                Err(_) => break,
            };
            let node = &c.nodes[job.index];
            let started = now_rfc3339();
            let t0 = Instant::now();
            let (r, attempts) = execute_node(
                &mut conn,
                adapter.as_ref(),
                t,
                c,
                job.index,
                seeds,
                opts,
                caps,
                &cancel,
                late,
            );
            let result = match r {
                Ok(x) => NodeResult {
                    rows_affected: x.outcome.rows,
                    failures: x.failures,
                    details: x.details,
                    freshness: x.freshness,
                    compiled_code: match x.late_code {
                        Some(code) => Some(Arc::from(code)),
                        None => node.compiled_code.as_deref().map(Arc::from),
                    },
                    ..ran(node, x.status, &x.outcome.message, t, started, t0, attempts)
                },
                Err(e) => {
                    let mut r = error_result(node, t, started, t0, &e, attempts);
                    if e.class == ErrorClass::Interrupted && cancel.is_cancelled() {
                        r.status = Status::Interrupted;
                        r.message = format!(
                            "interrupted ({}); the previous version is intact",
                            cancel.reason()
                        );
                    }
                    r
                }
            };
            if done_tx
                .send(Done {
                    index: job.index,
                    result,
                })
                .is_err()
            {
                break;
            }
        }
        cancel.interrupters.lock().unwrap().remove(&t);
    }
}

/// The coordinator's side of a run: ready nodes, finished results, upstream failures.
struct Schedule<'a> {
    c: &'a Compiled,
    selected: &'a [usize],
    opts: &'a RunOptions,
    cancel: &'a CancelToken,
    plan: RunPlan,
    progress: Progress<'a>,
    ready: BinaryHeap<std::cmp::Reverse<(usize, usize)>>,
    upstream_failed: BTreeMap<usize, String>,
}

impl<'a> Schedule<'a> {
    /// The schedule before anything ran: the nodes without run parents are ready.
    fn new(
        c: &'a Compiled,
        selected: &'a [usize],
        opts: &'a RunOptions,
        reporter: &'a dyn Reporter,
        cancel: &'a CancelToken,
        plan: RunPlan,
    ) -> Schedule<'a> {
        let progress = Progress {
            c,
            reporter,
            total: selected.len(),
            done: BTreeMap::new(),
        };
        let mut ready: BinaryHeap<std::cmp::Reverse<(usize, usize)>> = BinaryHeap::new();
        let upstream_failed: BTreeMap<usize, String> = BTreeMap::new();
        for (&i, &w) in &plan.waiting {
            if w == 0 {
                ready.push(std::cmp::Reverse((plan.topo_pos[&i], i)));
            }
        }
        Schedule {
            c,
            selected,
            opts,
            cancel,
            plan,
            progress,
            ready,
            upstream_failed,
        }
    }

    /// Feeds ready nodes to the workers and collects results until nothing is left to start.
    fn coordinate(
        &mut self,
        threads: usize,
        job_tx: &mpsc::Sender<Job>,
        done_rx: &mpsc::Receiver<Done>,
    ) {
        let total = self.selected.len();
        let mut running = 0usize;
        let mut stopped = false;
        while self.progress.done.len() < total {
            while !stopped && running < threads {
                let Some(std::cmp::Reverse((_, i))) = self.ready.pop() else {
                    break;
                };
                running += 1;
                self.progress.reporter.started(&self.c.nodes[i]);
                if job_tx.send(Job { index: i }).is_err() {
                    break;
                }
            }
            if running == 0 {
                self.skip_the_rest();
                break;
            }
            let Ok(done) = done_rx.recv() else { break };
            running -= 1;
            let failed = done.result.status.is_failure();
            self.progress.finish(done.index, done.result);
            if (failed && self.opts.fail_fast) || self.cancel.is_cancelled() {
                stopped = true;
            }
            self.release_children(done.index, failed);
            if stopped {
                self.ready.clear();
            }
        }
    }

    /// Nothing runs and nothing can start: the rest is skipped.
    fn skip_the_rest(&mut self) {
        let reason = if self.cancel.is_cancelled() {
            "run interrupted"
        } else {
            "run stopped (--fail-fast)"
        };
        for &i in self.selected {
            if !self.progress.done.contains_key(&i) {
                let r = skipped(&self.c.nodes[i], reason);
                self.progress.finish(i, r);
            }
        }
    }

    /// Releases a finished node's children; a failed parent makes them (and theirs) skipped.
    fn release_children(&mut self, index: usize, failed: bool) {
        let c = self.c;
        let mut stack = vec![(index, failed)];
        while let Some((n, n_failed)) = stack.pop() {
            for &child in self
                .plan
                .run_children
                .get(&n)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                if n_failed && !self.upstream_failed.contains_key(&child) {
                    let why = skip_reason(&c.nodes[n], self.progress.done.get(&n));
                    self.upstream_failed.insert(child, why);
                }
                let w = self.plan.waiting.get_mut(&child).unwrap();
                *w -= 1;
                if *w == 0 {
                    if let Some(why) = self.upstream_failed.get(&child).cloned() {
                        let r = skipped(&c.nodes[child], &why);
                        self.progress.finish(child, r);
                        stack.push((child, true));
                    } else {
                        self.ready
                            .push(std::cmp::Reverse((self.plan.topo_pos[&child], child)));
                    }
                }
            }
        }
    }

    /// The results in the order the nodes were selected.
    fn into_results(mut self) -> Vec<NodeResult> {
        self.selected
            .iter()
            .filter_map(|i| self.progress.done.remove(i))
            .collect()
    }
}

/// Why the children of a failed node are skipped: a stale source says which and how old
/// (from its check), anything else names the node that failed.
fn skip_reason(failed: &CompiledNode, result: Option<&NodeResult>) -> String {
    if let Some(r) = result.filter(|r| r.status == Status::Skipped) {
        // Skipped in turn: the same reason goes down the line.
        return r.message.clone();
    }
    match result.and_then(|r| r.freshness.as_deref()) {
        Some(f) if failed.resource_type == ResourceType::Source => {
            format!("skipped: source `{}` is {}", f.display, f.message)
        }
        _ => format!("skipped: upstream `{}` failed", failed.name),
    }
}

/// The results so far, each reported as it comes in.
struct Progress<'a> {
    c: &'a Compiled,
    reporter: &'a dyn Reporter,
    total: usize,
    done: BTreeMap<usize, NodeResult>,
}

impl Progress<'_> {
    /// Reports a node's result and keeps it.
    fn finish(&mut self, index: usize, result: NodeResult) {
        self.reporter.finished(
            &self.c.nodes[index],
            &result,
            self.done.len() + 1,
            self.total,
        );
        self.done.insert(index, result);
    }
}

/// Tests guard what is built on top of the node they test, as in dbt's `build`: a unit test
/// runs before its model (it needs nothing built) and the model waits for it; the children of
/// a tested model or seed wait for its data tests, so an error-severity failure skips them.
/// Only nodes of this run are linked, and never so that a test would wait for itself (a
/// `relationships` test reading a node downstream of the one it is declared on).
fn gate_on_tests(c: &Compiled, run_parents: &mut BTreeMap<usize, BTreeSet<usize>>) {
    let tests: Vec<usize> = run_parents
        .keys()
        .copied()
        .filter(|&i| c.nodes[i].resource_type == ResourceType::Test)
        .collect();
    let is_unit = |i: usize| c.nodes[i].test.as_ref().is_some_and(|t| t.unit.is_some());
    for &t in &tests {
        if is_unit(t) {
            let tested = std::mem::take(run_parents.get_mut(&t).unwrap());
            for m in tested {
                run_parents.get_mut(&m).unwrap().insert(t);
            }
        }
    }
    // A model or seed the run does not build (one that succeeded before `retry`, or left out
    // of a partial selection) still gates its children in the run on its tests in the run.
    let in_run: BTreeSet<usize> = run_parents.keys().copied().collect();
    let built_outside = |p: &&usize| {
        !in_run.contains(*p)
            && matches!(
                c.nodes[**p].materialized(),
                Materialized::Seed
                    | Materialized::Table
                    | Materialized::View
                    | Materialized::Incremental
                    | Materialized::MaterializedView
            )
            && c.nodes[**p].resource_type != ResourceType::Source
    };
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (&i, parents) in run_parents.iter() {
        if c.nodes[i].resource_type != ResourceType::Test {
            let outside = c.dag.parents(i).iter().filter(built_outside);
            for &p in parents.iter().chain(outside) {
                children.entry(p).or_default().push(i);
            }
        }
    }
    for &t in &tests {
        if is_unit(t) {
            continue;
        }
        // What the test checks: its parents in the run, and those outside it (so that a
        // partial run still gates the children of a tested model on the test).
        let tested: Vec<usize> = run_parents[&t]
            .iter()
            .copied()
            .chain(c.dag.parents(t).iter().filter(built_outside).copied())
            .collect();
        // Everything the test reads, transitively: gating one of those on the test would cycle.
        let mut upstream: BTreeSet<usize> = BTreeSet::new();
        if tested.len() > 1 {
            let mut stack = tested.clone();
            while let Some(n) = stack.pop() {
                if upstream.insert(n) {
                    match run_parents.get(&n) {
                        Some(parents) => stack.extend(parents.iter().copied()),
                        None => stack.extend_from_slice(c.dag.parents(n)),
                    }
                }
            }
        }
        for p in tested {
            for &x in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
                if !upstream.contains(&x) {
                    run_parents.get_mut(&x).unwrap().insert(t);
                }
            }
        }
    }
}

/// A result with nothing run yet: the fields every status shares.
fn base_result(node: &CompiledNode, status: Status, message: &str) -> NodeResult {
    NodeResult {
        unique_id: node.unique_id.clone(),
        status,
        thread: None,
        started_at: None,
        completed_at: None,
        execution_time: 0.0,
        rows_affected: None,
        failures: None,
        details: Vec::new(),
        message: message.to_string(),
        attempts: 0,
        relation_name: relation_of(node).map(Relation::quoted),
        compiled_code: node.compiled_code.as_deref().map(Arc::from),
        line: None,
        freshness: None,
        start_instant: None,
        end_instant: None,
    }
}

/// The relation a node builds (none for an ephemeral model) or, for a test, where its
/// failing rows are kept.
fn relation_of(node: &CompiledNode) -> Option<&Relation> {
    if node.materialized() == Materialized::Ephemeral {
        return None;
    }
    node.relation
        .as_ref()
        .or_else(|| node.test.as_deref()?.audit_relation.as_ref())
}

fn skipped(node: &CompiledNode, message: &str) -> NodeResult {
    base_result(node, Status::Skipped, message)
}

/// A result for a node that ran on worker `t` from `t0` until now.
fn ran(
    node: &CompiledNode,
    status: Status,
    message: &str,
    t: usize,
    started: String,
    t0: Instant,
    attempts: u32,
) -> NodeResult {
    NodeResult {
        thread: Some(t),
        started_at: Some(started),
        completed_at: Some(now_rfc3339()),
        execution_time: t0.elapsed().as_secs_f64(),
        attempts,
        start_instant: Some(t0),
        end_instant: Some(Instant::now()),
        ..base_result(node, status, message)
    }
}

fn error_result(
    node: &CompiledNode,
    t: usize,
    started: String,
    t0: Instant,
    e: &AdapterError,
    attempts: u32,
) -> NodeResult {
    let line = located::source_line(node, e);
    let message = located::message(node, e, line);
    NodeResult {
        line,
        ..ran(node, Status::Error, &message, t, started, t0, attempts)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339() {
        let t = super::now_rfc3339();
        assert_eq!(t.len(), 27, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
