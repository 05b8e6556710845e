//! Findings in the user's project: one [`Diagnostic`] type (code, severity, message, span, help)
//! and its renderers (full text with a source snippet, and JSON lines for CI).
//!
//! Diagnostics are values, not errors: every stage collects all of them and the command decides
//! the exit code. Failures of strata itself are `anyhow`/`thiserror` errors, never diagnostics.
//! Imports nothing of the crate.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use serde::Serialize;

/// How bad a finding is: errors stop the command (exit 2), warnings are printed and the run goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The project is invalid; the command cannot go on.
    Error,
    /// Something is likely wrong, but the project still compiles.
    Warning,
}

/// Stable codes for every diagnostic a user can see; each has an entry in `docs/diagnostics.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// A file could not be read.
    FileUnreadable,
    /// `project.yml` is missing.
    ProjectMissing,
    /// YAML syntax error.
    YamlSyntax,
    /// A key that strata does not know.
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value has the wrong type or is not one of the allowed values.
    InvalidValue,
    /// Two resources share a name.
    DuplicateName,
    /// Properties YAML describes a resource that does not exist.
    UnknownResource,
    /// A Jinja syntax or runtime error.
    JinjaError,
    /// An environment variable without default is not set.
    MissingEnvVar,
    /// A `var()` without default is not defined.
    MissingVar,
    /// `exceptions.raise_compiler_error` was called by the project.
    CompilerErrorRaised,
    /// `ref()` names a node that does not exist (or is disabled).
    MissingRef,
    /// `source()` names a source table that does not exist.
    MissingSource,
    /// The dependency graph has a cycle.
    Cycle,
    /// The rendered SQL does not parse in the target's dialect.
    SqlSyntax,
    /// A model reads a relation that is neither a ref nor a source.
    HardCodedRelation,
    /// A model calls a built-in function that only the other engine has.
    DialectFunction,
    /// The SQL of a model or test is more than one statement.
    SeveralStatements,
    /// A model reads a column that the relation it reads does not have.
    UnknownColumn,
    /// The rendered SQL of a model or test holds no statement.
    EmptyModel,
    /// Column lineage could not follow a column (the upstream's columns are not known...).
    LineageUnknown,
    /// A generic test is declared on a column the model or seed does not have.
    TestUnknownColumn,
    /// A model's or seed's `loaded_at_field` names a column it does not have.
    FreshnessUnknownColumn,
    /// A selector expression is malformed.
    InvalidSelector,
    /// A selector matches no node.
    SelectorMatchesNothing,
    /// An output path (`--junit-xml`, the artifacts directory) cannot be written.
    OutputPath,
    /// A seed CSV file is malformed.
    SeedInvalid,
    /// A test name that is neither built in nor defined by the project.
    UnknownTest,
    /// A configuration path in project.yml matches no resource.
    UnusedConfigPath,
    /// A data contract's schema file is missing, not JSON or not a valid JSON Schema.
    ContractInvalid,
    /// A contracted model's output columns do not match its contract.
    ContractColumns,
    /// A contract version lost or retyped a column compared with `--state`.
    BreakingChange,
}

impl Code {
    /// The code as printed, e.g. `S101`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::FileUnreadable => "S001",
            Code::ProjectMissing => "S002",
            Code::OutputPath => "S003",
            Code::YamlSyntax => "S101",
            Code::UnknownKey => "S102",
            Code::MissingKey => "S103",
            Code::InvalidValue => "S104",
            Code::DuplicateName => "S105",
            Code::UnknownResource => "S106",
            Code::UnusedConfigPath => "S107",
            Code::SeedInvalid => "S108",
            Code::JinjaError => "S201",
            Code::MissingEnvVar => "S202",
            Code::MissingVar => "S203",
            Code::CompilerErrorRaised => "S204",
            Code::MissingRef => "S301",
            Code::MissingSource => "S302",
            Code::Cycle => "S303",
            Code::UnknownTest => "S304",
            Code::TestUnknownColumn => "S305",
            Code::FreshnessUnknownColumn => "S306",
            Code::SqlSyntax => "S401",
            Code::HardCodedRelation => "S402",
            Code::DialectFunction => "S403",
            Code::SeveralStatements => "S404",
            Code::UnknownColumn => "S405",
            Code::EmptyModel => "S406",
            Code::LineageUnknown => "S407",
            Code::InvalidSelector => "S501",
            Code::SelectorMatchesNothing => "S502",
            Code::ContractInvalid => "S601",
            Code::ContractColumns => "S602",
            Code::BreakingChange => "S603",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A position in a project file: path relative to the project root, 1-based line and column,
/// and the length of the marked text in characters (at least 1).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    /// Path relative to the project directory, with `/` separators (shared: a large project
    /// holds millions of spans over a few thousand files).
    #[serde(serialize_with = "ser_file")]
    pub file: Arc<Path>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub col: usize,
    /// Number of characters marked.
    pub len: usize,
}

fn ser_file<S: serde::Serializer>(file: &Arc<Path>, s: S) -> Result<S::Ok, S::Error> {
    file.as_ref().serialize(s)
}

