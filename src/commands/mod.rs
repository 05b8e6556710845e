//! One file per verb; each wires the stages together and reports through [`Output`].
//! May import: every module but `main`.

pub mod clean;
pub mod compile;
pub mod debug;
pub mod deps;
pub mod docs;
pub mod empty;
pub mod failures;
pub mod freshness;
pub mod init;
pub mod late;
pub mod lineage;
pub mod ls;
pub mod openlineage;
pub mod operation;
pub mod parse;
pub mod run;
pub mod run_query;
pub mod serve_metrics;
pub mod show;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::{CompileArgs, GlobalArgs, LogFormat};
use crate::compile::Compiled;
use crate::diagnostics::{self, Code, Diagnostic, Diagnostics, Span};
use crate::project::LoadOptions;

/// How a command ended: success, a model/test/check failed, or the input was invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything worked (exit 0).
    Success,
    /// A model, test or check failed (exit 1).
    Failure,
    /// The project or the invocation is invalid (exit 2).
    Error,
    /// Ctrl-C stopped the run (exit 130, as a shell reports a command ended by SIGINT).
    Interrupted,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Error => 2,
            ExitStatus::Interrupted => 130,
        }
    }
}

/// Writes diagnostics and results in the chosen format; with `--quiet`, only errors and what
/// the command was asked for.
pub struct Output {
    format: LogFormat,
    quiet: bool,
}

impl Output {
    /// Output for the global options.
    pub fn new(global: &GlobalArgs) -> Output {
        Output {
            format: global.log_format,
            quiet: global.quiet,
        }
    }

    /// Prints diagnostics to stderr (text) or stdout (JSON lines); with `--quiet`, the errors
    /// only.
    pub fn diagnostics(&self, diags: &Diagnostics, root: &Path) {
        let mut errors_only = Diagnostics::new();
        let diags = if self.quiet && diags.warning_count() > 0 {
            errors_only.extend(diags.items().iter().filter(|d| d.is_error()).cloned());
            &errors_only
        } else {
            diags
        };
        if diags.is_empty() {
            return;
        }
        match self.format {
            LogFormat::Text => {
                let mut text = diagnostics::render_text(diags, root);
                let (e, w) = (diags.error_count(), diags.warning_count());
                if e > 0 {
                    text.push_str(&format!(
                        "{e} error{}{}\n",
                        if e == 1 { "" } else { "s" },
                        if w > 0 {
                            format!(", {w} warning{}", if w == 1 { "" } else { "s" })
                        } else {
                            String::new()
                        }
                    ));
                } else if w > 0 {
                    text.push_str(&format!("{w} warning{}\n", if w == 1 { "" } else { "s" }));
                }
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
            LogFormat::Json => {
                let _ = std::io::stdout().write_all(diagnostics::render_json(diags).as_bytes());
            }
        }
    }

    /// Prints a line of progress: plain text, or a JSON event. Nothing with `--quiet`.
    pub fn event(&self, text: &str, json: serde_json::Value) {
        if !self.quiet {
            self.always(text, json);
        }
    }

    /// Prints an error, or what the command was asked for, even with `--quiet`: plain text,
    /// or a JSON event.
    pub fn always(&self, text: &str, json: serde_json::Value) {
        match self.format {
            LogFormat::Text => print_line(text),
            LogFormat::Json => print_line(&json.to_string()),
        };
    }

    /// A line to tell once (where the target comes from, a key accepted and not acted on):
    /// on stderr as `note: ...`, or a JSON event. Nothing with `--quiet`.
    pub fn note(&self, text: &str) {
        if self.quiet {
            return;
        }
        match self.format {
            LogFormat::Text => {
                let _ = writeln!(std::io::stderr(), "note: {text}");
            }
            LogFormat::Json => {
                print_line(&serde_json::json!({"event": "note", "message": text}).to_string());
            }
        }
    }

    /// True for JSON output.
    pub fn is_json(&self) -> bool {
        self.format == LogFormat::Json
    }

    /// True with `--quiet`.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }
}

static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Binds an HTTP server on `listen` and returns it with the address it got; a failure is
/// reported (with `hint`, if any) and gives `None`.
pub fn bind_http(listen: &str, hint: &str, out: &Output) -> Option<(tiny_http::Server, String)> {
    match tiny_http::Server::http(listen) {
        Ok(server) => {
            let addr = server
                .server_addr()
                .to_ip()
                .map(|a| a.to_string())
                .unwrap_or_else(|| listen.to_string());
            Some((server, addr))
        }
        Err(e) => {
            out.always(
                &format!("error: cannot listen on {listen}: {e}{hint}"),
                serde_json::json!({"event": "error", "message": e.to_string()}),
            );
            None
        }
    }
}

/// Writes a line to stdout. False once stdout is closed (its reader, `head` say, went away):
/// nothing more is written then, and the caller decides how to stop; a closed output never
/// panics the process.
pub fn print_line(text: &str) -> bool {
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return false;
    }
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if written.is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        return false;
    }
    true
}

