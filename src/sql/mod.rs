//! SQL analysis with sqlparser in the target's dialect: parse rendered SQL, find the relations
//! it reads and the columns it outputs; the SQL of unit tests (`unit`). Works on text only, no
//! database. May import: `ir`, `adapter::engine` (dialects, function lists).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Query, SelectItem, SetExpr, SetQuantifier, Spanned, Statement, TableFactor, Visit,
    Visitor, WildcardAdditionalOptions,
};
use sqlparser::dialect::Dialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::adapter::engine;
use crate::ir::AdapterKind;

pub mod cache;
pub mod columns;
pub mod lineage;
pub mod unit;

pub use columns::RelationColumns;

/// The sqlparser dialect of an engine.
pub fn dialect(kind: AdapterKind) -> Box<dyn Dialect + Send + Sync> {
    (engine::engine(kind).dialect)()
}

/// A relation read by a statement, as written, with its position in the analyzed text.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RelationRead {
    /// Name parts, unquoted (`["raw", "invoices"]`).
    pub parts: Vec<String>,
    /// 1-based line in the analyzed text.
    pub line: usize,
    /// 1-based column in the analyzed text.
    pub col: usize,
    /// The name as written.
    pub text: String,
}

/// What analysis found in a model's SQL.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Analysis {
    /// Output column names of the final query, in order; `*` for a wildcard.
    pub columns: Vec<String>,
    /// Relations read (CTE names excluded).
    pub relations: Vec<RelationRead>,
    /// Number of statements.
    pub statements: usize,
    /// Calls of functions that exist in the other engine only.
    pub foreign_functions: Vec<ForeignFunction>,
    /// True when an output column's name is not certain: an unnamed expression (whose name
    /// the engine makes up), a wildcard that renames or filters, `VALUES`, not a query.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inexact_columns: bool,
    /// The relation (index in `relations`) that a `*` among the output columns stands for:
    /// the one relation its select reads. A wildcard over anything else makes the columns
    /// inexact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub star_relation: Option<usize>,
    /// Columns read from the relations in `relations`, by relation, each name once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub column_reads: Vec<RelationColumns>,
    /// Column-level lineage of the final query (None when it is not a query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<lineage::CachedLineage>,
}

/// A call of a built-in function that only the other engine has.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForeignFunction {
    /// The function's name as written.
    pub name: String,
    /// The engine that has it.
    pub only_in: AdapterKind,
    /// A portable way to write it, when there is one.
    pub instead: Option<String>,
    /// 1-based line in the analyzed text.
    pub line: usize,
    /// 1-based column in the analyzed text.
    pub col: usize,
}

/// Finds calls of functions that only the other engine has.
struct ForeignCalls {
    kind: AdapterKind,
    out: Vec<ForeignFunction>,
}

impl Visitor for ForeignCalls {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Function(f) = expr
            && f.name.0.len() == 1
        {
            let name = f.name.to_string();
            let lower = name.to_lowercase();
            if let Some((only_in, instead)) = engine::foreign_function(self.kind, &lower) {
                let span = f.name.span();
                self.out.push(ForeignFunction {
                    name,
                    only_in,
                    instead: instead.map(str::to_string),
                    line: span.start.line as usize,
                    col: span.start.column as usize,
                });
            }
        }
        ControlFlow::Continue(())
    }
}

/// A syntax error with its position in the analyzed text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// The parser's message, without its position suffix.
    pub message: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// Where a second statement starts in `sql`, as its 1-based line and column: the first token
/// after a `;` that is not whitespace, a comment or another `;`. None for one statement (with
/// or without a trailing `;`), and for text that does not tokenize (parsing reports that).
pub fn second_statement(sql: &str, kind: AdapterKind) -> Option<(usize, usize)> {
    if !sql.contains(';') {
        return None;
    }
    let d = dialect(kind);
    let tokens = Tokenizer::new(d.as_ref(), sql)
        .tokenize_with_location()
        .ok()?;
    let mut after_semicolon = false;
    for t in tokens {
        match t.token {
            Token::SemiColon => after_semicolon = true,
            Token::Whitespace(_) | Token::EOF => {}
            _ if after_semicolon => {
                return Some((t.span.start.line as usize, t.span.start.column as usize));
            }
            _ => {}
        }
    }
    None
}