/// `file` as a shared path: the one this thread made last when it is the same file (spans are
/// made file by file), a new one otherwise.
fn shared_path(file: &Path) -> Arc<Path> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<Arc<Path>>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some(p) if p.as_os_str() == file.as_os_str() => Arc::clone(p),
            _ => {
                let p: Arc<Path> = Arc::from(file);
                *last = Some(Arc::clone(&p));
                p
            }
        }
    })
}

impl Span {
    /// A span at `line:col` of `file` covering `len` characters.
    pub fn new(file: impl AsRef<Path>, line: usize, col: usize, len: usize) -> Span {
        Span {
            file: shared_path(file.as_ref()),
            line: line.max(1),
            col: col.max(1),
            len: len.max(1),
        }
    }

    /// A span naming a whole file (its first line).
    pub fn file(file: impl AsRef<Path>) -> Span {
        Span::new(file, 1, 1, 1)
    }

    /// A span covering a whole line.
    pub fn line(file: impl AsRef<Path>, line: usize) -> Span {
        Span::new(file, line, 1, 1)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", display_path(&self.file), self.line, self.col)
    }
}

/// Prints a relative path with `/` separators on every platform.
pub fn display_path(p: &Path) -> String {
    display_path_cow(p).into_owned()
}

/// [`display_path`], borrowed from `p` when `p` is already written that way (the usual case:
/// paths found by walking the project), so that hot paths do not allocate.
pub fn display_path_cow(p: &Path) -> std::borrow::Cow<'_, str> {
    if std::path::MAIN_SEPARATOR == '/'
        && let Some(s) = p.to_str()
        && !s.starts_with('/')
        && !s.ends_with('/')
        && !s.contains("//")
        && s.split('/').all(|part| part != ".")
    {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        p.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

/// One finding in the user's project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where it is wrong, when the finding has a location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    /// A label printed under the marked text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Further locations that matter (the other file of a duplicate, each step of a cycle).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<(Span, String)>,
    /// How to fix it, when strata can tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Extra context lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with a code and a message.
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span: None,
            label: None,
            related: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    /// A warning with a code and a message.
    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Attaches the location.
    pub fn at(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }

    /// Attaches a label for the marked text.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Attaches a fix suggestion.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Attaches a fix suggestion when there is one.
    pub fn with_help_opt(mut self, help: Option<String>) -> Diagnostic {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Adds a related location.
    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related.push((span, label.into()));
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// All diagnostics of a run, in a deterministic order once sorted.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Adds one diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Adds all diagnostics of another collection.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }

    /// True when at least one diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// The diagnostics collected so far.
    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    /// True when nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sorts by file, line, column, code and message, and drops exact duplicates, so that
    /// output does not depend on thread scheduling.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            let ka = (a.span.as_ref(), a.severity, a.code, &a.message);
            let kb = (b.span.as_ref(), b.severity, b.code, &b.message);
            ka.cmp(&kb)
        });
        self.items.dedup();
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// The closest candidate to `word` among `candidates`, when one is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let (w, cl) = (word.to_lowercase(), c.to_lowercase());
        let mut score = strsim::jaro_winkler(&w, &cl);
        // Short words: one edit away is close enough even when Jaro-Winkler disagrees.
        let edits = strsim::damerau_levenshtein(&w, &cl);
        if edits <= 1 {
            score = score.max(0.85);
        } else if edits == 2 && same_start_most_letters(&w, &cl) {
            // Two edits away (`tgs` for `tag`): only with the same first letter and all
            // letters but one in common, so that unrelated short words are not suggested.
            score = score.max(0.8);
        }
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// True when `a` and `b` (3+ letters) start alike and share all their letters but one.
fn same_start_most_letters(a: &str, b: &str) -> bool {
    let (la, lb) = (a.chars().count(), b.chars().count());
    if la.min(lb) < 3 || a.chars().next() != b.chars().next() {
        return false;
    }
    let mut rest: Vec<char> = b.chars().collect();
    let mut common = 0;
    for c in a.chars() {
        if let Some(i) = rest.iter().position(|x| *x == c) {
            rest.swap_remove(i);
            common += 1;
        }
    }
    common + 1 >= la.max(lb)
}

