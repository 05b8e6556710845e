//! How each node looks in `manifest.json`: the shapes of dbt's manifest v12 (`Model`, `Seed`,
//! `SingularTest`, `GenericTest`, `SourceDefinition`, `Exposure`, `UnitTestDefinition`), filled
//! in from the compiled nodes.
//!
//! dbt's node shapes are closed: no key of strata's own may be added beside dbt's. What strata
//! knows beyond them goes into the one object every shape leaves open, the node's `config`:
//! strata's own config keys (`owner`, `retries`, `statement_timeout`, `indexes`) as resolved,
//! and under `config.strata` the compiled facts dbt has no field for (the data contract that
//! `--state` reads back, the compiled SQL's checksum, incremental SQL, rendered hooks, a unit
//! test's compiled inputs). A config key cannot clash with a user's: strata rejects unknown
//! config keys, while `meta` is the user's to fill and stays exactly as written.
//!
//! Only serialization here: no I/O, nothing computed that the compiler did not already know.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value as J;

use super::Manifest;
use crate::diagnostics::display_path_cow;
use crate::ir::contract::ContractInfo;
use crate::ir::node::ColumnInfo;
use crate::ir::unit::{Rows, UnitSpec};
use crate::ir::{CompiledNode, Materialized, NodeConfig, Relation, ResourceType};

/// The dbt shape a node takes in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    Model,
    Seed,
    SingularTest,
    GenericTest,
    UnitTest,
    Source,
    Exposure,
}

impl Shape {
    /// The shape of `n`: tests split by kind (dbt keeps unit tests in a map of their own).
    pub(super) fn of(n: &CompiledNode) -> Shape {
        match n.resource_type {
            ResourceType::Model => Shape::Model,
            ResourceType::Seed => Shape::Seed,
            ResourceType::Source => Shape::Source,
            ResourceType::Exposure => Shape::Exposure,
            ResourceType::Test => match n.test.as_deref() {
                Some(t) if t.unit.is_some() => Shape::UnitTest,
                Some(t) if t.test_type == "generic" => Shape::GenericTest,
                _ => Shape::SingularTest,
            },
        }
    }

    /// dbt's `resource_type`.
    fn resource_type(self) -> &'static str {
        match self {
            Shape::Model => "model",
            Shape::Seed => "seed",
            Shape::SingularTest | Shape::GenericTest => "test",
            Shape::UnitTest => "unit_test",
            Shape::Source => "source",
            Shape::Exposure => "exposure",
        }
    }
}

/// A node as the manifest shows it.
pub(super) struct NodeOut<'a> {
    pub(super) m: &'a Manifest<'a>,
    pub(super) n: &'a CompiledNode,
    /// Its index in the DAG.
    pub(super) i: usize,
}

impl Serialize for NodeOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match Shape::of(self.n) {
            Shape::Source => self.source(&mut map)?,
            Shape::Exposure => self.exposure(&mut map)?,
            Shape::UnitTest => self.unit_test(&mut map)?,
            shape => self.sql_node(&mut map, shape)?,
        }
        map.end()
    }
}

/// `null`.
const NULL: Option<()> = None;
/// `[]`.
const NONE: [(); 0] = [];

/// `{}`.
struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_map(Some(0))?.end()
    }
}

impl<'a> NodeOut<'a> {
    /// The fields every shape has, in dbt's order.
    fn identity<M: SerializeMap>(&self, m: &mut M, shape: Shape) -> Result<(), M::Error> {
        let n = self.n;
        m.serialize_entry("name", &n.name)?;
        m.serialize_entry("resource_type", shape.resource_type())?;
        // The package is the id's second part (`model.<package>.<name>`), as in dbt.
        let package = n
            .unique_id
            .split('.')
            .nth(1)
            .unwrap_or(&self.m.c.project.name);
        m.serialize_entry("package_name", package)?;
        m.serialize_entry("path", &self.path(shape))?;
        // A package's file is where it is in the package, as dbt writes it.
        let (_, file) = super::in_package(&self.m.c.project, &n.original_file_path);
        m.serialize_entry("original_file_path", &file)?;
        m.serialize_entry("unique_id", &n.unique_id)?;
        m.serialize_entry("fqn", &n.fqn)
    }

