//! The page of one node: everything the site shows about it, as one JSON object.

use std::collections::BTreeMap;

use serde_json::{Map, Value as J, json};

use super::catalog::Catalog;
use super::markdown;
use super::rows::clip;
use super::state::RunState;
use crate::compile::Compiled;
use crate::diagnostics::display_path;
use crate::ir::{CompiledNode, ResourceType};

/// SQL longer than this is cut in the page (the full text is in the compiled files), so that
/// no data file grows past the limit.
const SQL_LIMIT: usize = 256 * 1024;

/// What a page is made from besides the compiled project.
pub struct PageInputs<'a> {
    /// The last runs.
    pub state: &'a RunState,
    /// The warehouse's catalog, when there is one.
    pub catalog: Option<&'a Catalog>,
    /// Tests by the node (and column) they test: (test index, column).
    pub tests_of: &'a BTreeMap<usize, Vec<(usize, Option<String>)>>,
}

/// The page of node `i` as JSON text.
pub fn node_page(c: &Compiled, i: usize, inp: &PageInputs) -> String {
    let n = &c.nodes[i];
    let mut p = Map::new();
    p.insert("i".into(), json!(i));
    p.insert("id".into(), json!(n.unique_id));
    p.insert("type".into(), json!(n.resource_type.as_str()));
    p.insert("name".into(), json!(n.name));
    p.insert("path".into(), json!(display_path(&n.original_file_path)));
    p.insert("package".into(), json!(n.fqn.first()));
    p.insert("materialized".into(), json!(n.materialized().as_str()));
    if let Some(r) = &n.relation {
        p.insert("relation".into(), json!(r.quoted()));
    }
    if let Some(d) = n.description.as_deref().filter(|d| !d.trim().is_empty()) {
        p.insert("description".into(), json!(markdown::render(d)));
    }
    let owner = n.config.owner.clone().or_else(|| {
        n.config
            .meta
            .get("owner")
            .and_then(|o| o.as_str().map(str::to_string))
    });
    p.insert("owner".into(), json!(owner));
    p.insert("tags".into(), json!(n.config.tags));
    p.insert("meta".into(), json!(n.config.meta));
    p.insert("columns".into(), J::Array(columns(c, i, inp)));
    p.insert("tests".into(), J::Array(tests_on(c, i, None, inp)));
    if let Some(raw) = &n.raw_code {
        p.insert("raw".into(), json!(cut_sql(raw)));
    }
    if let Some(sql) = &n.compiled_code {
        p.insert("compiled".into(), json!(cut_sql(sql)));
    }
    if let Some(r) = inp.state.results.get(&n.unique_id) {
        p.insert("run".into(), json!(r));
    }
    if let Some(f) = freshness(n, inp) {
        p.insert("freshness".into(), f);
    }
    let link = |j: &usize| json!([j, c.nodes[*j].name, c.nodes[*j].resource_type.as_str()]);
    p.insert(
        "up".into(),
        J::Array(c.dag.parents(i).iter().map(link).collect()),
    );
    p.insert(
        "down".into(),
        J::Array(c.dag.children(i).iter().map(link).collect()),
    );
    kind_facts(n, &mut p);
    J::Object(p).to_string()
}

/// The page of a macro.
pub fn macro_page(k: usize, name: &str, path: &str, package: &str, sql: &str) -> String {
    json!({"m": k, "type": "macro", "name": name, "path": path, "package": package,
        "raw": cut_sql(sql)})
    .to_string()
}

fn cut_sql(sql: &str) -> String {
    if sql.len() <= SQL_LIMIT {
        return sql.to_string();
    }
    format!(
        "{}\n-- … cut here: {} bytes in all; the full text is in the compiled files",
        clip(sql, SQL_LIMIT),
        sql.len()
    )
}

