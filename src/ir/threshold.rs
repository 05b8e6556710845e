//! `warn_if`/`error_if`: a condition on a test's failing-row count.

use std::fmt;

/// A condition on the failing-row count: `warn_if`/`error_if` (`!= 0`, `> 10`, `>= 5`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    op: Cmp,
    value: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Threshold {
    /// dbt's default for both `warn_if` and `error_if`: any failing row.
    pub const ANY: Threshold = Threshold {
        op: Cmp::Ne,
        value: 0,
    };

    /// Parses `<op> <count>` with op one of `=`, `==`, `!=`, `<>`, `>`, `>=`, `<`, `<=`.
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let t = text.trim();
        let ops = [
            ("!=", Cmp::Ne),
            ("<>", Cmp::Ne),
            (">=", Cmp::Ge),
            ("<=", Cmp::Le),
            ("==", Cmp::Eq),
            ("=", Cmp::Eq),
            (">", Cmp::Gt),
            ("<", Cmp::Lt),
        ];
        let bad = || {
            format!(
                "`{text}` is not a condition on the failing-row count; write an operator and a count, like `!= 0`, `> 10` or `>= 5`"
            )
        };
        let (op, rest) = ops
            .iter()
            .find_map(|(sym, op)| t.strip_prefix(sym).map(|r| (*op, r)))
            .ok_or_else(bad)?;
        let value = rest.trim().parse::<u64>().map_err(|_| bad())?;
        Ok(Threshold { op, value })
    }

    /// True when `n` failing rows meet the condition.
    pub fn holds(self, n: u64) -> bool {
        match self.op {
            Cmp::Eq => n == self.value,
            Cmp::Ne => n != self.value,
            Cmp::Gt => n > self.value,
            Cmp::Ge => n >= self.value,
            Cmp::Lt => n < self.value,
            Cmp::Le => n <= self.value,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        };
        write!(f, "{op} {}", self.value)
    }
}
