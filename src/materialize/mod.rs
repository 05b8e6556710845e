//! Turns a compiled node into statements on a connection: views, tables, incremental models
//! (append, merge, delete+insert, on_schema_change) and seeds. Every build happens in one
//! transaction: the new version is built beside the old one and swapped in at the end, so a
//! failure at any step leaves the previous relation and its rows exactly as they were.

pub mod seed;

use crate::adapter::{AdapterError, Capabilities, Connection, DbResult, RelationKind};
use crate::compiler::{CompiledNode, Relation};
use crate::project::config::{IncrementalStrategy, Materialized, OnSchemaChange};
use crate::sql::quote_ident;

/// What building a node did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Rows written, when the engine reports it.
    pub rows: Option<u64>,
    /// One line for people: "created table marts.x", "merged 3 rows into vault.y".
    pub message: String,
}

/// Options that change how a node is built.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildOptions {
    /// `--full-refresh`: rebuild incremental models from scratch.
    pub full_refresh: bool,
}

/// The relation a node is built into before the swap.
pub fn temp_relation(r: &Relation, suffix: &str) -> Relation {
    Relation {
        schema: r.schema.clone(),
        identifier: format!("{}__strata_{suffix}", r.identifier),
    }
}

fn display(r: &Relation) -> String {
    format!("{}.{}", r.schema, r.identifier)
}

/// Runs `f` inside a transaction: commit on success, rollback on any error.
pub fn in_transaction<T>(
    conn: &mut dyn Connection,
    f: impl FnOnce(&mut dyn Connection) -> DbResult<T>,
) -> DbResult<T> {
    conn.execute("begin transaction")?;
    match f(conn) {
        Ok(v) => {
            conn.execute("commit")?;
            Ok(v)
        }
        Err(e) => {
            // The connection may already have aborted the transaction; the original error matters.
            let _ = conn.execute("rollback");
            Err(e)
        }
    }
}

/// Builds a model with its materialization.
pub fn build_model(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    caps: Capabilities,
    opts: BuildOptions,
) -> DbResult<Outcome> {
    let relation = node
        .relation
        .as_ref()
        .ok_or_else(|| AdapterError::permanent(format!("model `{}` has no relation", node.name)))?;
    let sql = node.compiled_code.as_deref().ok_or_else(|| {
        AdapterError::permanent(format!("model `{}` has no compiled SQL", node.name))
    })?;
    let _ = caps;
    // An enforced contract is checked on the new version before the transaction commits: a
    // breach rolls everything back and the previous version stays.
    let check = |c: &mut dyn Connection, out: Outcome| -> DbResult<Outcome> {
        if let Some(info) = node.contract.as_ref().filter(|i| i.enforced) {
            crate::checks::contract::enforce(c, relation, info)?;
        }
        Ok(out)
    };
    match node.materialized() {
        Materialized::View => in_transaction(conn, |c| {
            let out = build_view(c, node, relation, sql)?;
            check(c, out)
        }),
        Materialized::Table => in_transaction(conn, |c| {
            let out = build_table(c, node, relation, sql)?;
            check(c, out)
        }),
        Materialized::Incremental => in_transaction(conn, |c| {
            let out = build_incremental(c, node, relation, opts)?;
            check(c, out)
        }),
        Materialized::MaterializedView => Err(AdapterError::permanent(format!(
            "model `{}`: materialized views need a Postgres target",
            node.name
        ))),
        Materialized::Ephemeral | Materialized::Seed | Materialized::Test => Ok(Outcome::default()),
    }
}

/// Runs a node's hooks (blank ones are skipped) on the node's connection.
pub(crate) fn run_hooks(conn: &mut dyn Connection, hooks: &[String]) -> DbResult<()> {
    for h in hooks {
        if !h.trim().is_empty() {
            conn.execute(h)?;
        }
    }
    Ok(())
}

