//! Where a project's targets come from, in this order: `targets:` in project.yml; else the
//! project's profile in a `profiles.yml`, found as dbt finds it (`--profiles-dir`,
//! `DBT_PROFILES_DIR`, the project directory, `~/.dbt/`); else the embedded default, a DuckDB
//! file under the project. Field values stay as written (they may hold `env_var()`), rendered
//! only for the target in use (`compile::target`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::adapter::engine;
use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, display_path, suggest};
use crate::ir::AdapterKind;

use super::yaml::{self, Kind, MapReader, Node};
use super::{LoadOptions, TargetDef};

/// The file dbt keeps connection profiles in.
pub const PROFILES_FILE: &str = "profiles.yml";

/// The targets found, the one in use, and a line saying where they came from when that is not
/// the project file.
pub struct Found {
    /// Every target by name.
    pub targets: BTreeMap<String, TargetDef>,
    /// The one in use.
    pub name: String,
    /// Said once when the targets come from a profile or the embedded default.
    pub note: Option<String>,
}

/// What the project file says about targets: its `targets:`, `target:` and `profile:` keys.
pub struct Declared<'a> {
    /// `targets:` (project.yml only).
    pub targets: Option<&'a Node>,
    /// `target:` (project.yml only).
    pub target: Option<&'a Node>,
    /// `profile:`.
    pub profile: Option<&'a Node>,
}

/// Finds the project's targets and picks the one in use.
pub fn find(
    root: &Path,
    project_name: &str,
    file: &Path,
    declared: Declared,
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> Option<Found> {
    if let Some(t) = declared.targets {
        let targets = read_targets(t, file, diags);
        let default_target = declared
            .target
            .and_then(|n| yaml::expect_string(n, file, "target", diags).map(|s| (s, n.span(file))));
        let name = choose_target(opts, default_target, &targets, file, diags);
        return targets.contains_key(&name).then_some(Found {
            targets,
            name,
            note: None,
        });
    }
    let profile = match &opts.profile {
        Some(p) => Some((p.clone(), Span::file(file))),
        None => declared.profile.and_then(|n| {
            yaml::expect_string(n, file, "profile", diags).map(|s| (s, n.span(file)))
        }),
    };
    let searched = profile_dirs(root, opts);
    if let Some((name, span)) = &profile {
        match searched.iter().find(|d| d.join(PROFILES_FILE).is_file()) {
            Some(dir) => return from_profile(&dir.join(PROFILES_FILE), name, opts, diags),
            // Named explicitly: the file must be there.
            None if opts.profiles_dir.is_some() || opts.profile.is_some() => {
                diags.push(
                    Diagnostic::error(
                        Code::ProjectMissing,
                        format!("profile `{name}` needs a {PROFILES_FILE}, and there is none"),
                    )
                    .at(span.clone())
                    .with_help(format!("looked in {}", shown_dirs(&searched))),
                );
                return None;
            }
            None => {}
        }
    }
    embedded_default(
        file,
        project_name,
        profile.is_some(),
        &searched,
        opts,
        diags,
    )
}

/// Where profiles.yml is looked for, in order.
fn profile_dirs(root: &Path, opts: &LoadOptions) -> Vec<PathBuf> {
    if let Some(d) = &opts.profiles_dir {
        return vec![d.clone()];
    }
    if let Some(d) = std::env::var_os("DBT_PROFILES_DIR").filter(|d| !d.is_empty()) {
        return vec![PathBuf::from(d)];
    }
    let mut dirs = vec![root.to_path_buf()];
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        dirs.push(PathBuf::from(home).join(".dbt"));
    }
    dirs
}

fn shown_dirs(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| display_path(d))
        .collect::<Vec<_>>()
        .join(", ")
}

