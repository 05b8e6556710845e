//! Unit tests (`unit_tests:` in properties): declared as nodes with the other tests (so that
//! selection and the DAG know them), and given their SQL once the tested model's final SQL
//! exists (ephemeral parents inlined): the model's query with each input replaced by its
//! given rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::context::Context;
use super::generic_tests::LaterNodes;
use super::prepare::Pending;
use super::resolve::Scope;
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, suggest};
use crate::graph::{Dag, Edge};
use crate::ir::config::Materialized;
use crate::ir::unit::{Given, Rows, UnitSpec};
use crate::ir::{CompiledNode, Relation, ResourceType, TestInfo};
use crate::project::properties::{DependsOn, GivenDef, RowsDef, UnitTestProps, parse_depends_on};

/// A unit test waiting for its model's final SQL.
pub struct UnitPending {
    index: usize,
    model: usize,
    is_incremental: bool,
    span: Span,
}

/// Adds a node per enabled unit test to `later`.
pub fn declare(
    ctx: &Context,
    pending: &[Pending],
    scope: &Scope,
    later: &mut LaterNodes,
    diags: &mut Diagnostics,
) -> Vec<UnitPending> {
    let mut out: Vec<UnitPending> = Vec::new();
    let mut names: HashMap<String, Span> = HashMap::new();
    for u in &ctx.project.properties.unit_tests {
        if !u.config.is_enabled() {
            continue;
        }
        if let Some(first) = names.get(&u.name) {
            diags.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("two unit tests are named `{}`", u.name),
                )
                .at(u.span.clone())
                .with_related(first.clone(), "first declared here"),
            );
            continue;
        }
        names.insert(u.name.clone(), u.span.clone());
        let Some(m) = tested_model(u, pending, scope, diags) else {
            continue;
        };
        let Some((given, expect)) = given_and_expected(ctx, u, m, scope, diags) else {
            continue;
        };
        let index = later.next_index();
        later.edges.push(Edge {
            parent: m,
            child: index,
            span: Some(u.span.clone()),
        });
        out.push(UnitPending {
            index,
            model: m,
            is_incremental: u.is_incremental,
            span: u.span.clone(),
        });
        later
            .nodes
            .push(unit_node(ctx, &pending[m].id, u, given, expect));
    }
    out
}

/// The index of the model a unit test tests, when it is one that builds a relation.
fn tested_model(
    u: &UnitTestProps,
    pending: &[Pending],
    scope: &Scope,
    diags: &mut Diagnostics,
) -> Option<usize> {
    let model = match scope.refable.get(u.model.as_str()) {
        Some(r) if pending[r.index].resource_type == ResourceType::Model && !r.ephemeral => r,
        Some(_) => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("unit test `{}`: `{}` is not a model that builds a relation (seeds and ephemeral models cannot be unit tested)", u.name, u.model),
                )
                .at(u.model_span.clone()),
            );
            return None;
        }
        None => {
            let names = scope.refable.keys().copied();
            diags.push(
                Diagnostic::error(
                    Code::MissingRef,
                    format!(
                        "unit test `{}` tests `{}`, which is not a model of this project",
                        u.name, u.model
                    ),
                )
                .at(u.model_span.clone())
                .with_help_opt(suggest(&u.model, names).map(|s| format!("did you mean `{s}`?"))),
            );
            return None;
        }
    };
    let m = model.index;
    if u.is_incremental && pending[m].config.materialized != Some(Materialized::Incremental) {
        diags.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!(
                    "unit test `{}` overrides is_incremental, but `{}` is not incremental",
                    u.name, u.model
                ),
            )
            .at(u.span.clone()),
        );
        return None;
    }
    Some(m)
}

fn read_rows(ctx: &Context, def: &RowsDef) -> Result<Rows, String> {
    match def {
        RowsDef::Maps(maps) => Ok(Rows::from_maps(maps)),
        RowsDef::Csv(text) => Rows::from_csv(text),
        RowsDef::Fixture(f) => {
            let text = std::fs::read_to_string(ctx.project.root.join(f))
                .map_err(|e| format!("cannot read fixture `{f}`: {e}"))?;
            Rows::from_csv(&text).map_err(|e| format!("fixture `{f}`: {e}"))
        }
    }
}

