//! The end of `seed`, `run`, `test` and `build`: every failure of the run again, in one list
//! (node, file:line, first line of the error), printed last so that the end of a long log says
//! what to fix. Skipped nodes are not repeated: they follow from the failures listed.

use super::{Output, count};
use crate::adapter::AdapterError;
use crate::compile::Compiled;
use crate::diagnostics::display_path;
use crate::execute::{NodeResult, Status};

/// One failure: what failed, where it is declared, the first line of its error.
struct Failure {
    word: &'static str,
    what: String,
    unique_id: String,
    location: String,
    message: String,
}

fn first_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

fn failures(c: &Compiled, results: &[NodeResult], end: Option<&AdapterError>) -> Vec<Failure> {
    let mut out: Vec<Failure> = results
        .iter()
        .filter(|r| matches!(r.status, Status::Error | Status::Fail))
        .map(|r| {
            let node = c.nodes.iter().find(|n| n.unique_id == r.unique_id);
            let location = node
                .map(|n| {
                    let line = r.line.unwrap_or(n.line);
                    format!("{}:{line}", display_path(&n.original_file_path))
                })
                .unwrap_or_default();
            // A located database error starts with its location: said once, in the list's own column.
            let message = r
                .message
                .strip_prefix(&format!("{location}: "))
                .unwrap_or(&r.message);
            Failure {
                word: if r.status == Status::Fail {
                    "FAIL"
                } else {
                    "ERROR"
                },
                what: node
                    .map(|n| format!("{} {}", n.resource_type.as_str(), n.name))
                    .unwrap_or_else(|| r.unique_id.clone()),
                unique_id: r.unique_id.clone(),
                message: first_line(message),
                location,
            }
        })
        .collect();
    if let Some(e) = end {
        out.push(Failure {
            word: "ERROR",
            what: "on-run-end hooks".into(),
            unique_id: String::new(),
            location: crate::diagnostics::display_path(&c.project.file),
            message: first_line(&e.message),
        });
    }
    out
}

/// Prints the list (nothing when the run had no failure).
pub fn print(out: &Output, c: &Compiled, results: &[NodeResult], end: Option<&AdapterError>) {
    let list = failures(c, results, end);
    if list.is_empty() {
        return;
    }
    let mut text = format!("\n{}:", count(list.len(), "failure"));
    for f in &list {
        text.push_str(&format!(
            "\n  {:<5} {} ({}): {}",
            f.word, f.what, f.location, f.message
        ));
    }
    let json: Vec<serde_json::Value> = list
        .iter()
        .map(|f| {
            serde_json::json!({"status": f.word.to_lowercase(), "node": f.what,
                "unique_id": f.unique_id, "location": f.location, "message": f.message})
        })
        .collect();
    out.always(
        &text,
        serde_json::json!({"event": "failures", "failures": json}),
    );
}
