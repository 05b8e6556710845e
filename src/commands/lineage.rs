//! `strata lineage NODE[.COLUMN]`: column-level lineage across the project, upstream down to
//! seeds and sources or downstream to what reads it, as text, JSON or Graphviz dot. Needs no
//! database: it is what the compiler's `lineage` stage found.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use serde::Serialize;

use super::{ExitStatus, Output, compile_project};
use crate::cli::{CompileArgs, GlobalArgs, LineageArgs, LineageOutput};
use crate::compile::Compiled;
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, suggest};
use crate::ir::lineage::{InputField, TransformSubtype};
use crate::ir::{CompiledNode, ResourceType};

/// What to show.
pub struct Query<'a> {
    /// `NODE` or `NODE.COLUMN`.
    pub target: &'a str,
    /// Follow readers instead of inputs.
    pub downstream: bool,
    /// How many steps to follow (all when None).
    pub depth: Option<usize>,
    /// How to print.
    pub output: LineageOutput,
}

/// One edge of the lineage graph: `from` is read to make `to`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct Edge {
    from: Point,
    to: Point,
    #[serde(rename = "type")]
    kind: &'static str,
    subtype: TransformSubtype,
}

/// A column of a node; `column` None stands for every row of the node (joins, filters).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
struct Point {
    node: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<String>,
}

/// A column whose lineage is incomplete.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct Unknown {
    node: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<String>,
    reason: String,
    code: &'static str,
}

/// Runs `strata lineage NODE[.COLUMN]`, or `strata lineage send` (OpenLineage events).
pub fn dispatch(global: &GlobalArgs, args: &LineageArgs) -> Result<ExitStatus> {
    if args.action.is_some() {
        return super::openlineage::run(global, args);
    }
    let q = Query {
        target: args.node.as_deref().unwrap_or_default(),
        downstream: args.downstream,
        depth: args.depth,
        output: args.output,
    };
    run(global, &args.compile, &q)
}

/// Runs `strata lineage NODE[.COLUMN]`.
pub fn run(global: &GlobalArgs, args: &CompileArgs, q: &Query) -> Result<ExitStatus> {
    let out = Output::new(global);
    let Some(c) = compile_project(global, args, false, &out)? else {
        return Ok(ExitStatus::Error);
    };
    let (node, column) = match find(&c, q.target) {
        Ok(found) => found,
        Err(d) => {
            let mut ds = Diagnostics::new();
            ds.push(*d);
            out.diagnostics(&ds, &global.project_dir);
            return Ok(ExitStatus::Error);
        }
    };
    let graph = Graph::new(&c);
    let start: Vec<Point> = match &column {
        Some(col) => vec![Point {
            node: c.nodes[node].unique_id.clone(),
            column: Some(col.clone()),
        }],
        None => columns_of(&c.nodes[node])
            .into_iter()
            .map(|col| Point {
                node: c.nodes[node].unique_id.clone(),
                column: Some(col),
            })
            .chain(std::iter::once(Point {
                node: c.nodes[node].unique_id.clone(),
                column: None,
            }))
            .collect(),
    };
    let (edges, unknown) = graph.follow(&start, q.downstream, q.depth);
    warn_unknown(&c, &unknown, &out, global);
    let root = Point {
        node: c.nodes[node].unique_id.clone(),
        column,
    };
    let text = match q.output {
        LineageOutput::Json => serde_json::to_string_pretty(&serde_json::json!({
            "root": root,
            "direction": if q.downstream { "downstream" } else { "upstream" },
            "edges": edges,
            "unknown": unknown,
        }))?,
        LineageOutput::Dot => dot(&c, &edges),
        LineageOutput::Text => text(&c, &root, &edges, q.downstream),
    };
    for line in text.lines() {
        if !super::print_line(line) {
            break;
        }
    }
    Ok(ExitStatus::Success)
}

