//! Database errors at the model's own file and line. The database points into the statement
//! strata sent (DuckDB names a line, Postgres a character position); that statement wraps the
//! compiled SQL, which Jinja rendered from the model file. The compiled SQL is found in the
//! statement, and its lines are mapped to the file's by a line diff of the two texts: lines
//! Jinja left alone map to themselves, lines a `{{ ... }}` or a macro produced map to the line
//! of that expression.
//!
//! May import: `ir`, `adapter` (its error type), `diagnostics`.

use similar::{DiffOp, TextDiff};

use crate::adapter::AdapterError;
use crate::diagnostics::display_path;
use crate::ir::CompiledNode;

/// The line of `node`'s own file that `e` points at, when the database gave a position inside
/// the node's compiled SQL and the node is a SQL file.
pub fn source_line(node: &CompiledNode, e: &AdapterError) -> Option<usize> {
    let at = e.at.as_ref()?;
    let raw = node.raw_code.as_deref()?;
    if node
        .original_file_path
        .extension()
        .is_none_or(|x| x != "sql")
    {
        return None;
    }
    [&node.compiled_code, &node.compiled_incremental_code]
        .into_iter()
        .flatten()
        .find_map(|code| {
            let body = code.trim_end().trim_end_matches(';').trim_end();
            if body.trim().is_empty() {
                return None;
            }
            let start = at.statement.find(body)?;
            let within = at.offset.checked_sub(start).filter(|&o| o <= body.len())?;
            let line = body[..within].matches('\n').count() + 1;
            Some(compiled_to_source(raw, code, line))
        })
}

/// The line of `source` (a template) that produced line `line` of `compiled` (both 1-based).
pub fn compiled_to_source(source: &str, compiled: &str, line: usize) -> usize {
    let want = line - 1;
    let source_lines = source.lines().count().max(1);
    let diff = TextDiff::from_lines(source, compiled);
    for op in diff.ops() {
        let (old, old_len, new, new_len) = match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => (old_index, len, new_index, len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (old_index, old_len, new_index, new_len),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (old_index, 0, new_index, new_len),
            DiffOp::Delete { .. } => continue,
        };
        if !(new..new + new_len).contains(&want) {
            continue;
        }
        let k = want - new;
        let at = if old_len == 0 {
            // Lines with no source line of their own: a macro's output continues the line
            // before them.
            old.saturating_sub(1)
        } else if old_len == new_len {
            old + k
        } else {
            // A block that rendered to a different number of lines (a macro call that wrote
            // several): line by line as far as the block goes, then its last line.
            old + k.min(old_len - 1)
        };
        return (at + 1).min(source_lines);
    }
    line.min(source_lines)
}

/// `e`'s message for the node's run result: the file and line first when known, and DuckDB's
/// `LINE n:` (a line of the statement sent) replaced by the file's line, its caret moved along.
pub fn message(node: &CompiledNode, e: &AdapterError, line: Option<usize>) -> String {
    let Some(line) = line else {
        return e.message.clone();
    };
    let mut out = format!("{}:{line}: ", display_path(&node.original_file_path));
    let lines: Vec<&str> = e.message.lines().collect();
    let marker = lines.iter().rposition(|l| l.starts_with("LINE "));
    let mut shift: isize = 0;
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match (Some(i) == marker, l.split_once(':')) {
            (true, Some((label, rest))) => {
                let new = format!("LINE {line}");
                shift = new.len() as isize - label.len() as isize;
                out.push_str(&new);
                out.push(':');
                out.push_str(rest);
            }
            _ if marker.is_some_and(|m| i == m + 1) && l.trim().chars().all(|c| c == '^') => {
                if shift >= 0 {
                    out.push_str(&" ".repeat(shift as usize));
                    out.push_str(l);
                } else {
                    let cut = l.len() - l.trim_start().len();
                    out.push_str(&l[cut.min(shift.unsigned_abs())..]);
                }
            }
            _ => out.push_str(l),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_lines_map_to_themselves() {
        let src = "{{ config(materialized='table') }}\nselect\n  a,\n  b\nfrom {{ ref('x') }}\n";
        let out = "\nselect\n  a,\n  b\nfrom \"main\".\"x\"\n";
        for l in 1..=5 {
            assert_eq!(compiled_to_source(src, out, l), l);
        }
    }

    #[test]
    fn macro_output_maps_to_the_call() {
        let src = "select\n  {{ cols() }}\nfrom t\nwhere bad\n";
        let out = "select\n  a,\n  b,\n  c\nfrom t\nwhere bad\n";
        assert_eq!(compiled_to_source(src, out, 2), 2);
        assert_eq!(compiled_to_source(src, out, 3), 2);
        assert_eq!(compiled_to_source(src, out, 4), 2);
        assert_eq!(compiled_to_source(src, out, 6), 4);
    }

    #[test]
    fn dropped_blocks_keep_later_lines_in_place() {
        let src = "{% set x = 1 %}\n{% if true %}\nselect 1\n{% endif %}\nfrom t\n";
        let out = "\n\nselect 1\n\nfrom t\n";
        assert_eq!(compiled_to_source(src, out, 3), 3);
        assert_eq!(compiled_to_source(src, out, 5), 5);
    }

    #[test]
    fn duckdb_line_is_relabelled_and_its_caret_moved() {
        let mut node = CompiledNode::new(
            "model.p.m".into(),
            crate::ir::ResourceType::Model,
            "m".into(),
            "models/m.sql".into(),
            vec![],
            Default::default(),
        );
        node.raw_code = Some("select\n  id\nfrom t".into());
        let e = AdapterError::permanent("Binder Error: no id\n\nLINE 9:   id\n          ^^");
        let m = message(&node, &e, Some(12));
        assert_eq!(
            m,
            "models/m.sql:12: Binder Error: no id\n\nLINE 12:   id\n           ^^"
        );
    }
}