/// The statements of `sql`, split at each `;` outside strings, quoted names and comments, each
/// with the 1-based line it starts on; what lies between them (whitespace, comments, empty
/// statements) is dropped. Text that does not tokenize is one statement: the database says
/// what is wrong with it.
pub fn split_statements(sql: &str, kind: AdapterKind) -> Vec<(usize, String)> {
    let d = dialect(kind);
    let Ok(tokens) = Tokenizer::new(d.as_ref(), sql).tokenize_with_location() else {
        let text = sql.trim();
        return match text.is_empty() {
            true => Vec::new(),
            false => vec![(1, text.to_string())],
        };
    };
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    // Locations count lines from 1 and columns in characters from 1.
    let offset = |line: u64, column: u64| -> usize {
        let start = line_starts
            .get((line as usize).saturating_sub(1))
            .copied()
            .unwrap_or(sql.len());
        sql[start..]
            .char_indices()
            .nth((column as usize).saturating_sub(1))
            .map_or(sql.len(), |(b, _)| start + b)
    };
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for t in tokens {
        match t.token {
            Token::SemiColon => {
                if let Some((line, start)) = current.take() {
                    let end = offset(t.span.start.line, t.span.start.column);
                    out.push((line, sql[start..end].trim_end().to_string()));
                }
            }
            Token::Whitespace(_) | Token::EOF => {}
            _ if current.is_none() => {
                current = Some((
                    t.span.start.line as usize,
                    offset(t.span.start.line, t.span.start.column),
                ));
            }
            _ => {}
        }
    }
    if let Some((line, start)) = current {
        out.push((line, sql[start..].trim_end().to_string()));
    }
    out
}

/// True when `sql` is a query that returns rows and can be read as a subquery (`select`,
/// `with`, `values`, `table`, DuckDB's `from x`, or one of those in parentheses), judged by its
/// first word; false for other statements (DDL, DML, maintenance).
pub fn returns_rows(sql: &str, kind: AdapterKind) -> bool {
    use sqlparser::keywords::Keyword;
    let d = dialect(kind);
    let Ok(tokens) = Tokenizer::new(d.as_ref(), sql).tokenize() else {
        return false;
    };
    let first = tokens
        .into_iter()
        .find(|t| !matches!(t, Token::Whitespace(_) | Token::LParen));
    matches!(
        first,
        Some(Token::Word(w)) if matches!(
            w.keyword,
            Keyword::SELECT | Keyword::WITH | Keyword::VALUES | Keyword::TABLE | Keyword::FROM
        )
    )
}

/// Parses `sql` in `kind`'s dialect and extracts what the compiler needs.
pub fn analyze(sql: &str, kind: AdapterKind) -> Result<Analysis, SyntaxError> {
    let d = dialect(kind);
    let statements = Parser::parse_sql(d.as_ref(), sql).map_err(|e| syntax_error(&e, sql))?;
    let mut out = Analysis {
        statements: statements.len(),
        ..Default::default()
    };
    out.relations = relations_read(&statements);
    out.column_reads = columns::grouped(&column_reads(&statements, &out.relations));
    let mut calls = ForeignCalls {
        kind,
        out: Vec::new(),
    };
    for st in &statements {
        let _ = st.visit(&mut calls);
    }
    out.foreign_functions = calls.out;
    out.lineage =
        lineage::lineage(&statements, &out.relations).map(|l| lineage::CachedLineage::new(&l));
    match statements.last() {
        Some(Statement::Query(q)) => {
            let mut o = Outputs {
                relations: &out.relations,
                exact: true,
                star: None,
            };
            out.columns = o.set_expr_columns(&q.body);
            (out.inexact_columns, out.star_relation) = (!o.exact, o.star);
        }
        _ => out.inexact_columns = true,
    }
    Ok(out)
}

