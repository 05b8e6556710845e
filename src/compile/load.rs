//! Stage `load`: the project's files read and checked (`project::load`), the target resolved,
//! and the test declarations moved out of the properties (they are needed only until their
//! test nodes exist; at 100k models they are a large share of the memory).

use std::path::Path;

use super::target;
use crate::diagnostics::Diagnostics;
use crate::ir::Target;
use crate::project::properties::{ModelProps, TestDef};
use crate::project::{self, LoadOptions, Project};

/// The project as loaded, with its target.
pub struct Loaded {
    /// The project's files and settings.
    pub project: Project,
    /// The target in use.
    pub target: Target,
    /// The generic tests declared in the properties.
    pub declared_tests: DeclaredTests,
    /// Warnings (and errors that do not stop the compile) found so far.
    pub diags: Diagnostics,
}

/// Loads the project in `root` and resolves its target.
pub fn load(root: &Path, opts: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let (mut project, mut diags) = project::load(root, opts)?;
    let declared_tests = DeclaredTests::take(&mut project.properties);
    match target::resolve(&project) {
        Ok(target) => Ok(Loaded {
            project,
            target,
            declared_tests,
            diags,
        }),
        Err(d) => {
            diags.push(d);
            Err(diags)
        }
    }
}

/// The generic tests declared in the properties, taken out of them: each owner's own tests,
/// then its columns' tests, in declaration order.
pub struct DeclaredTests {
    /// By model properties entry, in order.
    pub models: Vec<Vec<TestDef>>,
    /// By seed properties entry, in order.
    pub seeds: Vec<Vec<TestDef>>,
    /// By source, then by table, in order.
    pub sources: Vec<Vec<Vec<TestDef>>>,
}

impl DeclaredTests {
    /// Moves every declared test out of `props`.
    pub fn take(props: &mut project::properties::Properties) -> Self {
        fn own_then_columns(
            own: &mut Vec<TestDef>,
            columns: &mut [project::properties::ColumnProps],
        ) -> Vec<TestDef> {
            // Each list is moved out whole, so that its buffer is freed too.
            let total = own.len() + columns.iter().map(|c| c.tests.len()).sum::<usize>();
            if total == own.len() {
                return std::mem::take(own);
            }
            let mut all = Vec::with_capacity(total);
            all.extend(std::mem::take(own));
            for c in columns {
                all.extend(std::mem::take(&mut c.tests));
            }
            all
        }
        let of = |list: &mut Vec<ModelProps>| -> Vec<Vec<TestDef>> {
            list.iter_mut()
                .map(|p| own_then_columns(&mut p.tests, &mut p.columns))
                .collect()
        };
        let (models, seeds) = (of(&mut props.models), of(&mut props.seeds));
        let sources = props
            .sources
            .iter_mut()
            .map(|s| {
                s.tables
                    .iter_mut()
                    .map(|t| own_then_columns(&mut t.tests, &mut t.columns))
                    .collect()
            })
            .collect();
        Self {
            models,
            seeds,
            sources,
        }
    }
}