/// The inputs' rows and the expected rows of a unit test; None when something is wrong
/// (reported).
fn given_and_expected(
    ctx: &Context,
    u: &UnitTestProps,
    m: usize,
    scope: &Scope,
    diags: &mut Diagnostics,
) -> Option<(Vec<Given>, Rows)> {
    let mut given = Vec::new();
    let mut ok = true;
    for (k, g) in u.given.iter().enumerate() {
        let relation = given_relation(u, g, m, scope, diags);
        if relation.is_err() {
            ok = false;
        }
        let rows = match read_rows(ctx, &g.rows) {
            Ok(r) => r,
            Err(e) => {
                diags.push(Diagnostic::error(Code::InvalidValue, e).at(g.span.clone()));
                ok = false;
                continue;
            }
        };
        given.push(Given {
            input: g.input.trim().to_string(),
            cte: format!("__strata_given_{k}"),
            relation: relation.unwrap_or(None),
            rows,
        });
    }
    let expect = match read_rows(ctx, &u.expect) {
        Ok(r) => r,
        Err(e) => {
            diags.push(Diagnostic::error(Code::InvalidValue, e).at(u.span.clone()));
            return None;
        }
    };
    if !ok {
        return None;
    }
    if expect.columns.is_empty() {
        diags.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!(
                    "unit test `{}`: `expect` names no column (give rows, or a CSV header)",
                    u.name
                ),
            )
            .at(u.span.clone()),
        );
        return None;
    }
    Some((given, expect))
}

/// The relation of a unit test's input (`this`, a ref or a source); Err when it is not one
/// (reported).
fn given_relation(
    u: &UnitTestProps,
    g: &GivenDef,
    m: usize,
    scope: &Scope,
    diags: &mut Diagnostics,
) -> Result<Option<Relation>, ()> {
    if g.input.trim() == "this" {
        return Ok(scope.relations.of_node[m].clone());
    }
    match parse_depends_on(&g.input) {
        Some(DependsOn::Ref(name)) => {
            match scope.refable.get(name.as_str()) {
                Some(r) if r.ephemeral => {
                    diags.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            format!("`{name}` is ephemeral: give rows for its own inputs instead"),
                        )
                        .at(g.span.clone()),
                    );
                    Err(())
                }
                Some(r) => Ok(r.relation.clone()),
                None => {
                    diags.push(
                    Diagnostic::error(Code::MissingRef, format!("unit test `{}` gives rows for `{name}`, which is not a model or seed", u.name))
                        .at(g.span.clone())
                        .with_help_opt(suggest(&name, scope.refable.keys().copied()).map(|s| format!("did you mean `{s}`?"))),
                );
                    Err(())
                }
            }
        }
        Some(DependsOn::Source(src, table)) => {
            match scope
                .relations
                .source_index
                .get(&(src.clone(), table.clone()))
            {
                Some((_, rel)) => Ok(Some(rel.clone())),
                None => {
                    diags.push(
                        Diagnostic::error(Code::MissingSource, format!("unit test `{}` gives rows for source `{src}.{table}`, which is not declared", u.name))
                            .at(g.span.clone()),
                    );
                    Err(())
                }
            }
        }
        None => {
            diags.push(
                Diagnostic::error(Code::InvalidValue, format!("`input` must be ref('model'), source('source', 'table') or this, found `{}`", g.input))
                    .at(g.span.clone()),
            );
            Err(())
        }
    }
}

