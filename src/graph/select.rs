//! Node selection shared by every command, with dbt's syntax: `name`, `+name`, `name+`,
//! `2+name`, `name+1`, `@name`, `tag:`, `path:`, `config.<key>:`, `source:`, `resource_type:`,
//! `fqn:`, `package:`, globs (`mart_*`), unions (space or repeated `-s`), intersections (comma), `--exclude`.
//!
//! Unlike dbt, which warns and does nothing, a selector that matches nothing is an error (S502):
//! each `--select` term must select a node, and each part of a term (and of an `--exclude`)
//! must match a node of the project, so that a typo never silently builds nothing — or, in an
//! `--exclude`, builds what was meant to be left out.
//!
//! The docs site selects in the browser with a port of this module
//! (`src/docs/assets/select.js`): a change here is made there too. `tests/docs_site.rs`
//! compares the two on the example project.

use std::collections::BTreeSet;

use super::{Dag, Node};
use crate::diagnostics::{Code, Diagnostic, Diagnostics, did_you_mean, display_path, suggest};
use crate::ir::ResourceType;

const METHODS: &[&str] = &[
    "tag",
    "path",
    "source",
    "resource_type",
    "fqn",
    "package",
    "config",
    "exposure",
    "test_type",
    "file",
];

/// The selector methods as a user writes them, for help texts.
const METHODS_HELP: &str = "the selector methods are tag:, path:, file:, config.<key>:, \
source:, resource_type:, fqn:, package:, exposure:, test_type:, or none for a name or glob (`mart_*`); \
graph operators: `+name`, `name+`, `2+name`, `@name`";

/// How tests attached to selected nodes are added (dbt's indirect selection).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum IndirectSelection {
    /// A test is selected when any node it tests is selected.
    #[default]
    Eager,
    /// A test is selected when every node it tests is selected.
    Cautious,
    /// Tests are selected only by name.
    Empty,
}

/// One `method:value` with graph operators.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Atom {
    /// As written, operators included.
    text: String,
    at: bool,
    parents: Option<Option<usize>>,
    children: Option<Option<usize>>,
    method: Option<String>,
    value: String,
}

fn parse_atom(s: &str) -> Result<Atom, Diagnostic> {
    let bad = |msg: String| Diagnostic::error(Code::InvalidSelector, msg);
    let mut rest = s;
    let mut atom = Atom {
        text: s.to_string(),
        at: false,
        parents: None,
        children: None,
        method: None,
        value: String::new(),
    };
    if let Some(r) = rest.strip_prefix('@') {
        atom.at = true;
        rest = r;
    }
    // Leading `N+` or `+`.
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if rest[digits.len()..].starts_with('+') {
        atom.parents = Some(if digits.is_empty() {
            None
        } else {
            Some(digits.parse().unwrap())
        });
        rest = &rest[digits.len() + 1..];
    }
    // Trailing `+` or `+N`.
    if let Some(plus) = rest.rfind('+') {
        let tail = &rest[plus + 1..];
        if tail.chars().all(|c| c.is_ascii_digit()) {
            // `delete+insert` in config values must not be read as an operator: only a `+` at
            // the end or followed by digits counts.
            let value_part = &rest[..plus];
            if !value_part.is_empty() {
                atom.children = Some(if tail.is_empty() {
                    None
                } else {
                    Some(tail.parse().unwrap())
                });
                rest = value_part;
            }
        }
    }
    if atom.at && (atom.parents.is_some() || atom.children.is_some()) {
        return Err(bad(format!("`{s}`: `@` cannot be combined with `+`")));
    }
    if let Some((method, value)) = rest.split_once(':') {
        let base = method.split('.').next().unwrap_or(method);
        if !METHODS.contains(&base) {
            let help = match suggest(base, METHODS.iter().copied()) {
                Some(h) => format!("{} {METHODS_HELP}", h.replace("`?", ":`?")),
                None => METHODS_HELP.to_string(),
            };
            return Err(bad(format!("unknown selector method `{method}` in `{s}`")).with_help(help));
        }
        if base == "config" && !method.contains('.') {
            return Err(bad(format!(
                "`{s}`: write `config.<key>:<value>`, e.g. config.materialized:table"
            )));
        }
        atom.method = Some(method.to_string());
        atom.value = value.to_string();
    } else {
        atom.value = rest.to_string();
    }
    if atom.value.is_empty() {
        return Err(bad(format!("selector `{s}` has no value")).with_help(METHODS_HELP));
    }
    Ok(atom)
}

