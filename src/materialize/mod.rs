//! Turns a compiled node into statements on a connection: views, tables, incremental models
//! (append, merge, delete+insert, on_schema_change) and seeds. Every build happens in one
//! transaction: the new version is built beside the old one and swapped in at the end, so a
//! failure at any step leaves the previous relation and its rows exactly as they were.
//!
//! May import: `ir`, `adapter`, `checks` (contract enforcement) and the utilities.

pub mod seed;

use crate::adapter::{
    AdapterError, Capabilities, Connection, DbResult, Dependent, RelationKind, in_transaction,
};
use crate::ir::config::{IncrementalStrategy, Materialized, OnSchemaChange};
use crate::ir::quote_ident;
use crate::ir::{CompiledNode, Relation};

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
        database: r.database.clone(),
        schema: r.schema.clone(),
        identifier: format!("{}__strata_{suffix}", r.identifier),
    }
}

fn display(r: &Relation) -> String {
    format!("{}.{}", r.schema, r.identifier)
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
    // An enforced contract is checked on the new version before the transaction commits: a
    // breach rolls everything back and the previous version stays. Grants are synced last.
    let check = |c: &mut dyn Connection, out: Outcome| -> DbResult<Outcome> {
        if let Some(info) = node.contract.as_ref().filter(|i| i.enforced) {
            crate::checks::contract::enforce(c, relation, info)?;
        }
        apply_grants(c, node, relation, caps)?;
        Ok(out)
    };
    match node.materialized() {
        // A view that is one `create or replace view` is atomic by itself: no transaction
        // around it (on DuckDB, begin and commit cost as much as the statement).
        Materialized::View if single_statement(conn, node, relation, caps, RelationKind::View)? => {
            build_view(conn, node, relation, sql, caps)
        }
        // Likewise a table the engine can replace in one statement (DuckDB): the old table
        // stays if it fails. Its row count is not asked for: on DuckDB that costs planning the
        // query a second time (see `Connection::run`).
        Materialized::Table
            if single_statement(conn, node, relation, caps, RelationKind::Table)? =>
        {
            conn.run(&format!(
                "create or replace table {} as\n{}",
                relation.quoted(),
                strip_semicolon(sql)
            ))?;
            Ok(Outcome {
                rows: None,
                message: format!("created table {}", display(relation)),
            })
        }
        Materialized::View => in_transaction(conn, |c| {
            let out = build_view(c, node, relation, sql, caps)?;
            check(c, out)
        }),
        Materialized::Table => in_transaction(conn, |c| {
            let out = build_table(c, node, relation, sql, caps)?;
            check(c, out)
        }),
        Materialized::Incremental => in_transaction(conn, |c| {
            let out = build_incremental(c, node, relation, opts, caps)?;
            check(c, out)
        }),
        Materialized::MaterializedView if caps.materialized_views => in_transaction(conn, |c| {
            let out = build_materialized_view(c, node, relation, sql, opts, caps)?;
            check(c, out)
        }),
        Materialized::MaterializedView => Err(AdapterError::permanent(format!(
            "model `{}` is a materialized_view, which this engine does not have: use a Postgres target, or choose per engine in the model: {{{{ config(materialized='materialized_view' if target.type == 'postgres' else 'table') }}}}",
            node.name
        ))),
        Materialized::Ephemeral | Materialized::Seed | Materialized::Test => Ok(Outcome::default()),
    }
}

/// True when building a view or table takes exactly one `create or replace` statement: the
/// engine replaces that kind in one atomic statement, nothing of another kind has the name,
/// and no hook, enforced contract, grant or index adds statements.
fn single_statement(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    relation: &Relation,
    caps: Capabilities,
    kind: RelationKind,
) -> DbResult<bool> {
    let blank = |hooks: &[String]| hooks.iter().all(|h| h.trim().is_empty());
    let replaces = match kind {
        RelationKind::View => caps.replace_view_any_columns,
        RelationKind::Table => caps.replace_table,
        RelationKind::MaterializedView => false,
    };
    Ok(replaces
        && blank(&node.pre_hooks)
        && blank(&node.post_hooks)
        && !node.contract.as_ref().is_some_and(|i| i.enforced)
        && !(caps.grants && node.config.grants.is_some())
        && !(caps.indexes && node.config.indexes.is_some())
        && conn.relation_kind(relation)?.is_none_or(|k| k == kind))
}