fn unit_node(
    ctx: &Context,
    model_id: &str,
    u: &UnitTestProps,
    given: Vec<Given>,
    expect: Rows,
) -> CompiledNode {
    let pname = ctx.project_name();
    let mut node = CompiledNode::new(
        format!("unit_test.{pname}.{}.{}", u.model, u.name),
        ResourceType::Test,
        u.name.clone(),
        u.span.file.to_path_buf(),
        vec![pname.to_string(), u.model.clone(), u.name.clone()],
        Arc::new(u.config.clone()),
    );
    node.description = u.description.clone();
    node.line = u.span.line;
    node.checksum = crate::digest::sha256_fmt(format_args!(
        "{}:{}:{:?}:{:?}",
        u.name, u.model, given, expect
    ));
    node.test = Some(Box::new(TestInfo {
        test_name: "unit".into(),
        test_type: "unit",
        kwargs: BTreeMap::new(),
        column_name: None,
        attached_node: Some(model_id.to_string()),
        audit_relation: None,
        unit: Some(Box::new(UnitSpec {
            model: u.model.clone(),
            model_sql: String::new(),
            given,
            expect,
        })),
    }));
    node
}

/// The relations a model reads, looking through ephemeral parents (inlined as CTEs).
fn collect_inputs(
    dag: &Dag,
    nodes: &[CompiledNode],
    i: usize,
    out: &mut Vec<usize>,
    seen: &mut BTreeSet<usize>,
) {
    for &p in dag.parents(i) {
        if !seen.insert(p) {
            continue;
        }
        if nodes[p].resource_type == ResourceType::Model
            && nodes[p].materialized() == Materialized::Ephemeral
        {
            collect_inputs(dag, nodes, p, out, seen);
        } else if nodes[p].relation.is_some() {
            out.push(p);
        }
    }
}

/// Gives each unit test its SQL: the model's final SQL with each input replaced by its given
/// rows. Inputs the model does not read, and inputs it reads without rows, are errors.
pub fn finish(
    nodes: &mut [CompiledNode],
    dag: &Dag,
    units: &[UnitPending],
    diags: &mut Diagnostics,
) {
    for u in units {
        let model = &nodes[u.model];
        let code = if u.is_incremental {
            model.compiled_incremental_code.clone()
        } else {
            model.compiled_code.clone()
        }
        .unwrap_or_default();
        let mut read: Vec<usize> = Vec::new();
        collect_inputs(dag, nodes, u.model, &mut read, &mut BTreeSet::new());
        let test_name = nodes[u.index].name.clone();
        let Some(mut spec) = nodes[u.index].test.as_mut().and_then(|t| t.unit.take()) else {
            continue;
        };
        spec.model_sql = substitute_given(nodes, &read, &spec, code, &test_name, u, diags);
        let display = crate::sql::unit::diff_sql(&spec, &[], &[]);
        nodes[u.index].compiled_code = Some(display);
        if let Some(t) = nodes[u.index].test.as_mut() {
            t.unit = Some(spec);
        }
    }
}

/// The model's SQL with each given input's relation replaced by its CTE.
fn substitute_given(
    nodes: &[CompiledNode],
    read: &[usize],
    spec: &UnitSpec,
    code: String,
    test_name: &str,
    u: &UnitPending,
    diags: &mut Diagnostics,
) -> String {
    let mut sql_text = code;
    let mut given_rel: BTreeSet<String> = BTreeSet::new();
    for g in &spec.given {
        let Some(rel) = &g.relation else { continue };
        let quoted = rel.quoted();
        let is_this = g.input == "this";
        let reads = is_this
            || read
                .iter()
                .any(|&p| nodes[p].relation.as_ref() == Some(rel));
        if !reads {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!(
                        "unit test `{test_name}` gives rows for {}, which `{}` does not read",
                        g.input, spec.model
                    ),
                )
                .at(u.span.clone()),
            );
            continue;
        }
        given_rel.insert(quoted.clone());
        sql_text = sql_text.replace(&quoted, &g.cte);
    }
    for &p in read {
        let Some(rel) = &nodes[p].relation else {
            continue;
        };
        if !given_rel.contains(&rel.quoted()) {
            let what = match &nodes[p].source {
                Some(s) => format!("source('{}', '{}')", s.source_name, nodes[p].name),
                None => format!("ref('{}')", nodes[p].name),
            };
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("unit test `{test_name}`: `{}` reads {what}, which has no given rows", spec.model),
                )
                .at(u.span.clone())
                .with_help(format!("add `- input: {what}` with `rows:` under `given:` (an empty list gives no rows)")),
            );
        }
    }
    sql_text
}
