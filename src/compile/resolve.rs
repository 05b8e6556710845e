//! Stage `resolve`: each render's `ref()`/`source()` calls resolved to relations (main SQL,
//! incremental SQL, hooks), their placeholders replaced in one pass, and the edges of the DAG
//! they make. A source table that a seed builds depends on that seed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use super::prepare::Pending;
use super::relations::Relations;
use super::render::Renders;
use crate::adapter::respell::respell_types;
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, suggest};
use crate::graph::Edge;
use crate::ir::config::Materialized;
use crate::ir::{LateQuery, Relation, ResourceType, quote_ident};
use crate::jinja::{self, RelationCall, THIS_TOKEN};
use crate::sorted::FastMap;

/// A node name that ref() can reach.
#[derive(Clone)]
pub struct Refable {
    /// Its index among the pending nodes.
    pub index: usize,
    /// What it builds.
    pub relation: Option<Relation>,
    /// Inlined as a CTE instead of built.
    pub ephemeral: bool,
}

/// What `ref()` and `source()` can reach: models and seeds by name (the first of each name,
/// the root project's before the packages'), by package and name, and source tables.
pub struct Scope<'a> {
    /// This project's name.
    pub project: &'a str,
    /// The names `ref('pkg', 'name')` accepts: the project's and its packages'.
    pub packages: Vec<&'a str>,
    /// Models and seeds by name.
    pub refable: FastMap<&'a str, Refable>,
    /// Models and seeds by package and name.
    pub by_package: FastMap<(&'a str, &'a str), Refable>,
    /// The packages that define each name, in node order.
    pub defined_in: FastMap<&'a str, Vec<&'a str>>,
    /// The nodes' relations and the source tables.
    pub relations: &'a Relations,
}

impl<'a> Scope<'a> {
    /// The scope of the pending nodes; `packages` are the project's packages' names.
    pub fn new(
        project: &'a str,
        packages: Vec<&'a str>,
        pending: &'a [Pending],
        relations: &'a Relations,
    ) -> Self {
        let nodes = pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.resource_type != ResourceType::Test)
            .map(|(i, p)| {
                let r = Refable {
                    index: i,
                    relation: relations.of_node[i].clone(),
                    ephemeral: p.config.materialized == Some(Materialized::Ephemeral),
                };
                (p.package, p.name.as_str(), r)
            });
        Self::of_nodes(project, packages, nodes, relations)
    }

    /// The scope of ref()-able nodes given as (package, name, what ref() reaches), in order.
    pub fn of_nodes(
        project: &'a str,
        packages: Vec<&'a str>,
        nodes: impl Iterator<Item = (&'a str, &'a str, Refable)>,
        relations: &'a Relations,
    ) -> Self {
        let mut refable: FastMap<&str, Refable> = FastMap::default();
        let mut by_package: FastMap<(&str, &str), Refable> = FastMap::default();
        let mut defined_in: FastMap<&str, Vec<&str>> = FastMap::default();
        let mut root_names: std::collections::HashSet<&str> = Default::default();
        for (package, name, r) in nodes {
            // By name alone: the root project's node first, whatever the order of the nodes.
            let is_root = package == project;
            if is_root && root_names.insert(name) {
                refable.insert(name, r.clone());
            } else if !root_names.contains(name) {
                refable.entry(name).or_insert_with(|| r.clone());
            }
            if by_package.insert((package, name), r).is_none() {
                defined_in.entry(name).or_default().push(package);
            }
        }
        let mut all = vec![project];
        all.extend(packages);
        Self {
            project,
            packages: all,
            refable,
            by_package,
            defined_in,
            relations,
        }
    }

    /// The node `ref(name)` from a node of package `from` reaches, in dbt's order: `from`'s
    /// own, the root project's, then the one package that has it. Two packages with it (and
    /// none of the first two) is an ambiguity: the packages are returned instead.
    fn find_ref<'s>(
        &'s self,
        from: &'s str,
        name: &'s str,
    ) -> Result<Option<&'s Refable>, Vec<&'s str>> {
        for pkg in [from, self.project] {
            if let Some(r) = self.by_package.get(&(pkg, name)) {
                return Ok(Some(r));
            }
        }
        match self.defined_in.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(self.by_package.get(&(*one, name))),
            Some(many) => Err(many.to_vec()),
        }
    }
}