/// The relations `statements` read, CTEs excluded.
fn relations_read(statements: &[Statement]) -> Vec<RelationRead> {
    let mut ctes = CteNames::default();
    for st in statements {
        let _ = st.visit(&mut ctes);
    }
    let mut tables = TableReads {
        ctes: &ctes.0,
        out: Vec::new(),
    };
    for st in statements {
        let _ = st.visit(&mut tables);
    }
    tables.out
}

/// The columns the last statement reads from `relations`, with their positions.
fn column_reads(statements: &[Statement], relations: &[RelationRead]) -> Vec<columns::ColumnRead> {
    let mut reads = columns::ColumnReads::new(relations);
    if let Some(st) = statements.last() {
        let _ = st.visit(&mut reads);
    }
    reads.out
}

/// Where `sql` first reads column `name` of its relation number `relation` (see
/// `Analysis::column_reads`), as a 1-based line and column: analyzed again, since the
/// positions are not kept (they are needed for a diagnostic only).
pub fn column_read_at(
    sql: &str,
    kind: AdapterKind,
    relation: usize,
    name: &str,
) -> Option<(usize, usize)> {
    let d = dialect(kind);
    let statements = Parser::parse_sql(d.as_ref(), sql).ok()?;
    column_reads(&statements, &relations_read(&statements))
        .into_iter()
        .find(|r| r.relation == relation && r.name == name)
        .map(|r| (r.line, r.col))
}

#[derive(Default)]
struct CteNames(BTreeSet<String>);

/// Collects the tables a statement reads; table functions (`range(10)`, `read_csv(...)`) and
/// CTE names are not relations.
struct TableReads<'a> {
    ctes: &'a BTreeSet<String>,
    out: Vec<RelationRead>,
}

impl Visitor for TableReads<'_> {
    type Break = ();
    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name, args: None, ..
        } = factor
        {
            let parts: Vec<String> = name
                .0
                .iter()
                .map(|p| match p.as_ident() {
                    Some(i) => i.value.clone(),
                    None => p.to_string(),
                })
                .collect();
            let is_cte = parts.len() == 1 && self.ctes.contains(&parts[0].to_lowercase());
            if !is_cte {
                let span = name.span();
                self.out.push(RelationRead {
                    parts,
                    line: span.start.line as usize,
                    col: span.start.column as usize,
                    text: name.to_string(),
                });
            }
        }
        ControlFlow::Continue(())
    }
}

impl Visitor for CteNames {
    type Break = ();
    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.0.insert(cte.alias.name.value.to_lowercase());
            }
        }
        ControlFlow::Continue(())
    }
}

/// Output columns of a query, and how certain their names are.
struct Outputs<'a> {
    relations: &'a [RelationRead],
    /// Cleared when a name is made up by the engine, or a wildcard renames, filters or stands
    /// for something else than one relation.
    exact: bool,
    /// The relation a wildcard stands for.
    star: Option<usize>,
}

