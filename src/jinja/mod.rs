//! The minijinja environment: dbt's context functions (`ref`, `source`, `config`, `var`,
//! `env_var`, `this`, `is_incremental`, `target`, `doc`, `log`, `exceptions`, `adapter.dispatch`,
//! `return`) and the project's macros as global functions.
//!
//! Rendering a node records what it asked for (relations, config) instead of resolving it:
//! `ref()` writes a placeholder token that the compiler replaces once every node's config is
//! known, so each template is rendered exactly once; a template that asks the adapter about
//! relations (`introspect`) is rendered a second time, with the answers the compiler found.
//! A package's nodes, and the macros they call, see the package's vars and doc blocks.
//! Nothing here reads files or databases.
//!
//! May import: `ir`, `project`, `adapter::engine` (dispatch), `diagnostics`, the utilities.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Object, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, OutputSpan, State, UndefinedBehavior};
use serde_json::Value as J;

use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, suggest};
use crate::ir::config::{ConfigScope, NodeConfig};
use crate::ir::{AdapterKind, TargetInfo};
use crate::project::{DocBlock, Project};

pub mod cache;
mod dbt_context;
pub mod flags;
mod introspect;
mod mutable;
mod packages;
mod table;

pub use dbt_context::{QueryAsked, query_asked};
pub use table::value as table_value;

/// A relation a node asked for while rendering; its index is the placeholder's number.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RelationCall {
    /// `ref('name')` or `ref('project', 'name')`.
    Ref {
        /// The project named in the two-argument form.
        project: Option<String>,
        /// The node name.
        name: String,
    },
    /// `source('source', 'table')`.
    Source {
        /// Source name.
        source: String,
        /// Table name.
        table: String,
    },
}

/// Everything one render recorded.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// Relations asked for, indexed by placeholder number.
    pub relations: Vec<RelationCall>,
    /// `config()` entries in call order (already validated); none without a `config()` call
    /// (boxed: a render of every node is held at once).
    pub config: Option<Box<NodeConfig>>,
    /// The same entries as written (key, value), to replay them on a cached render.
    pub config_calls: Vec<(String, J)>,
    /// `log()` messages in call order.
    pub logs: Vec<String>,
    /// The values this render read with `env_var()` (not empty ones): what its output must not
    /// carry into a cache file. Kept in memory only.
    pub env_values: Vec<String>,
    /// The relations whose columns it asked for (`adapter.get_columns_in_relation`), and
    /// whether it asked `adapter.get_relation`: a render that did is rendered again once the
    /// columns are known ([`Introspection`]), and is never cached.
    pub introspected: Option<Box<Introspected>>,
    /// The query the render ran with no answer known (`run_query`, `statement`): it was
    /// rendered again with `execute` false, and the run answers the query.
    pub query: Option<Box<QueryAsked>>,
    /// It read the `graph` variable while it was empty: it is rendered again with the
    /// project's graph once every node's relation and dependencies are known.
    pub read_graph: bool,
    /// It read a relation's attributes (`ref('x').identifier`, `this.schema`) while they
    /// were placeholders: it is rendered again with the relations' parts.
    pub read_names: bool,
    /// It read `flags` (its output may depend on the command): not cached.
    pub read_flags: bool,
    /// The macros the template called itself, as (template file, name), in call order.
    pub macros: Vec<(String, String)>,
}

/// What a render asked of the project's relations while rendering.
#[derive(Clone, Debug, Default)]
pub struct Introspected {
    /// The relations whose columns it asked for, in order, each once.
    pub columns_of: Vec<RelationCall>,
}

/// A column as `adapter.get_columns_in_relation` gives it: its name and, when declared, its
/// type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownColumn {
    /// Name.
    pub name: String,
    /// Declared data type.
    pub data_type: Option<String>,
}

/// The answers a render that introspects gets, known before it is rendered again: the columns
/// of each relation it asked about (or why they cannot be known offline), and the relations
/// the project builds or declares, for `adapter.get_relation`.
#[derive(Debug, Default)]
pub struct Introspection {
    /// Columns by the call that names the relation.
    pub columns: Vec<(RelationCall, Result<Vec<KnownColumn>, String>)>,
    /// (database, schema, identifier) of every relation the project builds or declares.
    pub relations: Arc<Vec<[Option<String>; 3]>>,
}

/// Converts any serializable value for templates.
pub fn to_value<T: serde::Serialize>(v: &T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// The placeholder written for relation number `n`.
pub fn relation_token(n: usize) -> String {
    format!("__strata_rel_{n}__")
}

/// The placeholder written for attribute `attr` (`schema`, `identifier`, `name`, `table`) of
/// relation number `n`.
fn relation_attribute_token(n: usize, attr: &str) -> String {
    format!("__strata_rel_{n}_{attr}__")
}

/// A relation placeholder at the start of `text`: (its number, the attribute it stands for,
/// its length).
pub fn parse_relation_token(text: &str) -> Option<(usize, Option<&'static str>, usize)> {
    const REL: &str = "__strata_rel_";
    let after = text.strip_prefix(REL)?;
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    let n = after[..digits].parse::<usize>().ok()?;
    let rest = &after[digits..];
    if rest.starts_with("__") {
        return Some((n, None, REL.len() + digits + 2));
    }
    let rest = rest.strip_prefix('_')?;
    THIS_ATTRIBUTES.iter().find_map(|(attr, _)| {
        rest.strip_prefix(attr)?
            .starts_with("__")
            .then(|| (n, Some(*attr), REL.len() + digits + 1 + attr.len() + 2))
    })
}

/// The placeholder written for `this`.
pub const THIS_TOKEN: &str = "__strata_this__";

/// The attributes of `this` (as dbt's Relation has them) and the placeholders they print:
/// the relation is known only once the node's config is, after rendering.
pub const THIS_ATTRIBUTES: &[(&str, &str)] = &[
    ("schema", "__strata_this_schema__"),
    ("identifier", "__strata_this_identifier__"),
    ("name", "__strata_this_name__"),
    ("table", "__strata_this_table__"),
];

/// Per-render state visible to the context functions.
#[derive(Debug)]
struct RenderState {
    scope: ConfigScope,
    base_config: J,
    recorded: Mutex<Recorded>,
    /// The package of the node being rendered (none for the root project's): whose vars and
    /// doc blocks its templates and the macros they call see.
    package: Option<Arc<str>>,
    /// What introspection answers; none on the first render, which records what is asked.
    introspection: Option<Arc<Introspection>>,
    /// The template's name: the key, with the SQL, of what its queries returned.
    template: Arc<str>,
    /// `execute`: false on the render made while a query's answer is not known yet.
    execute: bool,
    /// What `statement` blocks stored, for `load_result(name)`.
    results: Mutex<BTreeMap<String, Value>>,
    /// The parts of relations, when known.
    names: Option<Arc<Names>>,
    /// How many macro calls deep the render is.
    depth: std::sync::atomic::AtomicUsize,
}

impl Object for RenderState {}

/// One render of a node: what introspection answers (none on a first render, where
/// `adapter.get_columns_in_relation` records what it is asked and answers nothing), whether
/// `execute` is true (false while a query the template runs has no answer: dbt's parse-time
/// render), and the `graph` variable (empty on a first render, which records that it read it).
#[derive(Clone, Debug)]
pub struct Pass {
    /// What introspection answers.
    pub introspection: Option<Arc<Introspection>>,
    /// `execute`.
    pub execute: bool,
    /// `graph`, as dbt has it: `nodes`, `sources`, `exposures`, ... by unique id.
    pub graph: Option<Value>,
    /// The parts of the relations `ref()` and `source()` name, and of `this`.
    pub names: Option<(Arc<Names>, Option<Parts>)>,
}

impl Default for Pass {
    fn default() -> Self {
        Pass {
            introspection: None,
            execute: true,
            graph: None,
            names: None,
        }
    }
}

/// The `graph` a first render sees: empty, and it records that it was read.
#[derive(Debug)]
struct EmptyGraph(Arc<RenderState>);

impl Object for EmptyGraph {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.recorded.lock().unwrap().read_graph = true;
        GRAPH_KEYS
            .contains(&key.as_str()?)
            .then(|| Value::from(BTreeMap::<String, Value>::new()))
    }
}