/// A node's SQL with its relations resolved.
pub struct ResolvedSql {
    /// The main SQL (None when a call did not resolve, or for seeds).
    pub sql: Option<String>,
    /// The SQL with `is_incremental()` true.
    pub incremental: Option<String>,
    /// Pre-hooks.
    pub pre_hooks: Vec<String>,
    /// Post-hooks.
    pub post_hooks: Vec<String>,
    /// The first query a render ran with no answer known, ready to run.
    pub query: Option<LateQuery>,
}

/// The resolved SQL of every pending node, and the DAG's edges so far.
pub struct Resolved {
    /// By pending node.
    pub nodes: Vec<ResolvedSql>,
    /// Parent → child, through ref() and source(), then seeds → the sources they build.
    pub edges: Vec<Edge>,
}

struct ResolvedNode {
    sql: ResolvedSql,
    edges: Vec<Edge>,
    diags: Diagnostics,
}

/// Resolves each rendered text's relation calls, in parallel; edges and diagnostics are
/// gathered in node order after.
pub fn resolve(
    pending: &[Pending],
    renders: &Renders,
    scope: &Scope,
    type_spellings: &[(&str, &str)],
    diags: &mut Diagnostics,
) -> Resolved {
    let resolved: Vec<ResolvedNode> = pending
        .par_iter()
        .enumerate()
        .map(|(i, p)| resolve_node(i, p, renders, scope, type_spellings))
        .collect();
    let mut edges: Vec<Edge> = Vec::with_capacity(resolved.iter().map(|r| r.edges.len()).sum());
    let mut nodes: Vec<ResolvedSql> = Vec::with_capacity(pending.len());
    for r in resolved {
        nodes.push(r.sql);
        edges.extend(r.edges);
        diags.extend(r.diags);
    }
    seed_edges(pending, scope.relations, &mut edges);
    Resolved { nodes, edges }
}

/// Resolves pending node `i` again after it was rendered again (stage `graph`): its SQL and
/// its edges replace those it had.
pub fn resolve_again(
    i: usize,
    p: &Pending,
    renders: &Renders,
    scope: &Scope,
    type_spellings: &[(&str, &str)],
    resolved: &mut Resolved,
    diags: &mut Diagnostics,
) {
    let r = resolve_node(i, p, renders, scope, type_spellings);
    resolved.nodes[i] = r.sql;
    resolved.edges.retain(|e| e.child != i);
    resolved.edges.extend(r.edges);
    diags.extend(r.diags);
}

/// One node's SQL (and its hooks') with every placeholder replaced and cast types in the
/// engine's words (`type_spellings`).
fn resolve_node(
    i: usize,
    p: &Pending,
    renders: &Renders,
    scope: &Scope,
    type_spellings: &[(&str, &str)],
) -> ResolvedNode {
    let own = match scope.relations.of_node[i].as_ref() {
        Some(r) => Own {
            quoted: r.quoted(),
            schema: r.schema.clone(),
            identifier: r.identifier.clone(),
        },
        None => Own {
            quoted: quote_ident(&p.name),
            schema: String::new(),
            identifier: p.name.clone(),
        },
    };
    let mut out = ResolvedNode {
        sql: ResolvedSql {
            sql: None,
            incremental: None,
            pre_hooks: Vec::new(),
            post_hooks: Vec::new(),
            query: None,
        },
        edges: Vec::new(),
        diags: Diagnostics::new(),
    };
    let substitute =
        |text: &str, calls: &[RelationCall], spans: &[Span], src: &str, out: &mut ResolvedNode| {
            let mut replacements: Vec<Own> = Vec::with_capacity(calls.len());
            for (n, call) in calls.iter().enumerate() {
                let span = spans
                    .get(n)
                    .cloned()
                    .unwrap_or_else(|| call_span(src, &p.path, call));
                let (parent, replacement) =
                    scope.resolve_call_from(p.package, call, &span, &mut out.diags)?;
                out.edges.push(Edge {
                    parent,
                    child: i,
                    span: Some(span),
                });
                replacements.push(Own::of(replacement, scope.relations.of(parent)));
            }
            let text = substitute_tokens(text, &own, &replacements);
            Some(match respell_types(&text, type_spellings) {
                Cow::Borrowed(_) => text,
                Cow::Owned(respelled) => respelled,
            })
        };
    let resolve = |r: &jinja::Rendered, src: &str, out: &mut ResolvedNode| {
        // The first query a render ran with no answer: its relations are dependencies too.
        if let Some(q) = r.recorded.query.as_deref()
            && out.sql.query.is_none()
        {
            let sql = substitute(&q.text, &q.relations, &[], src, out);
            out.sql.query = sql.map(|sql| LateQuery {
                template: q.template.clone(),
                text: q.text.clone(),
                sql,
            });
        }
        substitute(&r.text, &r.recorded.relations, &r.relation_spans, src, out)
    };
    let src = p.template.as_deref().unwrap_or("");
    if let Some(r) = &renders.main[i] {
        out.sql.sql = resolve(r, src, &mut out);
    }
    let extra = &renders.extra[i];
    match extra.incremental.as_deref() {
        Some(Ok(r)) => out.sql.incremental = resolve(r, src, &mut out),
        Some(Err(d)) => out.diags.push(d.clone()),
        None => {}
    }
    for (pre, hook_src, r) in &extra.hooks {
        match r {
            Ok(r) => {
                if let Some(t) = resolve(r, hook_src, &mut out) {
                    if *pre {
                        out.sql.pre_hooks.push(t);
                    } else {
                        out.sql.post_hooks.push(t);
                    }
                }
            }
            Err(d) => out.diags.push(
                d.clone()
                    .at(Span::file(&p.path))
                    .with_note(format!("in hook `{hook_src}`")),
            ),
        }
    }
    out
}