/// The node's columns: declared, known from the SQL, or found in the warehouse.
fn columns(c: &Compiled, i: usize, inp: &PageInputs) -> Vec<J> {
    let n = &c.nodes[i];
    let mut names: Vec<String> = n.columns.iter().map(|c| c.name.clone()).collect();
    if let Some(l) = &n.lineage {
        for col in &l.columns {
            if !names.iter().any(|k| k.eq_ignore_ascii_case(&col.name)) {
                names.push(col.name.clone());
            }
        }
    }
    if let Some(t) = inp.catalog.and_then(|cat| cat.tables.get(&n.unique_id)) {
        for (name, _) in &t.columns {
            if !names.iter().any(|k| k.eq_ignore_ascii_case(name)) {
                names.push(name.clone());
            }
        }
    }
    names
        .iter()
        .map(|name| {
            let declared = n.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name));
            let mut col = Map::new();
            col.insert("name".into(), json!(name));
            let ty = declared
                .and_then(|d| d.data_type.clone())
                .or_else(|| n.config.column_types.get(name).cloned());
            col.insert("type".into(), json!(ty));
            let wtype = inp
                .catalog
                .and_then(|cat| cat.column_type(&n.unique_id, name));
            col.insert("wtype".into(), json!(wtype));
            if let Some(d) = declared.and_then(|d| d.description.as_deref()) {
                col.insert("description".into(), json!(markdown::render(d)));
            }
            col.insert("tests".into(), J::Array(tests_on(c, i, Some(name), inp)));
            if let Some(cc) = n
                .contract
                .as_ref()
                .and_then(|k| k.columns.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            {
                col.insert("contract".into(), json!(cc.1));
            }
            J::Object(col)
        })
        .collect()
}

/// `[test index, test name, last status]` of the tests on node `i` (on `column`, or on the
/// whole node when None).
fn tests_on(c: &Compiled, i: usize, column: Option<&str>, inp: &PageInputs) -> Vec<J> {
    let Some(tests) = inp.tests_of.get(&i) else {
        return Vec::new();
    };
    tests
        .iter()
        .filter(|(_, col)| match (col, column) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (None, None) => true,
            _ => false,
        })
        .map(|(t, _)| {
            let tn = &c.nodes[*t];
            let label = tn
                .test
                .as_ref()
                .map(|x| x.test_name.clone())
                .unwrap_or_else(|| tn.name.clone());
            let status = inp.state.results.get(&tn.unique_id).map(|r| &r.status);
            json!([t, label, status])
        })
        .collect()
}

/// The node's freshness SLO and its last check.
fn freshness(n: &CompiledNode, inp: &PageInputs) -> Option<J> {
    let (field, rules) = match (&n.source, &n.freshness) {
        (Some(s), _) => (s.loaded_at_field.as_deref(), s.freshness.as_ref()),
        (None, Some(f)) => (Some(f.loaded_at_field.as_str()), Some(&f.freshness)),
        _ => (None, None),
    };
    let rules = rules?;
    let last = inp.state.freshness.get(&n.unique_id);
    Some(json!({
        "loaded_at_field": field,
        "warn_after": rules.warn_after.as_ref().map(|t| t.describe()),
        "error_after": rules.error_after.as_ref().map(|t| t.describe()),
        "filter": rules.filter,
        "last": last,
    }))
}

/// What only sources, tests and exposures have.
fn kind_facts(n: &CompiledNode, p: &mut Map<String, J>) {
    match n.resource_type {
        ResourceType::Source => {
            if let Some(s) = &n.source {
                p.insert("source_name".into(), json!(s.source_name));
            }
        }
        ResourceType::Test => {
            if let Some(t) = &n.test {
                p.insert(
                    "test".into(),
                    json!({"name": t.test_name, "kind": t.test_type, "column": t.column_name,
                        "kwargs": t.kwargs, "severity": n.config.severity}),
                );
            }
        }
        ResourceType::Exposure => {
            if let Some(e) = &n.exposure {
                let url = e.url.as_deref();
                p.insert(
                    "exposure".into(),
                    json!({"type": e.exposure_type, "owner_name": e.owner_name,
                        "owner_email": e.owner_email, "maturity": e.maturity, "label": e.label,
                        "url": url,
                        "url_safe": url.is_some_and(|u| markdown::is_safe_url(u)
                            && (u.starts_with("http://") || u.starts_with("https://")))}),
                );
            }
        }
        _ => {}
    }
    if let Some(k) = &n.contract {
        p.insert(
            "contract".into(),
            json!({"schema": k.schema, "enforced": k.enforced, "closed": k.closed}),
        );
    }
}