    /// dbt's `path`: relative to the resource folder (`model-paths`, ...) that holds the file;
    /// a generic test's is a file named after it beside its properties file, a source's the
    /// properties file itself, as dbt writes them.
    fn path(&self, shape: Shape) -> Cow<'a, str> {
        let file = display_path_cow(&self.n.original_file_path);
        if shape == Shape::Source {
            return file;
        }
        let rel = match file {
            Cow::Borrowed(f) => Cow::Borrowed(self.m.relative(f)),
            Cow::Owned(f) => Cow::Owned(self.m.relative(&f).to_string()),
        };
        if shape != Shape::GenericTest {
            return rel;
        }
        match rel.rsplit_once('/') {
            Some((dir, _)) => Cow::Owned(format!("{dir}/{}.sql", self.n.name)),
            None => Cow::Owned(format!("{}.sql", self.n.name)),
        }
    }

    /// The relation the node builds (none for an ephemeral model) or, for a test, where its
    /// failing rows are kept.
    fn relation(&self) -> Option<&'a Relation> {
        let n = self.n;
        if n.resource_type == ResourceType::Model && n.materialized() == Materialized::Ephemeral {
            return None;
        }
        n.relation
            .as_ref()
            .or_else(|| n.test.as_deref()?.audit_relation.as_ref())
    }

    /// The compiled SQL shown: none for a node written as SQL when the manifest leaves
    /// compiled SQL out (`parse`).
    fn compiled_code(&self) -> Option<&'a str> {
        let n = self.n;
        if self.m.with_compiled || n.raw_code.is_none() {
            n.compiled_code.as_deref()
        } else {
            None
        }
    }

    /// A model, seed or data test.
    fn sql_node<M: SerializeMap>(&self, m: &mut M, shape: Shape) -> Result<(), M::Error> {
        let n = self.n;
        let rel = self.relation();
        m.serialize_entry("database", &NULL)?;
        let schema = rel.map_or(&self.m.c.target.info.schema, |r| &r.schema);
        m.serialize_entry("schema", schema)?;
        self.identity(m, shape)?;
        m.serialize_entry("alias", rel.map_or(&n.name, |r| &r.identifier))?;
        m.serialize_entry("checksum", &FileHash(&n.checksum))?;
        m.serialize_entry("config", &ConfigOut { node: self, shape })?;
        self.documentation(m)?;
        if n.config.docs.is_some() {
            m.serialize_entry("docs", &DocsOut(n.config.docs.as_ref()))?;
        }
        m.serialize_entry("relation_name", &rel.map(Relation::quoted))?;
        m.serialize_entry("raw_code", n.raw_code.as_deref().unwrap_or(""))?;
        if shape == Shape::Seed {
            return m.serialize_entry("depends_on", &DependsOut(None, &n.depends_on_macros));
        }
        m.serialize_entry("language", "sql")?;
        self.refs_and_sources(m)?;
        m.serialize_entry(
            "depends_on",
            &DependsOut(Some(&n.depends_on), &n.depends_on_macros),
        )?;
        let code = self.compiled_code();
        m.serialize_entry("compiled", &code.is_some())?;
        m.serialize_entry("compiled_code", &code)?;
        if n.contract.is_some() {
            m.serialize_entry("contract", &ContractOut(n, true))?;
        }
        if shape == Shape::GenericTest {
            self.test_fields(m)?;
        }
        Ok(())
    }

    /// `tags`, `description`, `columns` and `meta`.
    fn documentation<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let n = self.n;
        m.serialize_entry("tags", &n.config.tags)?;
        m.serialize_entry("description", n.description.as_deref().unwrap_or(""))?;
        m.serialize_entry("columns", &ColumnsOut(&n.columns))?;
        m.serialize_entry("meta", &n.config.meta)
    }

    /// `refs`, `sources` and `metrics`: what the node reads, by name, in `depends_on`'s order.
    fn refs_and_sources<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let nodes = &self.m.c.nodes;
        let mut parents: Vec<&CompiledNode> = self
            .m
            .c
            .dag
            .parents(self.i)
            .iter()
            .map(|&p| &nodes[p])
            .collect();
        parents.sort_unstable_by(|a, b| a.unique_id.cmp(&b.unique_id));
        m.serialize_entry("refs", &RefsOut(&parents))?;
        m.serialize_entry("sources", &SourcesOut(&parents))?;
        m.serialize_entry("metrics", &NONE)
    }

    /// A generic test's own fields: the column and node it tests, and its arguments.
    fn test_fields<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let Some(t) = self.n.test.as_deref() else {
            return Ok(());
        };
        m.serialize_entry("column_name", &t.column_name)?;
        m.serialize_entry("attached_node", &t.attached_node)?;
        m.serialize_entry("test_metadata", &TestMetadata(t))
    }

    /// A source table.
    fn source<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let n = self.n;
        let rel = n.relation.as_ref();
        let info = n.source.as_deref();
        let source_name = info.map_or("", |s| s.source_name.as_str());
        let props = self.m.sources.get(source_name);
        m.serialize_entry("database", &rel.and_then(|r| r.database.as_ref()))?;
        let schema = rel.map_or(&self.m.c.target.info.schema, |r| &r.schema);
        m.serialize_entry("schema", schema)?;
        self.identity(m, Shape::Source)?;
        m.serialize_entry("source_name", source_name)?;
        let source_description = props.and_then(|p| p.description.as_deref());
        m.serialize_entry("source_description", source_description.unwrap_or(""))?;
        m.serialize_entry(
            "loader",
            props.and_then(|p| p.loader.as_deref()).unwrap_or(""),
        )?;
        m.serialize_entry("identifier", rel.map_or(&n.name, |r| &r.identifier))?;
        // The parts quoted: the project's `quoting:`, then the source's, then the table's.
        let quoting = props.map_or(self.m.c.project.quoting, |p| {
            let table = p.tables.iter().find(|t| t.name == n.name);
            let q = self.m.c.project.quoting.with(&p.quoting);
            table.map_or(q, |t| q.with(&t.quoting))
        });
        m.serialize_entry("quoting", &quoting)?;
        m.serialize_entry(
            "loaded_at_field",
            &info.and_then(|s| s.loaded_at_field.as_ref()),
        )?;
        m.serialize_entry("freshness", &info.and_then(|s| s.freshness.as_ref()))?;
        m.serialize_entry("external", &NULL)?;
        m.serialize_entry("description", n.description.as_deref().unwrap_or(""))?;
        m.serialize_entry("columns", &ColumnsOut(&n.columns))?;
        m.serialize_entry("meta", &n.config.meta)?;
        match props {
            Some(p) => m.serialize_entry("source_meta", &p.meta)?,
            None => m.serialize_entry("source_meta", &Empty)?,
        }
        m.serialize_entry("tags", &n.config.tags)?;
        let config = ConfigOut {
            node: self,
            shape: Shape::Source,
        };
        m.serialize_entry("config", &config)?;
        m.serialize_entry("patch_path", &NULL)?;
        m.serialize_entry("unrendered_config", &Empty)?;
        m.serialize_entry("relation_name", &rel.map(Relation::quoted))
    }

    /// An exposure.
    fn exposure<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let n = self.n;
        let e = n.exposure.as_deref();
        self.identity(m, Shape::Exposure)?;
        m.serialize_entry("type", e.map_or("dashboard", |e| e.exposure_type.as_str()))?;
        m.serialize_entry(
            "owner",
            &Owner {
                email: e.and_then(|e| e.owner_email.as_deref()),
                name: e.and_then(|e| e.owner_name.as_deref()),
            },
        )?;
        m.serialize_entry("description", n.description.as_deref().unwrap_or(""))?;
        m.serialize_entry("label", &e.and_then(|e| e.label.as_ref()))?;
        m.serialize_entry("maturity", &e.and_then(|e| e.maturity.as_ref()))?;
        m.serialize_entry("meta", &n.config.meta)?;
        m.serialize_entry("tags", &n.config.tags)?;
        let config = ConfigOut {
            node: self,
            shape: Shape::Exposure,
        };
        m.serialize_entry("config", &config)?;
        m.serialize_entry("unrendered_config", &Empty)?;
        m.serialize_entry("url", &e.and_then(|e| e.url.as_ref()))?;
        m.serialize_entry(
            "depends_on",
            &DependsOut(Some(&n.depends_on), &n.depends_on_macros),
        )?;
        self.refs_and_sources(m)
    }

    /// A unit test: its model, given rows and expected rows.
    fn unit_test<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let n = self.n;
        let spec = n.test.as_deref().and_then(|t| t.unit.as_deref());
        m.serialize_entry("model", spec.map_or("", |s| s.model.as_str()))?;
        m.serialize_entry("given", &GivenOut(spec))?;
        m.serialize_entry("expect", &FixtureOut(spec.map(|s| &s.expect)))?;
        self.identity(m, Shape::UnitTest)?;
        m.serialize_entry("description", n.description.as_deref().unwrap_or(""))?;
        m.serialize_entry(
            "depends_on",
            &DependsOut(Some(&n.depends_on), &n.depends_on_macros),
        )?;
        let config = ConfigOut {
            node: self,
            shape: Shape::UnitTest,
        };
        m.serialize_entry("config", &config)?;
        m.serialize_entry("checksum", &n.checksum)
    }
}

