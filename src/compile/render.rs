//! Stages `render` and `render_incremental_hooks`: every model and singular test rendered
//! once, in parallel (renders of the last compile with the same inputs are taken from the
//! cache); then incremental models rendered a second time with `is_incremental()` true (a
//! first build and later runs need different SQL, and the refs of both are dependencies), and
//! hooks rendered in their node's context.

use std::path::Path;

use minijinja::OutputSpan;
use rayon::prelude::*;

use super::context::Context;
use super::prepare::{Pending, base_config};
use super::source_map::SourceMap;
use crate::diagnostics::{Diagnostic, Diagnostics, Span, display_path};
use crate::ir::ResourceType;
use crate::ir::config::{ConfigScope, Materialized, NodeConfig};
use crate::jinja::{self, relation_token};

/// Every render of the compile, by pending node.
pub struct Renders {
    /// The main SQL (None for seeds and for renders that failed).
    pub main: Vec<Option<jinja::Rendered>>,
    /// Incremental SQL and hooks.
    pub extra: Vec<Extra>,
    /// Some render came from the cache.
    pub hits: bool,
}

/// A node's renders beyond its main SQL.
#[derive(Default)]
pub struct Extra {
    /// The SQL with is_incremental() true (incremental models only; boxed: one per node).
    pub incremental: Option<Box<Result<jinja::Rendered, Diagnostic>>>,
    /// (pre?, hook text, render).
    pub hooks: Vec<(bool, String, Result<jinja::Rendered, Diagnostic>)>,
}

/// A render taken from the cache; positions in the template are left to a new render.
fn cached_render(
    e: jinja::cache::Entry,
    key: String,
    scope: ConfigScope,
    file: &Path,
) -> jinja::Rendered {
    let config = (!e.config.is_empty()).then(|| {
        let mut config = Box::<NodeConfig>::default();
        for (k, v) in &e.config {
            // Validated when the entry was stored.
            let _ = config.set(scope, k, v);
        }
        config
    });
    jinja::Rendered {
        text: e.text,
        spans: None,
        recorded: jinja::Recorded {
            relations: e.relations,
            config,
            config_calls: e.config,
            logs: e.logs,
            env_values: Vec::new(),
            introspected: None,
            query: None,
            read_graph: false,
            read_names: false,
            read_flags: false,
            macros: e.macros,
        },
        relation_spans: e
            .at
            .iter()
            .map(|&(line, col, len)| Span::new(file, line, col, len))
            .collect(),
        cache_key: Some(key),
        secret: false,
    }
}

/// The cache entry of a render, taking its text, relations and config calls (the logs stay:
/// the node keeps them).
pub fn cache_entry(r: &mut jinja::Rendered) -> jinja::cache::Entry {
    jinja::cache::Entry {
        text: std::mem::take(&mut r.text),
        relations: std::mem::take(&mut r.recorded.relations),
        at: r
            .relation_spans
            .iter()
            .map(|s| (s.line, s.col, s.len))
            .collect(),
        config: std::mem::take(&mut r.recorded.config_calls),
        logs: r.recorded.logs.clone(),
        macros: r.recorded.macros.clone(),
    }
}

/// Renders `source` for node `p`, or takes it from the cache; relation calls get their
/// positions in the template. A render that introspected is not cached: it is rendered again
/// with the answers (stage `introspect`), which its cache key does not hold.
pub fn render_node(
    ctx: &Context,
    cache: &jinja::cache::Cache,
    p: &Pending,
    source: &str,
    scope: ConfigScope,
    incremental: bool,
) -> Result<jinja::Rendered, Diagnostic> {
    let name = crate::diagnostics::display_path_cow(&p.path);
    let base = serde_json::to_string(&p.config).unwrap_or_default();
    let flags = u8::from(scope == ConfigScope::Test) | (u8::from(incremental) << 1);
    let key = jinja::cache::key(ctx.render_global, &name, source, &base, flags);
    if let Some(e) = cache.take(&key) {
        return Ok(cached_render(e, key, scope, &p.path));
    }
    let mut r = render_uncached(ctx, p, source, scope, incremental, jinja::Pass::default())?;
    let rec = &r.recorded;
    let later = rec.introspected.is_some()
        || rec.query.is_some()
        || rec.read_graph
        || rec.read_names
        || rec.read_flags;
    if !r.secret && !later {
        r.cache_key = Some(key);
    }
    Ok(r)
}

/// Renders `source` for node `p` (never from the cache) in `pass` (with what introspection
/// answers, the graph). A render that runs a query whose answer is not known yet is rendered
/// again with `execute` false, as dbt parses, and keeps the query for the run.
pub fn render_uncached(
    ctx: &Context,
    p: &Pending,
    source: &str,
    scope: ConfigScope,
    incremental: bool,
    mut pass: jinja::Pass,
) -> Result<jinja::Rendered, Diagnostic> {
    let name = crate::diagnostics::display_path_cow(&p.path);
    let render = |pass: &jinja::Pass| {
        ctx.renderer
            .render_pass(&name, source, scope, &p.config, incremental, pass)
    };
    let diagnostic =
        |e: &minijinja::Error| jinja::jinja_diagnostic(e, &p.path, Some(&p.path), ctx.sources());
    let mut r = match render(&pass) {
        Ok(r) => r,
        Err(e) => {
            let Some(asked) = jinja::query_asked(&e) else {
                return Err(diagnostic(&e));
            };
            pass.execute = false;
            let mut r = render(&pass).map_err(|e| {
                diagnostic(&e).with_note(
                    "it runs a query while rendering (run_query, statement): the compile renders it with `execute` false, where run_query() returns none and load_result() nothing, and the run renders it again with the rows; use the results inside `{% if execute %}`",
                )
            })?;
            r.recorded.query = Some(Box::new(asked));
            r
        }
    };
    let map = SourceMap {
        spans: r.spans.as_deref().unwrap_or_default(),
        rendered: &r.text,
        source,
        file: &p.path,
    };
    r.relation_spans = r
        .recorded
        .relations
        .iter()
        .enumerate()
        .map(|(n, call)| {
            r.text
                .find(&relation_token(n))
                .map(|o| map.at_offset(o))
                .unwrap_or_else(|| super::resolve::call_span(source, &p.path, call))
        })
        .collect();
    // A render whose output shows a value it read with env_var() stays out of the cache
    // (the value would be written in plain text); the values are dropped here.
    let values = std::mem::take(&mut r.recorded.env_values);
    r.secret = shows_any(&r, &values);
    Ok(r)
}