/// The members of dbt's `graph`.
pub const GRAPH_KEYS: &[&str] = &[
    "nodes",
    "sources",
    "exposures",
    "metrics",
    "groups",
    "semantic_models",
    "saved_queries",
];

/// A relation's schema and identifier (an ephemeral model's: none, and its CTE's name).
pub type Parts = [String; 2];

/// The parts of every relation `ref()` and `source()` can name, known once every node's
/// config is: what a render that reads a relation's attributes gets when it is rendered
/// again (stage `project_facts`).
#[derive(Debug, Default)]
pub struct Names {
    /// Models and seeds by name (the root project's when a package has the same name).
    pub refs: std::collections::HashMap<String, Parts>,
    /// Models and seeds by (package, name).
    pub package_refs: std::collections::HashMap<(String, String), Parts>,
    /// Source tables by (source, table).
    pub sources: std::collections::HashMap<(String, String), Parts>,
}

impl Names {
    /// The parts of what `call`, written in a node of `package`, names.
    fn of(&self, call: &RelationCall, package: Option<&str>) -> Option<Parts> {
        match call {
            RelationCall::Ref {
                project: Some(p),
                name,
            } => self.package_refs.get(&(p.clone(), name.clone())),
            RelationCall::Ref {
                project: None,
                name,
            } => package
                .and_then(|p| self.package_refs.get(&(p.to_string(), name.clone())))
                .or_else(|| self.refs.get(name)),
            RelationCall::Source { source, table } => {
                self.sources.get(&(source.clone(), table.clone()))
            }
        }
        .cloned()
    }
}

/// A relation placeholder; prints as its token. Its attributes (`schema`, `identifier`, ...)
/// are the relation's parts when the render knows them; else placeholders of their own,
/// resolved with the relation, and the render records that it read them (it is rendered
/// again with the parts, so that `ref('x').identifier.upper()` works).
#[derive(Debug)]
struct RelationToken {
    token: String,
    parts: Option<Parts>,
    reader: Option<Arc<RenderState>>,
}

impl Object for RelationToken {
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.token)
    }

    /// `relation.render()`: its name, as printing it gives.
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "render" => {
                let () = minijinja::value::from_args(args)?;
                Ok(Value::from(self.token.clone()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    /// Two are equal when they name the same relation (as dbt's relations compare by their
    /// rendering), which a dict keyed by relations relies on.
    fn custom_cmp(
        self: &Arc<Self>,
        other: &minijinja::value::DynObject,
    ) -> Option<std::cmp::Ordering> {
        let other = other.downcast_ref::<RelationToken>()?;
        Some(self.token.cmp(&other.token))
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        if let Some(v) = relation_mapping_key(key) {
            return Some(v);
        }
        let (attr, token) = THIS_ATTRIBUTES.iter().find(|(attr, _)| *attr == key)?;
        if let Some([schema, identifier]) = &self.parts {
            return Some(Value::from(
                if *attr == "schema" {
                    schema
                } else {
                    identifier
                }
                .clone(),
            ));
        }
        if let Some(r) = &self.reader {
            r.recorded.lock().unwrap().read_names = true;
        }
        if self.token == THIS_TOKEN {
            return Some(Value::from(*token));
        }
        // `ref('x').identifier`: a placeholder of its own, resolved with the relation.
        let (n, _, _) = parse_relation_token(&self.token)?;
        Some(Value::from(relation_attribute_token(n, attr)))
    }
}

/// dbt's `load_relation(relation)`: the relation when it exists, else none. A `ref()` or
/// `source()` is a relation the project builds or declares, built before the node that names
/// it runs: itself. `this` exists or not depending on earlier runs, which a compile does not
/// know: an error that says what to use. Any other is looked up as `adapter.get_relation` of
/// its parts.
fn load_relation(state: &State, relation: Value) -> Result<Value, Error> {
    if let Some(token) = relation.downcast_object_ref::<RelationToken>() {
        if token.token == THIS_TOKEN {
            return Err(ctx_error(
                Code::JinjaError,
                "load_relation(this): whether the model's own relation exists depends on earlier runs, which a compile does not know".into(),
                Some("use `{% if is_incremental() %}`: strata renders both cases and picks one when the model runs".into()),
            ));
        }
        return Ok(relation);
    }
    let part = |k: &str| {
        relation
            .get_attr(k)
            .ok()
            .filter(|v| !v.is_undefined())
            .unwrap_or(Value::from(()))
    };
    let args = [part("database"), part("schema"), part("identifier")];
    if rec_of(state).is_none() {
        return Err(dbt_context::needs_database("load_relation"));
    }
    introspect::call(state, "get_relation", &args)
}

/// What a relation answers as dbt's relation mapping besides its name's parts: `metadata`
/// (`{type: ...Relation}`, which dbt_utils checks an argument by) and `is_cte` (false: a
/// relation strata hands out is a table or a view, an ephemeral model's included).
pub(crate) fn relation_mapping_key(key: &str) -> Option<Value> {
    match key {
        "metadata" => Some(minijinja::context! { type => "StrataRelation" }),
        "is_cte" => Some(Value::from(false)),
        _ => None,
    }
}

/// A typed error raised by a context function, carried through minijinja as the error's source.
#[derive(Debug, Clone)]
pub struct ContextError {
    /// Diagnostic code.
    pub code: Code,
    /// Message.
    pub message: String,
    /// Fix suggestion.
    pub help: Option<String>,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ContextError {}

fn ctx_error(code: Code, message: String, help: Option<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.clone()).with_source(ContextError {
        code,
        message,
        help,
    })
}

/// `{{ return(x) }}` unwinds a macro with a value; the macro trampoline catches it.
#[derive(Debug)]
struct MacroReturn(Value);

impl fmt::Display for MacroReturn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("return() outside of a macro")
    }
}

