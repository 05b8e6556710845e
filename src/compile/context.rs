//! What every stage of a compile reads and none changes: the project, the target, the template
//! renderer, and the template sources (built on the first error that needs a position).

use std::sync::OnceLock;

use crate::ir::Target;
use crate::jinja::{Renderer, SourceTexts};
use crate::project::Project;

/// The compile's shared, read-only inputs.
pub struct Context<'a, 'r> {
    /// The loaded project.
    pub project: &'a Project,
    /// The target in use.
    pub target: &'a Target,
    /// The template environment with the project's macros.
    pub renderer: &'a Renderer<'r>,
    /// The part of every render cache key that the whole project shares.
    pub render_global: &'a str,
    source_texts: OnceLock<SourceTexts>,
}

impl<'a, 'r> Context<'a, 'r> {
    /// The context of one compile.
    pub fn new(
        project: &'a Project,
        target: &'a Target,
        renderer: &'a Renderer<'r>,
        render_global: &'a str,
    ) -> Self {
        Self {
            project,
            target,
            renderer,
            render_global,
            source_texts: OnceLock::new(),
        }
    }

    /// The project's name.
    pub fn project_name(&self) -> &'a str {
        &self.project.name
    }

    /// Template sources by path, for error positions: built on the first error.
    pub fn sources(&self) -> &SourceTexts {
        self.source_texts.get_or_init(|| {
            let p = self.project;
            p.models
                .iter()
                .chain(&p.singular_tests)
                .chain(&p.macro_files)
                .map(|f| (f.path.clone(), f.text.clone()))
                .collect()
        })
    }
}
