//! What differs between engines, as data: one [`Engine`] description per engine, kept beside
//! that engine's connection code (`duckdb.rs`, `postgres.rs`). The offline stages (project
//! loading, templates, SQL analysis, the compiler) read these descriptions and nothing else of
//! `adapter`; no module outside `adapter/` matches on the engine kind. A new engine is a new
//! description here plus its connection code.

use sqlparser::dialect::Dialect;

use crate::ir::AdapterKind;
use crate::ir::config::IncrementalStrategy;

/// A target field that cannot become part of the connection string: the field, what is
/// wrong, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The target field (`method`, `sslmode`, ...).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

/// What a type name holds, for checking values against it (seeds, contracts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeFamily {
    /// Whole numbers.
    Integer,
    /// Other numbers (fixed-point and floating).
    Number,
    /// Text.
    Text,
    /// Calendar dates.
    Date,
    /// Points in time.
    Timestamp,
    /// True or false.
    Boolean,
    /// JSON documents.
    Json,
}

/// The value of a target's rendered field, by name.
pub type TargetFields<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Makes a connection string of a target's fields (see `Engine::connection_string`).
pub type ConnectionString = fn(TargetFields) -> Result<Option<String>, FieldError>;

/// Why a strategy cannot run on a table format, and how to fix it (see
/// `Engine::strategy_error`).
pub type StrategyError = fn(IncrementalStrategy, Option<&str>) -> Option<(String, String)>;

/// The strategy check of engines whose tables have no partitions to overwrite (DuckDB,
/// Postgres): every strategy but `insert_overwrite` runs.
pub fn no_partition_overwrite(
    strategy: IncrementalStrategy,
    _file_format: Option<&str>,
) -> Option<(String, String)> {
    (strategy == IncrementalStrategy::InsertOverwrite).then(|| {
        (
            "incremental strategy `insert_overwrite` replaces partitions, which this engine's tables do not have".to_string(),
            "use `delete+insert` or `merge` with a `unique_key`, or choose per engine: {{ config(incremental_strategy='insert_overwrite' if target.type == 'spark' else 'delete+insert') }}".to_string(),
        )
    })
}

/// One engine, described.
pub struct Engine {
    /// Which engine.
    pub kind: AdapterKind,
    /// The `type:` values of a target that name it (the first is its name).
    pub type_names: &'static [&'static str],
    /// The schema models go to when the target names none.
    pub default_schema: &'static str,
    /// The longest identifier strata generates (audit tables), in bytes; longer names are cut
    /// with a hash suffix.
    pub identifier_limit: usize,
    /// The keys a target of this engine takes (in project.yml and profiles.yml).
    pub target_fields: &'static [&'static str],
    /// The keys it must have: one key of each group.
    pub required_target_fields: &'static [&'static [&'static str]],
    /// The SQL dialect its models are parsed in.
    pub dialect: fn() -> Box<dyn Dialect + Send + Sync>,
    /// Built-in functions this engine has and another engine does not, each with a portable
    /// spelling when there is one (`tests/dialect.rs` checks DuckDB's and Postgres' against
    /// both catalogs). A function another engine lists is foreign to this one unless this
    /// list names it too.
    pub own_functions: &'static [(&'static str, Option<&'static str>)],
    /// Type names it spells (lowercase, without size or precision), by family.
    pub types: &'static [(&'static str, TypeFamily)],
    /// The type name strata writes for a family when it chooses the type (seeds' inferred
    /// columns, their text staging columns).
    pub type_for: fn(TypeFamily) -> &'static str,
    /// The target's connection string with its secrets replaced, for messages.
    pub redact: fn(&str) -> String,
    /// The connection string a target's own fields make (the value of each rendered field
    /// by name), when the target gives no `dsn`; `None` when they make none.
    pub connection_string: ConnectionString,
    /// SQL for the seconds since the Unix epoch of a timestamp expression, as a number: a
    /// `timestamp without time zone` read as UTC, a `timestamp with time zone` as the instant
    /// it is (freshness checks).
    pub epoch_seconds: fn(&str) -> String,
    /// SQL for the name of an expression's type, as text (`timestamp with time zone`, ...).
    pub type_name_of: fn(&str) -> String,
    /// Why an incremental strategy cannot run on tables of the target's `file_format`, with
    /// how to fix it; `None` when it can.
    pub strategy_error: StrategyError,
    /// Portable type names (one or two words) the engine lacks, with its own spelling: the
    /// type of a cast in compiled SQL is respelled (`adapter::respell`).
    pub type_spellings: &'static [(&'static str, &'static str)],
}

