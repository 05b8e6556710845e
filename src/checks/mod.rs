//! Running checks against the database: data tests (with `store_failures`) and their
//! `warn_if`/`error_if` verdict, unit tests (`unit`) and data contracts (`contract`). A test
//! query selects the failing rows; zero rows means the test passes.
//!
//! Owns what a run needs; the SQL of tests and the contracts' schemas are made at compile time
//! (`compile`). May import: `ir`, `adapter`, `sql`.

pub mod contract;
pub mod data;
pub mod unit;

use crate::ir::threshold::Threshold;

/// What a test's result means for the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to report.
    Pass,
    /// Reported; the run goes on and succeeds.
    Warn,
    /// The run fails; in `build`, the tested model's descendants are skipped.
    Fail,
}

/// dbt's rule: with severity error, `error_if` is checked first, then `warn_if`; with severity
/// warn only `warn_if` counts.
pub fn verdict(
    failures: u64,
    severity_warn: bool,
    warn_if: Option<&str>,
    error_if: Option<&str>,
) -> Verdict {
    let cond = |t: Option<&str>| {
        t.and_then(|t| Threshold::parse(t).ok())
            .unwrap_or(Threshold::ANY)
    };
    if !severity_warn && cond(error_if).holds(failures) {
        Verdict::Fail
    } else if cond(warn_if).holds(failures) {
        Verdict::Warn
    } else {
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_and_decide() {
        let t = Threshold::parse(">= 5").unwrap();
        assert!(t.holds(5) && !t.holds(4));
        assert_eq!(t.to_string(), ">= 5");
        assert!(Threshold::parse("<>0").unwrap().holds(1));
        assert!(Threshold::parse("== 2").unwrap().holds(2));
        assert!(Threshold::parse("five").is_err());
        assert!(Threshold::parse("> -1").is_err());
        // severity error: error_if first, then warn_if.
        assert_eq!(verdict(0, false, None, None), Verdict::Pass);
        assert_eq!(verdict(3, false, None, None), Verdict::Fail);
        assert_eq!(verdict(3, false, Some("> 0"), Some("> 10")), Verdict::Warn);
        assert_eq!(verdict(11, false, Some("> 0"), Some("> 10")), Verdict::Fail);
        assert_eq!(verdict(3, false, Some("> 5"), Some("> 10")), Verdict::Pass);
        // severity warn: error_if is not consulted.
        assert_eq!(verdict(100, true, None, Some("> 10")), Verdict::Warn);
        assert_eq!(verdict(2, true, Some("> 5"), None), Verdict::Pass);
    }
}