/// dbt's `FileHash`: `{name: sha256, checksum}`.
struct FileHash<'a>(&'a str);

impl Serialize for FileHash<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("name", "sha256")?;
        m.serialize_entry("checksum", self.0)?;
        m.end()
    }
}

/// `{show, node_color}` from the `docs` config (validated to hold only those keys).
struct DocsOut<'a>(Option<&'a J>);

impl Serialize for DocsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let show = self.0.and_then(|d| d.get("show")?.as_bool());
        let color = self.0.and_then(|d| d.get("node_color")?.as_str());
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("show", &show.unwrap_or(true))?;
        m.serialize_entry("node_color", &color)?;
        m.end()
    }
}

/// dbt's `contract` (the node's, with a checksum, or the config's): enforced when the model
/// has a data contract that is enforced. strata's contract itself is under `config.strata`.
struct ContractOut<'a>(&'a CompiledNode, bool);

impl Serialize for ContractOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let enforced = self.0.contract.as_deref().is_some_and(|c| c.enforced);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("enforced", &enforced)?;
        m.serialize_entry("alias_types", &true)?;
        if self.1 {
            m.serialize_entry("checksum", &NULL)?;
        }
        m.end()
    }
}

/// `{macros: [...], nodes: [...]}`; only `macros` for a seed (`None`): the macros its
/// template called itself.
struct DependsOut<'a>(Option<&'a [String]>, &'a [String]);

