//! Unit tests (`unit_tests:` in properties YAML): a model's query run on given rows for each of
//! its inputs, compared with expected rows. Nothing upstream needs to be built: each input is
//! replaced by a CTE of the given rows. When the input relation exists, the given values are
//! cast to its column types (and its other columns are null), as dbt does; otherwise literals
//! keep their own types. Expected values are cast to the types of the model's output, and the
//! comparison is a multiset difference both ways, printed as a row diff.

use super::Verdict;
use super::data::{TestRun, format_rows};
use crate::adapter::{Connection, DbResult};
use crate::ir::unit::UnitSpec;
use crate::sql::unit::{diff_sql, with_inputs};

/// Runs a unit test.
pub fn run(conn: &mut dyn Connection, spec: &UnitSpec) -> DbResult<TestRun> {
    let mut input_types = Vec::with_capacity(spec.given.len());
    for g in &spec.given {
        let types = match &g.relation {
            Some(r) if conn.relation_kind(r)?.is_some() => conn.columns(r)?,
            _ => Vec::new(),
        };
        if types.is_empty() && g.rows.columns.is_empty() {
            return Ok(fail(format!(
                "the rows given for {} are empty and its relation does not exist: give at least the column names (format: csv with a header)",
                g.input
            )));
        }
        input_types.push(types);
    }
    let output = conn.describe(&format!(
        "{}\nselect * from __strata_actual",
        with_inputs(spec, &input_types)
    ))?;
    let missing: Vec<&String> = spec
        .expect
        .columns
        .iter()
        .filter(|c| !output.iter().any(|o| o.name.eq_ignore_ascii_case(c)))
        .collect();
    if !missing.is_empty() {
        return Ok(fail(format!(
            "expected column{} {} not in the output of `{}` (its columns: {})",
            if missing.len() > 1 { "s" } else { "" },
            missing
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            spec.model,
            output
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut rows = conn.query(&diff_sql(spec, &input_types, &output))?;
    if rows.is_empty() {
        return Ok(TestRun {
            verdict: Verdict::Pass,
            failures: 0,
            message: "passed".into(),
            sample: Vec::new(),
        });
    }
    // Stable order: by the row's values, then missing before unexpected.
    rows.sort_by(|a, b| a[1..].cmp(&b[1..]).then_with(|| a[0].cmp(&b[0])));
    let mut header = vec!["diff".to_string()];
    header.extend(spec.expect.columns.iter().cloned());
    let missing = rows.iter().filter(|r| r[0].as_deref() == Some("-")).count();
    let extra = rows.len() - missing;
    let mut sample = vec![format!(
        "- expected but missing: {missing}, + produced but not expected: {extra}"
    )];
    sample.extend(format_rows(&header, &rows));
    Ok(TestRun {
        verdict: Verdict::Fail,
        failures: rows.len() as u64,
        message: format!(
            "the output of `{}` differs from the expected rows",
            spec.model
        ),
        sample,
    })
}

fn fail(message: String) -> TestRun {
    TestRun {
        verdict: Verdict::Fail,
        failures: 1,
        message,
        sample: Vec::new(),
    }
}