/// The node (and column) `target` names: a unique id, a node name, `source.table`, each with
/// an optional `.column`.
fn find(c: &Compiled, target: &str) -> Result<(usize, Option<String>), Box<Diagnostic>> {
    let is_data = |n: &CompiledNode| {
        matches!(
            n.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Source
        )
    };
    let lookup = |name: &str| -> Option<usize> {
        c.nodes.iter().position(|n| {
            is_data(n)
                && (n.unique_id == name
                    || n.name == name
                    || n.source
                        .as_ref()
                        .is_some_and(|s| format!("{}.{}", s.source_name, n.name) == name))
        })
    };
    if let Some(i) = lookup(target) {
        return Ok((i, None));
    }
    if let Some((node, col)) = target.rsplit_once('.')
        && let Some(i) = lookup(node)
    {
        let cols = columns_of(&c.nodes[i]);
        return match cols.iter().find(|k| k.eq_ignore_ascii_case(col)) {
            Some(k) => Ok((i, Some(k.clone()))),
            None => Err(Box::new(
                Diagnostic::error(
                    Code::InvalidSelector,
                    format!("`{}` has no column `{col}`", c.nodes[i].name),
                )
                .at(Span::line(&c.nodes[i].original_file_path, c.nodes[i].line))
                .with_help(match suggest(col, cols.iter().map(String::as_str)) {
                    Some(s) => s,
                    None => format!("its columns: {}", cols.join(", ")),
                }),
            )),
        };
    }
    let names = c
        .nodes
        .iter()
        .filter(|n| is_data(n))
        .map(|n| n.name.as_str());
    Err(Box::new(
        Diagnostic::error(
            Code::SelectorMatchesNothing,
            format!("no model, seed or source is named `{target}`"),
        )
        .with_help(suggest(target, names).unwrap_or_else(|| {
            "give a node name (`stg_orders`), `source_name.table` or a unique id, optionally \
             followed by `.column`; `strata ls -o name` lists them"
                .to_string()
        })),
    ))
}

/// A node's columns: its lineage's, else its known ones.
fn columns_of(n: &CompiledNode) -> Vec<String> {
    match &n.lineage {
        Some(l) if !l.columns.is_empty() => l.columns.iter().map(|c| c.name.clone()).collect(),
        _ => n.columns.iter().map(|c| c.name.clone()).collect(),
    }
}

/// Every node's lineage, indexed both ways.
struct Graph<'c> {
    c: &'c Compiled,
    by_id: HashMap<&'c str, usize>,
    /// (node, column lowercased) → the edges that read it; column None for every row.
    readers: HashMap<(String, Option<String>), Vec<Edge>>,
}