impl Serialize for DependsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("macros", self.1)?;
        if let Some(nodes) = self.0 {
            m.serialize_entry("nodes", nodes)?;
        }
        m.end()
    }
}

/// `refs`: `[{name}]` for each model or seed read (`package` and `version` left at dbt's
/// default, null: strata has neither packages nor model versions).
struct RefsOut<'a>(&'a [&'a CompiledNode]);

impl Serialize for RefsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct RefArgs<'a> {
            name: &'a str,
        }
        s.collect_seq(
            self.0
                .iter()
                .filter(|p| matches!(p.resource_type, ResourceType::Model | ResourceType::Seed))
                .map(|p| RefArgs { name: &p.name }),
        )
    }
}

/// `sources`: `[[source, table]]` for each source table read.
struct SourcesOut<'a>(&'a [&'a CompiledNode]);

impl Serialize for SourcesOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().filter_map(|p| {
            let src = p.source.as_deref()?;
            Some([src.source_name.as_str(), p.name.as_str()])
        }))
    }
}

/// `columns`: a map by column name (the first of a name when one repeats).
struct ColumnsOut<'a>(&'a [ColumnInfo]);

impl Serialize for ColumnsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let cols = self.0;
        let mut m = s.serialize_map(None)?;
        for (k, c) in cols.iter().enumerate() {
            if cols[..k].iter().any(|p| p.name == c.name) {
                continue;
            }
            m.serialize_entry(&c.name, &ColumnOut(c))?;
        }
        m.end()
    }
}

