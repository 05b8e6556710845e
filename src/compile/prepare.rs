//! Stage `prepare`: one pending node per seed, model and singular test, with the config it
//! has before its template is rendered (project folders, then properties), and the checks that
//! need only names: properties without a file, duplicate names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, display_path, suggest};
use crate::ir::ResourceType;
use crate::ir::config::{ConfigScope, NodeConfig};
use crate::project::properties::{ColumnProps, ModelProps};
use crate::project::{self, Project};
use crate::sorted::FastMap;

/// A node before rendering.
pub struct Pending<'a> {
    /// Unique id.
    pub id: String,
    /// Kind.
    pub resource_type: ResourceType,
    /// Name.
    pub name: String,
    /// The package it belongs to: the project's name, or a package's (`ref()` looks there
    /// first).
    pub package: &'a str,
    /// Defining file, relative to the project.
    pub path: PathBuf,
    /// Package (the project's name for its own nodes), folders, name.
    pub fqn: Vec<String>,
    /// Config: project, properties, then (once rendered) the template's `config()` calls.
    pub config: NodeConfig,
    /// Description as written.
    pub description: Option<String>,
    /// Where the description is written.
    pub description_span: Option<Span>,
    /// Documented columns.
    pub columns: &'a [ColumnProps],
    /// The template (SQL file text); none for seeds.
    pub template: Option<Arc<str>>,
    /// sha256 of the defining file.
    pub checksum: String,
    /// A seed's CSV header.
    pub seed_columns: Vec<String>,
    /// Its properties entry, if any.
    pub props: Option<&'a ModelProps>,
}

impl Pending<'_> {
    /// The config keys its template's `config()` accepts.
    pub fn scope(&self) -> ConfigScope {
        if self.resource_type == ResourceType::Test {
            ConfigScope::Test
        } else {
            ConfigScope::Model
        }
    }
}

fn fqn(project: &str, folders: &[String], name: &str) -> Vec<String> {
    std::iter::once(project.to_string())
        .chain(folders.iter().cloned())
        .chain(std::iter::once(name.to_string()))
        .collect()
}

/// Reports properties entries whose model or seed file does not exist.
fn report_undescribed(
    props: &[ModelProps],
    names: &[&str],
    what: &str,
    pattern: &str,
    diags: &mut Diagnostics,
) {
    let set: std::collections::HashSet<&str> = names.iter().copied().collect();
    for p in props {
        if !set.contains(p.name.as_str()) {
            diags.push(
                Diagnostic::error(
                    Code::UnknownResource,
                    format!(
                        "properties describe {what} `{}`, but there is no {}",
                        p.name,
                        pattern.replace("{}", &p.name)
                    ),
                )
                .at(p.span.clone())
                .with_help_opt(suggest(&p.name, names.iter().copied())),
            );
        }
    }
}

/// Properties entries by (package of the file that declares them, name).
fn index_props<'a>(
    project: &'a Project,
    props: &'a [ModelProps],
    what: &str,
    diags: &mut Diagnostics,
) -> HashMap<(&'a str, &'a str), &'a ModelProps> {
    let mut out: HashMap<(&str, &str), &ModelProps> = HashMap::new();
    for p in props {
        let key = (project.package_name_of(&p.span.file), p.name.as_str());
        if let Some(first) = out.get(&key) {
            diags.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("{what} `{}` is described twice in properties files", p.name),
                )
                .at(p.span.clone())
                .with_related(first.span.clone(), "first described here"),
            );
        } else {
            out.insert(key, p);
        }
    }
    out
}

/// A model's config before its template's `config()` calls: the project file's (and its
/// package's), then its properties'.
pub fn base_config(
    project: &Project,
    path: &Path,
    folders: &[String],
    name: &str,
    props: Option<&ModelProps>,
) -> NodeConfig {
    let mut config = project.folder_config(false, path, folders, name);
    if let Some(p) = props {
        config.merge(&p.config);
    }
    config
}

