//! Stage `generic_tests`: one test node per generic test declared in properties (built-in tests
//! get their SQL from `builtin_tests`, custom ones from their `{% test %}` macro), named as dbt
//! names them (duplicates numbered in declaration order), with edges from the tested node and
//! from the relations named in arguments (`to`, `compare_model`).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::Value as J;

use super::builtin_tests;
use super::context::Context;
use super::load::DeclaredTests;
use super::prepare::Pending;
use super::resolve::Scope;
use crate::diagnostics::{Code, Diagnostic, Diagnostics, display_path, suggest};
use crate::graph::Edge;
use crate::ir::config::{
    ConfigScope, NodeConfig, TEST_CONFIG_KEYS, TEST_ENTRY_KEYS, TEST_TOP_LEVEL_COMMON, TestSeverity,
};
use crate::ir::{CompiledNode, Relation, ResourceType, TestInfo, quote_ident};
use crate::jinja::{self, RelationCall};
use crate::project::properties::{DependsOn, TestDef, parse_depends_on};
use crate::sorted::FastMap;
use crate::sql;

/// The nodes made after the models, seeds and sources (tests, then exposures), and their edges.
pub struct LaterNodes {
    /// In index order, from `first_index`; sized for every node of the project.
    pub nodes: Vec<CompiledNode>,
    /// The index of the first of them: the pending nodes and sources come before.
    pub first_index: usize,
    /// Edges into them.
    pub edges: Vec<Edge>,
}

impl LaterNodes {
    /// The index the next node pushed gets.
    pub fn next_index(&self) -> usize {
        self.first_index + self.nodes.len()
    }
}

/// A declared test with the node it is attached to.
struct TestDecl<'a> {
    def: &'a TestDef,
    attached: usize,
    attached_name: Cow<'a, str>,
    relation: &'a Relation,
}

/// A test whose SQL is made, before it is named.
struct PreparedTest<'a> {
    def: &'a TestDef,
    attached: usize,
    attached_name: Cow<'a, str>,
    extra_parents: Vec<usize>,
    sql_text: String,
    /// What its macro set with `config()` (dbt_utils' `fail_calc`), under the project's and
    /// the test's own config.
    macro_config: Option<NodeConfig>,
    /// The name before duplicates are numbered.
    base_name: String,
    /// sha256 of the definition.
    checksum: String,
}

/// What every test's preparation reads.
struct Shared<'a, 'c, 'r> {
    ctx: &'a Context<'c, 'r>,
    scope: &'a Scope<'a>,
    custom_tests: BTreeSet<String>,
    all_node_ids: Vec<&'a str>,
}

/// The generic test nodes, in declaration order. The declarations are freed on another
/// thread: at 100k models, a serial tenth of a second.
pub fn generic_tests(
    ctx: &Context,
    pending: &[Pending],
    scope: &Scope,
    declared: DeclaredTests,
    diags: &mut Diagnostics,
) -> LaterNodes {
    let project = ctx.project;
    let decls = declarations(ctx, scope, &declared);
    let first_index = pending.len() + scope.relations.sources.len();
    let shared = Shared {
        ctx,
        scope,
        custom_tests: ctx
            .renderer
            .macros()
            .keys()
            .filter_map(|m| m.strip_prefix("test_").map(str::to_string))
            .chain(ctx.renderer.package_tests().iter().cloned())
            .collect(),
        all_node_ids: pending
            .iter()
            .map(|p| p.id.as_str())
            .chain(scope.relations.sources.iter().map(|s| s.unique_id.as_str()))
            .collect(),
    };
    // Each test's SQL in parallel (the macros and the SQL builders are pure); names, edges and
    // nodes in declaration order after.
    let prepared: Vec<(Diagnostics, Option<PreparedTest>)> = decls
        .into_par_iter()
        .map(|d| prepare_test(&shared, d))
        .collect();
    // Test nodes, then exposures, go first into the vector that becomes the project's nodes,
    // sized once for all of them: the models, seeds and sources before them are added last,
    // and moved to the front (see `assemble`).
    let mut later = LaterNodes {
        nodes: Vec::with_capacity(
            first_index
                + prepared.len()
                + project.properties.unit_tests.len()
                + project.properties.exposures.len(),
        ),
        first_index,
        edges: Vec::new(),
    };
    let mut test_names: FastMap<String, usize> = FastMap::default();
    let mut named: Vec<(PreparedTest, String)> = Vec::with_capacity(prepared.len());
    for (found, prepared) in prepared {
        diags.extend(found);
        let Some(t) = prepared else {
            continue;
        };
        let count = test_names.entry(t.base_name.clone()).or_insert(0);
        *count += 1;
        let name = if *count == 1 {
            t.base_name.clone()
        } else {
            format!("{}_{}", t.base_name, *count)
        };
        let index = first_index + named.len();
        for parent in std::iter::once(&t.attached).chain(&t.extra_parents) {
            later.edges.push(Edge {
                parent: *parent,
                child: index,
                span: Some(t.def.span.clone()),
            });
        }
        named.push((t, name));
    }
    let default_config = Arc::new(NodeConfig {
        severity: Some(TestSeverity::Error),
        ..NodeConfig::default()
    });
    later.nodes.par_extend(
        named
            .into_par_iter()
            .map(|(t, name)| test_node(&shared, &default_config, t, name)),
    );
    std::thread::spawn(move || drop(declared));
    later
}