impl std::error::Error for MacroReturn {}

/// The output of rendering one node.
#[derive(Debug)]
pub struct Rendered {
    /// Rendered text, with placeholders.
    pub text: String,
    /// Which template source produced each piece of the output; `None` when the render came
    /// from the cache (render again to map a position, see [`Renderer::render_node`]).
    pub spans: Option<Vec<OutputSpan>>,
    /// What the render asked for.
    pub recorded: Recorded,
    /// Where each recorded relation was asked for (filled in by the compiler).
    pub relation_spans: Vec<Span>,
    /// The render cache key it was stored under, when it can be cached.
    pub cache_key: Option<String>,
    /// Its output holds a value it read with `env_var()`: neither it nor its analysis is
    /// written to a cache.
    pub secret: bool,
}

/// Environment variables read by renders: name → the digest of its value ([`env_digest`];
/// `None` when unset). Values themselves are never kept: the render cache stores this map.
pub type EnvReads = BTreeMap<String, Option<String>>;

/// The digest an environment variable's value is recorded by: sha256 of the name and the
/// value, so that the same value under two names gives two digests.
pub fn env_digest(name: &str, value: &str) -> String {
    crate::digest::sha256_fmt(format_args!("{name}\0{value}"))
}

/// The environment shared by all renders of one compile.
pub struct Renderer<'a> {
    env: Environment<'a>,
    macros: BTreeMap<String, PathBuf>,
    env_reads: Arc<Mutex<EnvReads>>,
    /// Each package's folder and its own macros, seen first by that package's nodes.
    package_scopes: Vec<(PathBuf, Value)>,
    /// Each package's folder and name.
    package_dirs: PackageDirs,
    /// The generic tests packages define, as `package.name` (a `test_name` macro).
    package_tests: BTreeSet<String>,
}

/// Each package's folder (relative to the project) and name.
type PackageDirs = Arc<Vec<(PathBuf, Arc<str>)>>;

/// The package whose vars and doc blocks a template sees: the node being rendered's (also in
/// the macros it calls), else, outside of a node (a description, a hook), the template's file's.
fn current_package(state: &State, dirs: &PackageDirs) -> Option<Arc<str>> {
    if let Some(p) = with_rec(state, |r| r.package.clone()) {
        return p;
    }
    package_at(dirs, Path::new(state.name()))
}

/// The package a file (relative to the project) belongs to.
fn package_at(dirs: &PackageDirs, file: &Path) -> Option<Arc<str>> {
    dirs.iter()
        .find(|(dir, _)| file.starts_with(dir))
        .map(|(_, name)| name.clone())
}

/// Template texts by path relative to the project, for error positions.
pub type SourceTexts = BTreeMap<PathBuf, Arc<str>>;

/// `value.method(...)` for a method minijinja's values do not have: Python's (`d.items()`,
/// `s.upper()`). A list or dict written in a template changes in place (`mutable`); one
/// that cannot is an error that says what to write instead.
fn python_method(
    state: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    use minijinja::value::ValueKind;
    let in_place = match value.kind() {
        ValueKind::Seq => [
            "append", "extend", "insert", "pop", "remove", "sort", "reverse",
        ]
        .contains(&method),
        ValueKind::Map => ["update", "pop", "setdefault", "clear"].contains(&method),
        _ => false,
    };
    if in_place {
        return Err(ctx_error(
            Code::JinjaError,
            format!("`.{method}()` changes a list or a dict in place, and this one cannot change: it was not written as `[...]` or `{{...}}` in a template (a filter, an operator or strata made it)"),
            Some("copy it into a literal first: `{% set cols = [] %}{% do cols.extend(value) %}`, or `{% set d = {} %}{% do d.update(value) %}`".into()),
        ));
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// dbt's unique id of macro `name` defined in `template`: `macro.<package>.<name>`, the
/// package being the one whose folder holds the file, the project's, or `dbt` for the
/// built-ins.
pub fn macro_id(project: &Project, template: &str, name: &str) -> String {
    let package = match template {
        BUILTINS_FILE => "dbt",
        _ => packages::package_of(project, template).unwrap_or(&project.name),
    };
    format!("macro.{package}.{name}")
}

/// The names of the macros `source` defines whose names start with `_`.
fn private_macro_names(source: &str) -> impl Iterator<Item = &str> {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\{%-?\s*macro\s+(_[A-Za-z0-9_]*)\s*\(").expect("a valid pattern")
    });
    RE.captures_iter(source)
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
}

/// The template name of the built-in cross-dialect macros.
pub const BUILTINS_FILE: &str = "<strata builtins>";
/// The built-in cross-dialect macros (dbt's names), dispatched per engine.
pub const BUILTINS: &str = include_str!("builtins.sql");

/// Where each macro is defined, for error messages and dispatch.
pub type MacroIndex = BTreeMap<String, PathBuf>;

fn rec_of(state: &State) -> Option<Value> {
    state
        .get_temp("__strata__")
        .or_else(|| state.lookup("__strata__"))
        .filter(|v| !v.is_undefined())
}

fn with_rec<R>(state: &State, f: impl FnOnce(&RenderState) -> R) -> Option<R> {
    let v = rec_of(state)?;
    let rs = v.downcast_object_ref::<RenderState>()?;
    Some(f(rs))
}

/// `ref('name')` and `ref('project', 'name')`: records the relation and returns its placeholder.
fn ref_function(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let (pos, kwargs) = split_kwargs(&args.0);
    if let Some(kw) = kwargs {
        let names: Vec<&str> = kw.args().collect();
        if !names.is_empty() {
            return Err(ctx_error(
                Code::JinjaError,
                format!(
                    "ref() does not take keyword arguments (got {})",
                    names.join(", ")
                ),
                None,
            ));
        }
    }
    let strs: Vec<String> = pos
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "ref() takes string arguments"))?;
    let call = match strs.as_slice() {
        [name] => RelationCall::Ref {
            project: None,
            name: name.clone(),
        },
        [project, name] => RelationCall::Ref {
            project: Some(project.clone()),
            name: name.clone(),
        },
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "ref() takes one argument (a model name) or two (project, model)",
            ));
        }
    };
    Ok(record_relation(state, call))
}