impl Outputs<'_> {
    fn set_expr_columns(&mut self, body: &SetExpr) -> Vec<String> {
        match body {
            SetExpr::Select(select) => {
                let items = &select.projection;
                items.iter().map(|item| self.item(select, item)).collect()
            }
            SetExpr::Query(q) => self.set_expr_columns(&q.body),
            SetExpr::SetOperation {
                left,
                set_quantifier,
                ..
            } => {
                if matches!(
                    set_quantifier,
                    SetQuantifier::ByName
                        | SetQuantifier::AllByName
                        | SetQuantifier::DistinctByName
                ) {
                    self.exact = false;
                }
                self.set_expr_columns(left)
            }
            SetExpr::Values(v) => {
                self.exact = false;
                (1..=v.rows.first().map(|r| r.len()).unwrap_or(0))
                    .map(|i| format!("column{i}"))
                    .collect()
            }
            _ => {
                self.exact = false;
                Vec::new()
            }
        }
    }

    fn item(&mut self, select: &sqlparser::ast::Select, item: &SelectItem) -> String {
        match item {
            SelectItem::UnnamedExpr(expr) => {
                self.exact &= is_column_ref(expr);
                expr_name(expr)
            }
            SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
            SelectItem::ExprWithAliases { aliases, .. } => {
                self.exact = false;
                aliases
                    .iter()
                    .map(|a| a.value.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            }
            SelectItem::QualifiedWildcard(kind, opts) => {
                self.wildcard(select, opts);
                format!("{kind}.*")
            }
            SelectItem::Wildcard(opts) => {
                self.wildcard(select, opts);
                "*".to_string()
            }
        }
    }

    /// A wildcard is exact when it keeps the names and its select reads one relation only.
    fn wildcard(&mut self, select: &sqlparser::ast::Select, opts: &WildcardAdditionalOptions) {
        let single = match select.from.as_slice() {
            [t] if t.joins.is_empty() => match &t.relation {
                TableFactor::Table {
                    name,
                    args: None,
                    alias,
                    ..
                } if alias.as_ref().is_none_or(|a| a.columns.is_empty()) => {
                    let start = name.span().start;
                    self.relations.iter().position(|r| {
                        r.line == start.line as usize && r.col == start.column as usize
                    })
                }
                _ => None,
            },
            _ => None,
        };
        match single {
            Some(rel) if wildcard_keeps_names(opts) && self.star.is_none_or(|s| s == rel) => {
                self.star = Some(rel);
            }
            _ => self.exact = false,
        }
    }
}

/// Whether an unnamed select item is named after a column on every engine.
fn is_column_ref(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => true,
        Expr::Nested(inner) => is_column_ref(inner),
        _ => false,
    }
}

/// Whether a wildcard's columns keep the relation's names (`exclude`/`except` only drop some,
/// `replace` keeps the names).
fn wildcard_keeps_names(opts: &WildcardAdditionalOptions) -> bool {
    opts.opt_ilike.is_none() && opts.opt_rename.is_none() && opts.opt_alias.is_none()
}

fn expr_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(i) => i.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|i| i.value.clone()).unwrap_or_default()
        }
        Expr::Nested(inner) => expr_name(inner),
        Expr::Cast { expr, .. } => expr_name(expr),
        other => other.to_string(),
    }
}

/// sqlparser reports positions as a suffix "at Line: X, Column: Y"; split it off.
fn syntax_error(e: &ParserError, _sql: &str) -> SyntaxError {
    let raw = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.clone(),
        ParserError::RecursionLimitExceeded => "the query is nested too deeply".to_string(),
    };
    let (message, line, col) = match raw.rfind(" at Line: ") {
        Some(i) => {
            let pos = &raw[i + " at Line: ".len()..];
            let mut it = pos.split(", Column: ");
            let line = it.next().and_then(|l| l.trim().parse().ok()).unwrap_or(1);
            let col = it
                .next()
                .and_then(|c| {
                    c.trim()
                        .trim_end_matches(|ch: char| !ch.is_ascii_digit())
                        .parse()
                        .ok()
                })
                .unwrap_or(1);
            (raw[..i].to_string(), line, col)
        }
        None => (raw, 1, 1),
    };
    SyntaxError { message, line, col }
}