/// dbt's `ColumnInfo`.
struct ColumnOut<'a>(&'a ColumnInfo);

impl Serialize for ColumnOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("name", &c.name)?;
        m.serialize_entry("description", c.description.as_deref().unwrap_or(""))?;
        m.serialize_entry("meta", &c.meta)?;
        m.serialize_entry("data_type", &c.data_type)?;
        m.serialize_entry("tags", &c.tags)?;
        m.end()
    }
}

/// `test_metadata`: the generic test's name and arguments (its column among them, as dbt
/// passes it).
struct TestMetadata<'a>(&'a crate::ir::node::TestInfo);

impl Serialize for TestMetadata<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Kwargs<'a>(&'a crate::ir::node::TestInfo);
        impl Serialize for Kwargs<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let t = self.0;
                let mut m = s.serialize_map(None)?;
                if let Some(c) = &t.column_name
                    && !t.kwargs.contains_key("column_name")
                {
                    m.serialize_entry("column_name", c)?;
                }
                for (k, v) in &t.kwargs {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("name", &self.0.test_name)?;
        m.serialize_entry("kwargs", &Kwargs(self.0))?;
        m.serialize_entry("namespace", &NULL)?;
        m.end()
    }
}

/// An exposure's `owner`.
#[derive(Serialize)]
struct Owner<'a> {
    email: Option<&'a str>,
    name: Option<&'a str>,
}

/// A unit test's `given`: each input with its rows.
struct GivenOut<'a>(Option<&'a UnitSpec>);

impl Serialize for GivenOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Input<'a>(&'a crate::ir::unit::Given);
        impl Serialize for Input<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("input", &self.0.input)?;
                m.serialize_entry("rows", &RowsOut(&self.0.rows))?;
                m.serialize_entry("format", "dict")?;
                m.end()
            }
        }
        s.collect_seq(self.0.iter().flat_map(|u| u.given.iter().map(Input)))
    }
}

/// A unit test's `expect`.
struct FixtureOut<'a>(Option<&'a Rows>);

impl Serialize for FixtureOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        match self.0 {
            Some(rows) => m.serialize_entry("rows", &RowsOut(rows))?,
            None => m.serialize_entry("rows", &NONE)?,
        }
        m.serialize_entry("format", "dict")?;
        m.end()
    }
}

/// Rows as dbt's `dict` format: one `{column: value}` per row.
struct RowsOut<'a>(&'a Rows);

impl Serialize for RowsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Row<'a>(&'a [String], &'a [J]);
        impl Serialize for Row<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().zip(self.1))
            }
        }
        let r = self.0;
        s.collect_seq(r.rows.iter().map(|row| Row(&r.columns, row)))
    }
}

/// A node's `config`: dbt's keys for its shape, strata's own config keys when set, and
/// `strata` with the compiled facts dbt has no field for.
struct ConfigOut<'a> {
    node: &'a NodeOut<'a>,
    shape: Shape,
}

