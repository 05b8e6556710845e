//! The inputs of one expression, with how each is used: a column as is (`IDENTITY`), inside
//! an expression (`TRANSFORMATION`) or an aggregate (`AGGREGATION`), in a window's partition or
//! order (`WINDOW`), in a condition (`CONDITIONAL`), or in whatever clause the expression is
//! (`FILTER`, `JOIN`, `GROUP_BY`, `SORT`).

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments, Ident,
    JoinConstraint, JoinOperator, NamedWindowDefinition, NamedWindowExpr, Query, Visit, Visitor,
    WindowSpec, WindowType,
};

use super::scope::{Found, Scope};
use super::{Lineage, Origin, Output, sort_dedup};
use crate::ir::lineage::{TransformSubtype as Sub, TransformType};
use crate::sql::columns::NOT_COLUMNS;

/// Aggregate functions of DuckDB and Postgres (lowercased).
const AGGREGATES: &[&str] = &[
    "any_value",
    "approx_count_distinct",
    "approx_quantile",
    "arbitrary",
    "arg_max",
    "arg_min",
    "argmax",
    "argmin",
    "array_agg",
    "avg",
    "bit_and",
    "bit_or",
    "bit_xor",
    "bitstring_agg",
    "bool_and",
    "bool_or",
    "corr",
    "count",
    "count_if",
    "count_star",
    "countif",
    "covar_pop",
    "covar_samp",
    "entropy",
    "every",
    "favg",
    "first",
    "fsum",
    "geomean",
    "group_concat",
    "histogram",
    "json_agg",
    "json_group_array",
    "json_group_object",
    "json_object_agg",
    "jsonb_agg",
    "jsonb_object_agg",
    "kurtosis",
    "last",
    "list",
    "listagg",
    "mad",
    "max",
    "max_by",
    "mean",
    "median",
    "min",
    "min_by",
    "mode",
    "percentile_cont",
    "percentile_disc",
    "product",
    "quantile",
    "quantile_cont",
    "quantile_disc",
    "range_agg",
    "regr_avgx",
    "regr_avgy",
    "regr_count",
    "regr_intercept",
    "regr_r2",
    "regr_slope",
    "regr_sxx",
    "regr_sxy",
    "regr_syy",
    "reservoir_quantile",
    "sem",
    "skewness",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "string_agg",
    "sum",
    "sumkahan",
    "var_pop",
    "var_samp",
    "variance",
    "xmlagg",
];

/// Where a select-list alias may stand for a name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum AliasMode {
    /// Columns first (select list, `WHERE`, `ON`): an alias only when no entry names the
    /// column itself.
    ScopeFirst,
    /// Aliases first (`GROUP BY`, `HAVING`, `QUALIFY`, `ORDER BY`).
    AliasFirst,
}

/// Collects the inputs of expressions read in one scope.
pub(super) struct Walker<'l, 'a, 's> {
    lin: &'l mut Lineage<'a>,
    scope: &'s Scope<'s>,
    /// The select list's aliases so far: name (lowercased), inputs, unknown.
    aliases: &'s [(String, Vec<Origin>, Option<String>)],
    pub mode: AliasMode,
    /// The select's `WINDOW` definitions.
    pub windows: &'s [NamedWindowDefinition],
    lambdas: Vec<String>,
    out: Vec<Origin>,
    unknown: Option<String>,
}

/// The subtype of an input used as `inner` inside a use as `outer`.
pub fn compose(outer: Sub, inner: Sub) -> Sub {
    let rank = |s: Sub| match s {
        Sub::Identity => 0,
        Sub::Transformation => 1,
        _ => 2,
    };
    match (outer.kind(), inner.kind()) {
        (TransformType::Direct, TransformType::Direct) => {
            if rank(inner) > rank(outer) {
                inner
            } else {
                outer
            }
        }
        (TransformType::Direct, TransformType::Indirect) => inner,
        (TransformType::Indirect, _) => outer,
    }
}

/// The constraint of a join, when it has one.
pub(super) fn constraint(op: &JoinOperator) -> Option<&JoinConstraint> {
    use JoinOperator as J;
    match op {
        J::Join(c)
        | J::Inner(c)
        | J::Left(c)
        | J::LeftOuter(c)
        | J::Right(c)
        | J::RightOuter(c)
        | J::FullOuter(c)
        | J::CrossJoin(c)
        | J::Semi(c)
        | J::LeftSemi(c)
        | J::RightSemi(c)
        | J::Anti(c)
        | J::LeftAnti(c)
        | J::RightAnti(c)
        | J::StraightJoin(c) => Some(c),
        J::AsOf { constraint, .. } => Some(constraint),
        _ => None,
    }
}