/// Makes the privileges on `relation` exactly what the `grants` config lists (the owner's own
/// privileges aside): missing ones are granted, others revoked. No `grants` config leaves the
/// relation's privileges alone; engines without roles ignore it.
pub(crate) fn apply_grants(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    relation: &Relation,
    caps: Capabilities,
) -> DbResult<()> {
    let Some(want) = node.config.grants.as_ref().filter(|_| caps.grants) else {
        return Ok(());
    };
    let role = |r: &str| {
        if r.eq_ignore_ascii_case("public") {
            "public".to_string()
        } else {
            quote_ident(r)
        }
    };
    let wanted = |privilege: &str, grantee: &str| {
        want.get(privilege).is_some_and(|roles| {
            roles
                .iter()
                .any(|r| r == grantee || (grantee == "public" && r.eq_ignore_ascii_case("public")))
        })
    };
    let have = conn.grants(relation)?;
    for (privilege, grantee) in &have {
        if !wanted(privilege, grantee) {
            conn.run(&format!(
                "revoke {privilege} on {} from {}",
                relation.quoted(),
                role(grantee)
            ))?;
        }
    }
    for (privilege, roles) in want {
        for r in roles {
            let held = have.iter().any(|(p, g)| {
                p == privilege && (g == r || (g == "public" && r.eq_ignore_ascii_case("public")))
            });
            if !held {
                conn.run(&format!(
                    "grant {privilege} on {} to {}",
                    relation.quoted(),
                    role(r)
                ))?;
            }
        }
    }
    Ok(())
}

/// Creates the `indexes` of the config on `on` (a relation about to be swapped in).
fn create_indexes(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    on: &Relation,
    caps: Capabilities,
) -> DbResult<()> {
    if !caps.indexes {
        return Ok(());
    }
    for ix in node.config.indexes.as_deref().unwrap_or_default() {
        let cols: Vec<String> = ix.columns.iter().map(|c| quote_ident(c)).collect();
        conn.run(&format!(
            "create {}index {} on {}{} ({})",
            if ix.unique { "unique " } else { "" },
            quote_ident(&index_name(on, &ix.columns, ix.unique)),
            on.quoted(),
            ix.index_type
                .as_deref()
                .map(|t| format!(" using {t}"))
                .unwrap_or_default(),
            cols.join(", ")
        ))?;
    }
    Ok(())
}

/// A fresh index name: index names are unique per schema and the old relation's indexes live
/// until the swap, so the name carries a hash of the columns and the current time.
fn index_name(on: &Relation, columns: &[String], unique: bool) -> String {
    use sha2::Digest;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let h = sha2::Sha256::digest(format!("{}|{unique}|{nanos}", columns.join(",")).as_bytes());
    let base: String = on
        .identifier
        .trim_end_matches("__strata_new")
        .chars()
        .take(40)
        .collect();
    format!("{base}__ix_{}", &hex::encode(h)[..10])
}