/// Each declared test with the node it is declared on: models and seeds, then source tables.
fn declarations<'a>(
    ctx: &Context<'a, '_>,
    scope: &'a Scope,
    declared: &'a DeclaredTests,
) -> Vec<TestDecl<'a>> {
    let project = ctx.project;
    let mut decls = Vec::new();
    let props = project
        .properties
        .models
        .iter()
        .chain(&project.properties.seeds);
    for (p, tests) in props.zip(declared.models.iter().chain(&declared.seeds)) {
        // The node of the package whose properties file declares it.
        let package = project.package_name_of(&p.span.file);
        let Some(index) = scope
            .by_package
            .get(&(package, p.name.as_str()))
            .map(|r| r.index)
        else {
            continue;
        };
        let Some(relation) = &scope.relations.of_node[index] else {
            continue;
        };
        for def in tests {
            decls.push(TestDecl {
                def,
                attached: index,
                attached_name: p.name.as_str().into(),
                relation,
            });
        }
    }
    for (s, tables) in project.properties.sources.iter().zip(&declared.sources) {
        for (t, tests) in s.tables.iter().zip(tables) {
            let key = (s.name.clone(), t.name.clone());
            let Some((index, relation)) = scope.relations.source_index.get(&key) else {
                continue;
            };
            for def in tests {
                decls.push(TestDecl {
                    def,
                    attached: *index,
                    attached_name: format!("{}_{}", s.name, t.name).into(),
                    relation,
                });
            }
        }
    }
    decls
}

/// Checks a declared test and makes its SQL.
fn prepare_test<'a>(
    shared: &Shared<'a, '_, '_>,
    d: TestDecl<'a>,
) -> (Diagnostics, Option<PreparedTest<'a>>) {
    let mut diags = Diagnostics::new();
    let def = d.def;
    let is_builtin = builtin_tests::BUILTIN_TESTS.contains(&def.test_name.as_str());
    if !is_builtin && !shared.custom_tests.contains(&def.test_name) {
        diags.push(unknown_test(def, &shared.custom_tests));
        return (diags, None);
    }
    if is_builtin && !check_builtin(def, &mut diags) {
        return (diags, None);
    }
    // Relations named in arguments (`to`, `compare_model`).
    let mut extra_parents = Vec::new();
    let Ok(to) = resolve_arg(shared.scope, def, "to", &mut extra_parents, &mut diags) else {
        return (diags, None);
    };
    let Ok(compare) = resolve_arg(
        shared.scope,
        def,
        "compare_model",
        &mut extra_parents,
        &mut diags,
    ) else {
        return (diags, None);
    };
    let model_rel = match def.config.as_ref().and_then(|c| c.where_clause.as_ref()) {
        Some(w) => format!(
            "(select * from {} where {w}) as strata_subquery",
            d.relation.quoted()
        ),
        None => d.relation.quoted(),
    };
    let column_sql = def.column.as_deref().map(quote_ident);
    let mut macro_config = None;
    let sql_text = if is_builtin {
        builtin_tests::builtin_sql(
            &def.test_name,
            &model_rel,
            column_sql.as_deref(),
            &def.args,
            to.as_deref(),
            compare.as_deref(),
        )
        .map_err(|msg| {
            Diagnostic::error(
                Code::InvalidValue,
                format!("test `{}`: {msg}", def.test_name),
            )
            .at(def.span.clone())
        })
    } else {
        let resolved = [("to", to), ("compare_model", compare)];
        custom_test_sql(shared.ctx, def, model_rel, column_sql, &resolved).map(|(sql, config)| {
            macro_config = config;
            sql
        })
    };
    let sql_text = match sql_text.and_then(|s| one_statement(shared.ctx, def, s)) {
        Ok(s) => s,
        Err(d) => {
            diags.push(d);
            return (diags, None);
        }
    };
    let base_name = def.custom_name.clone().unwrap_or_else(|| {
        builtin_tests::test_name(
            &def.test_name,
            &d.attached_name,
            def.column.as_deref(),
            &def.args,
        )
    });
    let checksum = crate::digest::sha256_fmt(format_args!(
        "{}:{}:{:?}",
        def.test_name, shared.all_node_ids[d.attached], def.args
    ));
    let prepared = PreparedTest {
        def,
        attached: d.attached,
        attached_name: d.attached_name,
        extra_parents,
        sql_text,
        macro_config,
        base_name,
        checksum,
    };
    (diags, Some(prepared))
}

