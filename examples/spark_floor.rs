//! The floor of the Spark run benchmark: the statements `strata run` sends for each model,
//! sent straight through a Spark Connect session with the same parallelism as `strata run
//! --threads N` (a model starts once its parents are built), and nothing else: no compile,
//! no catalog lookups, no scheduler of strata's, no artifacts. `strata run` on Spark is
//! measured against this.
//!
//! ```text
//! strata --project-dir DIR compile --target spark    # writes DIR/.strata/manifest.json
//! cargo run --release --example spark_floor -- DIR sc://127.0.0.1:15002 THREADS
//! ```
//!
//! A view is `create or replace view "schema"."name" as <compiled SQL>`; a table is what
//! strata's table materialization sends on Spark (parquet tables have no `create or replace
//! table`): `create table "schema"."name__strata_floor" as <compiled SQL>`, `drop table if
//! exists "schema"."name"`, `alter table ... rename to "name"`. Seeds must already be loaded
//! (`strata seed`).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use serde_json::Value as J;
use strata::adapter::Adapter;
use strata::adapter::spark::SparkAdapter;

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// One model to build: its statements, and the models waiting for it.
struct Job {
    statements: Vec<String>,
    children: Vec<usize>,
}

/// What the floor runs: the models, how many parents each waits for, the schemas.
struct Plan {
    jobs: Vec<Job>,
    waiting: Vec<usize>,
    schemas: Vec<String>,
}

/// The models of the manifest with their statements, and how many parents each waits for.
fn plan(dir: &str) -> Result<Plan, String> {
    let text = std::fs::read_to_string(format!("{dir}/.strata/manifest.json"))
        .map_err(|e| format!("cannot read the manifest (run `strata compile` first): {e}"))?;
    let manifest: J = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let nodes = manifest["nodes"].as_object().ok_or("no nodes")?;
    let parents = manifest["parent_map"].as_object().ok_or("no parent_map")?;
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut jobs = Vec::new();
    let mut schemas = Vec::new();
    for (id, n) in nodes {
        let kind = n["config"]["materialized"].as_str().unwrap_or("view");
        let (Some(code), Some(schema), Some(alias)) = (
            n["compiled_code"].as_str(),
            n["schema"].as_str(),
            n["alias"].as_str(),
        ) else {
            continue;
        };
        if n["resource_type"] != "model" || !(kind == "view" || kind == "table") {
            continue;
        }
        let name = format!("{}.{}", quote(schema), quote(alias));
        let code = code.trim_end().trim_end_matches(';');
        let statements = if kind == "view" {
            vec![format!("create or replace view {name} as\n{code}")]
        } else {
            let tmp = format!(
                "{}.{}",
                quote(schema),
                quote(&format!("{alias}__strata_floor"))
            );
            vec![
                format!("create table {tmp} as\n{code}"),
                format!("drop table if exists {name}"),
                format!("alter table {tmp} rename to {}", quote(alias)),
            ]
        };
        if !schemas.iter().any(|s| s == schema) {
            schemas.push(schema.to_string());
        }
        index.insert(id, jobs.len());
        jobs.push(Job {
            statements,
            children: Vec::new(),
        });
    }
    let mut waiting = vec![0; jobs.len()];
    for (id, &i) in &index {
        for p in parents[*id].as_array().into_iter().flatten() {
            if let Some(&pi) = p.as_str().and_then(|p| index.get(p)) {
                waiting[i] += 1;
                jobs[pi].children.push(i);
            }
        }
    }
    Ok(Plan {
        jobs,
        waiting,
        schemas,
    })
}

/// The scheduler's state: models ready to build, parents still awaited, models left.
struct Queue {
    ready: Vec<usize>,
    waiting: Vec<usize>,
    left: usize,
    failed: Option<String>,
}

fn run(dir: &str, url: &str, threads: usize) -> Result<(), String> {
    let Plan {
        jobs,
        waiting,
        schemas,
    } = plan(dir)?;
    let adapter = SparkAdapter::new(Some(url), None).map_err(|e| e.message)?;
    let start = Instant::now();
    let mut first = adapter.connect().map_err(|e| e.message)?;
    for s in &schemas {
        first
            .execute(&format!("create schema if not exists {}", quote(s)))
            .map_err(|e| e.message)?;
    }
    let queue = Mutex::new(Queue {
        ready: (0..jobs.len()).filter(|&i| waiting[i] == 0).collect(),
        waiting,
        left: jobs.len(),
        failed: None,
    });
    let wake = Condvar::new();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut conn = match adapter.connect() {
                    Ok(c) => c,
                    Err(e) => {
                        queue.lock().unwrap().failed = Some(e.message);
                        wake.notify_all();
                        return;
                    }
                };
                loop {
                    let job = {
                        let mut q = queue.lock().unwrap();
                        loop {
                            if q.left == 0 || q.failed.is_some() {
                                return;
                            }
                            if let Some(j) = q.ready.pop() {
                                break j;
                            }
                            q = wake.wait(q).unwrap();
                        }
                    };
                    for s in &jobs[job].statements {
                        if let Err(e) = conn.execute(s) {
                            queue.lock().unwrap().failed = Some(format!("{}\nin: {s}", e.message));
                            wake.notify_all();
                            return;
                        }
                    }
                    let mut q = queue.lock().unwrap();
                    q.left -= 1;
                    for &c in &jobs[job].children {
                        q.waiting[c] -= 1;
                        if q.waiting[c] == 0 {
                            q.ready.push(c);
                        }
                    }
                    wake.notify_all();
                }
            });
        }
    });
    if let Some(e) = queue.into_inner().unwrap().failed {
        return Err(e);
    }
    println!(
        "floor: {} models with {threads} threads in {:.3}s",
        jobs.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, url, threads] = args.as_slice() else {
        eprintln!("usage: spark_floor PROJECT_DIR SC_URL THREADS");
        return ExitCode::from(2);
    };
    let Ok(threads) = threads.parse::<usize>() else {
        eprintln!("spark_floor: THREADS must be a number");
        return ExitCode::from(2);
    };
    match run(dir, url, threads.max(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spark_floor: {e}");
            ExitCode::FAILURE
        }
    }
}
