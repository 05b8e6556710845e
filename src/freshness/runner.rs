//! Runs many checks on N connections: each worker opens its own and takes the next check
//! until none is left. An optional deadline (the exporter's per-scrape timeout) interrupts the
//! running statements; the checks it stopped or never started have no result.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Instant;

use crate::adapter::{Adapter, Interrupter};

use super::check::{self, FreshnessResult, Spec};

/// A finished check and the worker that ran it.
pub type Finished = (FreshnessResult, usize);

/// Runs `specs` on up to `threads` connections of `adapter`; `on_done` is called as each
/// finishes. The result at `k` is `specs[k]`'s, `None` when the deadline came first.
pub fn run_checks(
    adapter: &dyn Adapter,
    specs: &[Spec],
    threads: usize,
    deadline: Option<Instant>,
    on_done: &(dyn Fn(&FreshnessResult, usize) + Sync),
) -> Vec<Option<Finished>> {
    let results: Vec<Mutex<Option<Finished>>> = specs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let interrupters: Mutex<Vec<Interrupter>> = Mutex::new(Vec::new());
    let threads = threads.max(1).min(specs.len().max(1));
    let engine = crate::adapter::engine::engine(adapter.kind());
    let (done_tx, done_rx) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let done_tx = done_tx.clone();
            let (results, next, stop, interrupters) = (&results, &next, &stop, &interrupters);
            scope.spawn(move || {
                let mut conn = match adapter.connect() {
                    Ok(c) => Some(c),
                    Err(e) => {
                        // No connection: every check this worker takes is a runtime error.
                        worker_without_connection(specs, results, next, stop, t, &e, on_done);
                        drop(done_tx);
                        return;
                    }
                };
                if let Some(c) = &conn {
                    interrupters.lock().unwrap().push(c.interrupter());
                }
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= specs.len() || stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let spec = &specs[k];
                    let started = super::time::now_rfc3339();
                    let t0 = Instant::now();
                    let c = conn.as_mut().expect("opened above");
                    let r = check::check(c.as_mut(), spec, engine)
                        .unwrap_or_else(|e| check::runtime_error(spec, &e, started, t0));
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    on_done(&r, t);
                    *results[k].lock().unwrap() = Some((r, t));
                }
                conn.take();
                drop(done_tx);
            });
        }
        drop(done_tx);
        if let Some(deadline) = deadline {
            let wait = deadline.saturating_duration_since(Instant::now());
            // Every worker drops its sender when it ends: a disconnect means all are done.
            if done_rx.recv_timeout(wait) == Err(mpsc::RecvTimeoutError::Timeout) {
                stop.store(true, Ordering::SeqCst);
                for i in interrupters.lock().unwrap().iter() {
                    i();
                }
            }
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap())
        .collect()
}

fn worker_without_connection(
    specs: &[Spec],
    results: &[Mutex<Option<Finished>>],
    next: &AtomicUsize,
    stop: &AtomicBool,
    t: usize,
    e: &crate::adapter::AdapterError,
    on_done: &(dyn Fn(&FreshnessResult, usize) + Sync),
) {
    loop {
        let k = next.fetch_add(1, Ordering::SeqCst);
        if k >= specs.len() || stop.load(Ordering::SeqCst) {
            break;
        }
        let mut e = e.clone();
        e.message = format!("cannot connect: {}", e.message);
        let r = check::runtime_error(&specs[k], &e, super::time::now_rfc3339(), Instant::now());
        on_done(&r, t);
        *results[k].lock().unwrap() = Some((r, t));
    }
}
