//! The one retry loop: a database call tried again after transient failures (a busy file, a
//! lock conflict, a dropped connection), with exponential backoff.

use std::time::Duration;

use super::DbResult;

/// How transient failures are retried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Calls made at most, the first included.
    pub attempts: u32,
    /// Seconds before the second call; each later wait doubles.
    pub initial_delay: f64,
    /// The longest wait, in seconds.
    pub max_delay: f64,
}

impl Backoff {
    /// Calls `f` until it succeeds, fails for good, has been called `attempts` times, or
    /// `stop()` says to give up. Returns the last result and the number of calls made.
    pub fn run<T>(
        self,
        mut f: impl FnMut() -> DbResult<T>,
        stop: impl Fn() -> bool,
    ) -> (DbResult<T>, u32) {
        let mut delay = self.initial_delay;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match f() {
                Err(e) if e.is_transient() && attempt < self.attempts && !stop() => {
                    std::thread::sleep(Duration::from_secs_f64(delay));
                    delay = (delay * 2.0).min(self.max_delay);
                }
                other => return (other, attempt),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{AdapterError, ErrorClass};

    fn transient() -> AdapterError {
        AdapterError::new(ErrorClass::Transient, "busy")
    }

    const QUICK: Backoff = Backoff {
        attempts: 3,
        initial_delay: 0.0,
        max_delay: 0.0,
    };

    #[test]
    fn transient_failures_are_retried_up_to_the_attempts() {
        let mut calls = 0;
        let (r, n) = QUICK.run(
            || {
                calls += 1;
                Err::<(), _>(transient())
            },
            || false,
        );
        assert!(r.is_err());
        assert_eq!((n, calls), (3, 3));
        let mut calls = 0;
        let (r, n) = QUICK.run(
            || {
                calls += 1;
                if calls < 2 { Err(transient()) } else { Ok(7) }
            },
            || false,
        );
        assert_eq!((r.unwrap(), n), (7, 2));
    }

    #[test]
    fn permanent_failures_and_stops_end_at_once() {
        let (r, n) = QUICK.run(|| Err::<(), _>(AdapterError::permanent("bad")), || false);
        assert!(r.is_err());
        assert_eq!(n, 1);
        let (_, n) = QUICK.run(|| Err::<(), _>(transient()), || true);
        assert_eq!(n, 1);
    }
}