/// No target anywhere: a DuckDB file under the project, `warehouse/<name>.duckdb`.
fn embedded_default(
    file: &Path,
    project_name: &str,
    had_profile: bool,
    searched: &[PathBuf],
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> Option<Found> {
    const NAME: &str = "dev";
    if let Some(t) = opts.target.as_deref().filter(|t| *t != NAME) {
        diags.push(
            Diagnostic::error(
                Code::InvalidValue,
                format!("target `{t}` is not defined: this project defines no targets"),
            )
            .with_help(format!(
                "without targets it builds into the embedded DuckDB target `{NAME}`; define `{t}` under `targets:` in project.yml or in a {PROFILES_FILE}"
            )),
        );
        return None;
    }
    let path = format!("warehouse/{project_name}.duckdb");
    let span = Span::file(file);
    let fields = BTreeMap::from([
        ("path".to_string(), (path.clone(), span.clone())),
        ("schema".to_string(), ("main".to_string(), span.clone())),
    ]);
    let why = if had_profile {
        format!("no {PROFILES_FILE} in {}", shown_dirs(searched))
    } else {
        "no target is configured".to_string()
    };
    let targets = BTreeMap::from([(
        NAME.to_string(),
        TargetDef {
            name: NAME.to_string(),
            kind: AdapterKind::Duckdb,
            fields,
            span,
        },
    )]);
    Some(Found {
        targets,
        name: NAME.to_string(),
        note: Some(format!(
            "{why}: building into {path} (embedded DuckDB, schema main)"
        )),
    })
}

/// The targets (`outputs`) of profile `name` in the profiles file at `path`.
fn from_profile(
    path: &Path,
    profile_name: &str,
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> Option<Found> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    Code::FileUnreadable,
                    format!("cannot read {}: {e}", display_path(path)),
                )
                .at(Span::file(path)),
            );
            return None;
        }
    };
    let node = match yaml::parse(&text, path) {
        Ok(n) => n,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let mut r = MapReader::new(&node, path, PROFILES_FILE, diags)?;
    // dbt's global `config:` block (usage statistics, colours) has no meaning here.
    r.take_raw("config");
    let profiles = r.rest();
    let name = profile_name;
    let Some((_, profile)) = profiles.iter().find(|(k, _)| k.as_str() == Some(name)) else {
        let names: Vec<&str> = profiles.iter().filter_map(|(k, _)| k.as_str()).collect();
        diags.push(
            Diagnostic::error(
                Code::MissingKey,
                format!("profile `{name}` is not in {}", display_path(path)),
            )
            .at(Span::file(path))
            .with_help_opt(suggest(name, names.iter().copied()).or_else(|| {
                Some(format!(
                    "its profiles: {}; the project's `profile:` (or --profile) names the one to use",
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                ))
            })),
        );
        return None;
    };
    let what = format!("profile `{name}`");
    let mut pr = MapReader::new(profile, path, &what, diags)?;
    let default_target = pr
        .take(&["target"])
        .and_then(|n| yaml::expect_string(n, path, "target", diags).map(|s| (s, n.span(path))));
    let mut targets = BTreeMap::new();
    match pr.take(&["outputs"]) {
        Some(outputs) => {
            if let Some(mut or) = MapReader::new(outputs, path, "outputs", diags) {
                for (k, v) in or.rest() {
                    if let Some(def) = read_target(k, v, path, true, diags) {
                        targets.insert(def.name.clone(), def);
                    }
                }
            }
        }
        None => diags.push(
            Diagnostic::error(Code::MissingKey, format!("{what} has no `outputs`"))
                .at(Span::line(path, profile.line)),
        ),
    }
    pr.finish(diags);
    let name = choose_target(opts, default_target, &targets, path, diags);
    targets.contains_key(&name).then(|| Found {
        note: Some(format!(
            "target `{name}` of profile `{profile_name}` in {}",
            display_path(path)
        )),
        targets,
        name,
    })
}

/// The `targets:` of project.yml by name; targets that do not read are reported and left out.
fn read_targets(t: &Node, file: &Path, diags: &mut Diagnostics) -> BTreeMap<String, TargetDef> {
    let mut targets = BTreeMap::new();
    if let Some(mut tr) = MapReader::new(t, file, "targets", diags) {
        for (k, v) in tr.rest() {
            if let Some(def) = read_target(k, v, file, false, diags) {
                targets.insert(def.name.clone(), def);
            }
        }
    }
    targets
}