/// Where the adapter's notices go (a lock a run waits on): stderr as text, so that they never
/// mix with a command's output, or a JSON event on stdout.
pub fn notices(out: &Output) -> crate::adapter::Notices {
    let json = out.is_json();
    std::sync::Arc::new(move |text: &str| {
        if json {
            print_line(&serde_json::json!({"event": "waiting", "message": text}).to_string());
        } else {
            eprintln!("{text}");
        }
    })
}

/// True once a write to stdout failed.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Parses `--vars` (YAML or JSON mapping).
fn parse_vars(text: &Option<String>) -> Result<BTreeMap<String, serde_json::Value>, Diagnostic> {
    match text {
        Some(text) => parse_mapping(text, "--vars", "--vars '{as_of_date: 2024-07-31}'"),
        None => Ok(BTreeMap::new()),
    }
}

/// Parses the YAML or JSON mapping given to option `flag` (`example` shows one).
pub fn parse_mapping(
    text: &str,
    flag: &str,
    example: &str,
) -> Result<BTreeMap<String, serde_json::Value>, Diagnostic> {
    let node = crate::project::yaml::parse(text, Path::new(flag)).map_err(|mut d| {
        d.span = None;
        d.message = format!("{flag}: {}", d.message);
        d
    })?;
    match node.to_json() {
        serde_json::Value::Object(m) => Ok(m.into_iter().collect()),
        serde_json::Value::Null if text.trim().is_empty() => Ok(BTreeMap::new()),
        _ => Err(Diagnostic::error(
            Code::InvalidValue,
            format!("{flag} must be a mapping, e.g. {example}"),
        )),
    }
}

/// The project in `--project-dir`, loaded without compiling (for commands that need its
/// paths only); its diagnostics printed and None when it does not load.
pub fn load_project(global: &GlobalArgs, out: &Output) -> Option<crate::project::Project> {
    match crate::project::load(&global.project_dir, &Default::default()) {
        Ok((p, _)) => Some(p),
        Err(d) => {
            out.diagnostics(&d, &global.project_dir);
            None
        }
    }
}

/// Compiles the project, printing diagnostics. `None` means the project is invalid (exit 2).
/// `writes_compiled`: the command will write compiled SQL (see `LoadOptions::check_compiled`).
pub fn compile_project(
    global: &GlobalArgs,
    args: &CompileArgs,
    writes_compiled: bool,
    out: &Output,
) -> Result<Option<Compiled>> {
    let root = global.project_dir.as_path();
    let vars = match parse_vars(&args.vars) {
        Ok(v) => v,
        Err(d) => {
            let mut diags = Diagnostics::new();
            diags.push(d);
            out.diagnostics(&diags, root);
            return Ok(None);
        }
    };
    let opts = LoadOptions {
        target: args.target.clone(),
        profiles_dir: args.profiles_dir.clone(),
        profile: args.profile.clone(),
        vars,
        check_compiled: writes_compiled,
        answers: Default::default(),
    };
    std::fs::metadata(root)
        .with_context(|| format!("project directory {} does not exist", root.display()))?;
    match crate::compile::compile(root, &opts) {
        Ok(c) => {
            if global.warn_error
                && let Some(errors) = warnings_as_errors(&c)
            {
                out.diagnostics(&errors, root);
                return Ok(None);
            }
            if let Some(dir) = &args.state {
                let found = state_check(&c, dir);
                if found.has_errors() {
                    let mut all = c.warnings.clone();
                    all.extend(found);
                    out.diagnostics(&all, root);
                    return Ok(None);
                }
            }
            for note in &c.project.notes {
                out.note(note);
            }
            out.diagnostics(&c.warnings, root);
            for n in &c.nodes {
                for line in &n.logs {
                    out.event(
                        &format!("[{}] {line}", n.name),
                        serde_json::json!({"event": "log", "node": n.unique_id, "message": line}),
                    );
                }
            }
            Ok(Some(c))
        }
        Err(diags) => {
            out.diagnostics(&diags, root);
            Ok(None)
        }
    }
}

