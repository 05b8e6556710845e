//! The compiler: the offline pipeline shared by `parse`, `compile`, `ls` and every later
//! command. Needs no database; deterministic for the same files, target and vars.
//!
//! One file per stage, each a function from the previous stages' typed outputs to its own;
//! `compile` below calls them in order, with one timing mark each (`STRATA_TIMINGS=1`). A new
//! stage is a new file and a line here. Owns the stages and `Compiled`; may import `ir`,
//! `project`, `jinja`, `sql`, `graph`, `files` and the utilities, never `adapter`, `checks`,
//! `materialize`, `execute` or `artifacts`.

pub mod adhoc;
mod analyze;
mod assemble;
pub mod builtin_tests;
mod caches;
mod column_refs;
mod columns;
mod context;
pub mod contract_schema;
mod contracts;
mod dag;
mod ephemeral;
mod exposures;
mod generic_tests;
mod hooks;
mod introspect;
mod lineage;
mod load;
mod prepare;
mod project_facts;
mod relations;
mod render;
mod resolve;
mod source_map;
mod strategies;
mod target;
mod unit_tests;

use std::path::Path;

pub use caches::{CacheBytes, CacheFiles};

use crate::diagnostics::Diagnostics;
use crate::graph::Dag;
use crate::ir::{CompiledNode, Target};
use crate::jinja::Renderer;
use crate::project::{LoadOptions, Project};
use crate::timing::mark;
use context::Context;
use resolve::Scope;

/// The result of compiling a project.
#[derive(Debug)]
pub struct Compiled {
    /// The loaded project.
    pub project: Project,
    /// The target in use.
    pub target: Target,
    /// Every enabled node; indices match the DAG's.
    pub nodes: Vec<CompiledNode>,
    /// The dependency graph.
    pub dag: Dag,
    /// Rendered `on-run-start` statements.
    pub on_run_start: Vec<String>,
    /// Rendered `on-run-end` statements.
    pub on_run_end: Vec<String>,
    /// Warnings found on the way.
    pub warnings: Diagnostics,
    /// The caches of this compile for the next one, serialized in the background.
    pub caches: caches::CacheFiles,
    /// The previous compiled SQL files, checked in the background (when asked for).
    pub compiled_index: crate::files::compiled_index::IndexCheck,
    /// The options it was compiled with (a run compiles again with its queries' answers).
    pub options: LoadOptions,
}

/// Compiles the project in `root`. All problems are collected; warnings are returned with the
/// result, errors instead of it.
pub fn compile(root: &Path, opts: &LoadOptions) -> Result<Compiled, Diagnostics> {
    let load::Loaded {
        project,
        target,
        declared_tests,
        mut diags,
    } = load::load(root, opts)?;
    mark("load");
    let inputs = caches::start(&project, &target);
    let mut renderer = Renderer::new(&project, &target.info, &inputs.macro_sources, &mut diags);
    if !opts.answers.is_empty() {
        renderer.set_answers(opts.answers.clone());
    }
    let ctx = Context::new(&project, &target, &renderer, &inputs.render_global);
    let mut pending = prepare::prepare(&project, &mut diags);
    mark("prepare");
    let render_cache = inputs.render_read.wait();
    mark("render_cache_read");
    let main = render::render(&ctx, &render_cache, &mut pending, &mut diags);
    mark("render");
    let mut renders = render::render_more(&ctx, &render_cache, &pending, main);
    mark("render_incremental_hooks");
    let disabled = render::drop_disabled(&mut pending, &mut renders);
    let (relations, schema_names) =
        relations::relations(&ctx, &render_cache, &pending, disabled, &mut diags);
    mark("relations_sources");
    let package_names = project.packages.iter().map(|p| p.name.as_str()).collect();
    let scope = Scope::new(&project.name, package_names, &pending, &relations);
    mark("scope");
    let facts = project_facts::Inputs {
        ctx: &ctx,
        pending: &pending,
        relations: &relations,
        scope: &scope,
        spellings: crate::adapter::engine::engine(ctx.target.info.kind).type_spellings,
    };
    let resolved = settle_and_resolve(&facts, &mut renders, &mut diags);
    let analyses_read = inputs.analysis_read.wait();
    mark("analysis_cache_read");
    let analyzed = analyze::analyze(
        &ctx,
        &pending,
        &renders,
        &relations,
        &resolved,
        &analyses_read,
        &mut diags,
    );
    mark("analyze");
    column_refs::check(
        &column_refs::Inputs {
            ctx: &ctx,
            pending: &pending,
            renders: &renders,
            resolved: &resolved,
            analyzed: &analyzed,
            scope: &scope,
            tests: &declared_tests,
        },
        &mut diags,
    );
    mark("column_refs");
    let queries = lineage::queries(&analyzed, pending.len());
    let caches = caches::save(caches::Leftovers {
        renders_read: render_cache,
        analyses_read,
        analyses: analyzed.entries,
        render_global: inputs.render_global.clone(),
        render_env: renderer.env_reads(),
        schemas: schema_names,
        renders: &mut renders,
    });
    mark("caches_save");
    let (mut later, units) = later_nodes(&facts, declared_tests, &mut diags);
    // Cycles are only meaningful once every ref resolved: stop here on errors.
    stop_on_errors(&mut diags)?;
    let contracts = contracts::contracts(&ctx, &pending, &mut diags);
    mark("contracts");
    drop(scope);
    let mut edges = resolved.edges;
    edges.append(&mut later.edges);
    let mut nodes = assemble::assemble(
        &ctx,
        pending,
        renders.main,
        resolved.nodes,
        relations,
        contracts,
        later,
        &mut diags,
    );
    stop_on_errors(&mut diags)?;
    mark("assemble");
    let compiled_index = caches::check_compiled(opts, &project, &target);
    let dag = dag::dag(&mut nodes, &edges).map_err(|cycles| with_errors(&mut diags, cycles))?;
    mark("dag");
    let columns = (analyzed.output_columns, queries);
    on_the_dag(&project, &mut nodes, &dag, columns, &units, &mut diags);
    let hooks = hooks::run_hooks(&ctx, &mut diags);
    stop_on_errors(&mut diags)?;
    drop(ctx);
    drop(renderer);
    diags.sort();
    Ok(Compiled {
        project,
        target,
        nodes,
        dag,
        on_run_start: hooks.on_run_start,
        on_run_end: hooks.on_run_end,
        warnings: diags,
        caches,
        compiled_index,
        options: opts.clone(),
    })
}