/// Picks the target: `--target`, else the file's `target:`, else the only one defined.
fn choose_target(
    opts: &LoadOptions,
    default_target: Option<(String, Span)>,
    targets: &BTreeMap<String, TargetDef>,
    file: &Path,
    diags: &mut Diagnostics,
) -> String {
    let shown = display_path(file);
    match (&opts.target, default_target) {
        (Some(t), _) => {
            if !targets.contains_key(t) && !targets.is_empty() {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("target `{t}` is not defined in {shown}"),
                    )
                    .with_help_opt(
                        suggest(t, targets.keys().map(String::as_str)).or_else(|| {
                            Some(format!(
                                "defined targets: {}",
                                targets.keys().cloned().collect::<Vec<_>>().join(", ")
                            ))
                        }),
                    ),
                );
            }
            t.clone()
        }
        (None, Some((t, span))) => {
            if !targets.contains_key(&t) && !targets.is_empty() {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("default target `{t}` is not defined in {shown}"),
                    )
                    .at(span)
                    .with_help_opt(suggest(&t, targets.keys().map(String::as_str))),
                );
            }
            t
        }
        (None, None) => match targets.keys().next() {
            Some(first) if targets.len() == 1 => first.clone(),
            _ => {
                if !targets.is_empty() {
                    diags.push(
                        Diagnostic::error(
                            Code::MissingKey,
                            format!("{shown} defines several targets but no default `target`"),
                        )
                        .at(Span::file(file)),
                    );
                }
                String::new()
            }
        },
    }
}

/// One target: its type and fields as written. `profile`: read from profiles.yml, where a
/// DuckDB target without `path` is in memory (as dbt-duckdb has it).
fn read_target(
    k: &Node,
    v: &Node,
    file: &Path,
    profile: bool,
    diags: &mut Diagnostics,
) -> Option<TargetDef> {
    let name = k.as_str()?.to_string();
    let what = format!("target `{name}`");
    let mut r = MapReader::new(v, file, &what, diags)?;
    let type_node = r.take(&["type"]);
    let kind = target_type(type_node, k, &what, file, diags);
    let mut fields = BTreeMap::new();
    let allowed: &[&'static str] = kind.map_or(&[], |e| e.target_fields);
    for key in allowed {
        if let Some(n) = r.take(&[key]) {
            let text = match &n.kind {
                Kind::Scalar { text, .. } => text.clone(),
                Kind::Seq(_) | Kind::Map(_) => n.to_json().to_string(),
                Kind::Null => continue,
            };
            fields.insert(key.to_string(), (text, n.span(file)));
        }
    }
    if kind.is_some() {
        r.finish(diags);
    } else {
        r.rest();
    }
    let engine = kind?;
    if profile && engine.kind == AdapterKind::Duckdb && !fields.contains_key("path") {
        fields.insert("path".into(), (":memory:".into(), k.span(file)));
    }
    for group in engine.required_target_fields {
        if !group.iter().any(|f| fields.contains_key(*f)) {
            let keys: Vec<String> = group.iter().map(|f| format!("`{f}`")).collect();
            diags.push(
                Diagnostic::error(
                    Code::MissingKey,
                    format!("{what} is missing {}", keys.join(" or ")),
                )
                .at(k.span(file)),
            );
        }
    }
    Some(TargetDef {
        name,
        kind: engine.kind,
        fields,
        span: k.span(file),
    })
}

/// The engine a target's `type:` names; a missing or unknown type is reported.
fn target_type(
    type_node: Option<&Node>,
    k: &Node,
    what: &str,
    file: &Path,
    diags: &mut Diagnostics,
) -> Option<&'static engine::Engine> {
    let names = engine::ENGINES.map(|e| e.name());
    match type_node.and_then(Node::as_str) {
        Some(name) => engine::by_type_name(name).or_else(|| {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("{what} has type `{name}`, which strata does not connect to"),
                )
                .at(type_node.unwrap().span(file))
                .with_help_opt(suggest(name, names).or(Some(format!(
                    "strata's engines: {}; a target of another type cannot be used",
                    names.join(", ")
                )))),
            );
            None
        }),
        None => {
            diags.push(
                Diagnostic::error(
                    Code::MissingKey,
                    format!("{what} is missing `type` ({})", names.join(" or ")),
                )
                .at(k.span(file)),
            );
            None
        }
    }
}