/// With `--warn-error`: the compile's warnings, and the `exceptions.warn()` calls of its
/// renders, as errors (`None` when there was none).
fn warnings_as_errors(c: &Compiled) -> Option<Diagnostics> {
    const NOTE: &str = "a warning, made an error by --warn-error";
    let mut errors = Diagnostics::new();
    for d in c.warnings.items() {
        let mut d = d.clone();
        if !d.is_error() {
            d.severity = diagnostics::Severity::Error;
            d = d.with_note(NOTE);
        }
        errors.push(d);
    }
    for n in &c.nodes {
        for line in &n.logs {
            if let Some(message) = line.strip_prefix("warning: ") {
                errors.push(
                    Diagnostic::error(
                        Code::CompilerErrorRaised,
                        format!("exceptions.warn(): {message}"),
                    )
                    .at(Span::file(&n.original_file_path))
                    .with_note(NOTE),
                );
            }
        }
    }
    if errors.is_empty() {
        return None;
    }
    errors.sort();
    Some(errors)
}

/// Compares the project's contracts with the manifest under `--state DIR`.
fn state_check(c: &Compiled, dir: &Path) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let path = dir.join("manifest.json");
    let previous: serde_json::Value = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    Code::FileUnreadable,
                    format!("--state: cannot read {}: {e}", path.display()),
                )
                .with_help("point --state at the artifacts directory of an earlier run (the one holding manifest.json)"),
            );
            return diags;
        }
    };
    let current: BTreeMap<String, &crate::ir::contract::ContractInfo> = c
        .nodes
        .iter()
        .filter_map(|n| n.contract.as_deref().map(|k| (n.unique_id.clone(), k)))
        .collect();
    for b in crate::compile::contract_schema::breaking_changes(&previous, &current) {
        let node = c.nodes.iter().find(|n| n.unique_id == b.unique_id);
        let mut d = Diagnostic::error(
            Code::BreakingChange,
            format!(
                "breaking change to contract `{}` of `{}`: {}",
                b.schema,
                node.map(|n| n.name.as_str()).unwrap_or(&b.unique_id),
                b.message
            ),
        )
        .with_help(
            "consumers of this contract version rely on the column: restore it, or publish the change as a new version (a new schema file, e.g. .v2.json) and keep serving the old one",
        )
        .with_note(format!("compared with {}", path.display()));
        if let Some(n) = node {
            d = d.at(Span::file(&n.original_file_path));
            let schema_text =
                std::fs::read_to_string(c.project.root.join(&b.schema)).unwrap_or_default();
            let col = b.message.split('`').nth(1).unwrap_or("");
            if let Some(l) = crate::compile::contract_schema::property_line(&schema_text, col) {
                d = d.with_related(
                    diagnostics::Span::line(&b.schema, l),
                    "the column in the contract now",
                );
            }
        }
        diags.push(d);
    }
    diags
}