/// `*` and `?` globbing.
fn glob(pattern: &str, text: &str) -> bool {
    fn rec(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => rec(&p[1..], t) || (!t.is_empty() && rec(p, &t[1..])),
            (Some(b'?'), Some(_)) => rec(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => rec(&p[1..], &t[1..]),
            _ => false,
        }
    }
    rec(pattern.as_bytes(), text.as_bytes())
}

fn matches(atom: &Atom, node: &impl Node) -> Result<bool, Diagnostic> {
    let v = atom.value.as_str();
    let Some(method) = atom.method.as_deref() else {
        return Ok(default_match(v, node));
    };
    Ok(match method {
        "tag" => node.tags().iter().any(|t| glob(v, t)),
        "path" | "file" => node.path().is_some_and(|p| {
            let p = crate::diagnostics::display_path(p);
            let v = v.trim_end_matches('/');
            p == v || p.starts_with(&format!("{v}/")) || glob(v, &p)
        }),
        "source" => {
            node.resource_type() == ResourceType::Source
                && node.source_name().is_some_and(|s| match v.split_once('.') {
                    Some((src, table)) => glob(src, s) && glob(table, node.name()),
                    None => glob(v, s),
                })
        }
        "exposure" => node.resource_type() == ResourceType::Exposure && glob(v, node.name()),
        "resource_type" => {
            let known: Vec<&str> = ResourceType::ALL.iter().map(|r| r.as_str()).collect();
            if !known.contains(&v) {
                let list = format!("resource types: {}", known.join(", "));
                return Err(Diagnostic::error(
                    Code::InvalidSelector,
                    format!("unknown resource type `{v}`"),
                )
                .with_help(match suggest(v, known.iter().copied()) {
                    Some(h) => format!("{h}; {list}"),
                    None => list,
                }));
            }
            node.resource_type().as_str() == v
        }
        "test_type" => node.resource_type() == ResourceType::Test && node.test_type() == Some(v),
        "fqn" => fqn_match(v, node),
        // dbt's `package:`: the project or package a node belongs to, the first part of its fqn.
        "package" => node.fqn().first().is_some_and(|p| glob(v, p)),
        m => {
            let key = m.strip_prefix("config.").unwrap_or(m);
            match node.config_value(key) {
                Some(serde_json::Value::Array(items)) => items.iter().any(|i| json_eq(i, v)),
                Some(other) => json_eq(&other, v),
                None => false,
            }
        }
    })
}

fn json_eq(j: &serde_json::Value, v: &str) -> bool {
    match j {
        serde_json::Value::String(s) => glob(v, s),
        other => other.to_string().as_str() == v,
    }
}

fn fqn_match(v: &str, node: &impl Node) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    let fqn: Vec<&str> = node.fqn().iter().map(String::as_str).collect();
    let prefix_at = |offset: usize| {
        fqn.len() >= offset + parts.len()
            && parts.iter().zip(&fqn[offset..]).all(|(p, f)| glob(p, f))
    };
    prefix_at(0) || prefix_at(1)
}

/// A bare value: a path when it looks like one, else the node name or an fqn prefix
/// (so `staging` selects the staging folder, as in dbt).
fn default_match(v: &str, node: &impl Node) -> bool {
    if v.contains('/') || v.ends_with(".sql") || v.ends_with(".csv") {
        let atom = Atom {
            text: v.into(),
            at: false,
            parents: None,
            children: None,
            method: Some("path".into()),
            value: v.into(),
        };
        return matches(&atom, node).unwrap_or(false);
    }
    if node.resource_type() == ResourceType::Source {
        return node
            .source_name()
            .is_some_and(|s| glob(v, &format!("{s}.{}", node.name())));
    }
    glob(v, node.name()) || (node.resource_type() != ResourceType::Test && fqn_match(v, node))
}

/// The nodes `atom` matches itself, before its graph operators.
fn base_matches<N: Node>(nodes: &[N], atom: &Atom) -> Result<BTreeSet<usize>, Diagnostic> {
    let mut base = BTreeSet::new();
    for (i, n) in nodes.iter().enumerate() {
        if matches(atom, n)? {
            base.insert(i);
        }
    }
    Ok(base)
}

