//! A YAML tree that remembers where every key and value is, and a reader over mappings that
//! reports unknown keys with a did-you-mean.
//!
//! serde deserialization stops at the first problem and forgets positions; strata wants every
//! unknown key of a file reported at its line, so properties are read through this tree instead.

use std::path::Path;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diagnostics::{Code, Diagnostic, Diagnostics, Span, suggest};

/// A YAML value with its position in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: Kind,
    /// 1-based line of the value.
    pub line: usize,
    /// 1-based column of the value.
    pub col: usize,
}

/// The shape of a YAML value. Scalars keep their text; typing happens when they are read.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// `~`, `null` or an empty value.
    Null,
    /// A scalar; `quoted` when written in quotes (so `'1'` stays a string).
    Scalar {
        /// The text of the scalar.
        text: String,
        /// True for single- or double-quoted scalars and block literals.
        quoted: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys keep their positions.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short name of the node's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "null",
            Kind::Scalar { .. } => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// True for null.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// The span of this node in `file`, covering the scalar text when there is one.
    pub fn span(&self, file: &Path) -> Span {
        let len = self.as_str().map(|s| s.chars().count()).unwrap_or(1);
        Span::new(file, self.line, self.col, len)
    }

    /// Converts to JSON: unquoted scalars become booleans, numbers or null when they look like one.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.kind {
            Kind::Null => J::Null,
            Kind::Scalar { text, quoted } => {
                if *quoted {
                    return J::String(text.clone());
                }
                scalar_to_json(text)
            }
            Kind::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => {
                let mut m = serde_json::Map::new();
                for (k, v) in entries {
                    m.insert(k.as_str().unwrap_or_default().to_string(), v.to_json());
                }
                J::Object(m)
            }
        }
    }
}

/// Types a plain YAML scalar as YAML 1.2's core schema does.
fn scalar_to_json(text: &str) -> serde_json::Value {
    use serde_json::Value as J;
    match text {
        "true" | "True" | "TRUE" => return J::Bool(true),
        "false" | "False" | "FALSE" => return J::Bool(false),
        "null" | "Null" | "NULL" | "~" | "" => return J::Null,
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return J::from(i);
    }
    if text.contains(['.', 'e', 'E'])
        && let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return J::from(f);
    }
    J::String(text.to_string())
}

/// Parses YAML text; a syntax error becomes a diagnostic at its line.
pub fn parse(text: &str, file: &Path) -> Result<Node, Diagnostic> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        let m = e.marker();
        // The parser's wording names the symptom; say what usually causes it.
        let help = (e.info() == "mapping values are not allowed in this context").then(|| {
            "check this line's indentation against the keys above it, or quote a value that contains `: `".to_string()
        });
        return Err(
            Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {}", e.info()))
                .at(Span::new(file, m.line(), m.col() + 1, 1))
                .with_label("YAML syntax error here")
                .with_help_opt(help),
        );
    }
    if builder.anchors_used {
        return Err(Diagnostic::error(
            Code::YamlSyntax,
            "YAML aliases (`*name`) are not supported in strata files",
        )
        .at(Span::file(file)));
    }
    Ok(builder.root.unwrap_or(Node {
        kind: Kind::Null,
        line: 1,
        col: 1,
    }))
}

#[derive(Default)]
struct Builder {
    stack: Vec<(Node, Option<Node>)>,
    root: Option<Node>,
    anchors_used: bool,
}

impl Builder {
    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some((parent, pending_key)) => match &mut parent.kind {
                Kind::Seq(items) => items.push(node),
                Kind::Map(entries) => match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => entries.push((key, node)),
                },
                _ => unreachable!("only collections are pushed on the stack"),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let (line, col) = (mark.line(), mark.col() + 1);
        match ev {
            Event::Scalar(text, style, _, _) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let kind =
                    if !quoted && matches!(text.as_str(), "~" | "null" | "Null" | "NULL" | "") {
                        Kind::Null
                    } else {
                        Kind::Scalar { text, quoted }
                    };
                self.push_value(Node { kind, line, col });
            }
            Event::SequenceStart(..) => self.stack.push((
                Node {
                    kind: Kind::Seq(Vec::new()),
                    line,
                    col,
                },
                None,
            )),
            Event::MappingStart(..) => self.stack.push((
                Node {
                    kind: Kind::Map(Vec::new()),
                    line,
                    col,
                },
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((node, _)) = self.stack.pop() {
                    self.push_value(node);
                }
            }
            Event::Alias(_) => {
                self.anchors_used = true;
                self.push_value(Node {
                    kind: Kind::Null,
                    line,
                    col,
                });
            }
            _ => {}
        }
    }
}