/// Stages `introspect`, `resolve` and `project_facts`: the renders that asked about
/// relations rendered again with the answers, every relation call resolved, then the renders
/// that read the graph or relations' parts rendered again with them.
fn settle_and_resolve(
    facts: &project_facts::Inputs,
    renders: &mut render::Renders,
    diags: &mut Diagnostics,
) -> resolve::Resolved {
    let (ctx, pending, scope) = (facts.ctx, facts.pending, facts.scope);
    introspect::settle(ctx, pending, renders, facts.relations, scope, diags);
    mark("introspect");
    let mut resolved = resolve::resolve(pending, renders, scope, facts.spellings, diags);
    mark("resolve");
    project_facts::settle(facts, renders, &mut resolved, diags);
    mark("project_facts");
    resolved
}

/// Stages `generic_tests`, `unit_tests_exposures` and `strategies`: the nodes declared in
/// properties (tests, unit tests, exposures), and the incremental strategies checked.
fn later_nodes(
    facts: &project_facts::Inputs,
    declared_tests: load::DeclaredTests,
    diags: &mut Diagnostics,
) -> (generic_tests::LaterNodes, Vec<unit_tests::UnitPending>) {
    let (ctx, pending, scope) = (facts.ctx, facts.pending, facts.scope);
    let mut later = generic_tests::generic_tests(ctx, pending, scope, declared_tests, diags);
    mark("generic_tests");
    let units = unit_tests::declare(ctx, pending, scope, &mut later, diags);
    exposures::exposures(ctx, scope, &mut later, diags);
    mark("unit_tests_exposures");
    strategies::check(ctx, pending, diags);
    mark("strategies");
    (later, units)
}

/// The stages that need the DAG: columns completed (`*` expanded), column lineage, ephemeral
/// models inlined, unit tests finished, checksums.
fn on_the_dag(
    project: &Project,
    nodes: &mut [CompiledNode],
    dag: &Dag,
    (output_columns, queries): (Vec<Vec<String>>, Vec<Option<lineage::Query>>),
    units: &[unit_tests::UnitPending],
    diags: &mut Diagnostics,
) {
    columns::complete(project, nodes, dag, output_columns, diags);
    mark("wildcards");
    lineage::lineage(nodes, dag, queries);
    mark("lineage");
    ephemeral::inline(nodes, dag);
    mark("ephemeral");
    unit_tests::finish(nodes, dag, units, diags);
    assemble::checksums(nodes);
    mark("checksums");
}

/// Ends the compile with every diagnostic found when one of them is an error.
fn stop_on_errors(diags: &mut Diagnostics) -> Result<(), Diagnostics> {
    if !diags.has_errors() {
        return Ok(());
    }
    Err(with_errors(diags, Diagnostics::new()))
}

/// Every diagnostic found, with `errors` added, sorted: what a failed compile returns.
fn with_errors(diags: &mut Diagnostics, errors: Diagnostics) -> Diagnostics {
    diags.extend(errors);
    diags.sort();
    std::mem::take(diags)
}