/// Byte offset where a CTE list can take more entries: after `WITH` (and `RECURSIVE`) when the
/// query starts with one, `None` when it does not. Comments and whitespace before it are skipped.
pub fn leading_with(sql: &str) -> Option<usize> {
    let bytes = sql.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if sql[i..].starts_with("--") {
            i = sql[i..].find('\n').map(|n| i + n + 1).unwrap_or(sql.len());
        } else if sql[i..].starts_with("/*") {
            i = sql[i..].find("*/").map(|n| i + n + 2).unwrap_or(sql.len());
        } else {
            break;
        }
    }
    let word_end = |from: usize| {
        sql[from..]
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .map(|n| from + n)
            .unwrap_or(sql.len())
    };
    let end = word_end(i);
    if !sql[i..end].eq_ignore_ascii_case("with") {
        return None;
    }
    let mut j = end;
    while j < bytes.len() && bytes[j].is_ascii_whitespace() {
        j += 1;
    }
    let e2 = word_end(j);
    if sql[j..e2].eq_ignore_ascii_case("recursive") {
        return Some(e2);
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_told_from_other_statements_by_their_first_word() {
        let k = AdapterKind::Postgres;
        assert!(returns_rows("-- x\n (select 1)", k));
        assert!(returns_rows("with a as (select 1) select * from a", k));
        assert!(returns_rows("values (1)", k));
        assert!(!returns_rows("create table t as select 1", k));
        assert!(!returns_rows("vacuum analyze t", k));
        assert!(!returns_rows("insert into t select 1", k));
        assert!(!returns_rows("", k));
    }

    #[test]
    fn statements_are_split_at_semicolons_outside_strings_and_comments() {
        let k = AdapterKind::Postgres;
        let sql = "\n-- first\ncreate table t (s text);\ninsert into t values ('a;b'); /* ; */\n\n;\n\
                   do $$ begin perform 1; end $$;\nselect 'é', 1";
        assert_eq!(
            split_statements(sql, k),
            vec![
                (3, "create table t (s text)".to_string()),
                (4, "insert into t values ('a;b')".to_string()),
                (7, "do $$ begin perform 1; end $$".to_string()),
                (8, "select 'é', 1".to_string()),
            ]
        );
        assert!(split_statements("  -- nothing\n ; ", k).is_empty());
        assert_eq!(
            split_statements("select 1; -- done", AdapterKind::Duckdb),
            vec![(1, "select 1".to_string())]
        );
    }

    #[test]
    fn a_second_statement_is_found_after_a_semicolon() {
        let k = AdapterKind::Duckdb;
        assert_eq!(second_statement("select 1", k), None);
        assert_eq!(second_statement("select 1;", k), None);
        assert_eq!(second_statement("select 1 ;\n-- done\n;\n", k), None);
        assert_eq!(second_statement("select ';' as s, 'a;b' as t", k), None);
        assert_eq!(second_statement("select 1 /* ; */ as x", k), None);
        assert_eq!(
            second_statement("select 1 as id; drop table main.other_model", k),
            Some((1, 17))
        );
        assert_eq!(
            second_statement("select 'x'; drop table t; --' as n", AdapterKind::Postgres),
            Some((1, 13))
        );
        assert_eq!(
            second_statement("select 1;\n\n  delete from t", k),
            Some((3, 3))
        );
    }

    #[test]
    fn relations_exclude_ctes() {
        let a = analyze(
            "with x as (select 1 as a from \"raw\".\"t\")\nselect a, b as c, t.d from x join other t on true",
            AdapterKind::Duckdb,
        )
        .unwrap();
        let names: Vec<_> = a.relations.iter().map(|r| r.parts.join(".")).collect();
        assert_eq!(names, vec!["raw.t", "other"]);
        assert_eq!(a.columns, vec!["a", "c", "d"]);
        assert_eq!(a.relations[1].line, 2);
    }

    #[test]
    fn table_functions_are_not_relations() {
        let a = analyze("select * from range(10) as r, t", AdapterKind::Duckdb).unwrap();
        let names: Vec<_> = a.relations.iter().map(|r| r.parts.join(".")).collect();
        assert_eq!(names, vec!["t"]);
    }

    #[test]
    fn syntax_error_has_position() {
        let e = analyze("select 1\nfrom t where )", AdapterKind::Postgres).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("Expected"), "{}", e.message);
    }

    #[test]
    fn leading_with_is_found_after_comments() {
        assert_eq!(
            leading_with("-- c\nWITH a as (select 1) select * from a"),
            Some(9)
        );
        assert_eq!(leading_with("with recursive a as (x)"), Some(14));
        assert_eq!(leading_with("select 1"), None);
    }
}
