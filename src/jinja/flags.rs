//! dbt's `flags` in templates: `flags.WHICH` (the command running) and `flags.FULL_REFRESH`,
//! set once per process by the command line ([`set`]). A render that reads them depends on
//! the command, so it is kept out of the render cache ([`take_read`]). Also what a generic
//! test's macro sees while it is compiled ([`test_call`]): `should_store_failures()`, and
//! the `config()` calls it makes (dbt_utils' `config(fail_calc=...)`).

use std::cell::{Cell, RefCell};
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
    /// Whether the generic test compiled on this thread stores its failures.
    static STORE_FAILURES: Cell<bool> = const { Cell::new(false) };
    /// The `config()` calls of the generic test compiled on this thread, when one is.
    static TEST_CONFIG: RefCell<Option<Vec<(String, serde_json::Value)>>> =
        const { RefCell::new(None) };
}

/// Runs `f` (compiling a generic test's macro) with `should_store_failures()` answering
/// `store`; returns its result and the `config()` calls the macro made, in order.
pub fn test_call<R>(store: bool, f: impl FnOnce() -> R) -> (R, Vec<(String, serde_json::Value)>) {
    let before = STORE_FAILURES.with(|s| s.replace(store));
    let outer = TEST_CONFIG.with(|c| c.replace(Some(Vec::new())));
    let out = f();
    let calls = TEST_CONFIG.with(|c| c.replace(outer)).unwrap_or_default();
    STORE_FAILURES.with(|s| s.set(before));
    (out, calls)
}

/// Keeps a `config()` call made outside a node's render: true when a generic test's macro
/// is being compiled on this thread (and the call was kept).
pub fn keep_test_config(key: &str, value: serde_json::Value) -> bool {
    TEST_CONFIG.with(|c| match c.borrow_mut().as_mut() {
        Some(calls) => {
            calls.push((key.to_string(), value));
            true
        }
        None => false,
    })
}

/// dbt's `should_store_failures()`.
pub fn should_store_failures() -> bool {
    STORE_FAILURES.with(Cell::get)
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