impl<'a> Renderer<'a> {
    /// Builds the environment: context functions and the project's macros. Macro files that
    /// do not parse are reported and left out.
    pub fn new(
        project: &'a Project,
        target: &TargetInfo,
        macro_sources: &'a [(String, String)],
        diags: &mut Diagnostics,
    ) -> Renderer<'a> {
        let mut env = Environment::new();
        // SQL and YAML text is rendered as written: minijinja's default would escape every value
        // as JSON in templates named `*.yml` (descriptions, project.yml's hooks), quoting them.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_recursion_limit(200);
        // Python's methods on strings, maps and lists, as dbt's Jinja has them.
        env.set_unknown_method_callback(python_method);
        mutable::add(&mut env);
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.add_global("target", to_value(target));
        let adapter_kind = target.kind;

        let package_dirs: PackageDirs = Arc::new(
            project
                .packages
                .iter()
                .map(|p| (p.dir.clone(), Arc::from(p.name.as_str())))
                .collect(),
        );
        let env_reads = Self::add_variable_functions(&mut env, project, &package_dirs);
        Self::add_node_functions(&mut env);
        Self::add_doc_function(&mut env, project, &package_dirs);
        dbt_context::add(&mut env, Arc::default());

        // Macros: each file becomes a template; each macro a global function.
        let (macros, builtin_names, package_macros) =
            Self::add_macro_templates(&mut env, macro_sources, project, diags);
        Self::add_macro_globals(&mut env, &macros, &builtin_names, adapter_kind);
        packages::add_globals(&mut env, &package_macros, &macros);
        let search = Arc::new(packages::Search::new(project, &package_macros, &macros));
        let package_scopes = packages::own_scopes(project, &package_macros);
        let names = Arc::new(macros.keys().cloned().collect::<BTreeSet<_>>());
        env.add_global(
            "adapter",
            Value::from_object(Adapter {
                kind: adapter_kind,
                names,
                search,
            }),
        );
        let package_tests = package_macros
            .by_package
            .iter()
            .flat_map(|(pkg, macros)| {
                macros
                    .keys()
                    .filter_map(move |m| m.strip_prefix("test_").map(|t| format!("{pkg}.{t}")))
            })
            .collect();
        Renderer {
            env,
            macros,
            env_reads,
            package_scopes,
            package_dirs,
            package_tests,
        }
    }

    /// The generic tests packages define, as `package.name` (`dbt_utils.expression_is_true`).
    pub fn package_tests(&self) -> &BTreeSet<String> {
        &self.package_tests
    }

    /// Registers `var` and `env_var`; the env vars read are recorded for the render cache.
    /// A package's nodes (and the macros they call) read the package's vars
    /// ([`Project::package_vars`]), the root project's nodes the project's.
    fn add_variable_functions(
        env: &mut Environment<'a>,
        project: &Project,
        dirs: &PackageDirs,
    ) -> Arc<Mutex<EnvReads>> {
        let root = Arc::new(project.vars.clone());
        let packages = Arc::new(project.package_vars.clone());
        let dirs = dirs.clone();
        env.add_function("var", move |state: &State, name: String, default: Option<Value>| -> Result<Value, Error> {
            let package = current_package(state, &dirs);
            let vars = package.as_deref().and_then(|p| packages.get(p)).unwrap_or(&root);
            match vars.get(&name) {
                Some(v) => Ok(to_value(v)),
                None => match default {
                    Some(d) => Ok(d),
                    None => Err(ctx_error(
                        Code::MissingVar,
                        match &package {
                            Some(p) => format!("var `{name}` is not defined for package `{p}` and has no default"),
                            None => format!("var `{name}` is not defined and has no default"),
                        },
                        suggest(&name, vars.keys().map(String::as_str))
                            .or_else(|| Some(match &package {
                                Some(p) => format!("define it under `vars:` in the package's dbt_project.yml, under `vars: {{{p}: ...}}` in the project's, or pass --vars '{{{name}: ...}}'"),
                                None => format!("define it under `vars:` in project.yml or pass --vars '{{{name}: ...}}'"),
                            })),
                    )),
                },
            }
        });
        let env_reads: Arc<Mutex<EnvReads>> = Arc::default();
        let reads = env_reads.clone();
        env.add_function(
            "env_var",
            move |state: &State, name: String, default: Option<Value>| -> Result<Value, Error> {
                let value = std::env::var(&name).ok();
                let digest = value.as_deref().map(|v| env_digest(&name, v));
                reads.lock().unwrap().insert(name.clone(), digest);
                if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                    with_rec(state, |r| {
                        r.recorded.lock().unwrap().env_values.push(v.clone());
                    });
                }
                match value.ok_or(()) {
                    Ok(v) => Ok(Value::from(v)),
                    Err(_) => match default {
                        Some(d) => Ok(d),
                        None => Err(ctx_error(
                            Code::MissingEnvVar,
                            format!("environment variable `{name}` is not set and has no default"),
                            Some(format!(
                                "set {name}, or give a default: env_var('{name}', '...')"
                            )),
                        )),
                    },
                }
            },
        );
        env_reads
    }

    /// Registers the dbt context functions a node's template calls (`ref`, `config`, ...).
    fn add_node_functions(env: &mut Environment<'a>) {
        env.add_function("ref", ref_function);
        env.add_function(
            "source",
            |state: &State, source: String, table: String| -> Result<Value, Error> {
                Ok(record_relation(
                    state,
                    RelationCall::Source { source, table },
                ))
            },
        );
        env.add_global("config", Value::from_object(ConfigFn));
        env.add_global("flags", Value::from_object(flags::FlagsObject));
        env.add_function("should_store_failures", flags::should_store_failures);
        env.add_function("load_relation", load_relation);
        env.add_function("is_incremental", |state: &State| -> bool {
            state
                .lookup("__incremental__")
                .map(|v| v.is_true())
                .unwrap_or(false)
        });
        env.add_function(
            "log",
            // dbt's `log(msg, info=true)`: the flag chooses dbt's log level; both print here.
            |state: &State,
             msg: Value,
             _info: Option<Value>,
             _kwargs: minijinja::value::Kwargs|
             -> String {
                let text = msg.to_string();
                if with_rec(state, |r| {
                    r.recorded.lock().unwrap().logs.push(text.clone())
                })
                .is_none()
                {
                    eprintln!("{text}");
                }
                String::new()
            },
        );
        env.add_function("return", |value: Value| -> Result<Value, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, "return").with_source(MacroReturn(value)))
        });
        env.add_global("exceptions", Value::from_object(Exceptions));
    }

    /// Registers `doc(name)` and `doc(package, name)`. With a name alone it searches as dbt
    /// does: the root project's blocks, then the calling node's package's, then any package's.
    fn add_doc_function(env: &mut Environment<'a>, project: &Project, dirs: &PackageDirs) {
        let root_name: Arc<str> = Arc::from(project.name.as_str());
        let root: Arc<BTreeMap<String, DocBlock>> = Arc::new(project.docs.clone());
        let packages = Arc::new(project.package_docs.clone());
        let dirs = dirs.clone();
        env.add_function(
            "doc",
            move |state: &State, args: Rest<String>| -> Result<Value, Error> {
                let (package, name) = match args.0.as_slice() {
                    [name] => (None, name),
                    [package, name] => (Some(package.as_str()), name),
                    _ => {
                        return Err(Error::new(
                            ErrorKind::InvalidOperation,
                            "doc() takes a block name, or a package and a block name",
                        ));
                    }
                };
                let in_package = |p: &str| packages.get(p).and_then(|m| m.get(name));
                let found = match package {
                    Some(p) if p == &*root_name => root.get(name),
                    Some(p) => in_package(p),
                    None => root
                        .get(name)
                        .or_else(|| current_package(state, &dirs).and_then(|p| in_package(&p)))
                        .or_else(|| packages.values().find_map(|m| m.get(name))),
                };
                match found {
                    Some(d) => Ok(Value::from(d.text.clone())),
                    None => {
                        let known = match package {
                            Some(p) if p != &*root_name => packages.get(p),
                            _ => Some(&*root),
                        };
                        Err(ctx_error(
                            Code::UnknownResource,
                            match package {
                                Some(p) => {
                                    format!("doc block `{name}` is not defined in package `{p}`")
                                }
                                None => format!("doc block `{name}` is not defined"),
                            },
                            known
                                .and_then(|k| suggest(name, k.keys().map(String::as_str)))
                                .or_else(|| {
                                    Some(
                                        "define it in a .md file: {% docs name %}...{% enddocs %}"
                                            .into(),
                                    )
                                }),
                        ))
                    }
                }
            },
        );
    }

    /// Loads every macro file as a template and indexes its macros (and the built-ins' names).
    fn add_macro_templates(
        env: &mut Environment<'a>,
        macro_sources: &'a [(String, String)],
        project: &Project,
        diags: &mut Diagnostics,
    ) -> (MacroIndex, Vec<String>, packages::PackageMacros) {
        let mut macros: MacroIndex = BTreeMap::new();
        let mut package_macros = packages::PackageMacros::default();
        let macro_texts: SourceTexts = macro_sources
            .iter()
            .map(|(n, src)| (PathBuf::from(n), Arc::from(src.as_str())))
            .collect();
        // The built-in cross-dialect macros come first; a project macro of the same name wins.
        let all_sources = std::iter::once((BUILTINS_FILE, BUILTINS))
            .chain(macro_sources.iter().map(|(n, s)| (n.as_str(), s.as_str())));
        let mut builtin_names: Vec<String> = Vec::new();
        for (name, source) in all_sources {
            let added = match mutable::rewrite(source) {
                Some(changeable) => env.add_template_owned(name, changeable),
                None => env.add_template(name, source),
            };
            if let Err(e) = added {
                diags.push(jinja_diagnostic(&e, Path::new(name), None, &macro_texts));
                continue;
            }
            let exports = match env.get_template(name).and_then(|t| {
                let c = t.render_captured(())?;
                let state = c.state();
                let mut names: Vec<String> =
                    state.exports().into_iter().map(str::to_string).collect();
                // Jinja keeps `_name` private to its file; dbt makes every macro callable
                // (dbt_utils calls `dbt_utils._is_relation`).
                names.extend(
                    private_macro_names(source)
                        .filter(|m| state.lookup(m).is_some())
                        .map(str::to_string),
                );
                Ok(names)
            }) {
                Ok(e) => e,
                Err(e) => {
                    diags.push(jinja_diagnostic(&e, Path::new(name), None, &macro_texts));
                    continue;
                }
            };
            // A package's macros go under its name, and never clash with the project's.
            if let Some(pkg) = packages::package_of(project, name) {
                let index = package_macros
                    .by_package
                    .entry(pkg.to_string())
                    .or_default();
                for m in exports {
                    index.entry(m).or_insert_with(|| name.to_string());
                }
                continue;
            }
            for m in exports {
                if name == BUILTINS_FILE {
                    builtin_names.push(m.clone());
                } else if let Some(first) = macros.get(&m)
                    && first != Path::new(BUILTINS_FILE)
                {
                    diags.push(
                        Diagnostic::error(
                            Code::DuplicateName,
                            format!("macro `{m}` is defined twice"),
                        )
                        .at(macro_span(macro_sources, name, &m))
                        .with_related(
                            macro_span(macro_sources, &crate::diagnostics::display_path(first), &m),
                            "first defined here",
                        ),
                    );
                    continue;
                }
                macros.insert(m, PathBuf::from(name));
            }
        }
        (macros, builtin_names, package_macros)
    }

    /// Makes each macro callable by name, the built-ins as `dbt.name`, variants via dispatch.
    fn add_macro_globals(
        env: &mut Environment<'a>,
        macros: &MacroIndex,
        builtin_names: &[String],
        adapter_kind: AdapterKind,
    ) {
        // `dbt.dateadd(...)` and friends, as dbt projects call them.
        let dbt_namespace: BTreeMap<String, Value> = builtin_names
            .iter()
            .filter(|m| !m.contains("__"))
            .map(|m| {
                (
                    m.clone(),
                    Value::from_object(MacroFn {
                        template: crate::diagnostics::display_path(&macros[m]),
                        name: m.clone(),
                    }),
                )
            })
            .collect();
        env.add_global("dbt", Value::from(dbt_namespace));
        for (m, file) in macros {
            let template = crate::diagnostics::display_path(file);
            let macro_name = m.clone();
            env.add_global(
                m.clone(),
                Value::from_object(MacroFn {
                    template,
                    name: macro_name,
                }),
            );
        }
        // A name with only adapter-specific variants dispatches by itself.
        let mut auto: BTreeSet<String> = BTreeSet::new();
        for m in macros.keys() {
            for prefix in ["duckdb__", "postgres__", "default__"] {
                if let Some(base) = m.strip_prefix(prefix)
                    && !macros.contains_key(base)
                {
                    auto.insert(base.to_string());
                }
            }
        }
        let dispatch_names = Arc::new(macros.keys().cloned().collect::<BTreeSet<_>>());
        for base in auto {
            env.add_global(
                base.clone(),
                Value::from_object(Dispatcher {
                    base,
                    kind: adapter_kind,
                    names: dispatch_names.clone(),
                }),
            );
        }
    }

    /// Where each macro is defined.
    pub fn macros(&self) -> &MacroIndex {
        &self.macros
    }

    /// The environment variables read so far (by any render or macro call).
    pub fn env_reads(&self) -> EnvReads {
        self.env_reads.lock().unwrap().clone()
    }

    /// Renders a node's template. `base_config` is what project.yml and properties set, visible
    /// to `config.get`; `incremental` is what `is_incremental()` answers.
    pub fn render_node(
        &self,
        name: &str,
        source: &str,
        scope: ConfigScope,
        base_config: &NodeConfig,
        incremental: bool,
    ) -> Result<Rendered, Error> {
        let pass = Pass::default();
        self.render_pass(name, source, scope, base_config, incremental, &pass)
    }

    /// [`Renderer::render_node`] in the given [`Pass`] (with what introspection answers, the
    /// graph, the relations' parts).
    pub fn render_pass(
        &self,
        name: &str,
        source: &str,
        scope: ConfigScope,
        base_config: &NodeConfig,
        incremental: bool,
        pass: &Pass,
    ) -> Result<Rendered, Error> {
        let changeable = mutable::rewrite(source);
        let tmpl = self
            .env
            .template_from_named_str(name, changeable.as_deref().unwrap_or(source))?;
        let state = Arc::new(RenderState {
            scope,
            base_config: serde_json::to_value(base_config).unwrap_or(J::Null),
            recorded: Mutex::new(Recorded::default()),
            package: package_at(&self.package_dirs, Path::new(name)),
            introspection: pass.introspection.clone(),
            template: Arc::from(name),
            execute: pass.execute,
            results: Mutex::default(),
            names: pass.names.as_ref().map(|(n, _)| n.clone()),
            depth: Default::default(),
        });
        // A package's node sees its package's macros before the project's.
        let own = self
            .package_scopes
            .iter()
            .find(|(dir, _)| Path::new(name).starts_with(dir))
            .map_or(Value::UNDEFINED, |(_, scope)| scope.clone());
        let graph = match &pass.graph {
            Some(g) => g.clone(),
            None => Value::from_object(EmptyGraph(state.clone())),
        };
        let ctx = minijinja::context! {
            __strata__ => Value::from_dyn_object(state.clone()),
            __incremental__ => incremental,
            execute => pass.execute,
            graph => graph,
            this => Value::from_object(RelationToken {
                token: THIS_TOKEN.to_string(),
                parts: pass.names.as_ref().and_then(|(_, this)| this.clone()),
                reader: Some(state.clone()),
            }),
            ..own
        };
        flags::take_read();
        let rendered = tmpl.render_with_spans(ctx);
        state.recorded.lock().unwrap().read_flags = flags::take_read();
        let (text, spans) = match rendered {
            Ok(done) => done,
            // A first render that introspected got empty answers, or read an empty graph,
            // which a template may refuse: it is rendered again with the answers or the graph,
            // and an error that remains is reported then.
            Err(e)
                if query_asked(&e).is_none() && {
                    let rec = state.recorded.lock().unwrap();
                    (state.introspection.is_none() && rec.introspected.is_some())
                        || (pass.graph.is_none() && rec.read_graph)
                } =>
            {
                (String::new(), Vec::new())
            }
            Err(e) => return Err(e),
        };
        let recorded = std::mem::take(&mut *state.recorded.lock().unwrap());
        Ok(Rendered {
            text,
            spans: Some(spans),
            recorded,
            relation_spans: Vec::new(),
            cache_key: None,
            secret: false,
        })
    }

    /// Renders a short string (a description, a target field) with the global functions only.
    pub fn render_str(&self, name: &str, source: &str) -> Result<String, Error> {
        if !source.contains("{{") && !source.contains("{%") {
            return Ok(source.to_string());
        }
        let changeable = mutable::rewrite(source);
        self.env
            .template_from_named_str(name, changeable.as_deref().unwrap_or(source))?
            .render(())
    }

    /// Adds a global for every later render: what a command that renders against a live
    /// target provides (`execute`, `run_query` for `strata run-operation`).
    pub fn add_global(&mut self, name: &'static str, value: Value) {
        self.env.add_global(name, value);
    }

    /// Makes `run_query()` in node renders answer from `answers` (what a run's queries
    /// returned); without them, every query of a node's render waits for the run.
    pub fn set_answers(&mut self, answers: Arc<crate::ir::QueryAnswers>) {
        dbt_context::set_answers(&mut self.env, answers);
    }

    /// True when the project defines (or overrides) a macro named `name`.
    pub fn has_macro(&self, name: &str) -> bool {
        self.macros.contains_key(name)
    }

    /// Calls a project macro from Rust (e.g. `generate_schema_name`), returning its output or
    /// its `return()` value as a string.
    pub fn call_macro(&self, name: &str, args: &[Value]) -> Result<String, Error> {
        let tmpl = self.env.template_from_str("")?;
        let mut state = tmpl.new_state();
        // `package.macro`: a package's macro, under the package's name.
        let found = match name.split_once('.') {
            Some((pkg, m)) => state
                .lookup(pkg)
                .and_then(|p| p.get_attr(m).ok())
                .filter(|f| !f.is_undefined()),
            None => state.lookup(name),
        };
        let f = found.ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownFunction,
                format!("macro `{name}` is not defined"),
            )
        })?;
        let v = f.call(&mut state, args)?;
        Ok(v.to_string())
    }
}

