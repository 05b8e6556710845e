//! Running a data test (generic or singular): count the failing rows, decide pass/warn/fail
//! from severity and thresholds, keep the failing rows in the audit schema when
//! `store_failures` is on, and fetch a few of them to show.

use super::{Verdict, verdict};
use crate::adapter::in_transaction;
use crate::adapter::{Connection, DbResult};
use crate::ir::CompiledNode;
use crate::ir::config::TestSeverity;

/// How many failing rows are shown under a failed test.
pub const SAMPLE_ROWS: usize = 5;

/// The result of one data test.
#[derive(Clone, Debug)]
pub struct TestRun {
    /// Pass, warn or fail.
    pub verdict: Verdict,
    /// Failing rows found (capped by `limit`).
    pub failures: u64,
    /// One line for people.
    pub message: String,
    /// A sample of the failing rows, as aligned text lines (header first).
    pub sample: Vec<String>,
}

/// The test query, without a trailing semicolon, capped by `limit` when set.
pub fn test_query(node: &CompiledNode) -> String {
    let sql = node.compiled_code.as_deref().unwrap_or_default();
    let sql = sql.trim_end().trim_end_matches(';').trim_end();
    match node.config.limit {
        Some(n) => format!("select * from (\n{sql}\n) as strata_limited limit {n}"),
        None => sql.to_string(),
    }
}

/// Runs a data test on `conn`.
pub fn run(conn: &mut dyn Connection, node: &CompiledNode) -> DbResult<TestRun> {
    let query = test_query(node);
    let audit = node.test.as_ref().and_then(|t| t.audit_relation.as_ref());
    // With store_failures the failing rows are kept in a table (replaced on every run) and
    // counted and sampled from there; otherwise the query is counted where it runs.
    let source = match audit {
        Some(rel) => {
            in_transaction(conn, |c| {
                c.execute(&format!("drop table if exists {}", rel.quoted()))?;
                c.execute(&format!("create table {} as\n{query}", rel.quoted()))
            })?;
            rel.quoted()
        }
        None => format!("(\n{query}\n) as strata_test"),
    };
    // `fail_calc`: the count is an aggregate over the rows (none: zero), `count(*)` by default.
    let calc = node.config.fail_calc.as_deref().unwrap_or("count(*)");
    let rows = conn.query(&format!("select {calc} from {source}"))?;
    let failures: u64 = rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |f| f.max(0.0).round() as u64);
    let severity_warn = node.config.severity == Some(TestSeverity::Warn);
    let v = verdict(
        failures,
        severity_warn,
        node.config.warn_if.as_deref(),
        node.config.error_if.as_deref(),
    );
    let sample = if failures > 0 {
        let select = format!("select * from {source} limit {SAMPLE_ROWS}");
        let columns = conn.describe(&select)?;
        let rows = conn.query(&select)?;
        format_rows(
            &columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            &rows,
        )
    } else {
        Vec::new()
    };
    let rows_word = if failures == 1 { "row" } else { "rows" };
    let mut message = match v {
        Verdict::Pass if failures == 0 => "passed".to_string(),
        Verdict::Pass => format!("passed with {failures} failing {rows_word} (within thresholds)"),
        Verdict::Warn => format!("{failures} failing {rows_word} (warning)"),
        Verdict::Fail => format!("{failures} failing {rows_word}"),
    };
    if failures > SAMPLE_ROWS as u64 && !sample.is_empty() {
        message.push_str(&format!(", first {SAMPLE_ROWS} shown"));
    }
    if let Some(rel) = audit {
        message.push_str(&format!("; stored in {}.{}", rel.schema, rel.identifier));
    }
    Ok(TestRun {
        verdict: v,
        failures,
        message,
        sample,
    })
}

/// Rows as aligned text lines, header first; NULL shows as `null`.
pub fn format_rows(columns: &[String], rows: &[Vec<Option<String>>]) -> Vec<String> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| v.clone().unwrap_or_else(|| "null".into()))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for r in &cells {
        for (k, v) in r.iter().enumerate() {
            if k < widths.len() {
                widths[k] = widths[k].max(v.chars().count());
            }
        }
    }
    let line = |vals: &[String]| -> String {
        vals.iter()
            .enumerate()
            .map(|(k, v)| format!("{v:<w$}", w = widths.get(k).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(" | ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(columns)];
    out.push(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-"),
    );
    out.extend(cells.iter().map(|r| line(r)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_aligned() {
        let lines = format_rows(
            &["id".into(), "name".into()],
            &[
                vec![Some("1".into()), None],
                vec![Some("10".into()), Some("x".into())],
            ],
        );
        assert_eq!(lines, vec!["id | name", "---+-----", "1  | null", "10 | x"]);
    }
}
