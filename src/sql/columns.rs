//! The columns a query reads from the relations it names: `alias.col` resolved to the relation
//! the alias stands for (in the select that defines it, or an enclosing one), and unqualified
//! `col` only in a select that is not nested in another one and reads exactly one relation.
//! Anything that cannot be attributed with certainty (a CTE, a derived table, a table function,
//! a lambda parameter, a select-list alias, a renamed column list) is left out.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, Query, Select, SelectItem, Spanned, TableAlias, TableFactor, Visitor,
};

use super::RelationRead;

/// A column read from a relation, with where its name is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnRead {
    /// The index of the relation read, in `Analysis::relations`.
    pub relation: usize,
    /// The column's name as written (unquoted).
    pub name: String,
    /// 1-based line of the name in the analyzed text.
    pub line: usize,
    /// 1-based column of the name in the analyzed text.
    pub col: usize,
}

/// The columns read from one relation: (index in `Analysis::relations`, names as first
/// written). A tuple, so that the analysis cache stores it as a short array; positions are not
/// kept (see [`super::column_read_at`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RelationColumns(pub usize, pub Vec<String>);

/// `reads` grouped by relation, in the order each relation is first read.
pub(super) fn grouped(reads: &[ColumnRead]) -> Vec<RelationColumns> {
    let mut out: Vec<RelationColumns> = Vec::new();
    for r in reads {
        match out.iter_mut().find(|g| g.0 == r.relation) {
            Some(g) => g.1.push(r.name.clone()),
            None => out.push(RelationColumns(r.relation, vec![r.name.clone()])),
        }
    }
    out
}

/// Names that parse as identifiers but are not columns of a table: niladic functions and
/// system columns.
pub(super) const NOT_COLUMNS: &[&str] = &[
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "current_user",
    "session_user",
    "current_role",
    "current_schema",
    "current_catalog",
    "user",
    "rowid",
    "ctid",
    "xmin",
    "xmax",
    "cmin",
    "cmax",
    "tableoid",
    "oid",
];

/// What a select's FROM names: each qualifier (lowercased) with the relation it stands for
/// (None for a CTE, a derived table, a function...).
struct Scope {
    names: Vec<(String, Option<usize>)>,
    /// The one relation an unqualified column comes from, when there is exactly one.
    single: Option<usize>,
    /// Select-list aliases (lowercased): unqualified names that may mean them.
    aliases: HashSet<String>,
}

enum Frame {
    Query,
    Select(Scope),
}

/// The visitor; see the module comment.
pub(super) struct ColumnReads<'a> {
    relations: &'a [RelationRead],
    frames: Vec<Frame>,
    lambdas: usize,
    seen: HashSet<(usize, String)>,
    pub(super) out: Vec<ColumnRead>,
}

impl<'a> ColumnReads<'a> {
    pub(super) fn new(relations: &'a [RelationRead]) -> Self {
        Self {
            relations,
            frames: Vec::new(),
            lambdas: 0,
            seen: HashSet::new(),
            out: Vec::new(),
        }
    }

