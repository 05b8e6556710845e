//! Node selection shared by every command, with dbt's syntax: `name`, `+name`, `name+`,
//! `2+name`, `name+1`, `@name`, `tag:`, `path:`, `config.<key>:`, `source:`, `resource_type:`,
//! `fqn:`, globs (`mart_*`), unions (space or repeated `-s`), intersections (comma), `--exclude`.

use std::collections::BTreeSet;

use super::{Dag, Node};
use crate::diagnostics::{Code, Diagnostic, suggest};
use crate::ir::ResourceType;

const METHODS: &[&str] = &[
    "tag",
    "path",
    "source",
    "resource_type",
    "fqn",
    "config",
    "exposure",
    "test_type",
    "file",
];

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
            return Err(
                bad(format!("unknown selector method `{method}` in `{s}`")).with_help_opt(
                    suggest(base, METHODS.iter().copied()).map(|h| h.replace("`?", ":`?")),
                ),
            );
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
        return Err(bad(format!("selector `{s}` has no value")));
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
                return Err(Diagnostic::error(
                    Code::InvalidSelector,
                    format!("unknown resource type `{v}`"),
                )
                .with_help_opt(suggest(v, known.iter().copied())));
            }
            node.resource_type().as_str() == v
        }
        "test_type" => node.resource_type() == ResourceType::Test && node.test_type() == Some(v),
        "fqn" => fqn_match(v, node),
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

fn select_atom<N: Node>(
    dag: &Dag,
    nodes: &[N],
    atom: &Atom,
) -> Result<BTreeSet<usize>, Diagnostic> {
    let mut base = BTreeSet::new();
    for (i, n) in nodes.iter().enumerate() {
        if matches(atom, n)? {
            base.insert(i);
        }
    }
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
    Ok(out)
}

/// Parses a list of selector arguments into (union of intersections of) atoms.
fn parse_spec(args: &[String]) -> Result<Vec<Vec<Atom>>, Diagnostic> {
    let mut out = Vec::new();
    for arg in args {
        for term in arg.split_whitespace() {
            let atoms = term
                .split(',')
                .filter(|a| !a.is_empty())
                .map(parse_atom)
                .collect::<Result<Vec<_>, _>>()?;
            if !atoms.is_empty() {
                out.push(atoms);
            }
        }
    }
    Ok(out)
}

fn eval<N: Node>(
    dag: &Dag,
    nodes: &[N],
    spec: &[Vec<Atom>],
) -> Result<BTreeSet<usize>, Diagnostic> {
    let mut union = BTreeSet::new();
    for term in spec {
        let mut acc: Option<BTreeSet<usize>> = None;
        for atom in term {
            let s = select_atom(dag, nodes, atom)?;
            acc = Some(match acc {
                None => s,
                Some(a) => a.intersection(&s).copied().collect(),
            });
        }
        union.extend(acc.unwrap_or_default());
    }
    Ok(union)
}

/// The nodes chosen by `--select` (all when empty) minus `--exclude`, plus the tests of the
/// chosen nodes as `indirect` says. Returned in topological order. `nodes` are the ones the
/// graph was built over.
pub fn select<N: Node>(
    dag: &Dag,
    nodes: &[N],
    select: &[String],
    exclude: &[String],
    indirect: IndirectSelection,
) -> Result<Vec<usize>, Diagnostic> {
    let sel_spec = parse_spec(select)?;
    let exc_spec = parse_spec(exclude)?;
    let mut chosen: BTreeSet<usize> = if sel_spec.is_empty() {
        (0..dag.len()).collect()
    } else {
        eval(dag, nodes, &sel_spec)?
    };
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
    let excluded = eval(dag, nodes, &exc_spec)?;
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
