//! What a DDL statement does to the relations that exist, read from its text: the catalog
//! caches of the DuckDB and Spark adapters are kept up to date from the statements strata
//! runs, instead of asking the database once per model.

use super::RelationKind;

pub(crate) type Key = (String, String);

pub(crate) fn key(schema: &str, name: &str) -> Key {
    (schema.to_lowercase(), name.to_lowercase())
}

/// Reads one identifier (quoted or not) at the start of `s`; returns it and the rest.
fn ident(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    if let Some(rest) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if rest[i + 1..].starts_with('"') {
                    out.push('"');
                    chars.next();
                } else {
                    return Some((out, &rest[i + 1..]));
                }
            } else {
                out.push(c);
            }
        }
        None
    } else {
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        (end > 0).then(|| (s[..end].to_string(), &s[end..]))
    }
}

/// `schema.name` (or `name`, in `default_schema`) at the start of `s`.
fn relation_name<'a>(s: &'a str, default_schema: &str) -> Option<(Key, &'a str)> {
    let (first, rest) = ident(s)?;
    match rest.strip_prefix('.') {
        Some(r) => {
            let (second, rest) = ident(r)?;
            Some((key(&first, &second), rest))
        }
        None => Some((key(default_schema, &first), rest)),
    }
}

/// The text after the first `n` words of `sql`.
fn after_words(sql: &str, n: usize) -> &str {
    let mut rest = sql.trim_start();
    for _ in 0..n {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    rest
}

/// What a statement does to the catalog: `Some(changes)` when understood (possibly none),
/// `None` when it is DDL of a shape not recognised. A name without schema is in
/// `default_schema`.
pub(crate) fn catalog_effect(
    sql: &str,
    default_schema: &str,
) -> Option<Vec<(Key, Option<RelationKind>)>> {
    let lower = sql.trim_start().to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().take(6).collect();
    let made = |n: usize, kind: RelationKind| {
        relation_name(after_words(sql, n), default_schema).map(|(k, _)| vec![(k, Some(kind))])
    };
    let dropped =
        |n: usize| relation_name(after_words(sql, n), default_schema).map(|(k, _)| vec![(k, None)]);
    match words.as_slice() {
        ["create", "or", "replace", "view", ..] => made(4, RelationKind::View),
        ["create", "view", ..] => made(2, RelationKind::View),
        ["create", "or", "replace", "table", ..] => made(4, RelationKind::Table),
        ["create", "table", "if", "not", "exists", ..] => made(5, RelationKind::Table),
        ["create", "table", ..] => made(2, RelationKind::Table),
        ["drop", "table" | "view", "if", "exists", ..] => dropped(4),
        ["drop", "table" | "view", ..] => dropped(2),
        ["alter", kind @ ("table" | "view"), ..] => {
            let (from, rest) = relation_name(after_words(sql, 2), default_schema)?;
            let rest = rest.trim_start();
            let is_rename = rest.len() >= 9 && rest[..9].eq_ignore_ascii_case("rename to");
            if !is_rename {
                // add column, alter column ...: the relation stays what it was.
                return Some(Vec::new());
            }
            let (to, _) = ident(&rest[9..])?;
            let kind = if *kind == "view" {
                RelationKind::View
            } else {
                RelationKind::Table
            };
            Some(vec![(from.clone(), None), (key(&from.0, &to), Some(kind))])
        }
        // A dropped schema takes its relations along.
        ["drop", "schema" | "database" | "namespace", ..] => None,
        ["create" | "drop" | "alter", rest @ ..] => {
            // Schemas, indexes, sequences, macros, types do not change what relations exist.
            let object = rest
                .iter()
                .find(|w| !matches!(**w, "or" | "replace" | "temp" | "temporary" | "unique"))
                .copied()
                .unwrap_or("");
            matches!(
                object,
                "schema" | "index" | "sequence" | "macro" | "function" | "type" | "secret"
            )
            .then(Vec::new)
        }
        _ => Some(Vec::new()),
    }
}

#[cfg(test)]
mod catalog_tests {
    use super::*;

    #[test]
    fn ddl_is_understood() {
        let v = |s: &str| catalog_effect(s, "main");
        assert_eq!(
            v("create or replace view \"main\".\"m\" as\nselect 1"),
            Some(vec![(key("main", "m"), Some(RelationKind::View))])
        );
        assert_eq!(
            v("create table \"Marts\".\"x__strata_new\" as select 1"),
            Some(vec![(
                key("marts", "x__strata_new"),
                Some(RelationKind::Table)
            )])
        );
        assert_eq!(
            v("alter table \"s\".\"x__strata_new\" rename to \"x\""),
            Some(vec![
                (key("s", "x__strata_new"), None),
                (key("s", "x"), Some(RelationKind::Table))
            ])
        );
        assert_eq!(
            v("drop view if exists s.y"),
            Some(vec![(key("s", "y"), None)])
        );
        assert_eq!(v("create schema if not exists raw"), Some(vec![]));
        assert_eq!(v("insert into t select 1"), Some(vec![]));
        assert_eq!(v("create temp view v as select 1"), None);
        assert_eq!(v("alter table t add column c int"), Some(vec![]));
        assert_eq!(v("drop schema s cascade"), None);
        assert_eq!(
            catalog_effect("create table t using parquet as select 1", "default"),
            Some(vec![(key("default", "t"), Some(RelationKind::Table))])
        );
    }
}