/// `base` widened by the atom's graph operators.
fn widen(dag: &Dag, atom: &Atom, base: BTreeSet<usize>) -> BTreeSet<usize> {
    let mut out = base.clone();
    for &i in &base {
        if let Some(depth) = atom.parents {
            out.extend(dag.ancestors(i, depth));
        }
        if let Some(depth) = atom.children {
            out.extend(dag.descendants(i, depth));
        }
        if atom.at {
            let desc = dag.descendants(i, None);
            for &d in &desc {
                out.extend(dag.ancestors(d, None));
            }
            out.extend(desc);
        }
    }
    out
}

/// Parses a list of selector arguments into (union of intersections of) atoms; every
/// malformed atom is reported.
fn parse_spec(args: &[String], diags: &mut Diagnostics) -> Vec<Vec<Atom>> {
    let mut out = Vec::new();
    for arg in args {
        for term in arg.split_whitespace() {
            let mut atoms = Vec::new();
            for a in term.split(',').filter(|a| !a.is_empty()) {
                match parse_atom(a) {
                    Ok(atom) => atoms.push(atom),
                    Err(d) => diags.push(d),
                }
            }
            if !atoms.is_empty() {
                out.push(atoms);
            }
        }
    }
    out
}

/// Which flag a selector came from, for messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flag {
    Select,
    Exclude,
}

impl Flag {
    fn as_str(self) -> &'static str {
        match self {
            Flag::Select => "--select",
            Flag::Exclude => "--exclude",
        }
    }
}

/// The union of the terms' intersections. Every atom must match a node of the project; with
/// `--select`, every term must also select a node (S502 otherwise, each one reported).
fn eval<N: Node>(
    dag: &Dag,
    nodes: &[N],
    spec: &[Vec<Atom>],
    flag: Flag,
    diags: &mut Diagnostics,
) -> BTreeSet<usize> {
    let mut union = BTreeSet::new();
    for term in spec {
        let mut acc: Option<BTreeSet<usize>> = None;
        let mut parts_match = true;
        for atom in term {
            let base = match base_matches(nodes, atom) {
                Ok(b) => b,
                Err(d) => {
                    diags.push(d);
                    parts_match = false;
                    continue;
                }
            };
            if base.is_empty() {
                diags.push(matches_nothing(nodes, atom, flag));
                parts_match = false;
                continue;
            }
            let s = widen(dag, atom, base);
            acc = Some(match acc {
                None => s,
                Some(a) => a.intersection(&s).copied().collect(),
            });
        }
        let acc = acc.unwrap_or_default();
        if flag == Flag::Select && parts_match && acc.is_empty() {
            let text: Vec<&str> = term.iter().map(|a| a.text.as_str()).collect();
            diags.push(
                Diagnostic::error(
                    Code::SelectorMatchesNothing,
                    format!(
                        "--select `{}` matches no node: each part matches nodes, but no node matches all of them",
                        text.join(",")
                    ),
                )
                .with_help(format!(
                    "a comma means AND (nodes matching every part); to select nodes matching any part, separate them with a space: `-s \"{}\"`",
                    text.join(" ")
                )),
            );
        }
        union.extend(acc);
    }
    union
}

/// S502 for an atom that matches no node of the project, with a did-you-mean.
fn matches_nothing<N: Node>(nodes: &[N], atom: &Atom, flag: Flag) -> Diagnostic {
    let method = atom.method.as_deref();
    let known = candidates(nodes, method, &atom.value);
    let prefix = method.map(|m| format!("{m}:")).unwrap_or_default();
    let help = match did_you_mean(&atom.value, known.iter().map(String::as_str)) {
        Some(c) => format!(
            "did you mean `{}`? (`strata ls` lists the nodes)",
            respelled(atom, c)
        ),
        None if known.is_empty() && method.is_some() => format!(
            "no node of the project has a `{}` to match; {METHODS_HELP}",
            method.unwrap_or_default()
        ),
        None if method.is_some() && known.len() <= 12 => {
            let shown: Vec<String> = known.iter().map(|k| format!("`{prefix}{k}`")).collect();
            format!("the project has {}", shown.join(", "))
        }
        None => "`strata ls` lists the nodes".to_string(),
    };
    let consequence = match flag {
        Flag::Select => "",
        Flag::Exclude => " (a typo here would run what you meant to leave out)",
    };
    Diagnostic::error(
        Code::SelectorMatchesNothing,
        format!(
            "{} `{}` matches no node{consequence}",
            flag.as_str(),
            atom.text
        ),
    )
    .with_help(help)
}