fn pending_of<'p>(
    project_name: &'p str,
    kind: ResourceType,
    file: &project::SqlFile,
    config: NodeConfig,
    props: Option<&'p ModelProps>,
) -> Pending<'p> {
    Pending {
        id: format!("{}.{project_name}.{}", kind.as_str(), file.name),
        resource_type: kind,
        name: file.name.clone(),
        package: project_name,
        path: file.path.clone(),
        fqn: fqn(project_name, &file.folders, &file.name),
        config,
        description: props.and_then(|p| p.description.clone()),
        description_span: props.map(|p| p.span.clone()),
        columns: props.map(|p| p.columns.as_slice()).unwrap_or_default(),
        template: Some(file.text.clone()),
        checksum: file.checksum.clone(),
        seed_columns: Vec::new(),
        props,
    }
}

/// The pending nodes of the project: seeds, then models, then singular tests.
pub fn prepare<'p>(project: &'p Project, diags: &mut Diagnostics) -> Vec<Pending<'p>> {
    let pname = project.name.as_str();
    let package = |path: &std::path::Path| project.package_name_of(path);
    // Properties by name, with duplicate and unknown entries reported.
    let model_props = index_props(project, &project.properties.models, "model", diags);
    let seed_props = index_props(project, &project.properties.seeds, "seed", diags);
    let mut pending: Vec<Pending> = Vec::new();
    for s in &project.seeds {
        let mut config = project.folder_config(true, &s.path, &s.folders, &s.name);
        let props = seed_props
            .get(&(package(&s.path), s.name.as_str()))
            .copied();
        if let Some(p) = props {
            config.merge(&p.config);
        }
        let file = project::SqlFile {
            name: s.name.clone(),
            path: s.path.clone(),
            folders: s.folders.clone(),
            text: Arc::from(""),
            checksum: s.checksum.clone(),
        };
        pending.push(Pending {
            template: None,
            seed_columns: s.columns.clone(),
            ..pending_of(package(&s.path), ResourceType::Seed, &file, config, props)
        });
    }
    pending.reserve(project.models.len() + project.singular_tests.len());
    pending.par_extend(project.models.par_iter().map(|m| {
        let props = model_props
            .get(&(package(&m.path), m.name.as_str()))
            .copied();
        let config = base_config(project, &m.path, &m.folders, &m.name, props);
        pending_of(package(&m.path), ResourceType::Model, m, config, props)
    }));
    for t in &project.singular_tests {
        pending.push(pending_of(
            pname,
            ResourceType::Test,
            t,
            project.test_configs.resolve(&t.folders, &t.name),
            None,
        ));
    }
    // Properties for files that do not exist.
    let model_names: Vec<&str> = project.models.iter().map(|m| m.name.as_str()).collect();
    report_undescribed(
        &project.properties.models,
        &model_names,
        "model",
        "models/**/{}.sql",
        diags,
    );
    let seed_names: Vec<&str> = project.seeds.iter().map(|s| s.name.as_str()).collect();
    report_undescribed(
        &project.properties.seeds,
        &seed_names,
        "seed",
        "seeds/**/{}.csv",
        diags,
    );
    report_duplicates(&pending, diags);
    pending
}

/// Duplicate names among ref()-able nodes and among singular tests.
fn report_duplicates(pending: &[Pending], diags: &mut Diagnostics) {
    let mut first_by_name: FastMap<(bool, &str, &str), &Pending> =
        FastMap::with_capacity_and_hasher(pending.len(), Default::default());
    for p in pending {
        // Names are unique within a package; two packages may share one (`ref('pkg', 'name')`).
        let key = (
            p.resource_type == ResourceType::Test,
            p.package,
            p.name.as_str(),
        );
        if let Some(first) = first_by_name.get(&key) {
            let what = |r: ResourceType| r.as_str();
            diags.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("two {}s are named `{}`: {} and {}", if key.0 { "test" } else { "node" }, p.name, display_path(&first.path), display_path(&p.path)),
                )
                .at(Span::file(&p.path))
                .with_label(format!("this {} is named `{}`", what(p.resource_type), p.name))
                .with_related(Span::file(&first.path), format!("and so is this {}", what(first.resource_type)))
                .with_help("names must be unique across models and seeds: rename one file or give it an alias"),
            );
        } else {
            first_by_name.insert(key, p);
        }
    }
}