/// The relations the render in progress has asked for so far, by placeholder number: what a
/// function that runs SQL while rendering (`run_query`) needs to resolve the placeholders in it.
pub fn relations_so_far(state: &State) -> Vec<RelationCall> {
    with_rec(state, |r| r.recorded.lock().unwrap().relations.clone()).unwrap_or_default()
}

fn macro_span(sources: &[(String, String)], file: &str, name: &str) -> Span {
    let line = sources
        .iter()
        .find(|(n, _)| n == file)
        .and_then(|(_, src)| {
            src.lines().position(|l| {
                let t = l.trim_start();
                (t.starts_with("{%") && t.contains("macro") && t.contains(&format!("{name}(")))
                    || t.contains(&format!("macro {name}("))
            })
        })
        .map(|i| i + 1)
        .unwrap_or(1);
    Span::line(file, line)
}

fn split_kwargs(args: &[Value]) -> (Vec<Value>, Option<Kwargs>) {
    let mut pos = args.to_vec();
    let kw = match pos.last() {
        Some(v) if v.is_kwargs() => pos.pop().and_then(|v| Kwargs::try_from(v).ok()),
        _ => None,
    };
    (pos, kw)
}

fn record_relation(state: &State, call: RelationCall) -> Value {
    let token = rec_of(state).and_then(|v| {
        let r = v.downcast_object::<RenderState>()?;
        let n = {
            let mut rec = r.recorded.lock().unwrap();
            match rec.relations.iter().position(|c| *c == call) {
                Some(n) => n,
                None => {
                    rec.relations.push(call.clone());
                    rec.relations.len() - 1
                }
            }
        };
        let parts = r
            .names
            .as_ref()
            .and_then(|names| names.of(&call, r.package.as_deref()));
        Some(RelationToken {
            token: relation_token(n),
            parts,
            reader: Some(r),
        })
    });
    match token {
        Some(t) => Value::from_object(t),
        // Outside of a node render (a description, a hook), the call has no node to record into.
        None => Value::from(match call {
            RelationCall::Ref { name, .. } => name,
            RelationCall::Source { source, table } => format!("{source}.{table}"),
        }),
    }
}