fn drop_existing(
    conn: &mut dyn Connection,
    relation: &Relation,
    keep: Option<RelationKind>,
) -> DbResult<Option<RelationKind>> {
    let existing = conn.relation_kind(relation)?;
    if let Some(kind) = existing
        && Some(kind) != keep
    {
        conn.execute(&format!("drop {} {}", kind.keyword(), relation.quoted()))?;
    }
    Ok(existing)
}

fn build_view(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    relation: &Relation,
    sql: &str,
) -> DbResult<Outcome> {
    run_hooks(conn, &node.pre_hooks)?;
    drop_existing(conn, relation, Some(RelationKind::View))?;
    conn.execute(&format!(
        "create or replace view {} as\n{}",
        relation.quoted(),
        strip_semicolon(sql)
    ))?;
    run_hooks(conn, &node.post_hooks)?;
    Ok(Outcome {
        rows: None,
        message: format!("created view {}", display(relation)),
    })
}

/// Builds into a temporary table, then drops the old relation and renames the new one.
fn build_table(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    relation: &Relation,
    sql: &str,
) -> DbResult<Outcome> {
    run_hooks(conn, &node.pre_hooks)?;
    let tmp = temp_relation(relation, "new");
    conn.execute(&format!("drop table if exists {}", tmp.quoted()))?;
    let rows = conn.execute(&format!(
        "create table {} as\n{}",
        tmp.quoted(),
        strip_semicolon(sql)
    ))?;
    swap_in(conn, &tmp, relation)?;
    run_hooks(conn, &node.post_hooks)?;
    Ok(Outcome {
        rows: Some(rows),
        message: format!("created table {}", display(relation)),
    })
}

/// Drops what exists under `relation` and renames `tmp` to it.
pub fn swap_in(conn: &mut dyn Connection, tmp: &Relation, relation: &Relation) -> DbResult<()> {
    drop_existing(conn, relation, None)?;
    conn.execute(&format!(
        "alter table {} rename to {}",
        tmp.quoted(),
        quote_ident(&relation.identifier)
    ))?;
    Ok(())
}