/// Runs hooks (blank ones, e.g. a Jinja `if` false on this engine, are skipped) in order.
pub fn run_hooks(conn: &mut dyn Connection, hooks: &[String]) -> DbResult<()> {
    for h in hooks {
        if !h.trim().is_empty() {
            conn.run(h)?;
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
        conn.run(&format!("drop {} {}", kind.keyword(), relation.quoted()))?;
    }
    Ok(existing)
}

fn build_view(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    relation: &Relation,
    sql: &str,
    caps: Capabilities,
) -> DbResult<Outcome> {
    run_hooks(conn, &node.pre_hooks)?;
    if caps.replace_view_any_columns {
        drop_existing(conn, relation, Some(RelationKind::View))?;
        conn.run(&format!(
            "create or replace view {} as\n{}",
            relation.quoted(),
            strip_semicolon(sql)
        ))?;
    } else {
        // `create or replace view` refuses new or reordered columns here: drop and create,
        // taking along (and then recreating) the views bound to the old one.
        let dependents = lock_dependents(conn, relation)?;
        drop_existing_cascade(conn, relation, !dependents.is_empty())?;
        conn.run(&format!(
            "create view {} as\n{}",
            relation.quoted(),
            strip_semicolon(sql)
        ))?;
        recreate(conn, &dependents)?;
    }
    run_hooks(conn, &node.post_hooks)?;
    Ok(Outcome {
        rows: None,
        message: format!("created view {}", display(relation)),
    })
}

/// The temporary relation a build of `relation` writes into: `<name>__strata_<what>`, with
/// the time appended on engines where a killed run leaves that name's folder behind.
fn build_name(relation: &Relation, caps: Capabilities, what: &str) -> Relation {
    if caps.fresh_temp_names {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        temp_relation(relation, &format!("{what}_{nanos:x}"))
    } else {
        temp_relation(relation, what)
    }
}

/// Builds into a temporary table, then drops the old relation and renames the new one.
fn build_table(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    relation: &Relation,
    sql: &str,
    caps: Capabilities,
) -> DbResult<Outcome> {
    run_hooks(conn, &node.pre_hooks)?;
    let tmp = build_name(relation, caps, "new");
    conn.run(&format!("drop table if exists {}", tmp.quoted()))?;
    let layout = &node.config.layout;
    let rows = conn.create_table_as(&tmp, strip_semicolon(sql), layout, None)?;
    create_indexes(conn, node, &tmp, caps)?;
    match layout
        .location_root
        .as_deref()
        .filter(|_| caps.table_layout)
    {
        Some(root) => copy_in(conn, &tmp, relation, layout, root)?,
        None => swap_in(conn, &tmp, relation, RelationKind::Table)?,
    }
    run_hooks(conn, &node.post_hooks)?;
    Ok(Outcome {
        rows: caps.row_counts.then_some(rows),
        message: format!("created table {}", display(relation)),
    })
}

/// Drops what exists under `relation` and renames `tmp` (of kind `kind`) to it. Views bound
/// to the old relation (engines with early-binding views) are recreated on the new one, so
/// they survive the swap; one that no longer fits fails the build and everything rolls back.
pub fn swap_in(
    conn: &mut dyn Connection,
    tmp: &Relation,
    relation: &Relation,
    kind: RelationKind,
) -> DbResult<()> {
    let dependents = lock_dependents(conn, relation)?;
    drop_existing_cascade(conn, relation, !dependents.is_empty())?;
    conn.run(&format!(
        "alter {} {} rename to {}",
        kind.keyword(),
        tmp.quoted(),
        quote_ident(&relation.identifier)
    ))?;
    recreate(conn, &dependents)
}

/// Puts `tmp` in place as `relation` by copying it into a new table whose files live in
/// `<root>/<identifier>` (`location_root`): a rename would leave them in the temporary
/// table's folder. The old relation is dropped first (an external table's files stay, and the
/// copy writes over them); `tmp` is dropped last.
fn copy_in(
    conn: &mut dyn Connection,
    tmp: &Relation,
    relation: &Relation,
    layout: &crate::ir::config::TableLayout,
    root: &str,
) -> DbResult<()> {
    drop_existing_cascade(conn, relation, false)?;
    let location = format!("{root}/{}", relation.identifier);
    conn.create_table_as(
        relation,
        &format!("select * from {}", tmp.quoted()),
        layout,
        Some(&location),
    )?;
    conn.run(&format!("drop table {}", tmp.quoted()))
}

/// The dependents of `relation`, read under their lock (see `Connection::lock_dependents`).
fn lock_dependents(conn: &mut dyn Connection, relation: &Relation) -> DbResult<Vec<Dependent>> {
    conn.lock_dependents(relation)?;
    conn.dependents(relation)
}

fn drop_existing_cascade(
    conn: &mut dyn Connection,
    relation: &Relation,
    cascade: bool,
) -> DbResult<()> {
    if let Some(kind) = conn.relation_kind(relation)? {
        conn.run(&format!(
            "drop {} {}{}",
            kind.keyword(),
            relation.quoted(),
            if cascade { " cascade" } else { "" }
        ))?;
    }
    Ok(())
}

fn recreate(conn: &mut dyn Connection, dependents: &[Dependent]) -> DbResult<()> {
    for d in dependents {
        for s in &d.statements {
            conn.run(s).map_err(|e| {
                AdapterError::new(
                    e.class,
                    format!(
                        "{} `{}.{}`, which reads this relation, cannot be recreated on the new version: {}",
                        d.kind.keyword(),
                        d.relation.schema,
                        d.relation.identifier,
                        e.message
                    ),
                )
            })?;
        }
    }
    Ok(())
}

/// A materialized view: refreshed in place when its definition is unchanged (concurrently,
/// so readers are never blocked, when it has a `unique_key`), else built beside the old one
/// and swapped in. The definition's hash is kept in the relation's comment.
fn build_materialized_view(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    relation: &Relation,
    sql: &str,
    opts: BuildOptions,
    caps: Capabilities,
) -> DbResult<Outcome> {
    use sha2::Digest;
    let keys = node.config.unique_key.clone().unwrap_or_default();
    let fingerprint = format!(
        "strata:{}",
        &hex::encode(sha2::Sha256::digest(
            format!(
                "{}\n{:?}\n{:?}",
                strip_semicolon(sql),
                keys,
                node.config.indexes
            )
            .as_bytes()
        ))[..16]
    );
    let full_refresh = node.config.full_refresh.unwrap_or(opts.full_refresh);
    run_hooks(conn, &node.pre_hooks)?;
    if !full_refresh && conn.relation_kind(relation)? == Some(RelationKind::MaterializedView) {
        let comment = conn.query(&format!(
            "select obj_description(to_regclass({}), 'pg_class')",
            crate::ir::quote_literal(&relation.quoted())
        ))?;
        if comment.first().and_then(|r| r[0].as_deref()) == Some(fingerprint.as_str()) {
            let concurrently = if keys.is_empty() { "" } else { " concurrently" };
            conn.run(&format!(
                "refresh materialized view{concurrently} {}",
                relation.quoted()
            ))?;
            run_hooks(conn, &node.post_hooks)?;
            return Ok(Outcome {
                rows: None,
                message: format!(
                    "refreshed materialized view {}{}",
                    display(relation),
                    if keys.is_empty() {
                        " (no unique_key: readers waited)"
                    } else {
                        " concurrently"
                    }
                ),
            });
        }
    }
    let tmp = temp_relation(relation, "new");
    drop_existing_cascade(conn, &tmp, false)?;
    conn.run(&format!(
        "create materialized view {} as\n{}",
        tmp.quoted(),
        strip_semicolon(sql)
    ))?;
    if !keys.is_empty() {
        let cols: Vec<String> = keys.iter().map(|c| quote_ident(c)).collect();
        conn.run(&format!(
            "create unique index {} on {} ({})",
            quote_ident(&index_name(&tmp, &keys, true)),
            tmp.quoted(),
            cols.join(", ")
        ))?;
    }
    create_indexes(conn, node, &tmp, caps)?;
    conn.run(&format!(
        "comment on materialized view {} is {}",
        tmp.quoted(),
        crate::ir::quote_literal(&fingerprint)
    ))?;
    swap_in(conn, &tmp, relation, RelationKind::MaterializedView)?;
    run_hooks(conn, &node.post_hooks)?;
    Ok(Outcome {
        rows: None,
        message: format!("created materialized view {}", display(relation)),
    })
}

fn build_incremental(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    relation: &Relation,
    opts: BuildOptions,
    caps: Capabilities,
) -> DbResult<Outcome> {
    let full_refresh = node.config.full_refresh.unwrap_or(opts.full_refresh);
    let existing = conn.relation_kind(relation)?;
    let first_build = full_refresh || existing != Some(RelationKind::Table);
    if first_build {
        let sql = node.compiled_code.as_deref().unwrap_or_default();
        let mut out = build_table(conn, node, relation, sql, caps)?;
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
    let tmp = build_name(relation, caps, "delta");
    conn.run(&format!("drop table if exists {}", tmp.quoted()))?;
    conn.run(&format!(
        "create table {} as\n{}",
        tmp.quoted(),
        strip_semicolon(sql)
    ))?;

    let columns = reconcile_columns(conn, node, relation, &tmp)?;
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
    let needs_keys = matches!(
        strategy,
        IncrementalStrategy::Merge | IncrementalStrategy::DeleteInsert
    );
    if needs_keys && keys.is_empty() {
        return Err(AdapterError::permanent(format!(
            "incremental model `{}` uses a strategy that needs `unique_key`",
            node.name
        )));
    }
    let delta = Delta {
        relation,
        target: relation.quoted(),
        tmp: &tmp,
        columns: &columns,
        list,
        keys: &keys,
        partition_by: node
            .config
            .layout
            .partition_by
            .as_deref()
            .unwrap_or_default(),
    };
    let rows = delta.write(conn, strategy, caps)?;
    conn.run(&format!("drop table {}", tmp.quoted()))?;
    run_hooks(conn, &node.post_hooks)?;
    let rows_text = if caps.row_counts {
        format!("{rows} row{}", if rows == 1 { "" } else { "s" })
    } else {
        "the new rows".to_string()
    };
    let into = display(relation);
    let message = match strategy {
        IncrementalStrategy::Append => format!("appended {rows_text} into {into}"),
        IncrementalStrategy::Merge => format!("merged {rows_text} into {into}"),
        IncrementalStrategy::DeleteInsert => format!("delete+inserted {rows_text} into {into}"),
        IncrementalStrategy::InsertOverwrite if delta.partition_by.is_empty() => {
            format!("overwrote {into} with {rows_text}")
        }
        IncrementalStrategy::InsertOverwrite => {
            format!("overwrote the partitions of {into} that {rows_text} fall in")
        }
    };
    Ok(Outcome {
        rows: caps.row_counts.then_some(rows),
        message,
    })
}

/// Applies on_schema_change to the table; returns the columns the new rows are written into.
fn reconcile_columns(
    conn: &mut dyn Connection,
    node: &CompiledNode,
    relation: &Relation,
    tmp: &Relation,
) -> DbResult<Vec<String>> {
    // Columns: what the table has, what the new rows have.
    let target_cols = conn.columns(relation)?;
    let mut new_cols = conn.columns(tmp)?;
    if new_cols.is_empty() {
        // A dry run did not create the new rows' table: plan with the table's own columns.
        new_cols = target_cols.clone();
    }
    let has = |list: &[crate::ir::ColumnMeta], name: &str| {
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
                let names = |v: &[crate::ir::ColumnMeta]| {
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
                    conn.run(&format!(
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
    Ok(columns)
}

/// The new rows of an incremental model, staged in `tmp`, to be written into `target`.
struct Delta<'a> {
    relation: &'a Relation,
    target: String,
    tmp: &'a Relation,
    columns: &'a [String],
    list: String,
    keys: &'a [String],
    /// The table's partition columns (`insert_overwrite`).
    partition_by: &'a [String],
}

impl Delta<'_> {
    /// The condition that a row of `t` and a row of `s` have the same unique key.
    fn matches(&self, t: &str, s: &str) -> String {
        self.keys
            .iter()
            .map(|k| format!("{t}.{q} is not distinct from {s}.{q}", q = quote_ident(k)))
            .collect::<Vec<_>>()
            .join(" and ")
    }

    /// Writes the new rows with `strategy`; returns the rows written.
    fn write(
        &self,
        conn: &mut dyn Connection,
        strategy: IncrementalStrategy,
        caps: Capabilities,
    ) -> DbResult<u64> {
        let (target, list, tmp) = (&self.target, &self.list, self.tmp);
        Ok(match strategy {
            IncrementalStrategy::Append => conn.execute(&format!(
                "insert into {target} ({list})\nselect {list} from {}",
                tmp.quoted()
            ))?,
            IncrementalStrategy::DeleteInsert => {
                conn.run(&format!(
                    "delete from {target}\nwhere exists (select 1 from {} as s where {})",
                    tmp.quoted(),
                    self.matches(target, "s")
                ))?;
                conn.execute(&format!(
                    "insert into {target} ({list})\nselect {list} from {}",
                    tmp.quoted()
                ))?
            }
            IncrementalStrategy::Merge => self.merge(conn, caps)?,
            IncrementalStrategy::InsertOverwrite => self.overwrite(conn)?,
        })
    }

    /// The insert_overwrite strategy: the partitions the new rows fall in are replaced by
    /// them (the whole table when it has no partitions). The new rows are selected in the
    /// table's column order, which puts partition columns last as the statement wants; a
    /// column the new rows lack is null.
    fn overwrite(&self, conn: &mut dyn Connection) -> DbResult<u64> {
        let table = conn.columns(self.relation)?;
        let select: Vec<String> = table
            .iter()
            .map(|c| {
                match self
                    .columns
                    .iter()
                    .find(|n| n.eq_ignore_ascii_case(&c.name))
                {
                    Some(n) => quote_ident(n),
                    None => format!("null as {}", quote_ident(&c.name)),
                }
            })
            .collect();
        let partition = if self.partition_by.is_empty() {
            String::new()
        } else {
            let cols: Vec<String> = self.partition_by.iter().map(|c| quote_ident(c)).collect();
            format!(" partition ({})", cols.join(", "))
        };
        conn.execute(&format!(
            "insert overwrite table {}{partition}\nselect {} from {}",
            self.target,
            select.join(", "),
            self.tmp.quoted()
        ))
    }

    /// The merge strategy: one MERGE where the engine has it, else an update and an insert.
    fn merge(&self, conn: &mut dyn Connection, caps: Capabilities) -> DbResult<u64> {
        let (target, list, tmp, columns, keys) =
            (&self.target, &self.list, self.tmp, self.columns, self.keys);
        let updates: Vec<String> = columns
            .iter()
            .filter(|c| !keys.iter().any(|k| k.eq_ignore_ascii_case(c)))
            .map(|c| format!("{q} = s.{q}", q = quote_ident(c)))
            .collect();
        let mut changed = 0;
        if caps.merge_statement {
            // One MERGE: matched rows updated, the others inserted.
            let values: Vec<String> = columns
                .iter()
                .map(|c| format!("s.{}", quote_ident(c)))
                .collect();
            let matched = if updates.is_empty() {
                String::new()
            } else {
                format!("\nwhen matched then update set {}", updates.join(", "))
            };
            changed += conn.execute(&format!(
                "merge into {target} as t\nusing {} as s\non {}{matched}\nwhen not matched then insert ({list}) values ({})",
                tmp.quoted(),
                self.matches("t", "s"),
                values.join(", ")
            ))?;
        } else if !updates.is_empty() {
            changed += conn.execute(&format!(
                "update {target}\nset {}\nfrom {} as s\nwhere {}",
                updates.join(", "),
                tmp.quoted(),
                self.matches(target, "s")
            ))?;
        }
        if !caps.merge_statement {
            changed += conn.execute(&format!(
                "insert into {target} ({list})\nselect {list} from {} as s\nwhere not exists (select 1 from {target} where {})",
                tmp.quoted(),
                self.matches(target, "s")
            ))?;
        }
        Ok(changed)
    }
}

fn strip_semicolon(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';')
}

/// Creates every schema in `schemas` that does not exist yet.
pub fn create_schemas(conn: &mut dyn Connection, schemas: &[String]) -> DbResult<()> {
    for s in schemas {
        conn.run(&format!("create schema if not exists {}", quote_ident(s)))?;
    }
    Ok(())
}