/// `config(...)` records and validates config; `config.get(key, default)` reads it.
#[derive(Debug)]
struct ConfigFn;

impl Object for ConfigFn {
    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs) = split_kwargs(args);
        let mut entries: Vec<(String, Value)> = Vec::new();
        if let Some(first) = pos.first() {
            if pos.len() > 1 {
                return Err(Error::new(
                    ErrorKind::TooManyArguments,
                    "config() takes keyword arguments or one mapping",
                ));
            }
            let Ok(iter) = first.try_iter() else {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "config() takes keyword arguments or one mapping",
                ));
            };
            for k in iter {
                let v = first.get_item(&k)?;
                entries.push((k.to_string(), v));
            }
        }
        if let Some(kw) = kwargs {
            for k in kw.args().map(str::to_string).collect::<Vec<_>>() {
                let v: Value = kw.get(&k)?;
                entries.push((k, v));
            }
        }
        let result = with_rec(state, |r| -> Result<(), Error> {
            let mut rec = r.recorded.lock().unwrap();
            for (k, v) in &entries {
                let json = serde_json::to_value(v)
                    .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
                let config = rec.config.get_or_insert_with(Default::default);
                config.set(r.scope, k, &json).map_err(|e| {
                    let code = match e {
                        crate::ir::config::ConfigError::UnknownKey { .. } => Code::UnknownKey,
                        _ => Code::InvalidValue,
                    };
                    ctx_error(code, e.to_string(), e.help())
                })?;
                rec.config_calls.push((k.clone(), json));
            }
            Ok(())
        });
        match result {
            Some(r) => r.map(|_| Value::from("")),
            // Outside of a node's render: a generic test's macro being compiled keeps them.
            None => {
                for (k, v) in &entries {
                    let json = serde_json::to_value(v)
                        .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
                    flags::keep_test_config(k, json);
                }
                Ok(Value::from(""))
            }
        }
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "get" | "require" => {
                let key = args
                    .first()
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| {
                        Error::new(ErrorKind::MissingArgument, "config.get(name, default)")
                    })?
                    .to_string();
                let default = args.get(1).cloned();
                let found = with_rec(state, |r| {
                    let rec = r.recorded.lock().unwrap();
                    let mut merged: NodeConfig = NodeConfig::default();
                    if let J::Object(_) = &r.base_config {
                        // The base config was serialized from a NodeConfig; re-read its keys.
                        if let J::Object(m) = &r.base_config {
                            for (k, v) in m {
                                let _ = merged.set(r.scope, k, v);
                            }
                        }
                    }
                    if let Some(c) = &rec.config {
                        merged.merge(c);
                    }
                    serde_json::to_value(&merged)
                        .ok()
                        .and_then(|j| j.get(&key).cloned())
                })
                .flatten();
                match (found, default) {
                    (Some(v), _) => Ok(to_value(&v)),
                    (None, Some(d)) => Ok(d),
                    (None, None) if method == "require" => Err(ctx_error(
                        Code::MissingKey,
                        format!("config `{key}` is required but not set"),
                        None,
                    )),
                    (None, None) => Ok(Value::from(())),
                }
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `exceptions.raise_compiler_error(msg)` and `exceptions.warn(msg)`.
#[derive(Debug)]
struct Exceptions;

