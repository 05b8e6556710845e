//! Positions in a render's output mapped back to its template, for diagnostics at the model
//! file's own line and column.

use std::path::Path;

use minijinja::OutputSpan;

use crate::diagnostics::{Span, display_path};
use crate::jinja;

/// Maps positions in rendered output back to the template source.
pub struct SourceMap<'a> {
    /// The render's output spans.
    pub spans: &'a [OutputSpan],
    /// The rendered text.
    pub rendered: &'a str,
    /// The template source.
    pub source: &'a str,
    /// The template's file.
    pub file: &'a Path,
}

impl SourceMap<'_> {
    /// The source position of byte `offset` of the rendered output.
    pub fn at_offset(&self, offset: usize) -> Span {
        let idx = self
            .spans
            .partition_point(|s| s.output_range().start <= offset);
        let Some(span) = idx.checked_sub(1).map(|i| &self.spans[i]) else {
            return Span::line(self.file, 1);
        };
        if span.name() != display_path(self.file) {
            return Span::line(self.file, span.line());
        }
        let src = span.source_range();
        let (range, whole) = match span.kind() {
            minijinja::OutputSpanKind::Raw => {
                let at =
                    (src.start + offset.saturating_sub(span.output_range().start)).min(src.end);
                (at..at + 1, false)
            }
            // Output of `{{ ... }}`: mark the whole expression.
            _ => (src.clone(), true),
        };
        let mut s = jinja::span_in_template(self.file, self.source, range);
        if !whole {
            s.len = 1;
        }
        s
    }

    /// The source position of `line:col` (1-based) of the rendered output.
    pub fn at_line_col(&self, line: usize, col: usize) -> Span {
        let mut offset = 0;
        for (i, l) in self.rendered.split_inclusive('\n').enumerate() {
            if i + 1 == line {
                let within = l
                    .char_indices()
                    .nth(col.saturating_sub(1))
                    .map(|(b, _)| b)
                    .unwrap_or(0);
                return self.at_offset(offset + within);
            }
            offset += l.len();
        }
        self.at_offset(self.rendered.len().saturating_sub(1))
    }
}

/// Widens a one-character span to cover `text` when the source has it verbatim at that place
/// (a relation name written in the model file, not produced by Jinja).
pub fn mark_text(mut span: Span, src: &str, text: &str) -> Span {
    let written = src
        .lines()
        .nth(span.line - 1)
        .map(|l| l.chars().skip(span.col - 1).collect::<String>())
        .unwrap_or_default();
    if !text.is_empty() && written.starts_with(text) {
        span.len = text.chars().count();
    }
    span
}

/// The column (1-based, in characters) in `rendered_line` of column `col` of `code_line`, the
/// same line once its relation placeholders were replaced: exact before the first and after
/// the last replacement (the common prefix and suffix of the two lines), the start of the
/// difference in between.
pub fn rendered_col(code_line: &str, rendered_line: &str, col: usize) -> usize {
    let code: Vec<char> = code_line.chars().collect();
    let rendered: Vec<char> = rendered_line.chars().collect();
    let prefix = code
        .iter()
        .zip(&rendered)
        .take_while(|(a, b)| a == b)
        .count();
    if col <= prefix {
        return col;
    }
    let max_suffix = code.len().min(rendered.len()) - prefix;
    let suffix = code
        .iter()
        .rev()
        .zip(rendered.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    let from_end = code.len() + 1 - col.min(code.len() + 1);
    if from_end <= suffix {
        return rendered.len() + 1 - from_end;
    }
    prefix + 1
}

#[cfg(test)]
mod tests {
    use super::rendered_col;

    #[test]
    fn columns_after_a_replaced_placeholder_shift_back() {
        let rendered = "from __strata_rel_0__ as a where a.idd > 0";
        let code = "from \"main\".\"a\" as a where a.idd > 0";
        let at = code.find("idd").unwrap() + 1;
        assert_eq!(
            rendered_col(code, rendered, at),
            rendered.find("idd").unwrap() + 1
        );
        assert_eq!(rendered_col(code, rendered, 1), 1);
        assert_eq!(rendered_col("select a.x", "select a.x", 10), 10);
    }
}
