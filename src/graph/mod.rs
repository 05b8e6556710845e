//! The dependency DAG over seeds, sources, models, tests and exposures: acyclic by construction
//! (cycles are reported with their full path), topological order, and node selection.
//! May import: `ir`, `diagnostics`.

pub mod select;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, display_path};
use crate::ir::{CompiledNode, ResourceType};

/// What the graph, selection and cycle reports read of a node (the compiler's nodes are read
/// in place: at 100k models, copies of these fields cost a tenth of the memory).
pub trait Node: Sync {
    /// Unique id, e.g. `model.ofitec.mart_ar_aging`.
    fn id(&self) -> &str;
    /// Kind.
    fn resource_type(&self) -> ResourceType;
    /// Name (for sources: the table name).
    fn name(&self) -> &str;
    /// Defining file, relative to the project.
    fn path(&self) -> Option<&Path>;
    /// Fully qualified name: project, folders, name.
    fn fqn(&self) -> &[String];
    /// Tags.
    fn tags(&self) -> &[String];
    /// One config value as JSON (as in the manifest), for `config.<key>:` selectors;
    /// `materialized` with the resource type's default.
    fn config_value(&self, key: &str) -> Option<serde_json::Value>;
    /// `generic` or `singular` for tests.
    fn test_type(&self) -> Option<&'static str>;
    /// For sources: the source name.
    fn source_name(&self) -> Option<&str>;
}

/// The compiler's nodes are read in place.
impl Node for CompiledNode {
    fn id(&self) -> &str {
        &self.unique_id
    }
    fn resource_type(&self) -> ResourceType {
        self.resource_type
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn path(&self) -> Option<&Path> {
        Some(&self.original_file_path)
    }
    fn fqn(&self) -> &[String] {
        &self.fqn
    }
    fn tags(&self) -> &[String] {
        &self.config.tags
    }
    fn config_value(&self, key: &str) -> Option<serde_json::Value> {
        match key {
            "materialized" => Some(serde_json::Value::String(
                self.materialized().as_str().into(),
            )),
            "test_type" => self
                .test
                .as_ref()
                .map(|t| serde_json::Value::String(t.test_type.into())),
            _ => match serde_json::to_value(&*self.config) {
                Ok(serde_json::Value::Object(mut m)) => m.remove(key),
                _ => None,
            },
        }
    }
    fn test_type(&self) -> Option<&'static str> {
        self.test.as_ref().map(|t| t.test_type)
    }
    fn source_name(&self) -> Option<&str> {
        self.source.as_ref().map(|s| s.source_name.as_str())
    }
}

/// A dependency: `parent` must be built before `child`; `span` is where the child asks for it.
#[derive(Clone, Debug)]
pub struct Edge {
    /// Upstream node index.
    pub parent: usize,
    /// Downstream node index.
    pub child: usize,
    /// Where the dependency is written.
    pub span: Option<Span>,
}

/// An acyclic dependency graph with a deterministic topological order, over the indices of a
/// slice of nodes (see [`Node`]).
#[derive(Debug)]
pub struct Dag {
    parents: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
    order: Vec<usize>,
}

impl Dag {
    /// Builds the graph; a cycle is reported as the full path with the file of each step.
    pub fn build<N: Node>(nodes: &[N], edges: &[Edge]) -> Result<Dag, Diagnostics> {
        let n = nodes.len();
        let mut parents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for e in edges {
            parents[e.child].push(e.parent);
        }
        for p in &mut parents {
            p.sort_unstable();
            p.dedup();
        }
        // Children come out sorted: the outer loop visits them in index order.
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (child, ps) in parents.iter().enumerate() {
            for &parent in ps {
                children[parent].push(child);
            }
        }
        let order = topo_order(nodes, &parents, &children);
        if order.len() < n {
            return Err(cycles(nodes, &parents, &children, edges));
        }
        Ok(Dag {
            parents,
            children,
            order,
        })
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.parents.len()
    }

    /// True for a graph without nodes.
    pub fn is_empty(&self) -> bool {
        self.parents.is_empty()
    }