impl Object for Exceptions {
    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let msg = args.first().map(|v| v.to_string()).unwrap_or_default();
        match method {
            "raise_compiler_error" => Err(ctx_error(Code::CompilerErrorRaised, msg, None)),
            "warn" => {
                let text = format!("warning: {msg}");
                if with_rec(state, |r| {
                    r.recorded.lock().unwrap().logs.push(text.clone())
                })
                .is_none()
                {
                    eprintln!("{text}");
                }
                Ok(Value::from(""))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A project macro exposed as a global function: evaluates its file and calls it, passing the
/// caller's node state along so that `ref()` inside a macro records into the calling node.
#[derive(Debug)]
struct MacroFn {
    template: String,
    name: String,
}

impl Object for MacroFn {
    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let rec = rec_of(state);
        let incremental = state
            .lookup("__incremental__")
            .unwrap_or(Value::from(false));
        let this = state.lookup("this").unwrap_or(Value::from(()));
        let execute = state.lookup("execute").unwrap_or(Value::from(true));
        let graph = state.lookup("graph").unwrap_or_default();
        let tmpl = state.env().get_template(&self.template)?;
        let ctx = minijinja::context! {
            __strata__ => rec.clone().unwrap_or(Value::from(())),
            __incremental__ => incremental,
            execute => execute,
            graph => graph,
            this => this,
        };
        let mut captured = tmpl.render_captured(ctx)?;
        let name = self.name.clone();
        // The macros a node's template calls itself are its dependencies (not those they call).
        let node = rec
            .as_ref()
            .and_then(|v| v.downcast_object::<RenderState>());
        if let Some(r) = &node
            && r.depth.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0
        {
            let called = (self.template.clone(), name.clone());
            let mut recorded = r.recorded.lock().unwrap();
            if !recorded.macros.contains(&called) {
                recorded.macros.push(called);
            }
        }
        let result = captured.with_state_mut(|s| {
            if let Some(r) = &rec {
                s.set_temp("__strata__", r.clone());
            }
            let f = s.lookup(&name).ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownFunction,
                    format!("macro `{name}` not found"),
                )
            })?;
            match mutable::pack_kwargs(&f, args) {
                Some(packed) => f.call(s, &packed),
                None => f.call(s, args),
            }
        });
        if let Some(r) = &node {
            r.depth.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                match std::error::Error::source(&e).and_then(|s| s.downcast_ref::<MacroReturn>()) {
                    Some(MacroReturn(v)) => Ok(v.clone()),
                    None => Err(e),
                }
            }
        }
    }
}

fn dispatch_target(
    kind: AdapterKind,
    names: &BTreeSet<String>,
    base: &str,
) -> Result<String, Error> {
    for candidate in crate::adapter::engine::engine(kind).dispatch_candidates(base) {
        if names.contains(&candidate) {
            return Ok(candidate);
        }
    }
    Err(ctx_error(
        Code::JinjaError,
        format!(
            "no implementation of macro `{base}` for {}: define `{}__{base}` or `default__{base}`",
            kind.as_str(),
            kind.as_str()
        ),
        None,
    ))
}

/// `adapter.dispatch('name')` picks `<adapter>__name`, else `default__name`.
#[derive(Debug)]
struct Adapter {
    kind: AdapterKind,
    names: Arc<BTreeSet<String>>,
    search: Arc<packages::Search>,
}