/// A source table whose relation a seed builds depends on that seed.
fn seed_edges(pending: &[Pending], relations: &Relations, edges: &mut Vec<Edge>) {
    let seed_by_relation: HashMap<(String, String), usize> = pending
        .iter()
        .enumerate()
        .filter(|(_, p)| p.resource_type == ResourceType::Seed)
        .filter_map(|(i, _)| {
            relations.of_node[i]
                .as_ref()
                .map(|r| ((r.schema.to_lowercase(), r.identifier.to_lowercase()), i))
        })
        .collect();
    for (idx, rel) in relations.source_index.values() {
        if let Some(&seed) =
            seed_by_relation.get(&(rel.schema.to_lowercase(), rel.identifier.to_lowercase()))
        {
            edges.push(Edge {
                parent: seed,
                child: *idx,
                span: None,
            });
        }
    }
}

/// A relation as `this`, `ref()` and `source()` and their attributes print: the relation a
/// node is built into, or one it reads.
#[derive(Clone, Debug, Default)]
pub(super) struct Own {
    /// The relation: quoted, or an ephemeral model's CTE name.
    pub quoted: String,
    /// `.schema` (empty for an ephemeral model).
    pub schema: String,
    /// `.identifier` (also `.name`, `.table`).
    pub identifier: String,
}

impl Own {
    /// What `text` (a resolved call) prints, with the attributes of `relation` when it has one
    /// (an ephemeral model's CTE has none: its identifier is the CTE's name).
    pub fn of(text: String, relation: Option<&Relation>) -> Own {
        match relation {
            Some(r) => Own {
                schema: r.schema.clone(),
                identifier: r.identifier.clone(),
                quoted: text,
            },
            None => Own {
                identifier: text.clone(),
                quoted: text,
                schema: String::new(),
            },
        }
    }

    fn attribute(&self, attr: &str) -> &str {
        if attr == "schema" {
            &self.schema
        } else {
            &self.identifier
        }
    }
}

