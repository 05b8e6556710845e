//! Stage `dag`: the dependency graph of every node (cycles reported once every ref resolved),
//! and each node's `depends_on`, sorted.

use rayon::prelude::*;

use crate::diagnostics::Diagnostics;
use crate::graph::{Dag, Edge};
use crate::ir::CompiledNode;

/// Builds the DAG and fills in each node's `depends_on`; a cycle is an error.
pub fn dag(nodes: &mut [CompiledNode], edges: &[Edge]) -> Result<Dag, Diagnostics> {
    let dag = Dag::build(nodes, edges)?;
    let depends_on: Vec<Vec<String>> = (0..nodes.len())
        .into_par_iter()
        .map(|i| {
            let mut deps: Vec<String> = dag
                .parents(i)
                .iter()
                .map(|&p| nodes[p].unique_id.clone())
                .collect();
            deps.sort();
            deps
        })
        .collect();
    nodes
        .par_iter_mut()
        .zip(depends_on)
        .for_each(|(n, deps)| n.depends_on = deps);
    Ok(dag)
}
