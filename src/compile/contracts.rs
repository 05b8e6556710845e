//! Stage `contracts`: each model's data contract loaded from its JSON Schema file (each file
//! read and checked once); the output columns are compared with it once they are known (see
//! `columns`).

use std::collections::HashMap;

use super::context::Context;
use super::contract_schema;
use super::prepare::Pending;
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, display_path};
use crate::ir::ResourceType;
use crate::ir::contract::ContractInfo;

/// The contract of each pending node (None for nodes without one, and for failures).
pub fn contracts(
    ctx: &Context,
    pending: &[Pending],
    diags: &mut Diagnostics,
) -> Vec<Option<ContractInfo>> {
    let mut loaded: HashMap<String, Result<ContractInfo, ()>> = HashMap::new();
    let mut contracts: Vec<Option<ContractInfo>> = vec![None; pending.len()];
    for (i, p) in pending.iter().enumerate() {
        let Some(cfg) = &p.config.contract else {
            continue;
        };
        if p.resource_type != ResourceType::Model {
            continue;
        }
        let Some(schema) = cfg.schema.as_deref() else {
            diags.push(
                Diagnostic::error(
                    Code::ContractInvalid,
                    format!("model `{}` declares a contract without a schema", p.name),
                )
                .at(Span::file(&p.path))
                .with_help("write contract: {schema: contracts/<name>.v1.json, enforced: true}"),
            );
            continue;
        };
        let entry = loaded.entry(schema.to_string()).or_insert_with(|| {
            contract_schema::load(&ctx.project.root, schema, true).map_err(|e| {
                let span = match e.at {
                    Some((line, col)) => Span::new(schema, line, col, 1),
                    None => Span::file(schema),
                };
                diags.push(
                    Diagnostic::error(Code::ContractInvalid, e.message)
                        .at(span)
                        .with_note(format!(
                            "the contract of model `{}` ({})",
                            p.name,
                            display_path(&p.path)
                        )),
                );
            })
        });
        if let Ok(info) = entry {
            let mut info = info.clone();
            info.enforced = cfg.enforced;
            contracts[i] = Some(info);
        }
    }
    contracts
}