/// The test's SQL when it is one statement; a `where`, an argument or a macro that brings a
/// second one is an error.
fn one_statement(ctx: &Context, def: &TestDef, sql_text: String) -> Result<String, Diagnostic> {
    let Some((line, _)) = sql::second_statement(&sql_text, ctx.target.info.kind) else {
        return Ok(sql_text);
    };
    Err(Diagnostic::error(
        Code::SeveralStatements,
        format!("test `{}` is more than one SQL statement", def.test_name),
    )
    .at(def.span.clone())
    .with_label("its `where`, its arguments or its macro bring a second statement")
    .with_note(format!(
        "line {line} of the test's SQL starts a second statement:\n{}",
        sql_text.lines().nth(line - 1).unwrap_or_default().trim()
    ))
    .with_help("a test is exactly one query: remove the `;` and what follows it"))
}

fn unknown_test(def: &TestDef, custom_tests: &BTreeSet<String>) -> Diagnostic {
    let candidates: Vec<&str> = builtin_tests::BUILTIN_TESTS
        .iter()
        .copied()
        .chain(custom_tests.iter().map(String::as_str))
        .collect();
    Diagnostic::error(Code::UnknownTest, format!("unknown test `{}`", def.test_name))
        .at(def.span.clone())
        .with_help_opt(suggest(&def.test_name, candidates.iter().copied()).or_else(|| {
            Some(format!("built-in tests: {}; custom tests are macros defined with {{% test name(model, column_name) %}}", builtin_tests::BUILTIN_TESTS.join(", ")))
        }))
}

/// Checks a built-in test's arguments: known, required ones given, declared on a column when
/// it needs one. False when something is wrong (reported).
fn check_builtin(def: &TestDef, diags: &mut Diagnostics) -> bool {
    let allowed = builtin_tests::builtin_args(&def.test_name);
    let mut ok = true;
    for arg in def.args.keys() {
        if !allowed.contains(&arg.as_str()) {
            let span = def
                .arg_spans
                .get(arg)
                .cloned()
                .unwrap_or_else(|| def.span.clone());
            let keys: Vec<&str> = allowed
                .iter()
                .chain(TEST_ENTRY_KEYS)
                .chain(TEST_CONFIG_KEYS)
                .chain(TEST_TOP_LEVEL_COMMON)
                .copied()
                .collect();
            diags.push(crate::project::yaml::unknown_key(
                arg,
                &format!("test `{}`", def.test_name),
                &keys,
                span,
            ));
            ok = false;
        }
    }
    for req in builtin_tests::builtin_required(&def.test_name) {
        if !def.args.contains_key(*req) {
            diags.push(
                Diagnostic::error(
                    Code::MissingKey,
                    format!("test `{}` needs `{req}`", def.test_name),
                )
                .at(def.span.clone()),
            );
            ok = false;
        }
    }
    if builtin_tests::needs_column(&def.test_name) && def.column.is_none() {
        diags.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!(
                    "test `{}` must be declared on a column (under `columns:`)",
                    def.test_name
                ),
            )
            .at(def.span.clone()),
        );
        ok = false;
    }
    ok
}

/// The relation an argument (`to`, `compare_model`) names, as SQL; its node becomes a parent.
fn resolve_arg(
    scope: &Scope,
    def: &TestDef,
    key: &str,
    extra_parents: &mut Vec<usize>,
    diags: &mut Diagnostics,
) -> Result<Option<String>, ()> {
    let Some(J::String(text)) = def.args.get(key) else {
        return Ok(None);
    };
    let span = def
        .arg_spans
        .get(key)
        .cloned()
        .unwrap_or_else(|| def.span.clone());
    let call = match parse_depends_on(text) {
        Some(DependsOn::Ref(name)) => RelationCall::Ref {
            project: None,
            name,
        },
        Some(DependsOn::Source(source, table)) => RelationCall::Source { source, table },
        None => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!(
                        "`{key}` must be ref('model') or source('source', 'table'), found `{text}`"
                    ),
                )
                .at(span),
            );
            return Err(());
        }
    };
    match scope.resolve_call(&call, &span, diags) {
        Some((parent, replacement)) => {
            extra_parents.push(parent);
            Ok(Some(replacement))
        }
        None => Err(()),
    }
}