/// `Some("did you mean `x`?")` when a candidate is close to `word`.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Renders diagnostics for people: a header, the source snippet with the marked text, help and
/// notes, like rustc. File contents are read from `root` at render time.
pub fn render_text(diags: &Diagnostics, root: &Path) -> String {
    let mut files = SimpleFiles::new();
    let mut ids: std::collections::BTreeMap<PathBuf, Option<usize>> = Default::default();
    let mut file_id = |files: &mut SimpleFiles<String, String>, p: &Path| -> Option<usize> {
        *ids.entry(p.to_path_buf()).or_insert_with(|| {
            std::fs::read_to_string(root.join(p))
                .ok()
                .map(|src| files.add(display_path(p), src))
        })
    };
    let config = term::Config::default();
    let mut out = String::new();
    for d in diags.items() {
        let mut cd = match d.severity {
            Severity::Error => cs::Diagnostic::error(),
            Severity::Warning => cs::Diagnostic::warning(),
        }
        .with_code(d.code.as_str())
        .with_message(&d.message);
        let mut labels = Vec::new();
        let mut notes = Vec::new();
        if let Some(span) = &d.span {
            match file_id(&mut files, &span.file) {
                Some(id) => {
                    let range = byte_range(files.get(id).unwrap().source(), span);
                    labels.push(
                        cs::Label::primary(id, range)
                            .with_message(d.label.clone().unwrap_or_default()),
                    );
                }
                None => notes.push(format!("at {span}")),
            }
        }
        for (span, label) in &d.related {
            match file_id(&mut files, &span.file) {
                Some(id) => {
                    let range = byte_range(files.get(id).unwrap().source(), span);
                    labels.push(cs::Label::secondary(id, range).with_message(label.clone()));
                }
                None => notes.push(format!("{label} at {span}")),
            }
        }
        if let Some(help) = &d.help {
            notes.push(format!("help: {help}"));
        }
        notes.extend(d.notes.iter().cloned());
        cd = cd.with_labels(labels).with_notes(notes);
        match term::emit_into_string(&config, &files, &cd) {
            Ok(s) => out.push_str(&s),
            Err(_) => {
                out.push_str(&format!(
                    "{}[{}]: {}\n",
                    severity_word(d.severity),
                    d.code,
                    d.message
                ));
            }
        }
    }
    out
}

/// Renders diagnostics as one JSON object per line, for `--log-format json`.
pub fn render_json(diags: &Diagnostics) -> String {
    let mut out = String::new();
    for d in diags.items() {
        let line = serde_json::json!({
            "event": "diagnostic",
            "severity": d.severity,
            "code": d.code,
            "message": d.message,
            "file": d.span.as_ref().map(|s| display_path(&s.file)),
            "line": d.span.as_ref().map(|s| s.line),
            "col": d.span.as_ref().map(|s| s.col),
            "help": d.help,
            "notes": d.notes,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// Converts a line/column/length span into a byte range of `src`, clamped to the text.
fn byte_range(src: &str, span: &Span) -> std::ops::Range<usize> {
    let mut offset = 0;
    for (i, line) in src.split_inclusive('\n').enumerate() {
        if i + 1 == span.line {
            let content = line.trim_end_matches(['\n', '\r']);
            let start = content
                .char_indices()
                .nth(span.col - 1)
                .map(|(b, _)| b)
                .unwrap_or(content.len());
            let end = content[start..]
                .char_indices()
                .nth(span.len)
                .map(|(b, _)| start + b)
                .unwrap_or(content.len());
            let end = end.max(start);
            return offset + start..offset + end;
        }
        offset += line.len();
    }
    src.len()..src.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestion_finds_typo() {
        assert_eq!(
            did_you_mean("materialzed", ["schema", "materialized", "alias"]),
            Some("materialized")
        );
        assert_eq!(did_you_mean("zzz", ["schema", "materialized"]), None);
        // Two edits on a short word: suggested only when the letters mostly agree.
        assert_eq!(did_you_mean("tgs", ["tag", "path", "fqn"]), Some("tag"));
        assert_eq!(did_you_mean("tux", ["tag", "path", "fqn"]), None);
    }

    #[test]
    fn byte_range_maps_line_and_column() {
        let src = "a: 1\nbc: 2\n";
        let r = byte_range(src, &Span::new("x", 2, 1, 2));
        assert_eq!(&src[r], "bc");
    }

    #[test]
    fn spans_of_one_file_share_its_path() {
        let a = Span::new("models/a.yml", 1, 1, 1);
        let b = Span::line(Path::new("models/a.yml"), 3);
        assert!(Arc::ptr_eq(&a.file, &b.file));
        let c = Span::file(PathBuf::from("models/b.yml"));
        assert!(!Arc::ptr_eq(&a.file, &c.file));
        assert_eq!(&*c.file, Path::new("models/b.yml"));
        assert_eq!(b.to_string(), "models/a.yml:3:1");
    }

    #[test]
    fn paths_display_with_slashes_borrowed_when_already_so() {
        let cases = [
            ("models/a.sql", "models/a.sql", true),
            ("a", "a", true),
            ("", "", true),
            ("./models/a.sql", "./models/a.sql", false),
            ("models//a.sql", "models/a.sql", false),
            ("models/./a.sql", "models/a.sql", false),
            ("models/", "models", false),
            ("../x/y", "../x/y", true),
        ];
        for (path, shown, borrowed) in cases {
            let d = display_path_cow(Path::new(path));
            assert_eq!(d, shown, "{path}");
            assert_eq!(
                matches!(d, std::borrow::Cow::Borrowed(_)),
                borrowed,
                "{path}"
            );
            let slow: Vec<_> = Path::new(path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            assert_eq!(display_path(Path::new(path)), slow.join("/"), "{path}");
        }
    }
}