    /// The relation a table factor names, when it is one of the analysis' relations.
    fn relation_of(&self, factor: &TableFactor) -> Option<usize> {
        let TableFactor::Table {
            name,
            args: None,
            alias,
            ..
        } = factor
        else {
            return None;
        };
        if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
            return None;
        }
        let start = name.span().start;
        let (line, col) = (start.line as usize, start.column as usize);
        self.relations
            .iter()
            .position(|r| r.line == line && r.col == col)
    }

    fn add_factor(&self, factor: &TableFactor, names: &mut Vec<(String, Option<usize>)>) {
        let alias_name = |a: &Option<TableAlias>| a.as_ref().map(|a| a.name.value.to_lowercase());
        match factor {
            TableFactor::Table { name, alias, .. } => {
                let qualifier = alias_name(alias).or_else(|| {
                    name.0
                        .last()
                        .and_then(|p| p.as_ident())
                        .map(|i| i.value.to_lowercase())
                });
                if let Some(q) = qualifier {
                    names.push((q, self.relation_of(factor)));
                }
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                if let Some(q) = alias_name(alias) {
                    names.push((q, None));
                }
                self.add_factor(&table_with_joins.relation, names);
                for j in &table_with_joins.joins {
                    self.add_factor(&j.relation, names);
                }
            }
            TableFactor::Derived { alias, .. }
            | TableFactor::TableFunction { alias, .. }
            | TableFactor::Function { alias, .. }
            | TableFactor::UNNEST { alias, .. } => {
                if let Some(q) = alias_name(alias) {
                    names.push((q, None));
                }
            }
            _ => {}
        }
    }

    fn scope_of(&self, select: &Select) -> Scope {
        let mut names = Vec::new();
        for t in &select.from {
            self.add_factor(&t.relation, &mut names);
            for j in &t.joins {
                self.add_factor(&j.relation, &mut names);
            }
        }
        let nested = self.frames.iter().any(|f| matches!(f, Frame::Select(_)));
        let single = match select.from.as_slice() {
            [t] if t.joins.is_empty() && !nested && select.lateral_views.is_empty() => {
                self.relation_of(&t.relation)
            }
            _ => None,
        };
        let aliases = select
            .projection
            .iter()
            .filter_map(|item| match item {
                SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_lowercase()),
                _ => None,
            })
            .collect();
        Scope {
            names,
            single,
            aliases,
        }
    }

    fn record(&mut self, relation: usize, ident: &Ident) {
        let name = ident.value.to_lowercase();
        if !self.seen.insert((relation, name)) {
            return;
        }
        let start = ident.span.start;
        self.out.push(ColumnRead {
            relation,
            name: ident.value.clone(),
            line: start.line as usize,
            col: start.column as usize,
        });
    }

    /// The relation `qualifier` stands for, in the innermost select that names it.
    fn qualified(&self, qualifier: &str) -> Option<usize> {
        for f in self.frames.iter().rev() {
            let Frame::Select(s) = f else { continue };
            let mut found = s.names.iter().filter(|(n, _)| n == qualifier);
            if let Some((_, rel)) = found.next() {
                // Named twice in one FROM: ambiguous, the database refuses it anyway.
                return if found.next().is_some() { None } else { *rel };
            }
        }
        None
    }

    fn unqualified(&self, ident: &Ident) -> Option<usize> {
        let Some(Frame::Select(s)) = self.frames.last() else {
            return None;
        };
        let rel = s.single?;
        let name = ident.value.to_lowercase();
        let is_other = s.aliases.contains(&name)
            || s.names.iter().any(|(n, _)| *n == name)
            || NOT_COLUMNS.contains(&name.as_str());
        (!is_other).then_some(rel)
    }
}

