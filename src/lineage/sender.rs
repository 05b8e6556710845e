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
        /// Events still kept, when counted (not when none was delivered).
        left: Option<usize>,
        /// What went wrong.
        error: String,
    },
}

/// Sends the spooled events in order and removes those delivered; stops at the first failure
/// (the rest stays, in order). Returns how many were delivered. The file is read as it is sent,
/// never held whole in memory.
pub fn send_spool(sink: &mut Sink, spool: &Path) -> Result<usize, SpoolError> {
    let io = |e: std::io::Error| SpoolError::Io(format!("cannot read {}: {e}", spool.display()));
    let file = match std::fs::File::open(spool) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(e)),
    };
    let mut lines = std::io::BufReader::new(file).lines();
    let mut sent = 0;
    let mut failed = None;
    for line in lines.by_ref() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        if let Err(e) = sink.send(&line) {
            failed = Some((line, e));
            break;
        }
        sent += 1;
    }
    let Some((first, error)) = failed else {
        std::fs::remove_file(spool)
            .map_err(|e| SpoolError::Io(format!("cannot remove {}: {e}", spool.display())))?;
        return Ok(sent);
    };
    let rest = lines.filter(|l| l.as_ref().map_or(true, |l| !l.trim().is_empty()));
    let left = if sent == 0 {
        // Nothing delivered: the file stays as it is, unread past its first event.
        None
    } else {
        let tmp = spool.with_extension("jsonl.tmp");
        let rewrite = || -> std::io::Result<usize> {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            writeln!(w, "{first}")?;
            let mut left = 1;
            for l in rest {
                writeln!(w, "{}", l?)?;
                left += 1;
            }
            w.flush()?;
            std::fs::rename(&tmp, spool)?;
            Ok(left)
        };
        let left = rewrite()
            .map_err(|e| SpoolError::Io(format!("cannot rewrite {}: {e}", spool.display())))?;
        Some(left)
    };
    Err(SpoolError::Delivery { sent, left, error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::config::{HttpTarget, Transport};

    /// A backend that accepts `ok` events, then refuses every other one (HTTP 400).
    fn backend(ok: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let t = std::thread::spawn(move || {
            let mut got = Vec::new();
            for mut req in server.incoming_requests() {
                let mut body = String::new();
                std::io::Read::read_to_string(req.as_reader(), &mut body).unwrap();
                let code = if got.len() < ok { 201 } else { 400 };
                if code == 201 {
                    got.push(body);
                }
                let _ = req.respond(tiny_http::Response::empty(code));
                if code == 400 {
                    break;
                }
            }
            got
        });
        (url, t)
    }

    fn sink(url: &str) -> Sink {
        Sink::open(&Transport::Http(HttpTarget {
            url: url.to_string(),
            api_key: None,
            timeout: std::time::Duration::from_secs(5),
            retries: 0,
            gzip: false,
        }))
        .unwrap()
    }

    #[test]
    fn a_partial_delivery_keeps_the_rest_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join(SPOOL_FILE);
        std::fs::write(
            &spool,
            "{\"n\":1}\n{\"n\":2}\n\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n",
        )
        .unwrap();
        let (url, t) = backend(3);
        let r = send_spool(&mut sink(&url), &spool);
        let got = t.join().unwrap();
        match r {
            Err(SpoolError::Delivery { sent, left, .. }) => assert_eq!((sent, left), (3, Some(2))),
            other => panic!("{other:?}"),
        }
        assert_eq!(got, ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]);
        assert_eq!(
            std::fs::read_to_string(&spool).unwrap(),
            "{\"n\":4}\n{\"n\":5}\n"
        );
        // All delivered: the spool is gone.
        let (url, t) = backend(10);
        assert_eq!(send_spool(&mut sink(&url), &spool).unwrap(), 2);
        drop(t);
        assert!(!spool.exists());
    }
}