/// The atom as written, with `value` in place of its value (operators kept).
fn respelled(atom: &Atom, value: &str) -> String {
    let old = match &atom.method {
        Some(m) => format!("{m}:{}", atom.value),
        None => atom.value.clone(),
    };
    let new = match &atom.method {
        Some(m) => format!("{m}:{value}"),
        None => value.to_string(),
    };
    match atom.text.rfind(&old) {
        Some(at) => format!("{}{new}{}", &atom.text[..at], &atom.text[at + old.len()..]),
        None => new,
    }
}

/// What a value of `method` could have been, for did-you-mean: node names, tags, paths...
fn candidates<N: Node>(nodes: &[N], method: Option<&str>, value: &str) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    let path_like = value.contains('/') || value.ends_with(".sql") || value.ends_with(".csv");
    for n in nodes {
        match method {
            Some("tag") => out.extend(n.tags().iter().cloned()),
            Some("path" | "file") => add_paths(&mut out, n),
            None if path_like => add_paths(&mut out, n),
            Some("source") => {
                if let Some(s) = n.source_name() {
                    out.insert(s.to_string());
                    out.insert(format!("{s}.{}", n.name()));
                }
            }
            Some("exposure") if n.resource_type() == ResourceType::Exposure => {
                out.insert(n.name().to_string());
            }
            Some("fqn") => {
                out.insert(n.fqn().join("."));
            }
            Some("test_type") => out.extend(n.test_type().map(str::to_string)),
            Some(m) if m.starts_with("config.") => {
                if let Some(serde_json::Value::String(v)) = n.config_value(&m[7..]) {
                    out.insert(v);
                }
            }
            Some(_) => {}
            None => {
                out.insert(n.name().to_string());
                if let Some(s) = n.source_name() {
                    out.insert(format!("{s}.{}", n.name()));
                }
            }
        }
    }
    out.into_iter().collect()
}

/// A node's file and the folders above it.
fn add_paths(out: &mut BTreeSet<String>, n: &impl Node) {
    let Some(p) = n.path() else { return };
    let mut p = Some(p);
    while let Some(q) = p.filter(|q| !q.as_os_str().is_empty()) {
        out.insert(display_path(q));
        p = q.parent();
    }
}

/// The nodes chosen by `--select` (all when empty) minus `--exclude`, plus the tests of the
/// chosen nodes as `indirect` says. Returned in topological order. `nodes` are the ones the
/// graph was built over. Errors: every malformed selector (S501) and every selector that
/// matches nothing (S502).
pub fn select<N: Node>(
    dag: &Dag,
    nodes: &[N],
    select: &[String],
    exclude: &[String],
    indirect: IndirectSelection,
) -> Result<Vec<usize>, Diagnostics> {
    let mut diags = Diagnostics::new();
    let sel_spec = parse_spec(select, &mut diags);
    let exc_spec = parse_spec(exclude, &mut diags);
    let mut chosen: BTreeSet<usize> = if sel_spec.is_empty() {
        (0..dag.len()).collect()
    } else {
        eval(dag, nodes, &sel_spec, Flag::Select, &mut diags)
    };
    let excluded = eval(dag, nodes, &exc_spec, Flag::Exclude, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    if indirect != IndirectSelection::Empty {
        for (i, n) in nodes.iter().enumerate() {
            if n.resource_type() != ResourceType::Test || chosen.contains(&i) {
                continue;
            }
            let parents = dag.parents(i);
            let take = match indirect {
                IndirectSelection::Eager => parents.iter().any(|p| chosen.contains(p)),
                IndirectSelection::Cautious => {
                    !parents.is_empty() && parents.iter().all(|p| chosen.contains(p))
                }
                IndirectSelection::Empty => false,
            };
            if take {
                chosen.insert(i);
            }
        }
    }
    Ok(dag
        .topo_order()
        .iter()
        .copied()
        .filter(|i| chosen.contains(i) && !excluded.contains(i))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoms_parse() {
        let a = parse_atom("2+tag:x+").unwrap();
        assert_eq!(a.parents, Some(Some(2)));
        assert_eq!(a.children, Some(None));
        assert_eq!(a.method.as_deref(), Some("tag"));
        assert_eq!(a.value, "x");
        let b = parse_atom("config.incremental_strategy:delete+insert").unwrap();
        assert_eq!(b.value, "delete+insert");
        assert_eq!(b.children, None);
        assert!(
            parse_atom("tags:x")
                .unwrap_err()
                .help
                .unwrap()
                .contains("tag")
        );
    }

    #[test]
    fn globbing() {
        assert!(glob("mart_*", "mart_ar_aging"));
        assert!(!glob("mart_*", "stg_x"));
        assert!(glob("a?c", "abc"));
    }
}