/// Whether the output of a render (text, relations, config() calls, logs) shows one of
/// `values`.
fn shows_any(r: &jinja::Rendered, values: &[String]) -> bool {
    if values.is_empty() {
        return false;
    }
    let rec = &r.recorded;
    let config = serde_json::to_string(&rec.config_calls).unwrap_or_default();
    let relations = format!("{:?}", rec.relations);
    values.iter().any(|v| {
        let escaped = serde_json::to_string(v).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        r.text.contains(v.as_str())
            || rec.logs.iter().any(|l| l.contains(v.as_str()))
            || config.contains(v.as_str())
            || config.contains(escaped)
            || relations.contains(v.as_str())
    })
}

/// The positions of a render's output in its template, rendering again if it was cached.
pub fn spans_of(
    ctx: &Context,
    p: &Pending,
    r: &jinja::Rendered,
    incremental: bool,
) -> Vec<OutputSpan> {
    if let Some(s) = &r.spans {
        return s.clone();
    }
    let scope = if incremental {
        ConfigScope::Model
    } else {
        p.scope()
    };
    // What the render saw: the config before `config()` calls for the main SQL (built
    // again rather than kept for every node), the node's config for the incremental SQL.
    let before_calls;
    let base = if incremental {
        &p.config
    } else {
        before_calls = match p.resource_type {
            ResourceType::Model => {
                // A model's fqn is the project, its folders, its name.
                let folders = &p.fqn[1..p.fqn.len() - 1];
                base_config(ctx.project, &p.path, folders, &p.name, p.props)
            }
            _ => NodeConfig::default(),
        };
        &before_calls
    };
    let source = p.template.as_deref().unwrap_or("");
    ctx.renderer
        .render_node(&display_path(&p.path), source, scope, base, incremental)
        .ok()
        .and_then(|r| r.spans)
        .unwrap_or_default()
}

/// Renders every model and singular test once, in parallel, and merges each template's
/// `config()` calls into its node's config.
pub fn render(
    ctx: &Context,
    cache: &jinja::cache::Cache,
    pending: &mut [Pending],
    diags: &mut Diagnostics,
) -> Vec<Option<jinja::Rendered>> {
    let rendered: Vec<Option<Result<jinja::Rendered, Diagnostic>>> = pending
        .par_iter()
        .map(|p| {
            let text = p.template.as_ref()?;
            Some(render_node(ctx, cache, p, text, p.scope(), false))
        })
        .collect();
    let mut rendered_ok: Vec<Option<jinja::Rendered>> = Vec::with_capacity(pending.len());
    for (p, r) in pending.iter_mut().zip(rendered) {
        match r {
            None => rendered_ok.push(None),
            Some(Ok(mut r)) => {
                if let Some(c) = r.recorded.config.take() {
                    p.config.merge(&c);
                }
                rendered_ok.push(Some(r));
            }
            Some(Err(d)) => {
                diags.push(d);
                rendered_ok.push(None);
            }
        }
    }
    rendered_ok
}

/// Renders incremental models with `is_incremental()` true, and hooks in their node's context
/// (`this`, `ref`).
pub fn render_more(
    ctx: &Context,
    cache: &jinja::cache::Cache,
    pending: &[Pending],
    main: Vec<Option<jinja::Rendered>>,
) -> Renders {
    let extra: Vec<Extra> = pending
        .par_iter()
        .zip(&main)
        .map(|(p, r)| {
            let mut out = Extra::default();
            let render = |source: &str, incremental: bool| {
                render_node(ctx, cache, p, source, ConfigScope::Model, incremental)
            };
            if let (Some(text), Some(_)) = (p.template.as_ref(), r)
                && p.config.materialized == Some(Materialized::Incremental)
            {
                out.incremental = Some(Box::new(render(text, true)));
            }
            for (pre, hooks) in [(true, &p.config.pre_hook), (false, &p.config.post_hook)] {
                for h in hooks {
                    out.hooks.push((pre, h.clone(), render(h, false)));
                }
            }
            out
        })
        .collect();
    let hits = main.iter().flatten().any(|r| r.spans.is_none());
    Renders { main, extra, hits }
}

/// Drops disabled nodes (in place: these vectors are large) and returns their names, for
/// clearer ref errors.
pub fn drop_disabled(
    pending: &mut Vec<Pending>,
    renders: &mut Renders,
) -> std::collections::BTreeSet<String> {
    let keep: Vec<bool> = pending.iter().map(|p| p.config.is_enabled()).collect();
    let disabled: std::collections::BTreeSet<String> = pending
        .iter()
        .zip(&keep)
        .filter(|(_, k)| !**k)
        .map(|(p, _)| p.name.clone())
        .collect();
    if !disabled.is_empty() {
        let mut k = keep.iter();
        pending.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        renders.main.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        renders.extra.retain(|_| *k.next().unwrap_or(&true));
    }
    disabled
}