/// Reads the keys of one mapping: each `take` marks a key as known; `finish` reports every key
/// that was not taken as unknown, with a did-you-mean among the known ones.
pub struct MapReader<'a> {
    file: &'a Path,
    what: &'a str,
    entries: Vec<(&'a Node, &'a Node, bool)>,
    known: Vec<&'static str>,
}

impl<'a> MapReader<'a> {
    /// Starts reading `node`, which must be a mapping (or null, read as empty); `what` names it
    /// in messages ("model", "source table", ...).
    pub fn new(
        node: &'a Node,
        file: &'a Path,
        what: &'a str,
        diags: &mut Diagnostics,
    ) -> Option<MapReader<'a>> {
        let entries = match &node.kind {
            Kind::Map(entries) => entries.iter().map(|(k, v)| (k, v, false)).collect(),
            Kind::Null => Vec::new(),
            _ => {
                diags.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("expected a mapping for {what}, found {}", node.type_name()),
                    )
                    .at(node.span(file)),
                );
                return None;
            }
        };
        let mut reader = MapReader {
            file,
            what,
            entries,
            known: Vec::new(),
        };
        reader.report_duplicates(diags);
        Some(reader)
    }

    fn report_duplicates(&mut self, diags: &mut Diagnostics) {
        let mut seen: crate::sorted::FastMap<&str, &Node> = Default::default();
        for (k, _, _) in &self.entries {
            if let Some(name) = k.as_str() {
                if let Some(first) = seen.get(name) {
                    diags.push(
                        Diagnostic::error(
                            Code::DuplicateName,
                            format!("key `{name}` appears twice in {}", self.what),
                        )
                        .at(k.span(self.file))
                        .with_related(first.span(self.file), "first written here"),
                    );
                } else {
                    seen.insert(name, k);
                }
            }
        }
    }

    /// The file being read.
    pub fn file(&self) -> &'a Path {
        self.file
    }

    /// Takes the value of `key` (first of its spellings) and marks all spellings as known.
    pub fn take(&mut self, keys: &[&'static str]) -> Option<&'a Node> {
        self.known.extend_from_slice(keys);
        let mut found = None;
        for (k, v, used) in self.entries.iter_mut() {
            if let Some(name) = k.as_str()
                && keys.contains(&name)
            {
                *used = true;
                if found.is_none() {
                    found = Some(*v);
                }
            }
        }
        found.filter(|v| !v.is_null())
    }

    /// Takes a key whose value may be null (`key:` with nothing after it), as present.
    pub fn take_raw(&mut self, key: &'static str) -> Option<&'a Node> {
        self.known.push(key);
        let mut found = None;
        for (k, v, used) in self.entries.iter_mut() {
            if k.as_str() == Some(key) {
                *used = true;
                found = Some(*v);
            }
        }
        found
    }

    /// Takes a string value; other types are reported.
    pub fn string(&mut self, keys: &[&'static str], diags: &mut Diagnostics) -> Option<String> {
        let node = self.take(keys)?;
        expect_string(node, self.file, keys[0], diags)
    }

    /// Takes a required string value; its absence is reported at `at`.
    pub fn required_string(
        &mut self,
        key: &'static str,
        at: &Node,
        diags: &mut Diagnostics,
    ) -> Option<String> {
        match self.take(&[key]) {
            Some(node) => expect_string(node, self.file, key, diags),
            None => {
                diags.push(
                    Diagnostic::error(
                        Code::MissingKey,
                        format!("{} is missing the required key `{key}`", self.what),
                    )
                    .at(at.span(self.file)),
                );
                None
            }
        }
    }

    /// Takes a boolean value.
    pub fn bool(&mut self, keys: &[&'static str], diags: &mut Diagnostics) -> Option<bool> {
        let node = self.take(keys)?;
        expect_bool(node, self.file, keys[0], diags)
    }

    /// Takes a list of strings; a single string is read as a one-item list.
    pub fn string_list(&mut self, keys: &[&'static str], diags: &mut Diagnostics) -> Vec<String> {
        match self.take(keys) {
            Some(node) => expect_string_list(node, self.file, keys[0], diags),
            None => Vec::new(),
        }
    }

    /// The entries not taken so far, for readers whose keys are open-ended (folders, names).
    pub fn rest(&mut self) -> Vec<(&'a Node, &'a Node)> {
        let mut out = Vec::new();
        for (k, v, used) in self.entries.iter_mut() {
            if !*used {
                *used = true;
                out.push((*k, *v));
            }
        }
        out
    }

    /// Reports every key that was not taken.
    pub fn finish(self, diags: &mut Diagnostics) {
        for (k, _, used) in &self.entries {
            if *used {
                continue;
            }
            let name = k.as_str().unwrap_or("?");
            diags.push(unknown_key(name, self.what, &self.known, k.span(self.file)));
        }
    }
}

/// The diagnostic for a key strata does not know, with a did-you-mean among `known`.
pub fn unknown_key(name: &str, what: &str, known: &[&str], span: Span) -> Diagnostic {
    let help = suggest(name, known.iter().copied()).or_else(|| {
        let mut list: Vec<&str> = known.to_vec();
        list.sort_unstable();
        list.dedup();
        (!list.is_empty()).then(|| format!("expected one of: {}", list.join(", ")))
    });
    Diagnostic::error(Code::UnknownKey, format!("unknown key `{name}` in {what}"))
        .at(span)
        .with_label("not a known key")
        .with_help_opt(help)
}

/// Reads a scalar as a string.
pub fn expect_string(
    node: &Node,
    file: &Path,
    key: &str,
    diags: &mut Diagnostics,
) -> Option<String> {
    match node.as_str() {
        Some(s) => Some(s.to_string()),
        None => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{key}` must be a string, found {}", node.type_name()),
                )
                .at(node.span(file)),
            );
            None
        }
    }
}

/// Reads a scalar as a boolean.
pub fn expect_bool(node: &Node, file: &Path, key: &str, diags: &mut Diagnostics) -> Option<bool> {
    match node.to_json() {
        serde_json::Value::Bool(b) => Some(b),
        _ => {
            diags.push(
                Diagnostic::error(Code::InvalidValue, format!("`{key}` must be true or false"))
                    .at(node.span(file)),
            );
            None
        }
    }
}

/// Reads a non-negative integer.
pub fn expect_u64(node: &Node, file: &Path, key: &str, diags: &mut Diagnostics) -> Option<u64> {
    match node.to_json() {
        serde_json::Value::Number(n) if n.as_u64().is_some() => n.as_u64(),
        _ => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{key}` must be a non-negative integer"),
                )
                .at(node.span(file)),
            );
            None
        }
    }
}

/// Reads a non-negative number (integer or decimal).
pub fn expect_f64(node: &Node, file: &Path, key: &str, diags: &mut Diagnostics) -> Option<f64> {
    match node.to_json() {
        serde_json::Value::Number(n) if n.as_f64().is_some_and(|f| f >= 0.0) => n.as_f64(),
        _ => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{key}` must be a non-negative number"),
                )
                .at(node.span(file)),
            );
            None
        }
    }
}

/// Reads a list of strings; a single string is read as a one-item list.
pub fn expect_string_list(
    node: &Node,
    file: &Path,
    key: &str,
    diags: &mut Diagnostics,
) -> Vec<String> {
    match &node.kind {
        Kind::Null => Vec::new(),
        Kind::Scalar { text, .. } => vec![text.clone()],
        Kind::Seq(items) => items
            .iter()
            .filter_map(|i| expect_string(i, file, key, diags))
            .collect(),
        Kind::Map(_) => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{key}` must be a string or a list of strings, found a mapping"),
                )
                .at(node.span(file)),
            );
            Vec::new()
        }
    }
}

