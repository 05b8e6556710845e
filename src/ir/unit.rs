//! A unit test as compiled: the model's query and the rows given for each of its inputs.

use serde::Serialize;
use serde_json::Value as J;

use super::Relation;

/// Rows written in a unit test: column names and one value per column.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Rows {
    /// Column names, in first-seen order.
    pub columns: Vec<String>,
    /// Values (null when a row leaves a column out).
    pub rows: Vec<Vec<J>>,
    /// Values came from CSV text: without a known type, numbers are recognised.
    #[serde(skip)]
    pub from_csv: bool,
}

impl Rows {
    /// Rows from YAML mappings (`- {id: 1, name: a}`), columns in first-written order.
    pub fn from_maps(maps: &[Vec<(String, J)>]) -> Rows {
        let mut columns: Vec<String> = Vec::new();
        for m in maps {
            for (k, _) in m {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
        let rows = maps
            .iter()
            .map(|m| {
                columns
                    .iter()
                    .map(|c| {
                        m.iter()
                            .find(|(k, _)| k == c)
                            .map(|(_, v)| v.clone())
                            .unwrap_or(J::Null)
                    })
                    .collect()
            })
            .collect();
        Rows {
            columns,
            rows,
            from_csv: false,
        }
    }

    /// Rows from CSV text with a header line; an empty field is null.
    pub fn from_csv(text: &str) -> Result<Rows, String> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| e.to_string())?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::new();
        for (k, rec) in reader.records().enumerate() {
            let rec = rec.map_err(|e| format!("CSV row {}: {e}", k + 1))?;
            if rec.len() != columns.len() {
                return Err(format!(
                    "CSV row {} has {} values for {} columns",
                    k + 1,
                    rec.len(),
                    columns.len()
                ));
            }
            rows.push(
                rec.iter()
                    .map(|v| {
                        if v.is_empty() {
                            J::Null
                        } else {
                            J::String(v.to_string())
                        }
                    })
                    .collect(),
            );
        }
        Ok(Rows {
            columns,
            rows,
            from_csv: true,
        })
    }
}

/// One input of the model and the rows it is given.
#[derive(Clone, Debug, Serialize)]
pub struct Given {
    /// As written: `ref('stg_x')`, `source('erp', 'invoices')`, `this`.
    pub input: String,
    /// The CTE that replaces the input in the model's query.
    pub cte: String,
    /// The input's relation, whose column types are used when it exists.
    pub relation: Option<Relation>,
    /// The given rows.
    pub rows: Rows,
}

/// A compiled unit test.
#[derive(Clone, Debug, Serialize)]
pub struct UnitSpec {
    /// The tested model's name.
    pub model: String,
    /// The model's query with each input replaced by its CTE.
    pub model_sql: String,
    /// Inputs.
    pub given: Vec<Given>,
    /// Expected output rows (only the columns listed are compared).
    pub expect: Rows,
}
