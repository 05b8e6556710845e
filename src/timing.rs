//! Phase timings for profiling: with `STRATA_TIMINGS=1` in the environment, each phase's wall
//! time, the CPU time the process spent in it (user + system, all threads: more than the wall
//! time when the phase runs in parallel), the share of that spent in the kernel (page faults,
//! mostly) and the resident memory at its end are printed to stderr when the command ends. Off, a mark costs one atomic load.
//! A utility: imports nothing of the crate.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

static STATE: AtomicU8 = AtomicU8::new(0);
/// (phase, end, (user + system, system) CPU ms so far, RSS MiB)
type Mark = (&'static str, Instant, (f64, f64), u64);
static MARKS: Mutex<Vec<Mark>> = Mutex::new(Vec::new());

/// Resident set size in MiB (Linux; 0 elsewhere).
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096 / (1024 * 1024))
}

/// User + system and system CPU time of the process so far, in ms (Linux; 0 elsewhere).
fn cpu_ms() -> (f64, f64) {
    // Fields 14 and 15 of /proc/self/stat, after the parenthesised command name.
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let mut fields = rest.split_whitespace().skip(11);
            let user: u64 = fields.next()?.parse().ok()?;
            let sys: u64 = fields.next()?.parse().ok()?;
            Some(((user + sys) as f64 * 10.0, sys as f64 * 10.0))
        })
        .unwrap_or((0.0, 0.0))
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
        let cpu = cpu_ms();
        MARKS.lock().unwrap().push((name, Instant::now(), cpu, rss));
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
    let Some(&(_, first, first_cpu, _)) = marks.first() else {
        return;
    };
    let (mut prev, mut prev_cpu) = (first, first_cpu);
    for &(name, at, cpu, rss) in marks.iter().skip(1) {
        eprintln!(
            "timing {name:<24} {:>9.1} ms {:>7.0} ms cpu {rss:>7} MiB {:>7.0} ms sys",
            at.duration_since(prev).as_secs_f64() * 1000.0,
            cpu.0 - prev_cpu.0,
            cpu.1 - prev_cpu.1
        );
        (prev, prev_cpu) = (at, cpu);
    }
    eprintln!(
        "timing {:<24} {:>9.1} ms {:>7.0} ms cpu {:>7} MiB {:>7.0} ms sys",
        "total",
        prev.duration_since(first).as_secs_f64() * 1000.0,
        prev_cpu.0 - first_cpu.0,
        "",
        prev_cpu.1 - first_cpu.1
    );
}