    /// Direct parents of a node.
    pub fn parents(&self, i: usize) -> &[usize] {
        &self.parents[i]
    }

    /// Direct children of a node.
    pub fn children(&self, i: usize) -> &[usize] {
        &self.children[i]
    }

    /// Every node in a topological order (parents first; ties broken by id).
    pub fn topo_order(&self) -> &[usize] {
        &self.order
    }

    /// Ancestors of `i` up to `depth` steps (all when `None`), not including `i`.
    pub fn ancestors(&self, i: usize, depth: Option<usize>) -> BTreeSet<usize> {
        walk(i, depth, &self.parents)
    }

    /// Descendants of `i` up to `depth` steps (all when `None`), not including `i`.
    pub fn descendants(&self, i: usize, depth: Option<usize>) -> BTreeSet<usize> {
        walk(i, depth, &self.children)
    }
}

/// Every cycle (a topological order could not take all nodes): each strongly connected
/// component reported as the full path with the file of each step.
fn cycles<N: Node>(
    nodes: &[N],
    parents: &[Vec<usize>],
    children: &[Vec<usize>],
    edges: &[Edge],
) -> Diagnostics {
    let mut g: DiGraph<usize, ()> = DiGraph::with_capacity(nodes.len(), edges.len());
    for i in 0..nodes.len() {
        g.add_node(i);
    }
    for (parent, cs) in children.iter().enumerate() {
        for &c in cs {
            g.add_edge(NodeIndex::new(parent), NodeIndex::new(c), ());
        }
    }
    let mut edge_span: HashMap<(usize, usize), Option<Span>> = HashMap::new();
    for e in edges {
        edge_span
            .entry((e.parent, e.child))
            .or_insert_with(|| e.span.clone());
    }
    let mut diags = Diagnostics::new();
    for scc in tarjan_scc(&g) {
        let self_loop = scc.len() == 1 && parents[scc[0].index()].contains(&scc[0].index());
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let members: BTreeSet<usize> = scc.iter().map(|i| i.index()).collect();
        let start = *members
            .iter()
            .min_by_key(|i| nodes[**i].id())
            .expect("non-empty component");
        let path = cycle_path(start, &members, children);
        diags.push(cycle_diagnostic(&path, nodes, &edge_span));
    }
    diags.sort();
    diags
}

fn walk(start: usize, depth: Option<usize>, next: &[Vec<usize>]) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut frontier = vec![start];
    let mut level = 0;
    while !frontier.is_empty() && depth.is_none_or(|d| level < d) {
        let mut new = Vec::new();
        for n in frontier {
            for &m in &next[n] {
                if m != start && seen.insert(m) {
                    new.push(m);
                }
            }
        }
        frontier = new;
        level += 1;
    }
    seen
}

/// Kahn's algorithm with a min-heap on ids, so the order is the same on every run.
fn topo_order<N: Node>(nodes: &[N], parents: &[Vec<usize>], children: &[Vec<usize>]) -> Vec<usize> {
    use rayon::prelude::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    // Ties are broken by id: each node's rank among the ids (then indices) orders the heap.
    let mut by_id: Vec<usize> = (0..nodes.len()).collect();
    by_id.par_sort_unstable_by(|&a, &b| (nodes[a].id(), a).cmp(&(nodes[b].id(), b)));
    let mut rank = vec![0usize; nodes.len()];
    for (r, &i) in by_id.iter().enumerate() {
        rank[i] = r;
    }
    let mut indegree: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut heap: BinaryHeap<Reverse<usize>> = indegree
        .iter()
        .enumerate()
        .filter(|(_, d)| **d == 0)
        .map(|(i, _)| Reverse(rank[i]))
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse(r)) = heap.pop() {
        let i = by_id[r];
        order.push(i);
        for &c in &children[i] {
            indegree[c] -= 1;
            if indegree[c] == 0 {
                heap.push(Reverse(rank[c]));
            }
        }
    }
    order
}

