//! `catalog.json` (dbt's catalog v1): the warehouse's own description of each relation the
//! project builds or reads, its real column types, from one query of the information schema.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::adapter::CatalogColumn;
use crate::compile::Compiled;
use crate::ir::{Relation, ResourceType};

/// The schema `catalog.json` follows.
pub const CATALOG_SCHEMA: &str = "https://schemas.getdbt.com/dbt/catalog/v1.json";

/// A relation as the warehouse describes it.
#[derive(Clone, Debug)]
pub struct Table {
    /// `BASE TABLE`, `VIEW`...
    pub kind: String,
    /// The relation.
    pub relation: Relation,
    /// Its columns in order: name and type.
    pub columns: Vec<(String, String)>,
}

/// The project's relations found in the warehouse, by node id.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Tables and views by the unique id of the node that builds or reads them.
    pub tables: HashMap<String, Table>,
}

impl Catalog {
    /// The warehouse's type of one column of a node, if it has the column.
    pub fn column_type(&self, id: &str, column: &str) -> Option<&str> {
        self.tables.get(id).and_then(|t| {
            t.columns
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(column))
                .map(|(_, ty)| ty.as_str())
        })
    }
}

/// Keeps, of the warehouse's columns, those of the relations of `c`'s nodes.
pub fn collect(c: &Compiled, rows: Vec<CatalogColumn>) -> Catalog {
    let mut by_relation: HashMap<(String, String), Table> = HashMap::new();
    for r in rows {
        let key = (r.relation.schema.clone(), r.relation.identifier.clone());
        let t = by_relation.entry(key).or_insert_with(|| Table {
            kind: r.table_type.clone(),
            relation: r.relation.clone(),
            columns: Vec::new(),
        });
        t.columns.push((r.name, r.data_type));
    }
    let lower: HashMap<(String, String), (String, String)> = by_relation
        .keys()
        .map(|(s, i)| ((s.to_lowercase(), i.to_lowercase()), (s.clone(), i.clone())))
        .collect();
    let mut tables = HashMap::new();
    for n in &c.nodes {
        let Some(rel) = &n.relation else { continue };
        if !matches!(
            n.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Source
        ) {
            continue;
        }
        let exact = (rel.schema.clone(), rel.identifier.clone());
        let key = if by_relation.contains_key(&exact) {
            Some(exact)
        } else {
            lower
                .get(&(rel.schema.to_lowercase(), rel.identifier.to_lowercase()))
                .cloned()
        };
        if let Some(t) = key.and_then(|k| by_relation.get(&k)) {
            tables.insert(n.unique_id.clone(), t.clone());
        }
    }
    Catalog { tables }
}

/// `catalog.json`'s text.
pub fn to_json(c: &Compiled, cat: &Catalog, generated_at: &str) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        metadata: Metadata<'a>,
        nodes: BTreeMap<&'a str, Entry<'a>>,
        sources: BTreeMap<&'a str, Entry<'a>>,
        errors: Option<Vec<String>>,
    }
    #[derive(Serialize)]
    struct Metadata<'a> {
        dbt_schema_version: &'static str,
        generated_at: &'a str,
        invocation_id: Option<String>,
        env: BTreeMap<String, String>,
    }
    #[derive(Serialize)]
    struct Entry<'a> {
        metadata: TableMeta<'a>,
        columns: BTreeMap<&'a str, Column<'a>>,
        stats: BTreeMap<&'static str, serde_json::Value>,
        unique_id: &'a str,
    }
    #[derive(Serialize)]
    struct TableMeta<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        schema: &'a str,
        name: &'a str,
        database: Option<&'a str>,
        comment: Option<&'a str>,
        owner: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct Column<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        index: usize,
        name: &'a str,
        comment: Option<&'a str>,
    }
    let mut doc = Doc {
        metadata: Metadata {
            dbt_schema_version: CATALOG_SCHEMA,
            generated_at,
            invocation_id: None,
            env: BTreeMap::new(),
        },
        nodes: BTreeMap::new(),
        sources: BTreeMap::new(),
        errors: None,
    };
    for n in &c.nodes {
        let Some(t) = cat.tables.get(&n.unique_id) else {
            continue;
        };
        let entry = Entry {
            metadata: TableMeta {
                kind: &t.kind,
                schema: &t.relation.schema,
                name: &t.relation.identifier,
                database: None,
                comment: None,
                owner: None,
            },
            columns: t
                .columns
                .iter()
                .enumerate()
                .map(|(i, (name, ty))| {
                    (
                        name.as_str(),
                        Column {
                            kind: ty,
                            index: i + 1,
                            name,
                            comment: None,
                        },
                    )
                })
                .collect(),
            stats: BTreeMap::from([(
                "has_stats",
                serde_json::json!({"id": "has_stats", "label": "Has Stats?", "value": false,
                    "include": false, "description": "Indicates whether there are statistics for this table"}),
            )]),
            unique_id: &n.unique_id,
        };
        if n.resource_type == ResourceType::Source {
            doc.sources.insert(&n.unique_id, entry);
        } else {
            doc.nodes.insert(&n.unique_id, entry);
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
