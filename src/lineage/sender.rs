//! Delivery off the run's path: events go through a bounded queue to one background thread
//! that sends them in order. When an HTTP backend cannot be reached (after its retries), the
//! thread stops trying for the rest of the run and appends that event and every later one to
//! the spool (`.strata/lineage-spool.jsonl`), which `strata lineage send` delivers later. Events
//! an earlier run kept are sent first, so the backend sees them in order.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::transport::Sink;

/// The spool file's name, in the artifacts directory.
pub const SPOOL_FILE: &str = "lineage-spool.jsonl";

/// Events waiting for the sender; beyond that the run waits (a backend slower than the run).
const QUEUE_CAPACITY: usize = 16_384;

/// What happened to a run's events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Delivered (or written, for console and file transports).
    pub sent: usize,
    /// Kept in the spool for `strata lineage send`.
    pub kept: usize,
    /// Neither sent nor kept (the spool itself could not be written).
    pub lost: usize,
    /// The first delivery error.
    pub error: Option<String>,
}

/// The run's end of the queue.
pub struct Sender {
    tx: Option<mpsc::SyncSender<String>>,
    thread: Option<JoinHandle<Delivery>>,
}

impl Sender {
    /// Starts the background thread for `sink`; undelivered events go to `spool`.
    pub fn start(sink: Sink, spool: PathBuf) -> Sender {
        let (tx, rx) = mpsc::sync_channel::<String>(QUEUE_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("lineage-sender".into())
            .spawn(move || deliver(sink, &spool, rx))
            .ok();
        Sender {
            tx: Some(tx),
            thread,
        }
    }

    /// Queues one event.
    pub fn send(&self, event: String) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }

    /// Waits for the queue to drain and says what became of the events.
    pub fn finish(mut self) -> Delivery {
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(d)) => d,
            _ => Delivery {
                error: Some("the lineage sender stopped unexpectedly".into()),
                ..Delivery::default()
            },
        }
    }
}

/// The sender thread: earlier kept events first, then this run's, in order.
fn deliver(mut sink: Sink, spool: &Path, rx: mpsc::Receiver<String>) -> Delivery {
    let mut d = Delivery::default();
    let mut down = false;
    if sink.is_remote() {
        match send_spool(&mut sink, spool) {
            Ok(n) => d.sent += n,
            Err(SpoolError::Delivery { sent, error, .. }) => {
                d.sent += sent;
                d.error = Some(error);
                down = true;
            }
            Err(SpoolError::Io(e)) => {
                d.error = Some(e);
                down = true;
            }
        }
    }
    let mut keep = Spool::new(spool);
    for event in rx {
        if down {
            keep.push(&event, &mut d);
            continue;
        }
        match sink.send(&event) {
            Ok(()) => d.sent += 1,
            Err(e) => {
                d.error.get_or_insert(e);
                if sink.is_remote() {
                    down = true;
                    keep.push(&event, &mut d);
                } else {
                    d.lost += 1;
                }
            }
        }
    }
    keep.close(&mut d);
    d
}

/// Appends kept events to the spool file, opened on first use.
struct Spool<'a> {
    path: &'a Path,
    file: Option<std::io::BufWriter<std::fs::File>>,
    broken: bool,
}

impl<'a> Spool<'a> {
    fn new(path: &'a Path) -> Spool<'a> {
        Spool {
            path,
            file: None,
            broken: false,
        }
    }

    fn push(&mut self, event: &str, d: &mut Delivery) {
        if self.file.is_none() && !self.broken {
            let opened = self
                .path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|_| {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(self.path)
                });
            match opened {
                Ok(f) => self.file = Some(std::io::BufWriter::new(f)),
                Err(e) => {
                    self.broken = true;
                    d.error
                        .get_or_insert(format!("cannot write {}: {e}", self.path.display()));
                }
            }
        }
        match self.file.as_mut().map(|f| writeln!(f, "{event}")) {
            Some(Ok(())) => d.kept += 1,
            _ => d.lost += 1,
        }
    }

    fn close(&mut self, d: &mut Delivery) {
        if let Some(f) = self.file.as_mut()
            && let Err(e) = f.flush()
        {
            d.error
                .get_or_insert(format!("cannot write {}: {e}", self.path.display()));
        }
    }
}

/// Why the spool was not fully delivered.
#[derive(Debug)]
pub enum SpoolError {
    /// Reading or rewriting the spool failed.
    Io(String),
    /// The backend refused or could not be reached; what was delivered before is removed.
    Delivery {
        /// Events delivered before the failure.
        sent: usize,
        /// Events still kept.
        left: usize,
        /// What went wrong.
        error: String,
    },
}

/// Sends the spooled events in order and removes those delivered; stops at the first failure
/// (the rest stays, in order). Returns how many were delivered.
pub fn send_spool(sink: &mut Sink, spool: &Path) -> Result<usize, SpoolError> {
    let file = match std::fs::File::open(spool) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(SpoolError::Io(format!(
                "cannot read {}: {e}",
                spool.display()
            )));
        }
    };
    let lines: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| SpoolError::Io(format!("cannot read {}: {e}", spool.display())))?;
    let lines: Vec<String> = lines.into_iter().filter(|l| !l.trim().is_empty()).collect();
    let mut sent = 0;
    let mut failure = None;
    for line in &lines {
        match sink.send(line) {
            Ok(()) => sent += 1,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let rest = &lines[sent..];
    let rewrite = if rest.is_empty() {
        std::fs::remove_file(spool)
    } else if sent > 0 {
        let tmp = spool.with_extension("jsonl.tmp");
        let mut text = rest.join("\n");
        text.push('\n');
        std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, spool))
    } else {
        Ok(())
    };
    rewrite.map_err(|e| SpoolError::Io(format!("cannot rewrite {}: {e}", spool.display())))?;
    match failure {
        None => Ok(sent),
        Some(error) => Err(SpoolError::Delivery {
            sent,
            left: rest.len(),
            error,
        }),
    }
}