impl Engine {
    /// The name used in `type:` and in messages.
    pub fn name(&self) -> &'static str {
        self.type_names[0]
    }

    /// Macro names `adapter.dispatch('base')` tries, in order.
    pub fn dispatch_candidates(&self, base: &str) -> [String; 2] {
        [
            format!("{}__{base}", self.name()),
            format!("default__{base}"),
        ]
    }
}

/// Every engine strata knows.
pub const ENGINES: [&Engine; 3] = [
    &super::duckdb::ENGINE,
    &super::postgres::ENGINE,
    &super::spark::ENGINE,
];

/// The description of an engine.
pub fn engine(kind: AdapterKind) -> &'static Engine {
    match kind {
        AdapterKind::Duckdb => &super::duckdb::ENGINE,
        AdapterKind::Postgres => &super::postgres::ENGINE,
        AdapterKind::Spark => &super::spark::ENGINE,
    }
}

/// The engine a target's `type:` names.
pub fn by_type_name(name: &str) -> Option<&'static Engine> {
    ENGINES.into_iter().find(|e| e.type_names.contains(&name))
}

/// The family of a type name as any engine spells it (lowercase, without size or precision).
pub fn type_family(name: &str) -> Option<TypeFamily> {
    ENGINES
        .iter()
        .find_map(|e| e.types.iter().find(|(n, _)| *n == name).map(|(_, f)| *f))
}

/// The functions a model compiled for `kind` must not call: those only another engine has,
/// with that engine and a portable spelling when there is one.
pub fn foreign_function(
    kind: AdapterKind,
    lowercase_name: &str,
) -> Option<(AdapterKind, Option<&'static str>)> {
    let own = engine(kind).own_functions;
    if own.iter().any(|(n, _)| *n == lowercase_name) {
        return None;
    }
    ENGINES.iter().filter(|e| e.kind != kind).find_map(|e| {
        e.own_functions
            .iter()
            .find(|(n, _)| *n == lowercase_name)
            .map(|(_, instead)| (e.kind, *instead))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_description() {
        for e in ENGINES {
            assert_eq!(engine(e.kind).name(), e.kind.as_str());
            assert_eq!(by_type_name(e.name()).map(|d| d.kind), Some(e.kind));
        }
        assert_eq!(
            by_type_name("postgresql").map(|e| e.kind),
            Some(AdapterKind::Postgres)
        );
        assert!(by_type_name("oracle").is_none());
    }

    #[test]
    fn type_names_are_found_in_either_engine() {
        assert_eq!(type_family("hugeint"), Some(TypeFamily::Integer));
        assert_eq!(type_family("bigserial"), Some(TypeFamily::Integer));
        assert_eq!(type_family("double precision"), Some(TypeFamily::Number));
        assert_eq!(type_family("jsonb"), Some(TypeFamily::Json));
        assert_eq!(type_family("blob"), None);
    }

    #[test]
    fn foreign_functions_name_the_engine_that_has_them() {
        assert_eq!(
            foreign_function(AdapterKind::Postgres, "strftime"),
            Some((AdapterKind::Duckdb, None))
        );
        assert_eq!(foreign_function(AdapterKind::Duckdb, "strftime"), None);
        assert!(foreign_function(AdapterKind::Duckdb, "to_char").is_some());
        // A function another engine lists is not foreign where this engine lists it too.
        assert_eq!(
            foreign_function(AdapterKind::Spark, "strftime"),
            Some((AdapterKind::Duckdb, None))
        );
        assert_eq!(foreign_function(AdapterKind::Spark, "datediff"), None);
        assert_eq!(foreign_function(AdapterKind::Spark, "to_char"), None);
        assert_eq!(
            foreign_function(AdapterKind::Duckdb, "collect_list").map(|f| f.0),
            Some(AdapterKind::Spark)
        );
    }

    #[test]
    fn spark_refuses_row_level_strategies_on_parquet_only() {
        use crate::ir::config::IncrementalStrategy as S;
        let spark = engine(AdapterKind::Spark);
        assert!((spark.strategy_error)(S::Append, None).is_none());
        let (message, help) = (spark.strategy_error)(S::Merge, None).unwrap();
        assert!(
            message.contains("`merge`") && message.contains("`parquet`"),
            "{message}"
        );
        assert!(help.contains("append"), "{help}");
        assert!((spark.strategy_error)(S::DeleteInsert, Some("orc")).is_some());
        assert!((spark.strategy_error)(S::Merge, Some("delta")).is_none());
        assert!((spark.strategy_error)(S::InsertOverwrite, None).is_none());
        let duckdb = engine(AdapterKind::Duckdb);
        assert!((duckdb.strategy_error)(S::Merge, None).is_none());
        let (message, _) = (duckdb.strategy_error)(S::InsertOverwrite, None).unwrap();
        assert!(message.contains("`insert_overwrite`"), "{message}");
    }
}
