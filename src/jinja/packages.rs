//! Macros of dbt packages: each package's macros under its name (`dbt_utils.star(...)`), also
//! callable unqualified when the project and the built-ins have no macro of that name (so a
//! package's macros reach each other), and `adapter.dispatch(name, macro_namespace)` with dbt's
//! search order: the project's `dispatch:` entry for the namespace, else the project and then
//! the package.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::value::Value;
use minijinja::{Environment, Error};

use super::{MacroFn, MacroIndex, ctx_error};
use crate::diagnostics::Code;
use crate::ir::AdapterKind;
use crate::project::Project;

/// Each package's macros: name to the template (file) defining it.
#[derive(Debug, Default)]
pub struct PackageMacros {
    /// By package name.
    pub by_package: BTreeMap<String, BTreeMap<String, String>>,
}

/// The package a macro file belongs to, by its path.
pub fn package_of<'p>(project: &'p Project, file: &str) -> Option<&'p str> {
    project.packages.iter().find_map(|p| {
        Path::new(file)
            .starts_with(&p.dir)
            .then_some(p.name.as_str())
    })
}

fn macro_fn(template: &str, name: &str) -> Value {
    Value::from_object(MacroFn {
        template: template.to_string(),
        name: name.to_string(),
    })
}

/// Adds each package as a namespace global, and its macros unqualified where no project or
/// built-in macro has the name.
pub fn add_globals(env: &mut Environment, packages: &PackageMacros, root: &MacroIndex) {
    let mut unqualified: BTreeMap<&str, &str> = BTreeMap::new();
    for (pkg, macros) in &packages.by_package {
        let namespace: BTreeMap<String, Value> = macros
            .iter()
            .map(|(m, t)| (m.clone(), macro_fn(t, m)))
            .collect();
        if pkg != "dbt" && !root.contains_key(pkg) {
            env.add_global(pkg.clone(), Value::from(namespace));
        }
        for (m, t) in macros {
            if !root.contains_key(m) {
                unqualified.entry(m).or_insert(t);
            }
        }
    }
    for (m, t) in unqualified {
        env.add_global(m.to_string(), macro_fn(t, m));
    }
}

/// Each package's folder with its macros as one map: the names a node of that package sees
/// before the project's and the built-ins (dbt searches the node's own package first).
pub fn own_scopes(project: &Project, packages: &PackageMacros) -> Vec<(PathBuf, Value)> {
    project
        .packages
        .iter()
        .filter_map(|p| {
            let macros = packages.by_package.get(&p.name)?;
            let scope: BTreeMap<String, Value> = macros
                .iter()
                .map(|(m, t)| (m.clone(), macro_fn(t, m)))
                .collect();
            Some((p.dir.clone(), Value::from(scope)))
        })
        .collect()
}

/// What dispatch needs to search packages.
#[derive(Debug, Default)]
pub struct Search {
    /// The root project's name.
    pub root: String,
    /// `dispatch:` search orders by namespace.
    pub orders: BTreeMap<String, Vec<String>>,
    /// Macro names to templates, by package.
    pub packages: BTreeMap<String, BTreeMap<String, String>>,
    /// The project's macros (and the built-ins) to their templates.
    pub root_macros: BTreeMap<String, String>,
}

impl Search {
    /// Builds the search data from the project and its packages' macros.
    pub fn new(project: &Project, packages: &PackageMacros, root: &MacroIndex) -> Search {
        Search {
            root: project.name.clone(),
            orders: project.dispatch.clone(),
            packages: packages.by_package.clone(),
            root_macros: root
                .iter()
                .map(|(m, p)| (m.clone(), crate::diagnostics::display_path(p)))
                .collect(),
        }
    }

    /// `adapter.dispatch(base, namespace)`: the first of `<engine>__base`, `default__base`
    /// along the namespace's search order. Each is called in its own file's scope (looked up
    /// by name, a macro of the calling file would shadow the project's).
    pub fn dispatch(&self, kind: AdapterKind, base: &str, namespace: &str) -> Result<Value, Error> {
        let order = match self.orders.get(namespace) {
            Some(o) if !o.is_empty() => o.clone(),
            _ if self.packages.contains_key(namespace) => {
                vec![self.root.clone(), namespace.to_string()]
            }
            _ => vec![namespace.to_string()],
        };
        let candidates = crate::adapter::engine::engine(kind).dispatch_candidates(base);
        for pkg in &order {
            if let Some(macros) = self.packages.get(pkg) {
                if let Some(c) = candidates.iter().find(|c| macros.contains_key(*c)) {
                    return Ok(macro_fn(&macros[c], c));
                }
            } else if (*pkg == self.root || pkg == "dbt")
                && let Some(c) = candidates
                    .iter()
                    .find(|c| self.root_macros.contains_key(*c))
            {
                return Ok(macro_fn(&self.root_macros[c], c));
            }
        }
        Err(ctx_error(
            Code::JinjaError,
            format!(
                "no implementation of macro `{base}` for {} in namespace `{namespace}` (searched {})",
                kind.as_str(),
                order.join(", ")
            ),
            Some(format!(
                "define `{}__{base}` or `default__{base}` in one of them, or list the package that has it in `dispatch:` (macro_namespace: {namespace}, search_order: [...])",
                kind.as_str()
            )),
        ))
    }
}