impl Serialize for ConfigOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.node.n;
        let c: &NodeConfig = &n.config;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("enabled", &true)?;
        if let Some(v) = &c.alias {
            m.serialize_entry("alias", v)?;
        }
        if let Some(v) = &c.schema {
            m.serialize_entry("schema", v)?;
        }
        m.serialize_entry("tags", &c.tags)?;
        m.serialize_entry("meta", &c.meta)?;
        match self.shape {
            Shape::Model | Shape::Seed => model_config(&mut m, n, c)?,
            Shape::SingularTest | Shape::GenericTest => test_config(&mut m, c)?,
            Shape::Source => {
                let info = n.source.as_deref();
                if let Some(v) = info.and_then(|s| s.loaded_at_field.as_ref()) {
                    m.serialize_entry("loaded_at_field", v)?;
                }
                if let Some(v) = info.and_then(|s| s.freshness.as_ref()) {
                    m.serialize_entry("freshness", v)?;
                }
            }
            Shape::Exposure | Shape::UnitTest => {}
        }
        own_config(&mut m, c)?;
        let facts = StrataFacts::of(self.node);
        if !facts.is_empty() {
            m.serialize_entry("strata", &facts)?;
        }
        m.end()
    }
}

/// A model's or seed's dbt config keys: the materialization, and the others when set.
fn model_config<M: SerializeMap>(
    m: &mut M,
    n: &CompiledNode,
    c: &NodeConfig,
) -> Result<(), M::Error> {
    m.serialize_entry("materialized", n.materialized().as_str())?;
    if let Some(v) = &c.incremental_strategy {
        m.serialize_entry("incremental_strategy", v)?;
    }
    if !c.post_hook.is_empty() {
        m.serialize_entry("post-hook", &HooksOut(&c.post_hook))?;
    }
    if !c.pre_hook.is_empty() {
        m.serialize_entry("pre-hook", &HooksOut(&c.pre_hook))?;
    }
    if !c.column_types.is_empty() {
        m.serialize_entry("column_types", &c.column_types)?;
    }
    if let Some(v) = &c.full_refresh {
        m.serialize_entry("full_refresh", v)?;
    }
    if let Some(v) = &c.unique_key {
        m.serialize_entry("unique_key", v)?;
    }
    if let Some(v) = &c.on_schema_change {
        m.serialize_entry("on_schema_change", v)?;
    }
    if let Some(v) = &c.grants {
        m.serialize_entry("grants", v)?;
    }
    if c.docs.is_some() {
        m.serialize_entry("docs", &DocsOut(c.docs.as_ref()))?;
    }
    if n.contract.is_some() {
        m.serialize_entry("contract", &ContractOut(n, false))?;
    }
    // dbt-spark's keys, as it writes them.
    let l = &c.layout;
    if let Some(v) = &l.file_format {
        m.serialize_entry("file_format", v)?;
    }
    if let Some(v) = &l.partition_by {
        m.serialize_entry("partition_by", v)?;
    }
    if let Some(v) = &l.clustered_by {
        m.serialize_entry("clustered_by", v)?;
    }
    if let Some(v) = &l.buckets {
        m.serialize_entry("buckets", v)?;
    }
    if let Some(v) = &l.location_root {
        m.serialize_entry("location_root", v)?;
    }
    if let Some(v) = &l.tblproperties {
        m.serialize_entry("tblproperties", v)?;
    }
    Ok(())
}

/// A data test's dbt config keys: the materialization and severity, the others when set.
fn test_config<M: SerializeMap>(m: &mut M, c: &NodeConfig) -> Result<(), M::Error> {
    m.serialize_entry("materialized", "test")?;
    match &c.severity {
        Some(s) => m.serialize_entry("severity", s)?,
        None => m.serialize_entry("severity", "error")?,
    }
    if let Some(v) = &c.store_failures {
        m.serialize_entry("store_failures", v)?;
    }
    if let Some(v) = &c.where_clause {
        m.serialize_entry("where", v)?;
    }
    if let Some(v) = &c.limit {
        m.serialize_entry("limit", v)?;
    }
    m.serialize_entry("fail_calc", c.fail_calc.as_deref().unwrap_or("count(*)"))?;
    if let Some(v) = &c.warn_if {
        m.serialize_entry("warn_if", v)?;
    }
    if let Some(v) = &c.error_if {
        m.serialize_entry("error_if", v)?;
    }
    Ok(())
}

