//! Prometheus metrics of freshness checks and runs, encoded by `prometheus-client` (never by
//! hand). Freshness is exported as timestamps, not ages: Prometheus computes the age against
//! its own clock (`time() - strata_freshness_last_loaded_timestamp_seconds`), so a stale
//! textfile or a missed push never shows a made-up young age. A check that could not say
//! exports `strata_freshness_check_success 0` and no load time.

use std::borrow::Cow;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::{encode, encode_registry};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::check::{FreshnessResult, FreshnessStatus, Spec};

type Labels = Vec<(&'static str, String)>;
type GaugeF = Gauge<f64, AtomicU64>;
type Fam = Family<Labels, GaugeF>;

/// The metrics of one command or one scrape, labelled with the project.
pub struct Metrics {
    registry: Registry,
    last_loaded: Fam,
    checked_at: Fam,
    status: Fam,
    check_success: Fam,
    warn_after: Fam,
    error_after: Fam,
    node_status: Fam,
    node_duration: Fam,
    node_rows: Fam,
    test_failures: Fam,
    run_duration: Fam,
    run_success: Fam,
    run_finished: Fam,
    run_last_success: Fam,
    scrape_duration: Fam,
}

/// Metric names (without the `strata_` prefix), for docs and the rules file.
pub mod names {
    /// `max(loaded_at_field)` as a Unix timestamp.
    pub const LAST_LOADED: &str = "freshness_last_loaded_timestamp_seconds";
    /// 1 when the check ran and gave an age, else 0.
    pub const CHECK_SUCCESS: &str = "freshness_check_success";
    /// `warn_after` in seconds.
    pub const WARN_AFTER: &str = "freshness_warn_after_seconds";
    /// `error_after` in seconds.
    pub const ERROR_AFTER: &str = "freshness_error_after_seconds";
}

fn fam(registry: &mut Registry, name: &str, help: &str) -> Fam {
    let f = Fam::default();
    registry.register(name, help, f.clone());
    f
}

impl Metrics {
    /// Empty metrics for project `project` (a `project` label on every series).
    pub fn new(project: &str) -> Metrics {
        let labels = [(Cow::Borrowed("project"), Cow::Owned(project.to_string()))];
        let mut r = Registry::with_prefix_and_labels("strata", labels.into_iter());
        Metrics {
            last_loaded: fam(
                &mut r,
                names::LAST_LOADED,
                "Newest load time (max of loaded_at_field) as a Unix timestamp, UTC",
            ),
            checked_at: fam(
                &mut r,
                "freshness_checked_timestamp_seconds",
                "When the freshness check ran, by the database's clock, as a Unix timestamp",
            ),
            status: fam(
                &mut r,
                "freshness_status",
                "Freshness verdict: 1 for the current status (pass, warn, error, runtime error), 0 for the others",
            ),
            check_success: fam(
                &mut r,
                names::CHECK_SUCCESS,
                "1 when the freshness check gave an age, 0 when it failed (no age is made up)",
            ),
            warn_after: fam(
                &mut r,
                names::WARN_AFTER,
                "The warn_after threshold (the SLO) in seconds",
            ),
            error_after: fam(
                &mut r,
                names::ERROR_AFTER,
                "The error_after threshold in seconds",
            ),
            node_status: fam(
                &mut r,
                "node_status",
                "1 for the status the node ended with in the last run",
            ),
            node_duration: fam(
                &mut r,
                "node_duration_seconds",
                "Seconds the node took in the last run",
            ),
            node_rows: fam(
                &mut r,
                "node_rows_affected",
                "Rows the node wrote in the last run",
            ),
            test_failures: fam(
                &mut r,
                "test_failures",
                "Failing rows the test found in the last run",
            ),
            run_duration: fam(&mut r, "run_duration_seconds", "Seconds the last run took"),
            run_success: fam(
                &mut r,
                "run_success",
                "1 when the last run succeeded, else 0",
            ),
            run_finished: fam(
                &mut r,
                "run_finished_timestamp_seconds",
                "When the last run ended, as a Unix timestamp",
            ),
            run_last_success: fam(
                &mut r,
                "run_last_success_timestamp_seconds",
                "When a run last succeeded, as a Unix timestamp",
            ),
            scrape_duration: fam(
                &mut r,
                "freshness_scrape_duration_seconds",
                "Seconds the exporter's freshness checks took",
            ),
            registry: r,
        }
    }

    fn node_labels(unique_id: &str, name: &str, resource_type: &str) -> Labels {
        vec![
            ("unique_id", unique_id.to_string()),
            ("node", name.to_string()),
            ("resource_type", resource_type.to_string()),
        ]
    }

    /// The thresholds of a check (exported whether or not the check ran).
    pub fn add_thresholds(&self, spec: &Spec) {
        let l = Self::node_labels(spec.unique_id, &spec.display, spec.resource_type.as_str());
        if let Some(t) = &spec.freshness.warn_after {
            self.warn_after.get_or_create(&l).set(t.seconds() as f64);
        }
        if let Some(t) = &spec.freshness.error_after {
            self.error_after.get_or_create(&l).set(t.seconds() as f64);
        }
    }

    /// A check's outcome.
    pub fn add_freshness(&self, r: &FreshnessResult) {
        let l = Self::node_labels(&r.unique_id, &r.display, r.resource_type.as_str());
        if let Some(max) = r.max_loaded_at {
            self.last_loaded.get_or_create(&l).set(max);
        }
        self.checked_at.get_or_create(&l).set(r.snapshotted_at);
        let ok = r.status != FreshnessStatus::RuntimeError;
        self.check_success
            .get_or_create(&l)
            .set(if ok { 1.0 } else { 0.0 });
        for s in FreshnessStatus::ALL {
            let mut sl = l.clone();
            sl.push(("status", s.as_str().to_string()));
            self.status
                .get_or_create(&sl)
                .set(if s == r.status { 1.0 } else { 0.0 });
        }
    }

    /// A check that did not finish in time (the exporter's per-scrape timeout).
    pub fn add_unfinished(&self, spec: &Spec) {
        let l = Self::node_labels(spec.unique_id, &spec.display, spec.resource_type.as_str());
        self.check_success.get_or_create(&l).set(0.0);
    }

    /// A node of a run.
    pub fn add_node(&self, node: &NodeFacts) {
        let l = Self::node_labels(node.unique_id, node.name, node.resource_type);
        let mut sl = l.clone();
        sl.push(("status", node.status.to_string()));
        self.node_status.get_or_create(&sl).set(1.0);
        self.node_duration.get_or_create(&l).set(node.seconds);
        if let Some(rows) = node.rows {
            self.node_rows.get_or_create(&l).set(rows as f64);
        }
        if let Some(f) = node.failures {
            self.test_failures.get_or_create(&l).set(f as f64);
        }
    }

    /// The run as a whole.
    pub fn add_run(&self, run: &RunFacts) {
        let l = vec![("command", run.command.to_string())];
        self.run_duration.get_or_create(&l).set(run.seconds);
        self.run_success
            .get_or_create(&l)
            .set(if run.success { 1.0 } else { 0.0 });
        self.run_finished.get_or_create(&l).set(run.finished_at);
        if let Some(t) = run.last_success {
            self.run_last_success.get_or_create(&l).set(t);
        }
    }

    /// How long a scrape's checks took.
    pub fn add_scrape(&self, seconds: f64) {
        self.scrape_duration.get_or_create(&Vec::new()).set(seconds);
    }

    /// The Prometheus text format (node exporter's textfile collector, the pushgateway).
    pub fn text(&self) -> String {
        let mut out = String::new();
        encode_registry(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    /// The OpenMetrics exposition (with its `# EOF`), for `/metrics`.
    pub fn openmetrics(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// What the metrics say of one node of a run.
pub struct NodeFacts<'a> {
    /// Unique id.
    pub unique_id: &'a str,
    /// Name.
    pub name: &'a str,
    /// `model`, `seed`, `test`, `source`.
    pub resource_type: &'a str,
    /// `success`, `error`, `skipped`, `pass`, `fail`, `warn`, ...
    pub status: &'a str,
    /// Seconds spent.
    pub seconds: f64,
    /// Rows written.
    pub rows: Option<u64>,
    /// A test's failing rows.
    pub failures: Option<u64>,
}

/// What the metrics say of a run.
pub struct RunFacts<'a> {
    /// `build`, `run`, `source freshness`, ...
    pub command: &'a str,
    /// Nothing failed.
    pub success: bool,
    /// Seconds the run took.
    pub seconds: f64,
    /// When it ended (Unix timestamp).
    pub finished_at: f64,
    /// When a run of this command last succeeded (this one, or one before it).
    pub last_success: Option<f64>,
}

/// Seconds since the epoch, now.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}
