//! dbt's `flags` in templates: `flags.WHICH` (the command running) and `flags.FULL_REFRESH`,
//! set once per process by the command line ([`set`]). A render that reads them depends on
//! the command, so it is kept out of the render cache ([`take_read`]).

use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use minijinja::value::{Object, Value};

/// What the command line says.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    /// The command, as dbt names it (`run`, `build`, `compile`, `test`, `seed`, ...).
    pub which: String,
    /// `--full-refresh`.
    pub full_refresh: bool,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

thread_local! {
    /// Whether the render running on this thread read a flag (a render runs on one thread).
    static READ: Cell<bool> = const { Cell::new(false) };
}

/// Sets the flags of this process; the first call wins.
pub fn set(flags: Flags) {
    let _ = FLAGS.set(flags);
}

/// Whether this thread read a flag since the last call, clearing the mark.
pub fn take_read() -> bool {
    READ.with(|r| r.replace(false))
}

/// The `flags` global.
#[derive(Debug)]
pub struct FlagsObject;

impl Object for FlagsObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let flags = FLAGS.get_or_init(|| Flags {
            which: "compile".into(),
            full_refresh: false,
        });
        let value = match key.as_str()? {
            "WHICH" => Value::from(flags.which.clone()),
            "FULL_REFRESH" => Value::from(flags.full_refresh),
            "STORE_FAILURES" | "WARN_ERROR" | "FAIL_FAST" | "DEBUG" => Value::from(false),
            _ => return None,
        };
        READ.with(|r| r.set(true));
        Some(value)
    }
}
