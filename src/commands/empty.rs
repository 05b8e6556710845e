//! `--empty` on `run` and `build`: every selected model's query, and every data test's, runs as
//! `select * from (<query>) where false limit 0`. The database still parses, binds and plans
//! the whole query (columns, types, functions, the relations it reads), then builds an empty
//! relation without reading any data: a fast check of a project's SQL against a real target.
//! Seeds load as usual (they are files, not queries); unit tests run on their given rows.
//!
//! dbt does the same by reading each `ref()` and `source()` as an empty subquery; wrapping the
//! node's own query keeps the compiled SQL (and the compile) untouched, and gives the same
//! result for every model: zero rows.

use crate::compile::Compiled;
use crate::ir::{CompiledNode, ResourceType};

/// `sql` as a query with the same columns and no rows.
pub fn empty_query(sql: &str) -> String {
    // The closing parenthesis goes on a line of its own: the query may end in a `--` comment.
    format!(
        "select * from (\n{}\n) as strata_empty where false limit 0",
        sql.trim_end().trim_end_matches(';').trim_end()
    )
}

/// Makes the selected models and data tests of `c` read zero rows.
pub fn apply(c: &mut Compiled, selected: &[usize]) {
    for &i in selected {
        apply_node(&mut c.nodes[i]);
    }
}

/// [`apply`] to one node: a model's or data test's SQL reads zero rows.
pub fn apply_node(n: &mut CompiledNode) {
    let data_test =
        n.resource_type == ResourceType::Test && n.test.as_ref().is_none_or(|t| t.unit.is_none());
    if n.resource_type != ResourceType::Model && !data_test {
        return;
    }
    for code in [&mut n.compiled_code, &mut n.compiled_incremental_code] {
        if let Some(sql) = code.as_mut() {
            *sql = empty_query(sql);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::empty_query;

    #[test]
    fn a_query_is_wrapped_whatever_ends_it() {
        assert_eq!(
            empty_query("select 1 as a;\n"),
            "select * from (\nselect 1 as a\n) as strata_empty where false limit 0"
        );
        assert_eq!(
            empty_query("select 1 -- the end"),
            "select * from (\nselect 1 -- the end\n) as strata_empty where false limit 0"
        );
    }
}
