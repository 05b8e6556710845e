//! Stage `strategies`: each incremental model's strategy checked against what the target's
//! engine and table format can run (the engine description says, `Engine::strategy_error`),
//! so that `merge` on Spark's parquet tables is an error at the line that chooses it, before
//! anything runs, not a failure in the middle of a run.

use super::context::Context;
use super::prepare::Pending;
use crate::adapter::engine;
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span};
use crate::ir::ResourceType;
use crate::ir::config::{IncrementalStrategy, Materialized};

/// Reports every incremental model whose strategy the target cannot run, and every table
/// layout that does not hold together (`clustered_by` without `buckets`, or the reverse).
pub fn check(ctx: &Context, pending: &[Pending], diags: &mut Diagnostics) {
    let engine = engine::engine(ctx.target.info.kind);
    for p in pending {
        if p.resource_type != ResourceType::Model {
            continue;
        }
        let layout = &p.config.layout;
        if layout.clustered_by.is_some() != layout.buckets.is_some() {
            let (has, lacks) = if layout.buckets.is_some() {
                ("buckets", "clustered_by")
            } else {
                ("clustered_by", "buckets")
            };
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("model `{}`: `{has}` needs `{lacks}`", p.name),
                )
                .at(span_of(p, has))
                .with_help("give both: `clustered_by` names the columns, `buckets` how many buckets they are hashed into"),
            );
        }
        if p.config.materialized != Some(Materialized::Incremental) {
            continue;
        }
        let keys = p.config.unique_key.as_deref().unwrap_or_default();
        let strategy = p.config.incremental_strategy.unwrap_or(if keys.is_empty() {
            IncrementalStrategy::Append
        } else {
            IncrementalStrategy::Merge
        });
        let format = layout
            .file_format
            .as_deref()
            .or(ctx.target.file_format.as_deref());
        let Some((message, help)) = (engine.strategy_error)(strategy, format) else {
            continue;
        };
        // Point at the config that chooses the strategy (or implies it with `unique_key`).
        let word = if p.config.incremental_strategy.is_some() {
            "incremental_strategy"
        } else {
            "unique_key"
        };
        diags.push(
            Diagnostic::error(Code::InvalidValue, format!("model `{}`: {message}", p.name))
                .at(span_of(p, word))
                .with_help(help),
        );
    }
}

/// Where `word` first appears in the model's file, else the file.
fn span_of(p: &Pending, word: &str) -> Span {
    p.template
        .as_deref()
        .and_then(|t| find(t, word))
        .map(|(line, col)| Span::new(&p.path, line, col, word.len()))
        .unwrap_or_else(|| Span::file(&p.path))
}

/// The 1-based line and column of the first `word` in `text`.
fn find(text: &str, word: &str) -> Option<(usize, usize)> {
    let at = text.find(word)?;
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    Some((line, col))
}

#[cfg(test)]
mod tests {
    #[test]
    fn positions_are_one_based() {
        assert_eq!(
            super::find("a\n  {{ config(unique_key='id') }}", "unique_key"),
            Some((2, 13))
        );
        assert_eq!(super::find("x", "unique_key"), None);
    }
}
