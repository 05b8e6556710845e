//! A model's data contract as compiled: the JSON Schema of one row and what it says of each
//! column.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value as J;

/// One column (property) of a contract.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ContractColumn {
    /// JSON types allowed (`integer`, `number`, `string`, `boolean`, `null`, ...); empty: any.
    pub types: Vec<String>,
    /// `format`, when given (`date`, `date-time`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Listed under `required`.
    pub required: bool,
}

impl ContractColumn {
    /// A column of these JSON types, without a format.
    pub fn of_types(types: &[&str], required: bool) -> Self {
        Self {
            types: types.iter().map(|t| t.to_string()).collect(),
            format: None,
            required,
        }
    }
}

/// A model's contract as compiled.
#[derive(Clone, Debug, Serialize)]
pub struct ContractInfo {
    /// The schema file as written, relative to the project root: the contract's version.
    pub schema: String,
    /// Whether it is enforced at run time.
    pub enforced: bool,
    /// SHA-256 of the schema file.
    pub checksum: String,
    /// Properties of one row.
    pub columns: BTreeMap<String, ContractColumn>,
    /// `additionalProperties: false`: no other column may exist.
    pub closed: bool,
    /// The schema document.
    #[serde(skip)]
    pub document: Arc<J>,
}

/// The schema compiled for validation (draft 2020-12, formats asserted).
pub fn validator(document: &J) -> Result<jsonschema::Validator, String> {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(document)
        .map_err(|e| e.to_string())
}
