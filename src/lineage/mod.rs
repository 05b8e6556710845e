//! OpenLineage events, emitted live while `seed`/`run`/`test`/`build` run: a parent run for
//! the invocation (START first, COMPLETE/FAIL/ABORT last) and one run per node (START, then
//! COMPLETE, FAIL or ABORT), each node run pointing at the invocation with the `parent` facet.
//! Events are built from the compiled project and the node results, serialized on the run's
//! threads and delivered by a background sender (`sender`), so delivery never slows or fails
//! the run.
//!
//! Owns: the event types (`event`), facet building (`facets`), where events go (`config`,
//! `transport`) and the spool. May import `ir`, `project` (its `lineage:` section), `compile`
//! and `execute` (what it reads); it never talks to the database and never sees the target's
//! connection string.

pub mod config;
pub mod event;
pub mod facets;
pub mod sender;
pub mod transport;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::compile::Compiled;
use crate::execute::{NodeResult, Reporter, Status, now_rfc3339};
use crate::ir::{CompiledNode, ResourceType};

use event::*;
pub use facets::Naming;
pub use sender::{Delivery, SPOOL_FILE};

/// The run of one node, from its START event on.
struct NodeRun {
    run_id: String,
    job: Job,
    inputs: Vec<InputDataset>,
    outputs: Vec<OutputDataset>,
}

/// Emits the events of one invocation.
pub struct Emitter<'c> {
    c: &'c Compiled,
    naming: Naming,
    namespace: String,
    parent: JobRef,
    parent_run_id: String,
    nominal_time: String,
    ids: HashMap<&'c str, usize>,
    runs: Mutex<HashMap<usize, NodeRun>>,
    secrets: Vec<String>,
    sender: sender::Sender,
}

/// A new run id: a UUID v7, time-ordered, as OpenLineage recommends.
pub fn new_run_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The spool of a project whose artifacts are in `artifacts_dir`.
pub fn spool_path(artifacts_dir: &Path) -> PathBuf {
    artifacts_dir.join(SPOOL_FILE)
}

