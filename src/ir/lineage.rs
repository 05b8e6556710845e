//! Column-level lineage of a node, as the `lineage` stage of the compiler finds it: for each
//! output column the upstream columns it comes from, with OpenLineage's transformation type and
//! subtype, and the upstream columns that affect every row (joins, filters, grouping, sorting).
//! Inputs are named by the upstream node's unique id (model, seed, source, snapshot).

use serde::{Deserialize, Serialize};

/// OpenLineage's transformation `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TransformType {
    /// The value comes from the input (copied, computed or aggregated).
    Direct,
    /// The input decides which rows or values there are, not the value itself.
    Indirect,
}

/// OpenLineage's transformation `subtype`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransformSubtype {
    /// Copied as is.
    Identity,
    /// Computed from the input by a non-aggregating expression.
    Transformation,
    /// Computed by an aggregate function.
    Aggregation,
    /// Used in a join condition.
    Join,
    /// Used in `WHERE`, `HAVING` or `QUALIFY`.
    Filter,
    /// Used in `GROUP BY`.
    GroupBy,
    /// Used in `ORDER BY`.
    Sort,
    /// Used in a window's `PARTITION BY` or `ORDER BY`.
    Window,
    /// Used in a `CASE WHEN` condition (or another conditional choice).
    Conditional,
}

impl TransformSubtype {
    /// The transformation type this subtype belongs to.
    pub fn kind(self) -> TransformType {
        match self {
            Self::Identity | Self::Transformation | Self::Aggregation => TransformType::Direct,
            _ => TransformType::Indirect,
        }
    }

    /// The spelling of the OpenLineage spec (`GROUP_BY`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "IDENTITY",
            Self::Transformation => "TRANSFORMATION",
            Self::Aggregation => "AGGREGATION",
            Self::Join => "JOIN",
            Self::Filter => "FILTER",
            Self::GroupBy => "GROUP_BY",
            Self::Sort => "SORT",
            Self::Window => "WINDOW",
            Self::Conditional => "CONDITIONAL",
        }
    }
}

impl TransformType {
    /// The spelling of the OpenLineage spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "DIRECT",
            Self::Indirect => "INDIRECT",
        }
    }
}

/// One upstream column an output (or the whole dataset) depends on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InputField {
    /// The upstream node's unique id (`seed.shop.raw_orders`, `source.shop.raw.events`).
    pub node: String,
    /// The upstream column's name.
    pub column: String,
    /// How the input is used.
    pub subtype: TransformSubtype,
}

impl InputField {
    /// The transformation type (`DIRECT`/`INDIRECT`).
    pub fn kind(&self) -> TransformType {
        self.subtype.kind()
    }
}

/// The lineage of one output column.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnLineage {
    /// The output column's name.
    pub name: String,
    /// The upstream columns it comes from, sorted, each (node, column, subtype) once.
    pub inputs: Vec<InputField>,
    /// Why some of its inputs could not be resolved, when that is so: the inputs listed are
    /// then incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// The column-level lineage of a node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLineage {
    /// Output columns, in output order.
    pub columns: Vec<ColumnLineage>,
    /// Inputs that affect every row (joins, filters, grouping, sorting), sorted.
    pub dataset: Vec<InputField>,
    /// Why the output columns themselves are not known (a `*` over a relation whose columns
    /// are unknown), when that is so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}
