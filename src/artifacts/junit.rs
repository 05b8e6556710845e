//! A JUnit XML report of a run (`--junit-xml PATH`), in the shape CI systems read (the
//! Jenkins/xunit `junit-10.xsd` schema): one `testsuite` per resource type, one `testcase` per
//! node; a failed test is a `failure`, a failed model or seed an `error`, a skipped node
//! `skipped`, and a test's warning or sample rows go to `system-out`.

use std::collections::BTreeMap;

use crate::compile::Compiled;
use crate::execute::{NodeResult, Status};
use crate::ir::ResourceType;

/// Escapes text for XML attributes and content; characters XML 1.0 forbids are dropped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Seconds with at most three decimals, as the schema's time type wants.
fn secs(t: f64) -> String {
    format!("{:.3}", t.max(0.0))
}

#[derive(Default)]
struct Suite {
    cases: Vec<String>,
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    time: f64,
}

/// The report for `results` of a run of `command`.
pub fn report(c: &Compiled, results: &[NodeResult], command: &str, elapsed: f64) -> String {
    let by_id: BTreeMap<&str, usize> = c
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.unique_id.as_str(), i))
        .collect();
    let mut suites: BTreeMap<&'static str, Suite> = BTreeMap::new();
    for r in results {
        let Some(&i) = by_id.get(r.unique_id.as_str()) else {
            continue;
        };
        let n = &c.nodes[i];
        let kind = match n.resource_type {
            ResourceType::Test if n.test.as_ref().is_some_and(|t| t.unit.is_some()) => "unit_test",
            ResourceType::Test => "test",
            ResourceType::Model => "model",
            ResourceType::Seed => "seed",
            ResourceType::Source => "source",
            ResourceType::Exposure => "exposure",
        };
        let suite = suites.entry(kind).or_default();
        suite.tests += 1;
        suite.time += r.execution_time;
        let classname = n.fqn[..n.fqn.len().saturating_sub(1)].join(".");
        let mut body = String::new();
        let detail = || {
            let mut text = r.message.clone();
            for d in &r.details {
                text.push('\n');
                text.push_str(d);
            }
            esc(&text)
        };
        match r.status {
            Status::Skipped => {
                suite.skipped += 1;
                body.push_str(&format!("<skipped message=\"{}\"/>", esc(&r.message)));
            }
            Status::Error | Status::Interrupted => {
                suite.errors += 1;
                body.push_str(&format!(
                    "<error message=\"{}\" type=\"error\">{}</error>",
                    esc(r.message.lines().next().unwrap_or("")),
                    detail()
                ));
            }
            Status::Fail => {
                suite.failures += 1;
                body.push_str(&format!(
                    "<failure message=\"{}\" type=\"fail\">{}</failure>",
                    esc(&r.message),
                    detail()
                ));
            }
            Status::Warn => {
                body.push_str(&format!("<system-out>WARN: {}</system-out>", detail()));
            }
            // A freshness check that passed still says how old the data is.
            Status::Success | Status::Pass => {
                if let Some(f) = &r.freshness {
                    body.push_str(&format!("<system-out>{}</system-out>", esc(&f.message)));
                }
            }
        }
        let open = format!(
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
            esc(&n.name),
            esc(&classname),
            secs(r.execution_time)
        );
        suite.cases.push(if body.is_empty() {
            format!("{open}/>")
        } else {
            format!("{open}>\n      {body}\n    </testcase>")
        });
    }
    let total = |f: fn(&Suite) -> usize| suites.values().map(f).sum::<usize>();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"strata {}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">\n",
        esc(command),
        total(|s| s.tests),
        total(|s| s.failures),
        total(|s| s.errors),
        secs(elapsed)
    ));
    let timestamp: String = crate::execute::now_rfc3339().chars().take(19).collect();
    for (kind, s) in &suites {
        xml.push_str(&format!(
            "  <testsuite name=\"{}.{kind}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{timestamp}\">\n",
            esc(&c.project.name),
            s.tests,
            s.failures,
            s.errors,
            s.skipped,
            secs(s.time)
        ));
        for case in &s.cases {
            xml.push_str(case);
            xml.push('\n');
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(esc("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(secs(1.23456), "1.235");
    }
}