/// `text` with `this` and relation placeholders replaced, in one pass: `__strata_this__` by
/// `own`, `this`'s attribute tokens by their values, `__strata_rel_<n>__` by
/// `relations[n]` (every relation of the render is resolved).
pub(super) fn substitute_tokens(text: &str, own: &Own, relations: &[Own]) -> String {
    const PREFIX: &str = "__strata_";
    let mut out = String::with_capacity(text.len() + 32 * relations.len());
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix(THIS_TOKEN) {
            out.push_str(&own.quoted);
            rest = after;
            continue;
        }
        if let Some((value, after)) = jinja::THIS_ATTRIBUTES
            .iter()
            .find_map(|(attr, token)| Some((own.attribute(attr), tail.strip_prefix(token)?)))
        {
            out.push_str(value);
            rest = after;
            continue;
        }
        match jinja::parse_relation_token(tail) {
            Some((n, attr, len)) if n < relations.len() => {
                let r = &relations[n];
                out.push_str(attr.map_or(r.quoted.as_str(), |a| r.attribute(a)));
                rest = &tail[len..];
            }
            _ => {
                out.push_str(PREFIX);
                rest = &tail[PREFIX.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where a relation call is written, when its token never reached the output.
pub fn call_span(src: &str, file: &Path, call: &RelationCall) -> Span {
    let needle = match call {
        RelationCall::Ref { name, .. } => name.as_str(),
        RelationCall::Source { table, .. } => table.as_str(),
    };
    for (i, line) in src.lines().enumerate() {
        if let Some(col) = line.find(needle)
            && (line.contains("ref(") || line.contains("source("))
        {
            return Span::new(
                file,
                i + 1,
                line[..col].chars().count() + 1,
                needle.chars().count(),
            );
        }
    }
    Span::file(file)
}

impl Scope<'_> {
    /// Resolves a ref/source call of the root project to (parent index, SQL text), reporting
    /// what is missing.
    pub fn resolve_call(
        &self,
        call: &RelationCall,
        span: &Span,
        diags: &mut Diagnostics,
    ) -> Option<(usize, String)> {
        self.resolve_call_from(self.project, call, span, diags)
    }

    /// `ref(package?, name)` written in a node of package `from`.
    fn resolve_ref(
        &self,
        from: &str,
        package: Option<&str>,
        name: &str,
        span: &Span,
        diags: &mut Diagnostics,
    ) -> Option<(usize, String)> {
        let found = match package {
            Some(p) if !self.packages.contains(&p) => {
                diags.push(
                    Diagnostic::error(
                        Code::MissingRef,
                        format!("ref('{p}', '{name}') names package `{p}`, which is neither this project nor one of its packages"),
                    )
                    .at(span.clone())
                    .with_label("no such package")
                    .with_help_opt(suggest(p, self.packages.iter().copied()).or_else(|| {
                        Some(format!("the project and its packages are {}", self.packages.join(", ")))
                    })),
                );
                return None;
            }
            Some(p) => self.by_package.get(&(p, name)),
            None => match self.find_ref(from, name) {
                Ok(r) => r,
                Err(packages) => {
                    let both: Vec<String> = packages
                        .iter()
                        .map(|p| format!("ref('{p}', '{name}')"))
                        .collect();
                    diags.push(
                        Diagnostic::error(
                            Code::MissingRef,
                            format!("ref('{name}') is ambiguous: packages {} each have a node named `{name}`", packages.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(" and ")),
                        )
                        .at(span.clone())
                        .with_label("which one?")
                        .with_help(format!("name the package: write {}", both.join(" or "))),
                    );
                    return None;
                }
            },
        };
        match found {
            Some(r) => {
                let text = if r.ephemeral {
                    super::ephemeral::cte_name(name)
                } else {
                    r.relation.as_ref().map(Relation::quoted)?
                };
                Some((r.index, text))
            }
            None if self.relations.disabled.contains(name) => {
                diags.push(
                    Diagnostic::error(
                        Code::MissingRef,
                        format!("ref('{name}') points at a disabled node"),
                    )
                    .at(span.clone())
                    .with_label("disabled with `enabled: false`")
                    .with_help(format!("enable `{name}` or remove this ref")),
                );
                None
            }
            None => {
                let mut names: Vec<&str> = match package {
                    Some(p) => self
                        .by_package
                        .keys()
                        .filter(|(k, _)| *k == p)
                        .map(|(_, n)| *n)
                        .collect(),
                    None => self.refable.keys().copied().collect(),
                };
                names.sort_unstable();
                let what = match package {
                    Some(p) => format!(
                        "ref('{p}', '{name}') names a model or seed that package `{p}` does not have"
                    ),
                    None => format!("ref('{name}') names a model or seed that does not exist"),
                };
                diags.push(
                    Diagnostic::error(Code::MissingRef, what)
                        .at(span.clone())
                        .with_label("no such model or seed")
                        .with_help_opt(suggest(name, names.iter().copied())),
                );
                None
            }
        }
    }

    /// Resolves a ref/source call written in a node of package `from` to (parent index, SQL
    /// text), reporting what is missing.
    pub fn resolve_call_from(
        &self,
        from: &str,
        call: &RelationCall,
        span: &Span,
        diags: &mut Diagnostics,
    ) -> Option<(usize, String)> {
        let sources = &self.relations.source_index;
        match call {
            RelationCall::Ref { project: p, name } => {
                self.resolve_ref(from, p.as_deref(), name, span, diags)
            }
            RelationCall::Source { source, table } => {
                match sources.get(&(source.clone(), table.clone())) {
                    Some((i, rel)) => Some((*i, rel.quoted())),
                    None if self
                        .relations
                        .disabled_sources
                        .contains(&(source.clone(), table.clone())) =>
                    {
                        diags.push(
                            Diagnostic::error(
                                Code::MissingSource,
                                format!("source('{source}', '{table}') is disabled"),
                            )
                            .at(span.clone())
                            .with_label("disabled with `enabled: false` under `sources:`")
                            .with_help(format!(
                                "enable `{source}.{table}` in the project file's `sources:`, or remove this call"
                            )),
                        );
                        None
                    }
                    None => {
                        let known: Vec<String> =
                            sources.keys().map(|(s, t)| format!("{s}.{t}")).collect();
                        let wanted = format!("{source}.{table}");
                        let help = suggest(&wanted, known.iter().map(String::as_str)).map(|h| {
                            // Show the suggestion in the call's own syntax.
                            let s = h
                                .trim_start_matches("did you mean `")
                                .trim_end_matches("`?");
                            let (a, b) = s.split_once('.').unwrap_or((s, ""));
                            format!("did you mean `source('{a}', '{b}')`?")
                        });
                        diags.push(
                        Diagnostic::error(Code::MissingSource, format!("source('{source}', '{table}') is not declared in any properties file"))
                            .at(span.clone())
                            .with_label("no such source table")
                            .with_help_opt(help.or_else(|| Some(format!("declare it under `sources:` (name: {source}, tables: [{table}])")))),
                    );
                        None
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_substituted_in_one_pass() {
        let rel = |s: &str, i: &str| {
            let r = Relation::new(s, i);
            Own::of(r.quoted(), Some(&r))
        };
        let rels = vec![rel("a", "x"), rel("b", "y")];
        let own = &Own {
            quoted: "\"main\".\"me\"".into(),
            schema: "main".into(),
            identifier: "me".into(),
        };
        assert_eq!(
            substitute_tokens(
                "select * from __strata_rel_0__ join __strata_rel_1__ using (id) -- __strata_this__",
                own,
                &rels
            ),
            "select * from \"a\".\"x\" join \"b\".\"y\" using (id) -- \"main\".\"me\""
        );
        assert_eq!(
            substitute_tokens(
                "__strata_this_schema__.__strata_this_identifier___x __strata_this_name__",
                own,
                &rels
            ),
            "main.me_x me"
        );
        // Adjacent tokens, a token at the very end, and look-alikes left alone.
        assert_eq!(
            substitute_tokens("__strata_rel_1____strata_rel_0__", own, &rels),
            "\"b\".\"y\"\"a\".\"x\""
        );
        assert_eq!(
            substitute_tokens("x __strata_rel_0", own, &rels),
            "x __strata_rel_0"
        );
        assert_eq!(
            substitute_tokens("__strata_rel_7__ __strata_other __strata_", own, &rels),
            "__strata_rel_7__ __strata_other __strata_"
        );
        assert_eq!(substitute_tokens("no tokens", own, &rels), "no tokens");
        // A relation's attributes; an ephemeral model's identifier is its CTE.
        assert_eq!(
            substitute_tokens(
                "__strata_rel_1_schema__.__strata_rel_1_identifier__ __strata_rel_0_table____strata_rel_0_name__",
                own,
                &rels
            ),
            "b.y xx"
        );
        let cte = [Own::of("__dbt__cte__e".into(), None)];
        assert_eq!(
            substitute_tokens(
                "__strata_rel_0_identifier__ '__strata_rel_0_schema__'",
                own,
                &cte
            ),
            "__dbt__cte__e ''"
        );
        assert_eq!(
            substitute_tokens("__strata_rel_0_other__", own, &rels),
            "__strata_rel_0_other__"
        );
    }
}