impl Visitor for ColumnReads<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.frames.push(Frame::Query);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.frames.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        let scope = self.scope_of(select);
        self.frames.push(Frame::Select(scope));
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, _: &Select) -> ControlFlow<()> {
        self.frames.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Lambda(_) => self.lambdas += 1,
            _ if self.lambdas > 0 => {}
            Expr::Identifier(ident) => {
                if let Some(rel) = self.unqualified(ident) {
                    self.record(rel, ident);
                }
            }
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                if let Some(rel) = self.qualified(&parts[0].value.to_lowercase()) {
                    self.record(rel, &parts[1]);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Lambda(_) = expr {
            self.lambdas -= 1;
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use crate::ir::AdapterKind;
    use crate::sql::{analyze, column_read_at};

    /// (relation as written, column) for each read of `sql`, by relation.
    fn reads(sql: &str) -> Vec<(String, String)> {
        let a = analyze(sql, AdapterKind::Duckdb).unwrap();
        a.column_reads
            .iter()
            .flat_map(|g| {
                let rel = a.relations[g.0].text.clone();
                g.1.iter().map(move |c| (rel.clone(), c.clone()))
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn qualified_columns_go_to_their_relation() {
        assert_eq!(
            reads(
                "select o.id, c.name, o.amount * 2 as twice\nfrom \"main\".\"orders\" as o join main.customers c on c.id = o.customer_id\nwhere o.amount > 0"
            ),
            pairs(&[
                ("\"main\".\"orders\"", "id"),
                ("\"main\".\"orders\"", "amount"),
                ("\"main\".\"orders\"", "customer_id"),
                ("main.customers", "name"),
                ("main.customers", "id"),
            ])
        );
        // Without an alias, the table's own name qualifies.
        assert_eq!(
            reads("select orders.id from main.orders"),
            pairs(&[("main.orders", "id")])
        );
        // The position of a read is found again from the SQL.
        let sql = "select o.id,\n  o.id, o.amt from main.orders o";
        assert_eq!(
            column_read_at(sql, AdapterKind::Duckdb, 0, "amt"),
            Some((2, 11))
        );
        assert_eq!(
            column_read_at(sql, AdapterKind::Duckdb, 0, "id"),
            Some((1, 10))
        );
        assert_eq!(column_read_at(sql, AdapterKind::Duckdb, 0, "nope"), None);
    }

    #[test]
    fn unqualified_columns_only_from_a_single_relation() {
        assert_eq!(
            reads("select id, amount + 1 as a2 from main.orders where a2 > 1 and status = 'x'"),
            pairs(&[
                ("main.orders", "id"),
                ("main.orders", "amount"),
                ("main.orders", "status"),
            ])
        );
        // Two relations: unqualified names are not attributed.
        assert!(reads("select id from main.a, main.b").is_empty());
        assert!(reads("select id from main.a join main.b using (id)").is_empty());
        // Niladic functions, system columns, the table itself (a whole row).
        assert!(reads("select current_date, rowid, t from main.t").is_empty());
    }

    #[test]
    fn what_cannot_be_attributed_is_left_out() {
        // A CTE, a derived table, a table function, renamed columns.
        assert!(reads("with c as (select 1 as x) select c.x, y from c").is_empty());
        // A derived table: it may read its outer query's columns (DuckDB joins laterally).
        assert!(reads("select s.k from (select id as k from main.a) s").is_empty());
        assert!(reads("select r.range from range(3) r").is_empty());
        assert!(reads("select t.a from main.t as t(a, b)").is_empty());
        // A correlated subquery: its unqualified names may be the outer query's.
        assert_eq!(
            reads(
                "select a.id from main.a where exists (select 1 from main.b where b.x = a.id and y = 1)"
            ),
            pairs(&[("main.a", "id"), ("main.b", "x")])
        );
        // Lambda parameters; ORDER BY of the query (output names).
        assert_eq!(
            reads("select list_transform(xs, x -> x + 1) as ys from main.t order by ys, zz"),
            pairs(&[("main.t", "xs")])
        );
        // A struct field: `payload` is no alias, so `payload.name` is not a qualified column.
        assert_eq!(
            reads("select payload.name from main.t"),
            Vec::<(String, String)>::new()
        );
    }

    #[test]
    fn exactness_of_output_columns() {
        let exact = |sql: &str| {
            let a = analyze(sql, AdapterKind::Duckdb);
            !a.unwrap_or_else(|e| panic!("{sql}: {e:?}")).inexact_columns
        };
        assert!(exact("select a, t.b, (c), d as e, * exclude (f) from t"));
        assert!(!exact("select count(*) from t"));
        assert!(!exact("select x::int from t"));
        assert!(exact("select * replace (a + 1 as a) from t"));
        assert!(!exact("values (1, 2)"));
        assert!(exact("select a from t union all select b from u"));
        assert!(!exact("select a from t union by name select b from u"));
        // A wildcard is exact over one relation read directly, not over a CTE or a join.
        let a = analyze("select *, x from (select 1) s, main.t", AdapterKind::Duckdb).unwrap();
        assert!(a.inexact_columns);
        let a = analyze(
            "select *, (select max(y) from main.u) as m from main.t",
            AdapterKind::Duckdb,
        )
        .unwrap();
        assert!(!a.inexact_columns);
        assert_eq!(a.relations[a.star_relation.unwrap()].text, "main.t");
        assert!(!exact("with c as (select 1 as x) select * from c"));
    }
}