/// strata's own config keys, when set: dbt's config takes keys it does not know.
fn own_config<M: SerializeMap>(m: &mut M, c: &NodeConfig) -> Result<(), M::Error> {
    if let Some(v) = &c.owner {
        m.serialize_entry("owner", v)?;
    }
    if let Some(v) = &c.retries {
        m.serialize_entry("retries", v)?;
    }
    if let Some(v) = &c.retry_initial_delay {
        m.serialize_entry("retry_initial_delay", v)?;
    }
    if let Some(v) = &c.statement_timeout {
        m.serialize_entry("statement_timeout", v)?;
    }
    if let Some(v) = &c.indexes {
        m.serialize_entry("indexes", v)?;
    }
    Ok(())
}

/// Hooks as dbt's `[{sql, transaction, index}]`, as written.
struct HooksOut<'a>(&'a [String]);

impl Serialize for HooksOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Hook<'a> {
            sql: &'a str,
            transaction: bool,
            index: Option<()>,
        }
        s.collect_seq(self.0.iter().map(|sql| Hook {
            sql,
            transaction: true,
            index: None,
        }))
    }
}

/// `config.strata`: what the compiler knows of a node that dbt's shapes have no field for.
#[derive(Serialize)]
struct StrataFacts<'a> {
    /// The data contract (a JSON Schema file): what `--state` compares against.
    #[serde(skip_serializing_if = "Option::is_none")]
    contract: Option<&'a ContractInfo>,
    /// sha256 of the compiled SQL.
    #[serde(skip_serializing_if = "Option::is_none")]
    compiled_checksum: Option<&'a str>,
    /// An incremental model's SQL for runs where its table exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    compiled_incremental_code: Option<&'a str>,
    /// Rendered pre-hooks.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pre_hooks: &'a [String],
    /// Rendered post-hooks.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    post_hooks: &'a [String],
    /// A unit test's SQL (dbt's unit test shape has no compiled SQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    compiled_code: Option<&'a str>,
    /// A unit test as compiled: the model's query and the input each given rows replace.
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a UnitSpec>,
    /// Column-level lineage: each output column's inputs, and what affects every row.
    #[serde(skip_serializing_if = "Option::is_none")]
    column_lineage: Option<&'a crate::ir::lineage::NodeLineage>,
}

impl<'a> StrataFacts<'a> {
    fn of(node: &NodeOut<'a>) -> Self {
        let n = node.n;
        let unit = n.test.as_deref().and_then(|t| t.unit.as_deref());
        let with_compiled = node.m.with_compiled || n.raw_code.is_none();
        StrataFacts {
            contract: n.contract.as_deref(),
            compiled_checksum: n.compiled_checksum.as_deref().filter(|_| with_compiled),
            compiled_incremental_code: n.compiled_incremental_code.as_deref(),
            pre_hooks: &n.pre_hooks,
            post_hooks: &n.post_hooks,
            compiled_code: unit.and(n.compiled_code.as_deref()),
            unit,
            column_lineage: n.lineage.as_deref(),
        }
    }

    fn is_empty(&self) -> bool {
        self.contract.is_none()
            && self.compiled_checksum.is_none()
            && self.compiled_incremental_code.is_none()
            && self.pre_hooks.is_empty()
            && self.post_hooks.is_empty()
            && self.compiled_code.is_none()
            && self.unit.is_none()
            && self.column_lineage.is_none()
    }
}

/// `path` of a file under a resource folder (paths written with `/`): relative to the folder
/// that holds it (the first of `roots`, longest first, that is a prefix), else as given.
pub(super) fn relative_to<'p>(roots: &[String], file: &'p str) -> &'p str {
    roots
        .iter()
        .find_map(|r| file.strip_prefix(r.as_str())?.strip_prefix('/'))
        .unwrap_or(file)
}
