//! Stage `wildcards`: each model's columns completed from its analyzed output, in dependency
//! order; `*` is expanded from the parent's columns when exactly one parent is read. A model's
//! output columns are then compared with its contract.

use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span};
use crate::graph::Dag;
use crate::ir::contract::ContractInfo;
use crate::ir::{ColumnInfo, CompiledNode, ResourceType};
use crate::project::Project;

use super::contract_schema;

/// Adds the analyzed output columns to each model (`output_columns` by node index; taken).
pub fn complete(
    project: &Project,
    nodes: &mut [CompiledNode],
    dag: &Dag,
    mut output_columns: Vec<Vec<String>>,
    diags: &mut Diagnostics,
) {
    output_columns.resize(nodes.len(), Vec::new());
    for &i in dag.topo_order() {
        if nodes[i].resource_type != ResourceType::Model {
            continue;
        }
        let mut cols = Vec::new();
        for c in std::mem::take(&mut output_columns[i]) {
            if c == "*" || c.ends_with(".*") {
                let parents: Vec<usize> = dag.parents(i).to_vec();
                if parents.len() == 1 {
                    cols.extend(nodes[parents[0]].columns.iter().map(|c| c.name.clone()));
                    continue;
                }
            }
            cols.push(c);
        }
        if let Some(info) = &nodes[i].contract
            && !cols.iter().any(|c| c.contains('*'))
        {
            check_contract(project, &nodes[i], info, &cols, diags);
        }
        for c in cols {
            if c.contains('*') {
                continue;
            }
            if !nodes[i]
                .columns
                .iter()
                .any(|x| x.name.eq_ignore_ascii_case(&c))
            {
                nodes[i].columns.push(ColumnInfo {
                    name: c,
                    ..Default::default()
                });
            }
        }
    }
}

fn check_contract(
    project: &Project,
    node: &CompiledNode,
    info: &ContractInfo,
    cols: &[String],
    diags: &mut Diagnostics,
) {
    let schema_text = std::fs::read_to_string(project.root.join(&info.schema)).unwrap_or_default();
    let model_src = node.raw_code.as_deref().unwrap_or("");
    for (col, message) in contract_schema::check_columns(info, cols) {
        let line = last_line_with_word(model_src, &col).unwrap_or(1);
        let mut d = Diagnostic::error(Code::ContractColumns, message)
            .at(Span::line(&node.original_file_path, line));
        if let Some(l) = contract_schema::property_line(&schema_text, &col) {
            d = d.with_related(Span::line(&info.schema, l), "declared in the contract here");
        }
        diags.push(d.with_help(
            "change the model's select list, or publish the change as a new contract version (a new schema file)",
        ));
    }
}

/// The last line (1-based) of `src` where `word` appears as a whole word, case-insensitively.
fn last_line_with_word(src: &str, word: &str) -> Option<usize> {
    let w = word.to_lowercase();
    src.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.to_lowercase();
            l.match_indices(&w).any(|(at, _)| {
                let before = l[..at].chars().next_back();
                let after = l[at + w.len()..].chars().next();
                let word_char =
                    |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !word_char(before) && !word_char(after)
            })
        })
        .map(|(n, _)| n + 1)
        .last()
}