/// Reads a list of items (a single non-list value is reported).
pub fn expect_seq<'a>(
    node: &'a Node,
    file: &Path,
    key: &str,
    diags: &mut Diagnostics,
) -> &'a [Node] {
    match &node.kind {
        Kind::Seq(items) => items,
        Kind::Null => &[],
        _ => {
            diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{key}` must be a list, found {}", node.type_name()),
                )
                .at(node.span(file)),
            );
            &[]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let n = parse("a:\n  b: 1\n  c: [x, 'y']\n", Path::new("f.yml")).unwrap();
        let map = n.as_map().unwrap();
        let (k, v) = &map[0];
        assert_eq!((k.line, k.col), (1, 1));
        let inner = v.as_map().unwrap();
        assert_eq!((inner[1].0.line, inner[1].0.col), (3, 3));
        assert_eq!(inner[0].1.to_json(), serde_json::json!(1));
        assert_eq!(inner[1].1.to_json(), serde_json::json!(["x", "y"]));
    }

    #[test]
    fn syntax_error_has_a_line() {
        let e = parse("a: [1, 2\nb: 3\n", Path::new("f.yml")).unwrap_err();
        assert_eq!(e.code, Code::YamlSyntax);
        assert!(e.span.unwrap().line >= 1);
    }

    #[test]
    fn unknown_keys_are_reported_with_suggestion() {
        let n = parse("name: x\ndescripton: y\n", Path::new("f.yml")).unwrap();
        let mut d = Diagnostics::new();
        let mut r = MapReader::new(&n, Path::new("f.yml"), "model", &mut d).unwrap();
        r.string(&["name"], &mut d);
        r.string(&["description"], &mut d);
        r.finish(&mut d);
        let item = &d.items()[0];
        assert_eq!(item.code, Code::UnknownKey);
        assert_eq!(item.span.as_ref().unwrap().line, 2);
        assert_eq!(item.help.as_deref(), Some("did you mean `description`?"));
    }
}