impl<'c> Graph<'c> {
    fn new(c: &'c Compiled) -> Self {
        let by_id = c
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.unique_id.as_str(), i))
            .collect();
        let mut readers: HashMap<(String, Option<String>), Vec<Edge>> = HashMap::new();
        for n in &c.nodes {
            for e in Self::inputs_of(n) {
                let key = (
                    e.from.node.clone(),
                    e.from.column.as_ref().map(|c| c.to_lowercase()),
                );
                readers.entry(key).or_default().push(e);
            }
        }
        Graph { c, by_id, readers }
    }

    /// The edges into node `n`'s columns and rows.
    fn inputs_of(n: &CompiledNode) -> Vec<Edge> {
        let Some(l) = &n.lineage else {
            return Vec::new();
        };
        let edge = |i: &InputField, to: Option<&str>| Edge {
            from: Point {
                node: i.node.clone(),
                column: Some(i.column.clone()),
            },
            to: Point {
                node: n.unique_id.clone(),
                column: to.map(str::to_string),
            },
            kind: i.kind().as_str(),
            subtype: i.subtype,
        };
        let mut out: Vec<Edge> = l
            .columns
            .iter()
            .flat_map(|c| c.inputs.iter().map(|i| edge(i, Some(&c.name))))
            .collect();
        out.extend(l.dataset.iter().map(|i| edge(i, None)));
        out
    }

    /// The edges reached from `start`, breadth first, up to `depth` steps; and what is unknown
    /// on the way.
    fn follow(
        &self,
        start: &[Point],
        downstream: bool,
        depth: Option<usize>,
    ) -> (Vec<Edge>, Vec<Unknown>) {
        let mut seen: BTreeSet<Point> = start.iter().cloned().collect();
        let mut edges: BTreeSet<Edge> = BTreeSet::new();
        let mut unknown: BTreeSet<Unknown> = BTreeSet::new();
        let mut frontier: Vec<Point> = start.to_vec();
        let mut step = 0;
        while !frontier.is_empty() && depth.is_none_or(|d| step < d) {
            step += 1;
            let mut next = Vec::new();
            for p in &frontier {
                let found = if downstream {
                    self.readers_of(p)
                } else {
                    self.inputs_into(p, &mut unknown)
                };
                for e in found {
                    let other = if downstream { &e.to } else { &e.from };
                    if seen.insert(other.clone()) {
                        next.push(other.clone());
                    }
                    edges.insert(e);
                }
            }
            frontier = next;
        }
        (edges.into_iter().collect(), unknown.into_iter().collect())
    }

    /// The edges into point `p`; its unknown reasons added to `unknown`.
    fn inputs_into(&self, p: &Point, unknown: &mut BTreeSet<Unknown>) -> Vec<Edge> {
        let Some(&i) = self.by_id.get(p.node.as_str()) else {
            return Vec::new();
        };
        let n = &self.c.nodes[i];
        let Some(l) = &n.lineage else {
            return Vec::new();
        };
        let mut reason = |column: Option<String>, r: &str| {
            unknown.insert(Unknown {
                node: n.unique_id.clone(),
                column,
                reason: r.to_string(),
                code: Code::LineageUnknown.as_str(),
            });
        };
        if let Some(u) = &l.unknown {
            reason(None, u);
        }
        let all = Self::inputs_of(n);
        match &p.column {
            Some(col) => {
                if let Some(c) = l.columns.iter().find(|c| c.name.eq_ignore_ascii_case(col))
                    && let Some(u) = &c.unknown
                {
                    reason(Some(c.name.clone()), u);
                }
                all.into_iter()
                    .filter(|e| {
                        e.to.column
                            .as_deref()
                            .is_some_and(|t| t.eq_ignore_ascii_case(col))
                    })
                    .collect()
            }
            None => all.into_iter().filter(|e| e.to.column.is_none()).collect(),
        }
    }

    /// The edges out of point `p`: the columns that read it, and the nodes whose rows it
    /// decides.
    fn readers_of(&self, p: &Point) -> Vec<Edge> {
        let key = (p.node.clone(), p.column.as_ref().map(|c| c.to_lowercase()));
        self.readers.get(&key).cloned().unwrap_or_default()
    }
}

/// Prints what is unknown as warnings at the model's file.
fn warn_unknown(c: &Compiled, unknown: &[Unknown], out: &Output, global: &GlobalArgs) {
    if unknown.is_empty() {
        return;
    }
    let mut ds = Diagnostics::new();
    for u in unknown {
        let Some(n) = c.nodes.iter().find(|n| n.unique_id == u.node) else {
            continue;
        };
        let what = match &u.column {
            Some(col) => format!("`{}.{col}`", n.name),
            None => format!("`{}`", n.name),
        };
        let line = u
            .column
            .as_deref()
            .and_then(|col| line_of(n.raw_code.as_deref().unwrap_or(""), col))
            .unwrap_or(n.line);
        ds.push(
            Diagnostic::warning(
                Code::LineageUnknown,
                format!("the lineage of {what} is incomplete: {}", u.reason),
            )
            .at(Span::line(&n.original_file_path, line))
            .with_help(
                "name the columns instead of `*`, qualify columns read from several relations, \
                 or declare the upstream's columns under `columns:` in its properties YAML",
            ),
        );
    }
    out.diagnostics(&ds, &global.project_dir);
}