/// Applies `--select`/`--exclude`, printing bad selectors and selectors that match nothing as
/// diagnostics (`None`: exit 2).
pub fn select_nodes(
    c: &Compiled,
    sel: &crate::cli::SelectArgs,
    out: &Output,
) -> Option<Vec<usize>> {
    match crate::graph::select::select(
        &c.dag,
        &c.nodes,
        &sel.select,
        &sel.exclude,
        sel.indirect_selection,
    ) {
        Ok(s) => Some(s),
        Err(diags) => {
            out.diagnostics(&diags, &c.project.root);
            None
        }
    }
}

/// `n` and the noun, singular or plural: "1 node", "2 nodes".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Checks, before anything runs, that the files a command writes at its end can be written:
/// the artifacts directory (created here when missing) and `--junit-xml`. Each problem is an
/// S003 diagnostic naming the path; `false` when there was one (already printed).
pub fn check_output_paths(c: &Compiled, junit_xml: Option<&Path>, out: &Output) -> bool {
    let mut diags = Diagnostics::new();
    let artifacts = crate::artifacts::artifacts_dir(c);
    if let Err(why) = writable_dir(&artifacts) {
        diags.push(
            Diagnostic::error(
                Code::OutputPath,
                format!(
                    "cannot write the artifacts directory {}: {why}",
                    crate::artifacts::shown(&c.project.root, &artifacts)
                ),
            )
            .with_help("change `artifacts-path:` in project.yml to a directory strata may create and write, or fix the permissions of this one"),
        );
    }
    if let Some(path) = junit_xml
        && let Err(why) = writable_file(path)
    {
        diags.push(
            Diagnostic::error(
                Code::OutputPath,
                format!("cannot write --junit-xml {}: {why}", path.display()),
            )
            .with_help("create the directory first (mkdir -p), or pass a path in a directory you can write"),
        );
    }
    out.diagnostics(&diags, &c.project.root);
    !diags.has_errors()
}

/// Creates `dir` when missing and checks that a file can be created in it.
fn writable_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err("it exists and is not a directory".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create it: {e}"))?;
    let probe = dir.join(format!(".strata-write-check-{}", std::process::id()));
    std::fs::File::create(&probe).map_err(|e| format!("cannot create a file in it: {e}"))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Checks that `path` can be written as a file, leaving the file system as it was.
fn writable_file(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err("it is a directory; give a file name, e.g. DIR/junit.xml".into());
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(if parent.exists() {
            format!("{} is not a directory", parent.display())
        } else {
            format!("the directory {} does not exist", parent.display())
        });
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| e.to_string())?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Prints S502 for a selection that holds no node `strata VERB` runs (`runs_what`): what it
/// holds instead, and what to do.
pub fn nothing_to_run(
    c: &Compiled,
    sel: &crate::cli::SelectArgs,
    verb: &str,
    runs_what: &str,
    picked: &[usize],
    out: &Output,
) {
    let mut flags: Vec<String> = sel.select.iter().map(|s| format!("-s {s}")).collect();
    flags.extend(sel.exclude.iter().map(|s| format!("--exclude {s}")));
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for &i in picked {
        let n = &c.nodes[i];
        by_type
            .entry(n.resource_type.as_str())
            .or_default()
            .push(&n.name);
    }
    let holds = if by_type.is_empty() {
        "--exclude removed every selected node".to_string()
    } else {
        let parts: Vec<String> = by_type
            .iter()
            .map(|(t, names)| {
                let shown: Vec<&str> = names.iter().take(5).copied().collect();
                let more = if names.len() > 5 { ", ..." } else { "" };
                format!("{} ({}{more})", count(names.len(), t), shown.join(", "))
            })
            .collect();
        format!("it selects {}", parts.join(", "))
    };
    let d = Diagnostic::error(
        Code::SelectorMatchesNothing,
        format!(
            "`{}` selects nothing that `strata {verb}` runs: {holds}",
            flags.join(" ")
        ),
    )
    .with_help(format!(
        "`strata {verb}` runs {runs_what}; widen the selection (`strata ls {}` shows it){}",
        flags.join(" "),
        if verb == "build" {
            ""
        } else {
            ", or use `strata build`, which runs seeds, models and tests"
        }
    ));
    let mut diags = Diagnostics::new();
    diags.push(d);
    out.diagnostics(&diags, &c.project.root);
}
