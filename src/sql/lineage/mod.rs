//! Column-level lineage of one query, on the text alone: for each output column, the columns of
//! the relations read (`Analysis::relations`) it comes from, with OpenLineage's transformation
//! subtype, and the columns that affect every row (joins, filters, grouping, sorting). Followed
//! through CTEs, derived tables, subqueries, set operations, window functions, `CASE`,
//! aggregates, lateral and `USING` joins. What needs the upstream's columns is left for the
//! compiler's `lineage` stage: a `*` over a relation read (`Output::Star`), and a column that
//! more than one relation read may have (`Origin::rels` with several entries). What cannot be
//! followed is said (`unknown`), never guessed.

mod scope;
mod walk;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use sqlparser::ast::{
    GroupByExpr, OrderBy, OrderByKind, Query, Select, SelectFlavor, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Statement, TableFactor, WildcardAdditionalOptions,
};

use super::RelationRead;
use crate::ir::lineage::TransformSubtype as Sub;
use scope::{Item, Scope, Source};
pub use walk::compose;
use walk::{AliasMode, Walker};

/// An upstream column an output (or every row) depends on. Kept in the analysis cache as a
/// short array `[rels, column, subtype]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "OriginRepr", into = "OriginRepr")]
pub struct Origin {
    /// The relations read (indices in `Analysis::relations`) the column may come from: one
    /// when certain, several when the name is unqualified and more than one relation is read
    /// (the compiler picks the one that has it).
    pub rels: Vec<usize>,
    /// The column's name as written.
    pub column: String,
    /// How it is used.
    pub subtype: Sub,
}

/// How an `Origin` is cached.
#[derive(Clone, Serialize, Deserialize)]
struct OriginRepr(Vec<usize>, String, Sub);

impl From<OriginRepr> for Origin {
    fn from(r: OriginRepr) -> Self {
        Origin {
            rels: r.0,
            column: r.1,
            subtype: r.2,
        }
    }
}

impl From<Origin> for OriginRepr {
    fn from(o: Origin) -> Self {
        OriginRepr(o.rels, o.column, o.subtype)
    }
}

/// One item of a select list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    /// A named column.
    Column {
        /// Its name.
        name: String,
        /// What it comes from, sorted, each once.
        inputs: Vec<Origin>,
        /// Why some inputs could not be followed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unknown: Option<String>,
    },
    /// Every column of a relation read (or of something whose columns are not known).
    Star {
        /// The relation read, when it is one.
        rel: Option<usize>,
        /// Columns left out (`exclude`/`except`), lowercased.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        except: Vec<String>,
        /// Columns replaced (`replace (expr as name)`): name lowercased, inputs.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        replace: Vec<(String, Vec<Origin>)>,
        /// Why the columns are not known, when that is so.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unknown: Option<String>,
    },
}

/// The lineage of a query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryLineage {
    /// The select lists of the final query: one, or one per branch of a set operation
    /// (merged by position once `*` is expanded).
    pub branches: Vec<Vec<Output>>,
    /// Columns that affect every row, sorted, each once.
    pub dataset: Vec<Origin>,
}

/// A query's lineage as the analysis cache keeps it: its JSON text, read when the compiler's
/// lineage stage resolves it (node by node, in parallel), so that a warm compile does not hold
/// every query's lineage in memory at once. Shared, not copied, between the cache and the stage.
#[derive(Clone, Debug)]
pub struct CachedLineage(std::sync::Arc<serde_json::value::RawValue>);

impl CachedLineage {
    /// The cached form of `l`.
    pub fn new(l: &QueryLineage) -> Self {
        // Strings, numbers and enums only: serializing cannot fail.
        let raw = serde_json::value::to_raw_value(l).expect("query lineage serializes");
        CachedLineage(std::sync::Arc::from(raw))
    }

    /// The lineage, read back (None if the text is not a lineage: a cache of another shape).
    pub fn read(&self) -> Option<QueryLineage> {
        serde_json::from_str(self.0.get()).ok()
    }
}

impl PartialEq for CachedLineage {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Eq for CachedLineage {}

impl Serialize for CachedLineage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Written compact, as the rest of the cache: a cache file reformatted by hand was read
        // with its layout (a newline outside a JSON string is layout).
        let raw = self.0.get();
        match raw.contains('\n') {
            true => match serde_json::from_str::<serde_json::Value>(raw) {
                Ok(v) => v.serialize(s),
                Err(_) => self.0.serialize(s),
            },
            false => self.0.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for CachedLineage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        Ok(CachedLineage(std::sync::Arc::from(raw)))
    }
}

