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

/// A relation in the database: schema and name, quoted for SQL; a source may name its
/// database (catalog) too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Relation {
    /// Database (catalog), when a source names one (`database:`); the target's otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Schema.
    pub schema: String,
    /// Relation name.
    pub identifier: String,
}

impl Relation {
    /// A relation in the target's database.
    pub fn new(schema: impl Into<String>, identifier: impl Into<String>) -> Relation {
        Relation {
            database: None,
            schema: schema.into(),
            identifier: identifier.into(),
        }
    }

    /// `"schema"."identifier"`, or `"database"."schema"."identifier"`.
    pub fn quoted(&self) -> String {
        let db = self.database.as_ref().map_or(0, |d| d.len() + 3);
        let mut out = String::with_capacity(db + self.schema.len() + self.identifier.len() + 5);
        if let Some(d) = &self.database {
            push_quoted_ident(&mut out, d);
            out.push('.');
        }
        push_quoted_ident(&mut out, &self.schema);
        out.push('.');
        push_quoted_ident(&mut out, &self.identifier);
        out
    }
}

/// Which parts of a relation's name are quoted (dbt's `quoting:`, all true by default). strata
/// always writes names quoted; a part that is not to be quoted is written as the engine would
/// fold it unquoted ([`fold`]), which names the same relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Quoting {
    /// The database (catalog).
    pub database: bool,
    /// The schema.
    pub schema: bool,
    /// The relation's own name.
    pub identifier: bool,
}

impl Default for Quoting {
    fn default() -> Self {
        Quoting {
            database: true,
            schema: true,
            identifier: true,
        }
    }
}

/// A quoting policy written in YAML: each part set or left to the level above.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotingProps {
    /// `database:`.
    pub database: Option<bool>,
    /// `schema:`.
    pub schema: Option<bool>,
    /// `identifier:`.
    pub identifier: Option<bool>,
}

impl Quoting {
    /// This policy with the parts `props` sets replaced.
    pub fn with(self, props: &QuotingProps) -> Quoting {
        Quoting {
            database: props.database.unwrap_or(self.database),
            schema: props.schema.unwrap_or(self.schema),
            identifier: props.identifier.unwrap_or(self.identifier),
        }
    }
}

/// `name` as `engine` stores it when it is written unquoted (`quoted` false): Postgres folds
/// it to lower case; DuckDB and Spark keep it and match names without regard to case, so it
/// is kept.
pub fn fold(engine: super::AdapterKind, name: &str, quoted: bool) -> String {
    match engine {
        super::AdapterKind::Postgres if !quoted => name.to_ascii_lowercase(),
        _ => name.to_string(),
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
    fn a_relation_with_a_database_has_three_parts() {
        let mut r = Relation::new("crm", "Contacts");
        assert_eq!(r.quoted(), "\"crm\".\"Contacts\"");
        r.database = Some("raw".into());
        assert_eq!(r.quoted(), "\"raw\".\"crm\".\"Contacts\"");
    }

    #[test]
    fn unquoted_names_fold_as_the_engine_folds_them() {
        use crate::ir::AdapterKind;
        assert_eq!(fold(AdapterKind::Postgres, "MyModel", false), "mymodel");
        assert_eq!(fold(AdapterKind::Postgres, "MyModel", true), "MyModel");
        assert_eq!(fold(AdapterKind::Duckdb, "MyModel", false), "MyModel");
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("\"ab\""), "\"\"\"ab\"\"\"");
        assert_eq!(quote_ident(""), "\"\"");
        assert_eq!(quote_ident("plain"), "\"plain\"");
    }
}