/// A custom test's SQL: its `test_<name>` macro called with the model, the column and the
/// arguments; `to` and `compare_model` written `ref(...)`/`source(...)` are passed as the
/// relations they name (`resolved`), as dbt renders them.
fn custom_test_sql(
    ctx: &Context,
    def: &TestDef,
    model_rel: String,
    column_sql: Option<String>,
    resolved: &[(&str, Option<String>)],
) -> Result<(String, Option<NodeConfig>), Diagnostic> {
    let mut kwargs: Vec<(String, minijinja::Value)> =
        vec![("model".into(), minijinja::Value::from(model_rel))];
    if let Some(c) = column_sql {
        kwargs.push(("column_name".into(), minijinja::Value::from(c)));
    }
    for (k, v) in &def.args {
        let relation = resolved
            .iter()
            .find(|(name, _)| name == k)
            .and_then(|(_, r)| r.clone());
        kwargs.push((
            k.clone(),
            relation.map_or_else(|| jinja::to_value(v), minijinja::Value::from),
        ));
    }
    let kw = minijinja::value::Kwargs::from_iter(kwargs);
    // `package.name` is the package's `test_name` macro.
    let macro_name = match def.test_name.rsplit_once('.') {
        Some((pkg, name)) => format!("{pkg}.test_{name}"),
        None => format!("test_{}", def.test_name),
    };
    let store = def
        .config
        .as_ref()
        .and_then(|c| c.store_failures)
        .unwrap_or(false);
    let (called, config_calls) = jinja::flags::test_call(store, || {
        ctx.renderer
            .call_macro(&macro_name, &[minijinja::Value::from(kw)])
    });
    let sql = called.map_err(|e| {
        jinja::jinja_diagnostic(&e, &def.span.file, None, ctx.sources()).with_note(format!(
            "while compiling test `{}` declared at {}",
            def.test_name, def.span
        ))
    })?;
    if config_calls.is_empty() {
        return Ok((sql.trim().to_string(), None));
    }
    let mut config = NodeConfig::default();
    for (k, v) in &config_calls {
        config.set(ConfigScope::Test, k, v).map_err(|e| {
            Diagnostic::error(
                Code::InvalidValue,
                format!("test `{}`: its macro's config(): {e}", def.test_name),
            )
            .at(def.span.clone())
            .with_help_opt(e.help())
        })?;
    }
    Ok((sql.trim().to_string(), Some(config)))
}

/// The unique id of the macro a generic test is, `test_<name>`, when the project or a package
/// defines it (the built-in tests are strata's own, not macros).
fn test_macro_id(ctx: &Context, test_name: &str) -> Option<String> {
    if let Some((pkg, name)) = test_name.rsplit_once('.') {
        return ctx
            .renderer
            .package_tests()
            .contains(test_name)
            .then(|| format!("macro.{pkg}.test_{name}"));
    }
    let name = format!("test_{test_name}");
    let file = ctx.renderer.macros().get(&name)?;
    Some(jinja::macro_id(ctx.project, &display_path(file), &name))
}

fn test_node(
    shared: &Shared,
    default_config: &Arc<NodeConfig>,
    t: PreparedTest,
    name: String,
) -> CompiledNode {
    let def = t.def;
    let folder_configs = &shared.ctx.project.test_configs;
    // Most tests set no config and the project none for tests: they share one.
    let config = match (def.config.as_deref(), folder_configs.is_empty()) {
        (None, true) if t.macro_config.is_none() => Arc::clone(default_config),
        (own, _) => {
            // The project's `data_tests:` folder configs, by the folders of the YAML file
            // under its model path, then the test's own.
            let folders: Vec<String> = def
                .span
                .file
                .parent()
                .map(|p| {
                    p.components()
                        .skip(1)
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            let mut config = t.macro_config.clone().unwrap_or_default();
            config.merge(&folder_configs.resolve(&folders, &def.test_name));
            if let Some(c) = own {
                config.merge(c);
            }
            if config.severity.is_none() {
                config.severity = Some(TestSeverity::Error);
            }
            Arc::new(config)
        }
    };
    let audit = super::assemble::audit_relation(shared.ctx.target, &config, &name);
    // A test declared in a package's properties belongs to that package, as in dbt.
    let pname = shared.ctx.project.package_name_of(&def.span.file);
    let mut node = CompiledNode::new(
        format!("test.{pname}.{name}"),
        ResourceType::Test,
        name,
        def.span.file.to_path_buf(),
        vec![
            pname.to_string(),
            t.attached_name.into_owned(),
            def.test_name.clone(),
        ],
        config,
    );
    node.compiled_code = Some(t.sql_text);
    node.checksum = t.checksum;
    node.line = def.span.line;
    node.depends_on_macros = test_macro_id(shared.ctx, &def.test_name)
        .into_iter()
        .collect();
    node.test = Some(Box::new(TestInfo {
        test_name: def.test_name.clone(),
        test_type: "generic",
        kwargs: def.args.clone(),
        column_name: def.column.clone(),
        attached_node: Some(shared.all_node_ids[t.attached].to_string()),
        audit_relation: audit,
        unit: None,
    }));
    node
}
