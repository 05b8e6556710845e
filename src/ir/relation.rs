//! Relations in the database and how their names are quoted. Both engines quote identifiers
//! with double quotes, so quoting is plain data work, not an engine question.

use serde::Serialize;

/// A SQL string literal: single quotes, inner quotes doubled.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Quotes an identifier with double quotes (both DuckDB and Postgres), doubling inner quotes.
pub fn quote_ident(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_quoted_ident(&mut out, s);
    out
}

/// Appends `s` quoted as [`quote_ident`] does.
pub fn push_quoted_ident(out: &mut String, s: &str) {
    out.push('"');
    for (k, part) in s.split('"').enumerate() {
        if k > 0 {
            out.push_str("\"\"");
        }
        out.push_str(part);
    }
    out.push('"');
}

/// A relation in the database: schema and name, quoted for SQL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Relation {
    /// Schema.
    pub schema: String,
    /// Relation name.
    pub identifier: String,
}

impl Relation {
    /// `"schema"."identifier"`.
    pub fn quoted(&self) -> String {
        let mut out = String::with_capacity(self.schema.len() + self.identifier.len() + 5);
        push_quoted_ident(&mut out, &self.schema);
        out.push('.');
        push_quoted_ident(&mut out, &self.identifier);
        out
    }
}
/// A column as the database reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnMeta {
    /// Column name.
    pub name: String,
    /// Type as the database spells it.
    pub data_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("\"ab\""), "\"\"\"ab\"\"\"");
        assert_eq!(quote_ident(""), "\"\"");
        assert_eq!(quote_ident("plain"), "\"plain\"");
    }
}