/// A shortest path from `start` back to itself inside one strongly connected component.
fn cycle_path(start: usize, members: &BTreeSet<usize>, children: &[Vec<usize>]) -> Vec<usize> {
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut seen = BTreeSet::from([start]);
    while let Some(n) = queue.pop_front() {
        for &c in &children[n] {
            if !members.contains(&c) {
                continue;
            }
            if c == start {
                let mut path = vec![start];
                let mut cur = n;
                while cur != start {
                    path.push(cur);
                    cur = prev[&cur];
                }
                path.push(start);
                let last = path.len() - 1;
                path[1..last].reverse();
                return path;
            }
            if seen.insert(c) {
                prev.insert(c, n);
                queue.push_back(c);
            }
        }
    }
    vec![start, start]
}

fn cycle_diagnostic<N: Node>(
    path: &[usize],
    nodes: &[N],
    spans: &HashMap<(usize, usize), Option<Span>>,
) -> Diagnostic {
    let names: Vec<&str> = path.iter().map(|i| nodes[*i].name()).collect();
    let mut d = Diagnostic::error(
        Code::Cycle,
        format!("dependency cycle: {}", names.join(" → ")),
    )
    .with_help(
        "a model cannot depend on itself, directly or through others: remove one of these refs",
    );
    for w in path.windows(2) {
        let (parent, child) = (w[0], w[1]);
        // `child` reads `parent`: the ref is written in the child's file.
        let label = format!(
            "`{}` refers to `{}`",
            nodes[child].name(),
            nodes[parent].name()
        );
        match spans.get(&(parent, child)).cloned().flatten() {
            Some(span) if d.span.is_none() => d = d.at(span).with_label(label),
            Some(span) => d = d.with_related(span, label),
            None => {
                let file = nodes[child].path().map(display_path).unwrap_or_default();
                d = d.with_note(format!("{label} ({file})"));
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A model named `name`.
    struct TestNode {
        id: String,
        name: String,
        path: PathBuf,
    }

    impl Node for TestNode {
        fn id(&self) -> &str {
            &self.id
        }
        fn resource_type(&self) -> ResourceType {
            ResourceType::Model
        }
        fn name(&self) -> &str {
            &self.name
        }
        fn path(&self) -> Option<&Path> {
            Some(&self.path)
        }
        fn fqn(&self) -> &[String] {
            &[]
        }
        fn tags(&self) -> &[String] {
            &[]
        }
        fn config_value(&self, _: &str) -> Option<serde_json::Value> {
            None
        }
        fn test_type(&self) -> Option<&'static str> {
            None
        }
        fn source_name(&self) -> Option<&str> {
            None
        }
    }

    fn node(name: &str) -> TestNode {
        TestNode {
            id: format!("model.p.{name}"),
            name: name.into(),
            path: PathBuf::from(format!("models/{name}.sql")),
        }
    }

    fn edge(parent: usize, child: usize) -> Edge {
        Edge {
            parent,
            child,
            span: Some(Span::line(format!("models/{child}.sql"), 1)),
        }
    }

    #[test]
    fn cycle_is_reported_with_its_path() {
        let nodes = vec![node("a"), node("b"), node("c"), node("d")];
        // a -> b -> c -> a, d independent.
        let err =
            Dag::build(&nodes, &[edge(0, 1), edge(1, 2), edge(2, 0), edge(0, 3)]).unwrap_err();
        let d = &err.items()[0];
        assert_eq!(d.code, Code::Cycle);
        assert_eq!(d.message, "dependency cycle: a → b → c → a");
        assert_eq!(d.related.len(), 2);
    }

    #[test]
    fn topo_order_puts_parents_first() {
        let nodes = vec![node("c"), node("b"), node("a")];
        let dag = Dag::build(&nodes, &[edge(2, 1), edge(1, 0)]).unwrap();
        let names: Vec<_> = dag
            .topo_order()
            .iter()
            .map(|i| nodes[*i].name.clone())
            .collect();
        assert_eq!(names, vec!["a", "b", "c"]);
    }
}
