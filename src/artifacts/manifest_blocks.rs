//! The manifest's `macros` and `docs` maps: each `{% macro %}` (and `{% test %}`, which is
//! the macro `test_<name>`) of the project's macro files, and each `{% docs %}` block, in dbt's
//! `Macro` and `Documentation` shapes, sorted by unique id.
//!
//! Only serialization here; the blocks are found in the files the project already read.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::Manifest;
use crate::diagnostics::display_path_cow;

/// Where the built-in macros are said to be (they are part of strata).
const BUILTINS_PATH: &str = "strata/builtins.sql";

/// The `macros` map.
pub(super) struct MacrosOut<'a>(pub(super) &'a Manifest<'a>);

impl Serialize for MacrosOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let project = &self.0.c.project;
        let mut macros = BTreeMap::new();
        for f in &project.macro_files {
            // A package's macros are `macro.<package>.<name>`, their paths in the package.
            let (package, path) = super::in_package(project, &f.path);
            for (name, sql) in macro_blocks(&f.text) {
                let id = format!("macro.{package}.{name}");
                macros.insert(id, (name, package, path.clone(), sql));
            }
        }
        // The built-ins, as package `dbt`'s (where dbt has them).
        for (name, sql) in macro_blocks(crate::jinja::BUILTINS) {
            let id = format!("macro.dbt.{name}");
            macros
                .entry(id)
                .or_insert((name, "dbt", BUILTINS_PATH.into(), sql));
        }
        let mut m = s.serialize_map(Some(macros.len()))?;
        for (id, (name, package, path, sql)) in &macros {
            m.serialize_entry(
                id,
                &MacroOut {
                    name,
                    resource_type: "macro",
                    package_name: package,
                    path,
                    original_file_path: path,
                    unique_id: id,
                    macro_sql: sql,
                    depends_on: MacroDependsOn { macros: [] },
                    description: "",
                    meta: BTreeMap::new(),
                    arguments: [],
                },
            )?;
        }
        m.end()
    }
}

/// dbt's `Macro`.
#[derive(Serialize)]
struct MacroOut<'a> {
    name: &'a str,
    resource_type: &'static str,
    package_name: &'a str,
    path: &'a str,
    original_file_path: &'a str,
    unique_id: &'a str,
    macro_sql: &'a str,
    depends_on: MacroDependsOn,
    description: &'static str,
    meta: BTreeMap<(), ()>,
    arguments: [(); 0],
}

/// `{macros: []}`: strata does not record which macros a macro calls.
#[derive(Serialize)]
struct MacroDependsOn {
    macros: [(); 0],
}

/// The `docs` map.
pub(super) struct DocBlocksOut<'a>(pub(super) &'a Manifest<'a>);

impl Serialize for DocBlocksOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Documentation<'a> {
            name: &'a str,
            resource_type: &'static str,
            package_name: &'a str,
            path: &'a str,
            original_file_path: &'a str,
            unique_id: &'a str,
            block_contents: &'a str,
        }
        let project = &self.0.c.project;
        let all = std::iter::once((&project.name, &project.docs)).chain(&project.package_docs);
        let mut blocks = BTreeMap::new();
        for (package, docs) in all {
            for (name, block) in docs {
                blocks.insert(format!("doc.{package}.{name}"), (name, block));
            }
        }
        let mut m = s.serialize_map(Some(blocks.len()))?;
        for (id, (name, block)) in &blocks {
            let (package, file) = super::in_package(project, &block.span.file);
            let shown = display_path_cow(&block.span.file);
            m.serialize_entry(
                id,
                &Documentation {
                    name,
                    resource_type: "doc",
                    package_name: package,
                    path: self.0.relative(&shown),
                    original_file_path: &file,
                    unique_id: id,
                    block_contents: &block.text,
                },
            )?;
        }
        m.end()
    }
}

/// Each `{% macro name(...) %}...{% endmacro %}` of a macro file as (name, the block's text),
/// and each `{% test name(...) %}...{% endtest %}` as the macro `test_<name>`.
pub fn macro_blocks(text: &str) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some((start, end, tag)) = next_tag(text, pos) {
        pos = end;
        let Some((kind, rest)) = tag.split_once(char::is_whitespace) else {
            continue;
        };
        let end_kw = match kind {
            "macro" => "endmacro",
            "test" => "endtest",
            _ => continue,
        };
        let name = rest.split('(').next().unwrap_or("").trim();
        let mut close = end;
        let found = loop {
            match next_tag(text, close) {
                Some((_, e, t)) if t == end_kw => break Some(e),
                Some((_, e, _)) => close = e,
                None => break None,
            }
        };
        let Some(block_end) = found else {
            break;
        };
        let name = if kind == "test" {
            format!("test_{name}")
        } else {
            name.to_string()
        };
        out.push((name, &text[start..block_end]));
        pos = block_end;
    }
    out
}

/// The next `{% ... %}` tag at or after `from`: its start, its end, and its content without
/// the whitespace-control dashes.
fn next_tag(text: &str, from: usize) -> Option<(usize, usize, &str)> {
    let start = from + text.get(from..)?.find("{%")?;
    let inner = start + 2;
    let close = inner + text[inner..].find("%}")?;
    let tag = text[inner..close]
        .trim()
        .trim_start_matches('-')
        .trim_end_matches('-')
        .trim();
    Some((start, close + 2, tag))
}

#[cfg(test)]
mod tests {
    use super::macro_blocks;

    #[test]
    fn macro_and_test_blocks_are_found_with_their_text() {
        let text = "{# helpers #}\n{%- macro a(x) -%}{{ x }}{%- endmacro %}\n\
                    {% if true %}{% endif %}\n{% macro b() %}{% if 1 %}1{% endif %}{% endmacro %}\n\
                    {% test positive(model, column_name) %}select 1{% endtest %}\n{% macro open() %}";
        let blocks = macro_blocks(text);
        let names: Vec<&str> = blocks.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "test_positive"]);
        assert_eq!(blocks[0].1, "{%- macro a(x) -%}{{ x }}{%- endmacro %}");
        assert_eq!(
            blocks[1].1,
            "{% macro b() %}{% if 1 %}1{% endif %}{% endmacro %}"
        );
    }
}
