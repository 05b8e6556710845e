//! Phase timings for profiling: with `STRATA_TIMINGS=1` in the environment, each phase's wall
//! time and the resident memory at its end are printed to stderr when the command ends. Off, a
//! mark costs one atomic load.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

static STATE: AtomicU8 = AtomicU8::new(0);
static MARKS: Mutex<Vec<(&'static str, Instant, u64)>> = Mutex::new(Vec::new());

/// Resident set size in MiB (Linux; 0 elsewhere).
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096 / (1024 * 1024))
}

fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        0 => {
            let on = std::env::var_os("STRATA_TIMINGS").is_some_and(|v| v != "0");
            STATE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        s => s == 2,
    }
}

/// Records that the phase `name` ended now.
pub fn mark(name: &'static str) {
    if enabled() {
        let rss = rss_mib();
        MARKS.lock().unwrap().push((name, Instant::now(), rss));
    }
}

/// Starts the clock (the first mark).
pub fn start() {
    mark("start");
}

/// Prints each phase's time, in order, to stderr.
pub fn report() {
    if !enabled() {
        return;
    }
    let marks = MARKS.lock().unwrap();
    let Some((_, first, _)) = marks.first() else {
        return;
    };
    let mut prev = *first;
    for (name, at, rss) in marks.iter().skip(1) {
        eprintln!(
            "timing {name:<24} {:>9.1} ms {rss:>7} MiB",
            at.duration_since(prev).as_secs_f64() * 1000.0
        );
        prev = *at;
    }
    eprintln!(
        "timing {:<24} {:>9.1} ms",
        "total",
        prev.duration_since(*first).as_secs_f64() * 1000.0
    );
}