impl<'l, 'a, 's> Walker<'l, 'a, 's> {
    pub fn new(
        lin: &'l mut Lineage<'a>,
        scope: &'s Scope<'s>,
        aliases: &'s [(String, Vec<Origin>, Option<String>)],
        mode: AliasMode,
    ) -> Self {
        Walker {
            lin,
            scope,
            aliases,
            mode,
            windows: &[],
            lambdas: Vec::new(),
            out: Vec::new(),
            unknown: None,
        }
    }

    /// The inputs collected, sorted, and the first reason some could not be followed.
    pub fn finish(mut self) -> (Vec<Origin>, Option<String>) {
        sort_dedup(&mut self.out);
        (self.out, self.unknown)
    }

    /// Adds `inputs` used as `sub`.
    pub fn add(&mut self, inputs: &[Origin], sub: Sub) {
        self.out.extend(inputs.iter().map(|o| Origin {
            rels: o.rels.clone(),
            column: o.column.clone(),
            subtype: compose(sub, o.subtype),
        }));
    }

    /// Adds the inputs of output number `pos` (1-based: `GROUP BY 1`).
    pub fn output(&mut self, outputs: &[Output], pos: usize, sub: Sub) {
        match pos.checked_sub(1).and_then(|i| outputs.get(i)) {
            Some(Output::Column {
                inputs, unknown, ..
            }) => {
                self.add(inputs, sub);
                self.note(unknown.clone());
            }
            _ => self.note(Some(format!("position {pos} is not a named column"))),
        }
    }

    fn note(&mut self, unknown: Option<String>) {
        if self.unknown.is_none() {
            self.unknown = unknown;
        }
    }

    fn found(&mut self, f: Found, sub: Sub) {
        self.add(&f.inputs, sub);
        self.note(f.unknown);
    }

    fn alias(&self, lower: &str) -> Option<(Vec<Origin>, Option<String>)> {
        self.aliases
            .iter()
            .rev()
            .find(|(n, _, _)| n == lower)
            .map(|(_, i, u)| (i.clone(), u.clone()))
    }