fn build_incremental(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    relation: &Relation,
    opts: BuildOptions,
) -> DbResult<Outcome> {
    let full_refresh = node.config.full_refresh.unwrap_or(opts.full_refresh);
    let existing = conn.relation_kind(relation)?;
    let first_build = full_refresh || existing != Some(RelationKind::Table);
    if first_build {
        let sql = node.compiled_code.as_deref().unwrap_or_default();
        let mut out = build_table(conn, node, relation, sql)?;
        out.message = if full_refresh && existing.is_some() {
            format!(
                "rebuilt incremental table {} (full refresh)",
                display(relation)
            )
        } else {
            format!("created incremental table {}", display(relation))
        };
        return Ok(out);
    }
    run_hooks(conn, &node.pre_hooks)?;
    let sql = node
        .compiled_incremental_code
        .as_deref()
        .or(node.compiled_code.as_deref())
        .unwrap_or_default();
    let tmp = temp_relation(relation, "delta");
    conn.execute(&format!("drop table if exists {}", tmp.quoted()))?;
    conn.execute(&format!(
        "create table {} as\n{}",
        tmp.quoted(),
        strip_semicolon(sql)
    ))?;

    // Columns: what the table has, what the new rows have.
    let target_cols = conn.columns(relation)?;
    let mut new_cols = conn.columns(&tmp)?;
    if new_cols.is_empty() {
        // A dry run did not create the new rows' table: plan with the table's own columns.
        new_cols = target_cols.clone();
    }
    let has = |list: &[crate::adapter::ColumnMeta], name: &str| {
        list.iter().any(|c| c.name.eq_ignore_ascii_case(name))
    };
    let added: Vec<_> = new_cols
        .iter()
        .filter(|c| !has(&target_cols, &c.name))
        .cloned()
        .collect();
    let removed: Vec<_> = target_cols
        .iter()
        .filter(|c| !has(&new_cols, &c.name))
        .cloned()
        .collect();
    let on_change = node
        .config
        .on_schema_change
        .unwrap_or(OnSchemaChange::Ignore);
    let mut columns: Vec<String> = new_cols
        .iter()
        .filter(|c| has(&target_cols, &c.name))
        .map(|c| c.name.clone())
        .collect();
    if !added.is_empty() || !removed.is_empty() {
        match on_change {
            OnSchemaChange::Fail => {
                let names = |v: &[crate::adapter::ColumnMeta]| {
                    v.iter()
                        .map(|c| c.name.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(AdapterError::permanent(format!(
                    "the columns of incremental model `{}` changed (added: [{}], removed: [{}]) and on_schema_change is `fail`; run with --full-refresh or set on_schema_change",
                    node.name,
                    names(&added),
                    names(&removed)
                )));
            }
            OnSchemaChange::AppendNewColumns => {
                for c in &added {
                    conn.execute(&format!(
                        "alter table {} add column {} {}",
                        relation.quoted(),
                        quote_ident(&c.name),
                        c.data_type
                    ))?;
                    columns.push(c.name.clone());
                }
            }
            OnSchemaChange::Ignore => {}
        }
    }
    let list = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let keys = node.config.unique_key.clone().unwrap_or_default();
    let strategy = node
        .config
        .incremental_strategy
        .unwrap_or(if keys.is_empty() {
            IncrementalStrategy::Append
        } else {
            IncrementalStrategy::Merge
        });
    if strategy != IncrementalStrategy::Append && keys.is_empty() {
        return Err(AdapterError::permanent(format!(
            "incremental model `{}` uses a strategy that needs `unique_key`",
            node.name
        )));
    }
    let target = relation.quoted();
    let matches = |t: &str, s: &str| {
        keys.iter()
            .map(|k| format!("{t}.{q} is not distinct from {s}.{q}", q = quote_ident(k)))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let rows = match strategy {
        IncrementalStrategy::Append => conn.execute(&format!(
            "insert into {target} ({list})\nselect {list} from {}",
            tmp.quoted()
        ))?,
        IncrementalStrategy::DeleteInsert => {
            conn.execute(&format!(
                "delete from {target}\nwhere exists (select 1 from {} as s where {})",
                tmp.quoted(),
                matches(&target, "s")
            ))?;
            conn.execute(&format!(
                "insert into {target} ({list})\nselect {list} from {}",
                tmp.quoted()
            ))?
        }
        IncrementalStrategy::Merge => {
            let updates: Vec<String> = columns
                .iter()
                .filter(|c| !keys.iter().any(|k| k.eq_ignore_ascii_case(c)))
                .map(|c| format!("{q} = s.{q}", q = quote_ident(c)))
                .collect();
            let mut changed = 0;
            if !updates.is_empty() {
                changed += conn.execute(&format!(
                    "update {target}\nset {}\nfrom {} as s\nwhere {}",
                    updates.join(", "),
                    tmp.quoted(),
                    matches(&target, "s")
                ))?;
            }
            changed += conn.execute(&format!(
                "insert into {target} ({list})\nselect {list} from {} as s\nwhere not exists (select 1 from {target} where {})",
                tmp.quoted(),
                matches(&target, "s")
            ))?;
            changed
        }
    };
    conn.execute(&format!("drop table {}", tmp.quoted()))?;
    run_hooks(conn, &node.post_hooks)?;
    let verb = match strategy {
        IncrementalStrategy::Append => "appended",
        IncrementalStrategy::Merge => "merged",
        IncrementalStrategy::DeleteInsert => "delete+inserted",
    };
    Ok(Outcome {
        rows: Some(rows),
        message: format!("{verb} {rows} rows into {}", display(relation)),
    })
}

fn strip_semicolon(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';')
}

/// Creates every schema in `schemas` that does not exist yet.
pub fn create_schemas(conn: &mut dyn Connection, schemas: &[String]) -> DbResult<()> {
    for s in schemas {
        conn.execute(&format!("create schema if not exists {}", quote_ident(s)))?;
    }
    Ok(())
}
