//! Stage `ephemeral`: ephemeral parents inlined as CTEs into the models that read them, in
//! dependency order (each body as written: nested ephemerals become CTEs of their own), in
//! parallel.

use std::collections::BTreeSet;

use rayon::prelude::*;

use crate::graph::Dag;
use crate::ir::config::Materialized;
use crate::ir::{CompiledNode, ResourceType};
use crate::sql;

/// The CTE name an ephemeral model is inlined under.
pub fn cte_name(name: &str) -> String {
    format!("__strata_ephemeral__{name}")
}

/// Prepends the CTEs of each node's ephemeral ancestors to its SQL.
pub fn inline(nodes: &mut [CompiledNode], dag: &Dag) {
    let mut topo_pos = vec![0usize; nodes.len()];
    for (k, &i) in dag.topo_order().iter().enumerate() {
        topo_pos[i] = k;
    }
    let injected: Vec<Option<(String, Option<String>)>> = nodes
        .par_iter()
        .enumerate()
        .map(|(i, n)| {
            let code = n.compiled_code.as_ref()?;
            let mut eph: Vec<usize> = Vec::new();
            collect_ephemeral(dag, nodes, i, &mut eph, &mut BTreeSet::new());
            if eph.is_empty() {
                return None;
            }
            eph.sort_by_key(|e| topo_pos[*e]);
            let ctes: Vec<String> = eph
                .iter()
                .map(|e| {
                    let body = nodes[*e].compiled_code.as_deref().unwrap_or_default();
                    format!(
                        "{} as (\n{}\n)",
                        cte_name(&nodes[*e].name),
                        body.trim().trim_end_matches(';')
                    )
                })
                .collect();
            Some((
                inject_ctes(code, &ctes),
                n.compiled_incremental_code
                    .as_deref()
                    .map(|inc| inject_ctes(inc, &ctes)),
            ))
        })
        .collect();
    for (n, inj) in nodes.iter_mut().zip(injected) {
        if let Some((code, inc)) = inj {
            n.compiled_code = Some(code);
            n.compiled_incremental_code = inc;
        }
    }
}

fn collect_ephemeral(
    dag: &Dag,
    nodes: &[CompiledNode],
    i: usize,
    out: &mut Vec<usize>,
    seen: &mut BTreeSet<usize>,
) {
    for &p in dag.parents(i) {
        if nodes[p].materialized() == Materialized::Ephemeral
            && nodes[p].resource_type == ResourceType::Model
            && seen.insert(p)
        {
            out.push(p);
            collect_ephemeral(dag, nodes, p, out, seen);
        }
    }
}

/// Prepends CTEs to a query, merging with its own `WITH` when it has one.
pub(super) fn inject_ctes(sql_text: &str, ctes: &[String]) -> String {
    let list = ctes.join(",\n");
    match sql::leading_with(sql_text) {
        Some(at) => format!("{} {list},{}", &sql_text[..at], &sql_text[at..]),
        None => format!("with {list}\n{sql_text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctes_merge_with_an_existing_with() {
        assert_eq!(
            inject_ctes("with a as (select 1) select * from a", &["e as (x)".into()]),
            "with e as (x), a as (select 1) select * from a"
        );
        assert_eq!(
            inject_ctes("select 1", &["e as (x)".into()]),
            "with e as (x)\nselect 1"
        );
    }
}