impl Object for Adapter {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "type" => Some(Value::from(self.kind.as_str())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "dispatch" => {
                let (pos, kw) = split_kwargs(args);
                let base = pos.first().and_then(|v| v.as_str()).ok_or_else(|| {
                    Error::new(ErrorKind::MissingArgument, "adapter.dispatch(macro_name)")
                })?;
                let namespace = pos
                    .get(1)
                    .cloned()
                    .or_else(|| {
                        kw.as_ref()
                            .and_then(|k| k.get::<Value>("macro_namespace").ok())
                    })
                    .filter(|v| !v.is_none() && !v.is_undefined());
                if let Some(ns) = namespace.as_ref().and_then(|v| v.as_str()) {
                    return self.search.dispatch(self.kind, base, ns);
                }
                let target = dispatch_target(self.kind, &self.names, base)?;
                state.lookup(&target).ok_or_else(|| {
                    Error::new(
                        ErrorKind::UnknownFunction,
                        format!("macro `{target}` not found"),
                    )
                })
            }
            "quote" => {
                let s = args.first().map(|v| v.to_string()).unwrap_or_default();
                Ok(Value::from(crate::ir::quote_ident(&s)))
            }
            "get_columns_in_relation" | "get_relation" if rec_of(state).is_some() => {
                introspect::call(state, method, args)
            }
            "get_columns_in_relation"
            | "get_relation"
            | "list_relations_without_caching"
            | "get_missing_columns"
            | "execute" => Err(dbt_context::needs_database(&format!("adapter.{method}"))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A macro name defined only as `<adapter>__name` / `default__name`: calling it dispatches.
#[derive(Debug)]
struct Dispatcher {
    base: String,
    kind: AdapterKind,
    names: Arc<BTreeSet<String>>,
}

impl Object for Dispatcher {
    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let target = dispatch_target(self.kind, &self.names, &self.base)?;
        let f = state.lookup(&target).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownFunction,
                format!("macro `{target}` not found"),
            )
        })?;
        f.call(state, args)
    }
}

/// Turns a minijinja error into a diagnostic at the template's file and line. `node_file` is the
/// file being rendered, noted when the error is in a macro it called.
/// `sources` holds template texts by path, for the column of the error.
pub fn jinja_diagnostic(
    e: &Error,
    fallback_file: &Path,
    node_file: Option<&Path>,
    sources: &SourceTexts,
) -> Diagnostic {
    let mut cause: Option<&ContextError> = None;
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(c) = s.downcast_ref::<ContextError>() {
            cause = Some(c);
            break;
        }
        src = s.source();
    }
    let file = e
        .name()
        .filter(|n| *n != "<string>")
        .map(PathBuf::from)
        .unwrap_or_else(|| fallback_file.to_path_buf());
    let line = e.line().unwrap_or(1);
    let (code, message, help) = match cause {
        Some(c) => (c.code, c.message.clone(), c.help.clone()),
        None => {
            let detail = e
                .detail()
                .map(str::to_string)
                .unwrap_or_else(|| e.kind().to_string());
            let mut help = None;
            let msg = match e.kind() {
                ErrorKind::SyntaxError => format!("Jinja syntax error: {detail}"),
                // minijinja says `name is unknown`; name the function once.
                ErrorKind::UnknownFunction => match detail.strip_suffix(" is unknown") {
                    Some(name) => {
                        help = Some(format!(
                            "no macro or built-in function is called `{name}`: define it in a file under macro-paths with {{% macro {name}(...) %}}...{{% endmacro %}}"
                        ));
                        format!("unknown function `{name}`")
                    }
                    None => format!("unknown function: {detail}"),
                },
                ErrorKind::UndefinedError => format!("undefined value: {detail}"),
                _ => format!("Jinja error: {detail}"),
            };
            (Code::JinjaError, msg, help)
        }
    };
    let mut d = Diagnostic::error(code, message)
        .at(Span::line(&file, line))
        .with_help_opt(help);
    if let (Some(range), Some(src)) = (e.range(), sources.get(&file)) {
        d.span = Some(span_in_template(&file, src, range));
    }
    if let Some(nf) = node_file
        && nf != file
    {
        d = d.with_note(format!(
            "while rendering {}",
            crate::diagnostics::display_path(nf)
        ));
    }
    d
}

/// A span for a byte range minijinja reports in template `src` (which it compiled with its
/// list and dict literals made changeable, see `mutable`).
pub fn span_in_template(file: &Path, src: &str, range: std::ops::Range<usize>) -> Span {
    span_of_range(file, src, mutable::original_range(src, range))
}

/// A span for a byte range of `src`.
pub fn span_of_range(file: &Path, src: &str, range: std::ops::Range<usize>) -> Span {
    let start = range.start.min(src.len());
    let before = &src[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = src[line_start..start].chars().count() + 1;
    let end = range.end.min(src.len()).max(start);
    let len = src[start..end]
        .lines()
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(1);
    Span::new(file, line, col, len)
}

/// Rewrites dbt's `{% test name(args) %}...{% endtest %}` blocks into macros named `test_name`,
/// keeping every line where it was.
pub fn rewrite_test_blocks(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(i) = rest.find("{%") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        // The closing `%}` comes after the opening `{%` (in `{%}` they share the `%`).
        let Some(end) = after[2..].find("%}").map(|e| e + 2) else {
            out.push_str(after);
            return out;
        };
        let tag = &after[..end + 2];
        let inner = tag[2..tag.len() - 2].trim_start_matches('-').trim();
        if let Some(def) = inner.strip_prefix("test ") {
            out.push_str(&tag.replacen(
                &format!("test {}", def.split('(').next().unwrap_or("")),
                &format!("macro test_{}", def.split('(').next().unwrap_or("").trim()),
                1,
            ));
        } else if inner.trim_end_matches('-').trim() == "endtest" {
            out.push_str(&tag.replacen("endtest", "endmacro", 1));
        } else {
            out.push_str(tag);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_whose_percent_signs_overlap_is_left_alone() {
        // Found by the mutation test: `{%}` used to panic.
        assert_eq!(rewrite_test_blocks("a {%} b"), "a {%} b");
        assert_eq!(
            rewrite_test_blocks("{% test t(model) %}x{% endtest %}{%}"),
            "{% macro test_t(model) %}x{% endmacro %}{%}"
        );
    }

    #[test]
    fn test_blocks_become_macros() {
        let src = "{% test positive(model, column_name) %}\nselect 1\n{% endtest %}\n";
        assert_eq!(
            rewrite_test_blocks(src),
            "{% macro test_positive(model, column_name) %}\nselect 1\n{% endmacro %}\n"
        );
    }

    #[test]
    fn span_of_range_counts_lines() {
        let s = span_of_range(Path::new("a.sql"), "ab\ncd {{ x }}\n", 6..13);
        assert_eq!((s.line, s.col, s.len), (2, 4, 7));
    }
}