    /// Collects the inputs of `e`, used as `sub`.
    pub fn expr(&mut self, e: &Expr, sub: Sub) {
        let t = compose(sub, Sub::Transformation);
        match e {
            Expr::Identifier(id) => self.name(id, sub),
            Expr::CompoundIdentifier(parts) => self.compound(parts, sub),
            Expr::Nested(inner) => self.expr(inner, sub),
            Expr::Function(f) => self.function(f, sub),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let c = compose(sub, Sub::Conditional);
                if let Some(o) = operand {
                    self.expr(o, c);
                }
                for w in conditions {
                    self.expr(&w.condition, c);
                    self.expr(&w.result, t);
                }
                if let Some(e) = else_result {
                    self.expr(e, t);
                }
            }
            Expr::Subquery(q) => self.subquery(q, sub, true),
            Expr::InSubquery { expr, subquery, .. } => {
                self.expr(expr, t);
                self.subquery(subquery, t, true);
            }
            Expr::Exists { subquery, .. } => self.subquery(subquery, t, false),
            Expr::Lambda(l) => {
                let n = self.lambdas.len();
                self.lambdas
                    .extend(l.params.iter().map(|p| p.name.value.to_lowercase()));
                self.expr(&l.body, t);
                self.lambdas.truncate(n);
            }
            Expr::Value(_) | Expr::TypedString { .. } => {}
            other => self.children(other, t),
        }
    }

    /// An unqualified name: a column of the scope, a select-list alias, a lambda parameter or
    /// a niladic function.
    fn name(&mut self, id: &Ident, sub: Sub) {
        let lower = id.value.to_lowercase();
        if self.lambdas.contains(&lower)
            || (id.quote_style.is_none() && NOT_COLUMNS.contains(&lower.as_str()))
        {
            return;
        }
        if self.mode == AliasMode::AliasFirst
            && let Some((inputs, unknown)) = self.alias(&lower)
        {
            self.add(&inputs, sub);
            self.note(unknown);
            return;
        }
        match self.scope.unqualified(&id.value) {
            Some(f) if f.definite => self.found(f, sub),
            Some(f) => match self.alias(&lower) {
                Some((inputs, unknown)) => {
                    self.add(&inputs, sub);
                    self.note(unknown);
                }
                None => self.found(f, sub),
            },
            None => match self.alias(&lower) {
                Some((inputs, unknown)) => {
                    self.add(&inputs, sub);
                    self.note(unknown);
                }
                None => self.note(Some(format!(
                    "column `{}` is in none of the relations its select reads",
                    id.value
                ))),
            },
        }
    }

    /// `t.col`, `schema.t.col`, or a field of a struct column (`col.field`).
    fn compound(&mut self, parts: &[Ident], sub: Sub) {
        match parts {
            [] => {}
            [one] => self.name(one, sub),
            _ => {
                let n = parts.len();
                let q = parts[n - 2].value.to_lowercase();
                if let Some(f) = self.scope.qualified(&q, &parts[n - 1].value) {
                    self.found(f, sub);
                    return;
                }
                // `col.field` or `t.col.field`.
                let q0 = parts[0].value.to_lowercase();
                let t = compose(sub, Sub::Transformation);
                match self.scope.qualified(&q0, &parts[1].value) {
                    Some(f) => self.found(f, t),
                    None => self.name(&parts[0], t),
                }
            }
        }
    }

    fn function(&mut self, f: &Function, sub: Sub) {
        let name = f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.to_lowercase())
            .unwrap_or_default();
        let aggregate =
            AGGREGATES.contains(&name.as_str()) || !f.within_group.is_empty() || f.filter.is_some();
        let arg_sub = compose(
            sub,
            if aggregate {
                Sub::Aggregation
            } else {
                Sub::Transformation
            },
        );
        if let Some(over) = &f.over {
            let spec = match over {
                WindowType::WindowSpec(s) => Some(s),
                WindowType::NamedWindow(id) => self.named_window(id),
            };
            if let Some(spec) = spec {
                let w = compose(sub, Sub::Window);
                for e in &spec.partition_by {
                    self.expr(e, w);
                }
                for o in &spec.order_by {
                    self.expr(&o.expr, w);
                }
            }
        }
        match &f.args {
            FunctionArguments::List(list) => {
                for a in &list.args {
                    let (FunctionArg::Named { arg, .. }
                    | FunctionArg::ExprNamed { arg, .. }
                    | FunctionArg::Unnamed(arg)) = a;
                    if let FunctionArgExpr::Expr(e) = arg {
                        self.expr(e, arg_sub);
                    }
                }
                for c in &list.clauses {
                    if let FunctionArgumentClause::OrderBy(obs) = c {
                        for o in obs {
                            self.expr(&o.expr, arg_sub);
                        }
                    }
                }
            }
            FunctionArguments::Subquery(q) => self.subquery(q, arg_sub, true),
            FunctionArguments::None => {}
        }
        if let Some(filter) = &f.filter {
            self.expr(filter, compose(sub, Sub::Conditional));
        }
        for o in &f.within_group {
            self.expr(&o.expr, arg_sub);
        }
    }

    fn named_window(&self, id: &Ident) -> Option<&'s WindowSpec> {
        let mut name = id.value.to_lowercase();
        for _ in 0..8 {
            let def = self
                .windows
                .iter()
                .find(|d| d.0.value.to_lowercase() == name)?;
            match &def.1 {
                NamedWindowExpr::WindowSpec(s) => return Some(s),
                NamedWindowExpr::NamedWindow(next) => name = next.value.to_lowercase(),
            }
        }
        None
    }

    /// A subquery in an expression: its first column's inputs (when `value`), and what
    /// affects its rows, used as `sub`.
    fn subquery(&mut self, q: &Query, sub: Sub, value: bool) {
        let out = self.lin.query(q, Some(self.scope));
        if value {
            match out.outputs.first() {
                Some(Output::Column {
                    inputs, unknown, ..
                }) => {
                    self.add(inputs, sub);
                    self.note(unknown.clone());
                }
                _ => self.note(Some("a subquery's `*` is not followed".to_string())),
            }
        }
        self.add(&out.dataset, sub);
    }

    /// Any other expression: its direct sub-expressions (and subqueries), used as `sub`.
    fn children(&mut self, e: &Expr, sub: Sub) {
        let mut v = Children {
            w: self,
            sub,
            depth: 0,
            queries: 0,
        };
        let _ = e.visit(&mut v);
    }
}

/// Visits the direct children of an expression, handing each to the walker.
struct Children<'w, 'l, 'a, 's> {
    w: &'w mut Walker<'l, 'a, 's>,
    sub: Sub,
    depth: usize,
    queries: usize,
}

impl Visitor for Children<'_, '_, '_, '_> {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if self.depth == 1 && self.queries == 0 {
            self.w.subquery(q, self.sub, true);
        }
        self.queries += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.queries -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        self.depth += 1;
        if self.depth == 2 && self.queries == 0 {
            self.w.expr(e, self.sub);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _e: &Expr) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}