/// The lineage of the last statement of `statements`, when it is a query.
pub fn lineage(statements: &[Statement], relations: &[RelationRead]) -> Option<QueryLineage> {
    let Some(Statement::Query(q)) = statements.last() else {
        return None;
    };
    let mut l = Lineage {
        relations,
        ctes: Vec::new(),
    };
    let out = l.query(q, None);
    let mut dataset = out.dataset;
    sort_dedup(&mut dataset);
    Some(QueryLineage {
        branches: out.branches,
        dataset,
    })
}

/// What a query gives: its columns and what affects all its rows.
#[derive(Clone, Debug, Default)]
struct QueryOut {
    /// The columns (of the first branch, with the others' inputs added by position).
    outputs: Vec<Output>,
    /// Each branch's own select list (one for a plain select).
    branches: Vec<Vec<Output>>,
    dataset: Vec<Origin>,
}

/// The state of one analysis: the relations read and the CTEs in scope.
struct Lineage<'a> {
    relations: &'a [RelationRead],
    /// CTEs visible here, innermost last: name (lowercased) and what it gives (`None` while
    /// it is being defined: a recursive reference).
    ctes: Vec<(String, Option<QueryOut>)>,
}

impl Lineage<'_> {
    fn query(&mut self, q: &Query, parent: Option<&Scope>) -> QueryOut {
        let depth = self.ctes.len();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let name = cte.alias.name.value.to_lowercase();
                self.ctes.push((name, None));
                let mut out = self.query(&cte.query, parent);
                rename(&mut out.outputs, &cte.alias.columns);
                if let Some(last) = self.ctes.last_mut() {
                    last.1 = Some(out);
                }
            }
        }
        let out = self.set_expr(&q.body, q.order_by.as_ref(), parent);
        self.ctes.truncate(depth);
        out
    }

    fn set_expr(
        &mut self,
        body: &SetExpr,
        order_by: Option<&OrderBy>,
        parent: Option<&Scope>,
    ) -> QueryOut {
        match body {
            SetExpr::Select(s) => self.select(s, order_by, parent),
            SetExpr::Query(q) => self.query(q, parent),
            SetExpr::SetOperation { left, right, .. } => {
                let mut l = self.set_expr(left, None, parent);
                let r = self.set_expr(right, None, parent);
                merge_branch(&mut l.outputs, &r.outputs);
                l.branches.extend(r.branches);
                l.dataset.extend(r.dataset);
                if let Some(ob) = order_by {
                    let names = Scope::of_outputs(&l.outputs, parent);
                    let mut w = Walker::new(self, &names, &[], AliasMode::ScopeFirst);
                    for e in order_exprs(ob) {
                        w.expr(e, Sub::Sort);
                    }
                    let (inputs, _) = w.finish();
                    l.dataset.extend(inputs);
                }
                l
            }
            SetExpr::Values(v) => {
                let n = v.rows.first().map_or(0, |r| r.len());
                let outputs: Vec<Output> = (1..=n)
                    .map(|i| Output::Column {
                        name: format!("column{i}"),
                        inputs: Vec::new(),
                        unknown: None,
                    })
                    .collect();
                QueryOut {
                    branches: vec![outputs.clone()],
                    outputs,
                    dataset: Vec::new(),
                }
            }
            SetExpr::Table(t) => {
                let star = match t.table_name.as_deref() {
                    Some(name) => self.star_of_name(name, parent),
                    None => vec![unknown_star("a `TABLE` statement")],
                };
                QueryOut {
                    branches: vec![star.clone()],
                    outputs: star,
                    dataset: Vec::new(),
                }
            }
            other => {
                let col = vec![Output::Column {
                    name: String::new(),
                    inputs: Vec::new(),
                    unknown: Some(format!(
                        "`{}` is not a query lineage follows",
                        first_word(other)
                    )),
                }];
                QueryOut {
                    branches: vec![col.clone()],
                    outputs: col,
                    dataset: Vec::new(),
                }
            }
        }
    }

    /// `TABLE name`: the columns of a CTE, or `*` of a relation read with that name.
    fn star_of_name(&self, name: &str, _parent: Option<&Scope>) -> Vec<Output> {
        let lower = name.to_lowercase();
        if let Some((_, Some(out))) = self.ctes.iter().rev().find(|(n, _)| *n == lower) {
            return out.outputs.clone();
        }
        let rel = self
            .relations
            .iter()
            .position(|r| r.parts.last().is_some_and(|p| p.eq_ignore_ascii_case(name)));
        match rel {
            Some(r) => vec![star(Some(r))],
            None => vec![unknown_star(&format!("`{name}`"))],
        }
    }

    fn select(
        &mut self,
        s: &Select,
        order_by: Option<&OrderBy>,
        parent: Option<&Scope>,
    ) -> QueryOut {
        let mut scope = Scope::new(parent);
        let mut dataset = Vec::new();
        for twj in &s.from {
            self.factor(&twj.relation, &mut scope, &mut dataset);
            for j in &twj.joins {
                self.factor(&j.relation, &mut scope, &mut dataset);
                self.join_constraint(&j.join_operator, &mut scope, &mut dataset);
            }
        }
        let (outputs, aliases) = self.projection(s, &scope);
        let windows = &s.named_window;
        let mut filters = Walker::new(self, &scope, &aliases, AliasMode::ScopeFirst);
        filters.windows = windows;
        if let Some(e) = &s.selection {
            filters.expr(e, Sub::Filter);
        }
        filters.mode = AliasMode::AliasFirst;
        if let Some(e) = &s.having {
            filters.expr(e, Sub::Filter);
        }
        if let Some(e) = &s.qualify {
            filters.expr(e, Sub::Filter);
        }
        match &s.group_by {
            GroupByExpr::Expressions(exprs, _) => {
                for e in exprs {
                    match position(e) {
                        Some(i) => filters.output(&outputs, i, Sub::GroupBy),
                        None => filters.expr(e, Sub::GroupBy),
                    }
                }
            }
            GroupByExpr::All(_) => {
                for o in &outputs {
                    if let Output::Column { inputs, .. } = o
                        && !inputs.iter().any(|i| i.subtype == Sub::Aggregation)
                    {
                        filters.add(inputs, Sub::GroupBy);
                    }
                }
            }
        }
        if let Some(ob) = order_by {
            match &ob.kind {
                OrderByKind::Expressions(list) => {
                    for o in list {
                        match position(&o.expr) {
                            Some(i) => filters.output(&outputs, i, Sub::Sort),
                            None => filters.expr(&o.expr, Sub::Sort),
                        }
                    }
                }
                OrderByKind::All(_) => {
                    for i in 0..outputs.len() {
                        filters.output(&outputs, i + 1, Sub::Sort);
                    }
                }
            }
        }
        let (inputs, _) = filters.finish();
        dataset.extend(inputs);
        QueryOut {
            branches: vec![outputs.clone()],
            outputs,
            dataset,
        }
    }

    /// The select list: its outputs, and each named item's alias with its inputs (for
    /// `GROUP BY`, `ORDER BY`... and DuckDB's reuse of an alias further on).
    #[allow(clippy::type_complexity)]
    fn projection(
        &mut self,
        s: &Select,
        scope: &Scope,
    ) -> (Vec<Output>, Vec<(String, Vec<Origin>, Option<String>)>) {
        let windows = &s.named_window;
        let mut outputs: Vec<Output> = Vec::with_capacity(s.projection.len());
        let mut aliases: Vec<(String, Vec<Origin>, Option<String>)> = Vec::new();
        let from_only = s.projection.is_empty() && s.flavor == SelectFlavor::FromFirstNoSelect;
        if from_only {
            outputs.extend(self.wildcard(scope, None, None));
        }
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    let name = match item {
                        SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
                        _ => super::expr_name(e),
                    };
                    let mut w = Walker::new(self, scope, &aliases, AliasMode::ScopeFirst);
                    w.windows = windows;
                    w.expr(e, Sub::Identity);
                    let (inputs, unknown) = w.finish();
                    aliases.push((name.to_lowercase(), inputs.clone(), unknown.clone()));
                    outputs.push(Output::Column {
                        name,
                        inputs,
                        unknown,
                    });
                }
                SelectItem::ExprWithAliases { aliases: names, .. } => {
                    outputs.push(Output::Column {
                        name: names
                            .iter()
                            .map(|a| a.value.clone())
                            .collect::<Vec<_>>()
                            .join(","),
                        inputs: Vec::new(),
                        unknown: Some("an expression with several aliases is not followed".into()),
                    });
                }
                SelectItem::Wildcard(opts) => {
                    outputs.extend(self.wildcard(scope, None, Some(opts)));
                }
                SelectItem::QualifiedWildcard(kind, opts) => match kind {
                    SelectItemQualifiedWildcardKind::ObjectName(n) => {
                        let q = n.0.last().map(|p| p.to_string()).unwrap_or_default();
                        let q = q.trim_matches('"').trim_matches('`').to_lowercase();
                        outputs.extend(self.wildcard(scope, Some(&q), Some(opts)));
                    }
                    SelectItemQualifiedWildcardKind::Expr(e) => {
                        outputs.push(unknown_star(&format!("`{e}`")));
                    }
                },
            }
        }
        (outputs, aliases)
    }

    /// Adds what a FROM entry gives to `scope`; what it filters by to `dataset`.
    fn factor(&mut self, factor: &TableFactor, scope: &mut Scope, dataset: &mut Vec<Origin>) {
        let alias_of = |a: &Option<sqlparser::ast::TableAlias>| {
            a.as_ref().map(|a| a.name.value.to_lowercase())
        };
        match factor {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                let last = name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.clone())
                    .unwrap_or_else(|| name.to_string());
                let qualifier = alias_of(alias).unwrap_or_else(|| last.to_lowercase());
                let columns = alias.as_ref().map(|a| a.columns.as_slice()).unwrap_or(&[]);
                let source = if args.is_some() {
                    Source::Opaque(format!("the table function `{name}`"))
                } else if let Some(cte) = self.cte(name) {
                    match cte {
                        Some(out) => {
                            dataset.extend(out.dataset.iter().cloned());
                            let mut outputs = out.outputs.clone();
                            rename(&mut outputs, columns);
                            Source::Derived(outputs)
                        }
                        None => Source::Opaque(format!("the recursive CTE `{last}`")),
                    }
                } else {
                    let start = sqlparser::ast::Spanned::span(name).start;
                    let rel = self.relations.iter().position(|r| {
                        r.line == start.line as usize && r.col == start.column as usize
                    });
                    match rel {
                        Some(r) if columns.is_empty() => Source::Base(r),
                        Some(_) => Source::Opaque(format!("`{name}` with its columns renamed")),
                        None => Source::Opaque(format!("`{name}`")),
                    }
                };
                scope.items.push(Item {
                    name: Some(qualifier),
                    source,
                });
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let mut out = self.query(subquery, Some(scope));
                dataset.append(&mut out.dataset);
                if let Some(a) = alias {
                    rename(&mut out.outputs, &a.columns);
                }
                scope.items.push(Item {
                    name: alias_of(alias),
                    source: Source::Derived(out.outputs),
                });
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                self.factor(&table_with_joins.relation, scope, dataset);
                for j in &table_with_joins.joins {
                    self.factor(&j.relation, scope, dataset);
                    self.join_constraint(&j.join_operator, scope, dataset);
                }
            }
            TableFactor::TableFunction { alias, expr, .. } => scope.items.push(Item {
                name: alias_of(alias),
                source: Source::Opaque(format!("the table function `{expr}`")),
            }),
            TableFactor::Function { alias, name, .. } => scope.items.push(Item {
                name: alias_of(alias),
                source: Source::Opaque(format!("the table function `{name}`")),
            }),
            TableFactor::UNNEST {
                alias, array_exprs, ..
            } => {
                let mut w = Walker::new(self, scope, &[], AliasMode::ScopeFirst);
                for e in array_exprs {
                    w.expr(e, Sub::Transformation);
                }
                let (inputs, _) = w.finish();
                let name = alias_of(alias);
                let cols = alias.as_ref().map(|a| a.columns.as_slice()).unwrap_or(&[]);
                let outputs = match cols {
                    [] => vec![unknown_star("`unnest(...)`")],
                    cols => cols
                        .iter()
                        .map(|c| Output::Column {
                            name: c.name.value.clone(),
                            inputs: inputs.clone(),
                            unknown: None,
                        })
                        .collect(),
                };
                scope.items.push(Item {
                    name,
                    source: Source::Derived(outputs),
                });
            }
            other => scope.items.push(Item {
                name: None,
                source: Source::Opaque(format!("`{}`", first_word_factor(other))),
            }),
        }
    }

    /// A join's `ON` or `USING` columns, as `JOIN` inputs of every row.
    fn join_constraint(
        &mut self,
        op: &sqlparser::ast::JoinOperator,
        scope: &mut Scope,
        dataset: &mut Vec<Origin>,
    ) {
        use sqlparser::ast::JoinConstraint;
        match walk::constraint(op) {
            Some(JoinConstraint::On(e)) => {
                let mut w = Walker::new(self, scope, &[], AliasMode::ScopeFirst);
                w.expr(e, Sub::Join);
                let (inputs, _) = w.finish();
                dataset.extend(inputs);
            }
            Some(JoinConstraint::Using(names)) => {
                for n in names {
                    let col =
                        n.0.last()
                            .and_then(|p| p.as_ident())
                            .map(|i| i.value.clone())
                            .unwrap_or_else(|| n.to_string());
                    let found = scope.each_item(&col);
                    dataset.extend(found.into_iter().map(|mut o| {
                        o.subtype = Sub::Join;
                        o
                    }));
                    scope.using.push(col.to_lowercase());
                }
            }
            _ => {}
        }
    }

    /// The CTE `name` names, when it is one in scope: `Some(None)` while it is being defined.
    fn cte(&self, name: &sqlparser::ast::ObjectName) -> Option<Option<&QueryOut>> {
        if name.0.len() != 1 {
            return None;
        }
        let n = name.0[0].as_ident()?.value.to_lowercase();
        self.ctes
            .iter()
            .rev()
            .find(|(c, _)| *c == n)
            .map(|(_, out)| out.as_ref())
    }

    /// The outputs of `*` (all FROM entries) or `q.*`.
    fn wildcard(
        &mut self,
        scope: &Scope,
        qualifier: Option<&str>,
        opts: Option<&WildcardAdditionalOptions>,
    ) -> Vec<Output> {
        let (except, replace, unsupported) = match opts {
            Some(o) => self.wildcard_options(scope, o),
            None => (Vec::new(), Vec::new(), None),
        };
        let items: Vec<&Item> = match qualifier {
            Some(q) => scope
                .items
                .iter()
                .filter(|i| i.name.as_deref() == Some(q))
                .collect(),
            None => scope.items.iter().collect(),
        };
        if items.is_empty() {
            let what = qualifier.map_or("a select without FROM".to_string(), |q| format!("`{q}`"));
            return vec![unknown_star(&what)];
        }
        let mut out = Vec::new();
        for item in items {
            match &item.source {
                Source::Base(r) => out.push(Output::Star {
                    rel: Some(*r),
                    except: except.clone(),
                    replace: replace.clone(),
                    unknown: unsupported.clone(),
                }),
                Source::Opaque(what) => out.push(unknown_star(what)),
                Source::Derived(outputs) => {
                    for o in outputs {
                        out.extend(restrict(o, &except, &replace, &unsupported));
                    }
                }
            }
        }
        out
    }

    /// What `exclude`/`except`, `replace` and the options strata does not follow say.
    #[allow(clippy::type_complexity)]
    fn wildcard_options(
        &mut self,
        scope: &Scope,
        o: &WildcardAdditionalOptions,
    ) -> (Vec<String>, Vec<(String, Vec<Origin>)>, Option<String>) {
        use sqlparser::ast::ExcludeSelectItem;
        let mut except: Vec<String> = Vec::new();
        let last = |n: &sqlparser::ast::ObjectName| {
            n.0.last()
                .and_then(|p| p.as_ident())
                .map(|i| i.value.to_lowercase())
                .unwrap_or_default()
        };
        match &o.opt_exclude {
            Some(ExcludeSelectItem::Single(n)) => except.push(last(n)),
            Some(ExcludeSelectItem::Multiple(ns)) => except.extend(ns.iter().map(last)),
            None => {}
        }
        if let Some(e) = &o.opt_except {
            except.push(e.first_element.value.to_lowercase());
            except.extend(e.additional_elements.iter().map(|i| i.value.to_lowercase()));
        }
        let mut replace = Vec::new();
        if let Some(r) = &o.opt_replace {
            for el in &r.items {
                let mut w = Walker::new(self, scope, &[], AliasMode::ScopeFirst);
                w.expr(&el.expr, Sub::Transformation);
                let (inputs, _) = w.finish();
                replace.push((el.column_name.value.to_lowercase(), inputs));
            }
        }
        let unsupported = if o.opt_rename.is_some() {
            Some("`* rename (...)` is not followed".to_string())
        } else if o.opt_ilike.is_some() {
            Some("`* ilike '...'` is not followed".to_string())
        } else if o.opt_alias.is_some() {
            Some("an aliased `*` is not followed".to_string())
        } else {
            None
        };
        (except, replace, unsupported)
    }
}