impl<'c> Emitter<'c> {
    /// Opens the transport, starts the sender and emits the invocation's START. `secrets` are
    /// values that must never appear in an event (they are masked if they would).
    pub fn start(
        c: &'c Compiled,
        settings: &config::Settings,
        naming: Naming,
        command: &str,
        spool: PathBuf,
        mut secrets: Vec<String>,
    ) -> Result<Emitter<'c>, String> {
        let sink = transport::Sink::open(&settings.transport)?;
        secrets.extend(env_var_values(c));
        secrets.retain(|s| s.len() >= 4);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let e = Emitter {
            c,
            naming,
            namespace: settings.namespace.clone(),
            parent: JobRef {
                namespace: settings.namespace.clone(),
                name: format!("{}.{command}", c.project.name),
            },
            parent_run_id: new_run_id(),
            nominal_time: now_rfc3339(),
            ids: c
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.unique_id.as_str(), i))
                .collect(),
            runs: Mutex::new(HashMap::new()),
            secrets,
            sender: sender::Sender::start(sink, spool),
        };
        let start = e.parent_event(EventType::Start, None);
        e.emit(&start);
        Ok(e)
    }

    /// Wraps `inner` so that nodes starting and finishing emit their events.
    pub fn reporter<'a>(&'a self, inner: &'a dyn Reporter) -> LineageReporter<'a, 'c> {
        LineageReporter {
            inner,
            emitter: self,
        }
    }

    /// Emits the invocation's last event (COMPLETE, FAIL when a node failed, ABORT when it was
    /// interrupted) and waits for delivery.
    pub fn finish(self, results: &[NodeResult], interrupted: bool) -> Delivery {
        let failed = results.iter().filter(|r| r.status.is_failure()).count();
        let (kind, message) = if interrupted {
            (
                EventType::Abort,
                Some("the run was interrupted".to_string()),
            )
        } else if failed > 0 {
            (
                EventType::Fail,
                Some(format!(
                    "{failed} of {} nodes did not succeed",
                    results.len()
                )),
            )
        } else {
            (EventType::Complete, None)
        };
        let end = self.parent_event(kind, message);
        self.emit(&end);
        self.sender.finish()
    }

    fn parent_event(&self, kind: EventType, error: Option<String>) -> RunEvent {
        let version = env!("CARGO_PKG_VERSION").to_string();
        RunEvent {
            event_type: kind,
            event_time: now_rfc3339(),
            producer: PRODUCER,
            schema_url: RUN_EVENT_SCHEMA,
            run: Run {
                run_id: self.parent_run_id.clone(),
                facets: RunFacets {
                    processing_engine: Some(Facet::new(ProcessingEngineRunFacet {
                        version: version.clone(),
                        name: "strata".into(),
                        openlineage_adapter_version: version,
                    })),
                    nominal_time: Some(Facet::new(NominalTimeRunFacet {
                        nominal_start_time: self.nominal_time.clone(),
                    })),
                    error_message: error.map(error_facet),
                    parent: None,
                },
            },
            job: Job {
                namespace: self.parent.namespace.clone(),
                name: self.parent.name.clone(),
                facets: JobFacets {
                    job_type: Some(facets::job_type_facet("JOB")),
                    ..JobFacets::default()
                },
            },
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    fn parent_facet(&self) -> Facet<ParentRunFacet> {
        let run = RunId {
            run_id: self.parent_run_id.clone(),
        };
        Facet::new(ParentRunFacet {
            run: run.clone(),
            job: self.parent.clone(),
            root: RunRef {
                run,
                job: self.parent.clone(),
            },
        })
    }

    /// The dataset of node `id` (for column lineage): namespace and name; none for nodes that
    /// are no relation (ephemeral models, tests).
    fn dataset_of(&self, id: &str) -> Option<(&str, String)> {
        let n = &self.c.nodes[*self.ids.get(id)?];
        if matches!(n.resource_type, ResourceType::Test | ResourceType::Exposure)
            || n.materialized() == crate::ir::Materialized::Ephemeral
        {
            return None;
        }
        let r = n.relation.as_ref()?;
        Some((self.naming.namespace.as_str(), self.naming.dataset_name(r)))
    }

    /// The datasets node `i` reads: its parents' relations, looking through ephemeral models.
    fn inputs(&self, i: usize) -> Vec<(usize, Dataset)> {
        let mut out: Vec<(usize, Dataset)> = Vec::new();
        let mut stack: Vec<usize> = self.c.dag.parents(i).to_vec();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(p) = stack.pop() {
            if !seen.insert(p) {
                continue;
            }
            let pn = &self.c.nodes[p];
            match facets::dataset(pn, &self.naming) {
                Some(d) => out.push((p, d)),
                None if pn.resource_type == ResourceType::Model => {
                    stack.extend_from_slice(self.c.dag.parents(p))
                }
                None => {}
            }
        }
        out.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        out
    }

    /// The START of node `i`'s run, remembered for its last event.
    fn node_start(&self, i: usize, time: Option<&str>) {
        let n = &self.c.nodes[i];
        let inputs = self
            .inputs(i)
            .into_iter()
            .map(|(_, dataset)| InputDataset {
                dataset,
                input_facets: InputFacets::default(),
            })
            .collect();
        let outputs = facets::dataset(n, &self.naming)
            .map(|mut dataset| {
                if let Some(l) = n.lineage.as_deref() {
                    dataset.facets.column_lineage =
                        Some(facets::column_lineage(l, |id| self.dataset_of(id)));
                }
                OutputDataset {
                    dataset,
                    output_facets: OutputFacets::default(),
                }
            })
            .into_iter()
            .collect();
        let run = NodeRun {
            run_id: new_run_id(),
            job: Job {
                namespace: self.namespace.clone(),
                name: n.unique_id.clone(),
                facets: facets::job_facets(n, &self.naming, &self.c.project.root),
            },
            inputs,
            outputs,
        };
        let event = self.node_event(&run, EventType::Start, time, None);
        self.emit(&event);
        self.runs.lock().unwrap().insert(i, run);
    }

    fn node_event(
        &self,
        run: &NodeRun,
        kind: EventType,
        time: Option<&str>,
        error: Option<&str>,
    ) -> RunEvent {
        RunEvent {
            event_type: kind,
            event_time: time.map(str::to_string).unwrap_or_else(now_rfc3339),
            producer: PRODUCER,
            schema_url: RUN_EVENT_SCHEMA,
            run: Run {
                run_id: run.run_id.clone(),
                facets: RunFacets {
                    parent: Some(self.parent_facet()),
                    error_message: error.map(|e| error_facet(e.to_string())),
                    ..RunFacets::default()
                },
            },
            job: run.job.clone(),
            inputs: run.inputs.clone(),
            outputs: run.outputs.clone(),
        }
    }

    /// The last event of node `i`'s run, from its result.
    fn node_end(&self, i: usize, r: &NodeResult) {
        let started = self.runs.lock().unwrap().contains_key(&i);
        if !started {
            // Skipped nodes never started: their run still has a START before its ABORT.
            self.node_start(i, r.started_at.as_deref());
        }
        let Some(mut run) = self.runs.lock().unwrap().remove(&i) else {
            return;
        };
        let n = &self.c.nodes[i];
        let (kind, error) = match r.status {
            Status::Success | Status::Pass | Status::Warn => (EventType::Complete, None),
            Status::Error | Status::Fail => (EventType::Fail, Some(r.message.as_str())),
            Status::Skipped | Status::Interrupted => (EventType::Abort, Some(r.message.as_str())),
        };
        if r.status == Status::Success {
            for o in &mut run.outputs {
                o.dataset.facets.lifecycle_state_change =
                    Some(Facet::new(LifecycleStateChangeDatasetFacet {
                        lifecycle_state_change: facets::lifecycle(n, &r.message).into(),
                    }));
                if let Some(rows) = r.rows_affected {
                    o.output_facets.output_statistics =
                        Some(Facet::new(OutputStatisticsOutputDatasetFacet {
                            row_count: rows,
                        }));
                }
            }
        }
        if n.resource_type == ResourceType::Test
            && matches!(
                r.status,
                Status::Pass | Status::Warn | Status::Fail | Status::Error
            )
        {
            self.attach_assertion(n, r, &mut run.inputs);
        }
        let event = self.node_event(&run, kind, r.completed_at.as_deref(), error);
        self.emit(&event);
    }

    /// A test's result as an assertion on the dataset it is declared on (else its first input).
    fn attach_assertion(&self, n: &CompiledNode, r: &NodeResult, inputs: &mut [InputDataset]) {
        let target = n
            .test
            .as_deref()
            .and_then(|t| t.attached_node.as_deref())
            .and_then(|id| self.dataset_of(id))
            .map(|(_, name)| name);
        let pos = target
            .and_then(|name| inputs.iter().position(|d| d.dataset.name == name))
            .unwrap_or(0);
        if let Some(d) = inputs.get_mut(pos) {
            let success = r.status == Status::Pass;
            d.input_facets.data_quality_assertions =
                Some(Facet::new(DataQualityAssertionsDatasetFacet {
                    assertions: vec![facets::assertion(n, success, r.failures)],
                }));
        }
    }

    /// Serializes, masks secrets, queues.
    fn emit(&self, event: &RunEvent) {
        let Ok(mut text) = serde_json::to_string(event) else {
            return;
        };
        for s in &self.secrets {
            if text.contains(s.as_str()) {
                text = text.replace(s.as_str(), "****");
            }
            let escaped = serde_json::to_string(s).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            if escaped != s && text.contains(escaped) {
                text = text.replace(escaped, "****");
            }
        }
        self.sender.send(text);
    }

    fn index(&self, node: &CompiledNode) -> Option<usize> {
        self.ids.get(node.unique_id.as_str()).copied()
    }
}

fn error_facet(message: String) -> Facet<ErrorMessageRunFacet> {
    Facet::new(ErrorMessageRunFacet {
        message,
        programming_language: "SQL".into(),
    })
}

/// The values of the environment variables the project's files read with `env_var()`: they
/// can reach compiled SQL, never an event.
fn env_var_values(c: &Compiled) -> Vec<String> {
    let p = &c.project;
    let project_file = std::fs::read_to_string(p.root.join(&p.file)).unwrap_or_default();
    let texts = p
        .models
        .iter()
        .chain(&p.macro_files)
        .chain(&p.singular_tests)
        .map(|f| &*f.text)
        .chain(
            p.targets
                .values()
                .flat_map(|t| t.fields.values().map(|(v, _)| v.as_str())),
        )
        .chain(std::iter::once(project_file.as_str()));
    let mut names = std::collections::BTreeSet::new();
    for text in texts {
        let mut rest = text;
        while let Some(at) = rest.find("env_var(") {
            rest = &rest[at + "env_var(".len()..];
            let t = rest.trim_start();
            if let Some(q) = t.chars().next().filter(|c| *c == '\'' || *c == '"')
                && let Some(end) = t[1..].find(q)
            {
                names.insert(t[1..1 + end].to_string());
            }
        }
    }
    names
        .into_iter()
        .filter_map(|n| std::env::var(n).ok())
        .filter(|v| !v.is_empty())
        .collect()
}

/// A reporter that emits each node's events, then passes the news on.
pub struct LineageReporter<'a, 'c> {
    inner: &'a dyn Reporter,
    emitter: &'a Emitter<'c>,
}

impl Reporter for LineageReporter<'_, '_> {
    fn started(&self, node: &CompiledNode) {
        if let Some(i) = self.emitter.index(node) {
            self.emitter.node_start(i, None);
        }
        self.inner.started(node);
    }

    fn finished(&self, node: &CompiledNode, result: &NodeResult, done: usize, total: usize) {
        if let Some(i) = self.emitter.index(node) {
            self.emitter.node_end(i, result);
        }
        self.inner.finished(node, result, done, total);
    }
}