/// The last line of `src` that holds `word` as a word (where an output column is named).
fn line_of(src: &str, word: &str) -> Option<usize> {
    let w = word.to_lowercase();
    src.lines()
        .enumerate()
        .filter(|(_, l)| {
            l.to_lowercase()
                .split(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .any(|t| t == w)
        })
        .map(|(i, _)| i + 1)
        .last()
}

/// How a node is named in text and dot output: `stg_orders`, `odoo.invoices` for a source.
fn short(c: &Compiled, id: &str) -> String {
    match c.nodes.iter().find(|n| n.unique_id == id) {
        Some(n) => match &n.source {
            Some(s) => format!("{}.{}", s.source_name, n.name),
            None => n.name.clone(),
        },
        None => id.to_string(),
    }
}

fn point_text(c: &Compiled, p: &Point) -> String {
    match &p.column {
        Some(col) => format!("{}.{col}", short(c, &p.node)),
        None => format!("{} (every row)", short(c, &p.node)),
    }
}

/// An indented tree from `root`; a point already expanded is not expanded again.
fn text(c: &Compiled, root: &Point, edges: &[Edge], downstream: bool) -> String {
    let mut t = Tree {
        c,
        next: BTreeMap::new(),
        downstream,
        expanded: BTreeSet::new(),
        lines: Vec::new(),
    };
    for e in edges {
        let near = if downstream { &e.from } else { &e.to };
        t.next.entry(near.clone()).or_default().push(e);
    }
    let starts: Vec<Point> = match &root.column {
        Some(_) => vec![root.clone()],
        None => {
            let mut s: Vec<Point> = t
                .next
                .keys()
                .filter(|p| p.node == root.node)
                .cloned()
                .collect();
            s.sort_by_key(|p| p.column.is_none());
            s
        }
    };
    if starts.is_empty() {
        t.lines.push(point_text(c, root));
        t.lines.push("  (none)".to_string());
    }
    for s in &starts {
        t.lines.push(point_text(c, s));
        if !t.next.contains_key(s) {
            t.lines.push("  (none)".to_string());
        }
        t.walk(s, 1);
    }
    t.lines.join("\n")
}

/// The state of `text`.
struct Tree<'a> {
    c: &'a Compiled,
    next: BTreeMap<Point, Vec<&'a Edge>>,
    downstream: bool,
    expanded: BTreeSet<Point>,
    lines: Vec<String>,
}

impl Tree<'_> {
    fn walk(&mut self, p: &Point, depth: usize) {
        if !self.expanded.insert(p.clone()) {
            return;
        }
        let Some(list) = self.next.get(p).cloned() else {
            return;
        };
        let arrow = if self.downstream { "->" } else { "<-" };
        for e in list {
            let far = if self.downstream { &e.to } else { &e.from };
            let again = self.expanded.contains(far) && self.next.contains_key(far);
            self.lines.push(format!(
                "{}{arrow} {}  {} {}{}",
                "  ".repeat(depth),
                point_text(self.c, far),
                e.kind,
                e.subtype.as_str(),
                if again { "  (shown above)" } else { "" }
            ));
            self.walk(far, depth + 1);
        }
    }
}

/// Graphviz dot: one box per column, an arrow per edge labelled with its subtype.
fn dot(c: &Compiled, edges: &[Edge]) -> String {
    let mut s = String::from("digraph lineage {\n  rankdir=LR;\n  node [shape=box];\n");
    for e in edges {
        let style = if e.kind == "INDIRECT" {
            ", style=dashed"
        } else {
            ""
        };
        s.push_str(&format!(
            "  {:?} -> {:?} [label={:?}{style}];\n",
            point_text(c, &e.from),
            point_text(c, &e.to),
            e.subtype.as_str()
        ));
    }
    s.push_str("}\n");
    s
}