/// A `*` over relation read `rel`.
fn star(rel: Option<usize>) -> Output {
    Output::Star {
        rel,
        except: Vec::new(),
        replace: Vec::new(),
        unknown: None,
    }
}

/// A `*` over something whose columns are not known.
fn unknown_star(what: &str) -> Output {
    Output::Star {
        rel: None,
        except: Vec::new(),
        replace: Vec::new(),
        unknown: Some(format!("`*` over {what}, whose columns are not known")),
    }
}

/// An output of a derived table seen through `* exclude/replace`.
fn restrict(
    o: &Output,
    except: &[String],
    replace: &[(String, Vec<Origin>)],
    unsupported: &Option<String>,
) -> Option<Output> {
    match o {
        Output::Column {
            name,
            inputs,
            unknown,
        } => {
            let lower = name.to_lowercase();
            if except.contains(&lower) {
                return None;
            }
            let inputs = match replace.iter().find(|(n, _)| *n == lower) {
                Some((_, r)) => r.clone(),
                None => inputs.clone(),
            };
            Some(Output::Column {
                name: name.clone(),
                inputs,
                unknown: unknown.clone().or_else(|| unsupported.clone()),
            })
        }
        Output::Star {
            rel,
            except: e,
            replace: r,
            unknown,
        } => {
            let mut e = e.clone();
            e.extend(except.iter().cloned());
            let mut r = r.clone();
            r.extend(replace.iter().cloned());
            Some(Output::Star {
                rel: *rel,
                except: e,
                replace: r,
                unknown: unknown.clone().or_else(|| unsupported.clone()),
            })
        }
    }
}

/// Renames outputs by a column list (`cte(a, b)`, `as t(a, b)`): by position, when there is
/// no `*` among them.
fn rename(outputs: &mut [Output], columns: &[sqlparser::ast::TableAliasColumnDef]) {
    if columns.is_empty() {
        return;
    }
    let has_star = outputs.iter().any(|o| matches!(o, Output::Star { .. }));
    for (o, c) in outputs.iter_mut().zip(columns) {
        if let Output::Column { name, unknown, .. } = o {
            *name = c.name.value.clone();
            if has_star {
                *unknown = Some("a column list renames columns that include a `*`".into());
            }
        }
    }
}

/// Adds the inputs of `right`'s columns to `left`'s, by position.
fn merge_branch(left: &mut [Output], right: &[Output]) {
    let stars = left
        .iter()
        .chain(right)
        .any(|o| matches!(o, Output::Star { .. }));
    for (l, r) in left.iter_mut().zip(right) {
        if let (
            Output::Column {
                inputs, unknown, ..
            },
            Output::Column {
                inputs: ri,
                unknown: ru,
                ..
            },
        ) = (l, r)
        {
            inputs.extend(ri.iter().cloned());
            sort_dedup(inputs);
            if unknown.is_none() {
                *unknown = ru.clone();
            }
            if stars {
                *unknown =
                    Some("a set operation over `*` is followed in the final query only".into());
            }
        }
    }
}

/// The expressions of an `ORDER BY`.
fn order_exprs(ob: &OrderBy) -> Vec<&sqlparser::ast::Expr> {
    match &ob.kind {
        OrderByKind::Expressions(list) => list.iter().map(|o| &o.expr).collect(),
        OrderByKind::All(_) => Vec::new(),
    }
}

/// `GROUP BY 2`, `ORDER BY 1`: the 1-based select-list position.
fn position(e: &sqlparser::ast::Expr) -> Option<usize> {
    match e {
        sqlparser::ast::Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// Sorts and drops repeated origins.
pub(super) fn sort_dedup(v: &mut Vec<Origin>) {
    v.sort();
    v.dedup();
}

fn first_word(body: &SetExpr) -> String {
    body.to_string()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_lowercase()
}

fn first_word_factor(f: &TableFactor) -> String {
    let s = f.to_string();
    s.chars().take(40).collect()
}
