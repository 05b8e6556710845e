//! Lists and dicts a template can change in place, as Python's are in dbt's Jinja:
//! `{% do cols.append(c) %}`, `{% do seen.update({k: v}) %}`, the way dbt_utils-style macros
//! build their results. minijinja's values are immutable, so every `[...]` and `{...}`
//! literal of a template is wrapped, before the template is compiled, in a call that makes
//! it a [`List`] or a [`Dict`]: objects with Python's in-place methods.
//!
//! A macro whose body reads `kwargs` (the keyword arguments its parameters do not name, as
//! Jinja collects them) gets a `kwargs` parameter the same way, which the macro call fills in
//! (see [`pack_kwargs`]).
//!
//! The wrapping is inserted text, never a changed line: positions minijinja reports in the
//! wrapped text are mapped back with [`original_range`], so diagnostics point at the file
//! as written.

use std::sync::{Arc, Mutex};

use minijinja::machinery::{Span, Token, tokenize};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value, ValueKind, from_args};
use minijinja::{Environment, Error, ErrorKind, State};

/// The global function the wrapping calls.
const WRAP: &str = "__strata_mut";
const OPEN: &str = "__strata_mut(";
const CLOSE: &str = ")";

/// Registers the function the wrapped literals call.
pub fn add(env: &mut Environment) {
    env.add_function(WRAP, |v: Value| -> Value { changeable(&v) });
}

/// `value` as a list or dict that can change, when it is a sequence or a map.
pub fn changeable(value: &Value) -> Value {
    match value.kind() {
        ValueKind::Seq => Value::from_object(List(Mutex::new(
            value.try_iter().into_iter().flatten().collect(),
        ))),
        ValueKind::Map => Value::from_object(Dict(Mutex::new(
            value
                .try_iter()
                .into_iter()
                .flatten()
                .map(|k| {
                    let v = value.get_item(&k).unwrap_or_default();
                    (k, v)
                })
                .collect(),
        ))),
        _ => value.clone(),
    }
}

/// Whether `source` may hold a list or dict literal: a `[`, or a `{` that opens no Jinja tag.
fn may_have_literals(source: &str) -> bool {
    let b = source.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'['
            || (c == b'{'
                && !matches!(b.get(i + 1), Some(b'{' | b'%' | b'#'))
                && (i == 0 || b[i - 1] != b'{'))
    })
}

/// Words after which `[` opens a list rather than indexing a value.
const KEYWORDS: &[&str] = &[
    "in", "not", "and", "or", "if", "elif", "else", "is", "do", "for", "set", "with", "print",
];

/// Where the wrapping goes: byte offsets in `source` and the text inserted there, in order.
/// Nothing when the template does not tokenize (minijinja then reports the error itself).
fn insertions(source: &str) -> Vec<(usize, &'static str)> {
    let uses_kwargs = source.contains("kwargs");
    if !may_have_literals(source) && !uses_kwargs {
        return Vec::new();
    }
    let mut tokens = Vec::new();
    for token in tokenize(source, false, SyntaxConfig::default()) {
        let Ok(token) = token else {
            return Vec::new();
        };
        tokens.push(token);
    }
    let mut out = literal_insertions(&tokens);
    if uses_kwargs {
        out.extend(kwargs_insertions(&tokens));
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

/// Where each macro whose body reads `kwargs`, and whose parameters do not name it, gets a
/// `kwargs` parameter: just before the `)` of its signature.
fn kwargs_insertions(tokens: &[(Token<'_>, Span)]) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 3 < tokens.len() {
        let is_macro = matches!(tokens[i].0, Token::BlockStart)
            && matches!(tokens[i + 1].0, Token::Ident("macro"))
            && matches!(tokens[i + 2].0, Token::Ident(_))
            && matches!(tokens[i + 3].0, Token::ParenOpen);
        if !is_macro {
            i += 1;
            continue;
        }
        // The signature: up to the `)` that closes it.
        let mut depth = 0;
        let mut close = None;
        for (k, (t, _)) in tokens.iter().enumerate().skip(i + 3) {
            match t {
                Token::ParenOpen => depth += 1,
                Token::ParenClose => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(k);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(close) = close else {
            return out;
        };
        let names_kwargs = tokens[i + 4..close]
            .iter()
            .any(|(t, _)| matches!(t, Token::Ident("kwargs")));
        // The body: up to `{% endmacro %}`.
        let end = (close..tokens.len().saturating_sub(1))
            .find(|&k| {
                matches!(tokens[k].0, Token::BlockStart)
                    && matches!(tokens[k + 1].0, Token::Ident("endmacro"))
            })
            .unwrap_or(tokens.len());
        let reads_kwargs = tokens[close..end]
            .iter()
            .any(|(t, _)| matches!(t, Token::Ident("kwargs")));
        if reads_kwargs && !names_kwargs {
            let text = if close == i + 4 {
                KWARGS_ALONE
            } else {
                KWARGS_AFTER
            };
            out.push((tokens[close].1.start_offset as usize, text));
        }
        i = close;
    }
    out
}

/// The parameter a macro reading `kwargs` gets.
pub const KWARGS: &str = "kwargs";
const KWARGS_ALONE: &str = "kwargs=none";
const KWARGS_AFTER: &str = ", kwargs=none";

/// The arguments of a call to macro `f` whose parameters include `kwargs` (see the module's
/// text): the keyword arguments no other parameter names, gathered into `kwargs` as a dict.
/// `None` when `f` takes no `kwargs`, or every keyword argument is named.
pub fn pack_kwargs(f: &Value, args: &[Value]) -> Option<Vec<Value>> {
    let params: Vec<String> = f
        .get_attr("arguments")
        .ok()?
        .try_iter()
        .ok()?
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if !params.iter().any(|p| p == KWARGS) {
        return None;
    }
    let (positional, kwargs) = match args.split_last() {
        Some((last, rest)) if last.is_kwargs() => (rest, Kwargs::try_from(last.clone()).ok()),
        _ => (args, None),
    };
    let mut named: Vec<(String, Value)> = Vec::new();
    let mut extra: Vec<(Value, Value)> = Vec::new();
    if let Some(kwargs) = &kwargs {
        for key in kwargs.args() {
            let v: Value = kwargs.get(key).ok()?;
            if params.iter().any(|p| p == key) {
                named.push((key.to_string(), v));
            } else {
                extra.push((Value::from(key), v));
            }
        }
    }
    named.push((
        KWARGS.to_string(),
        Value::from_object(Dict(Mutex::new(extra))),
    ));
    let mut out = positional.to_vec();
    out.push(Value::from(Kwargs::from_iter(named)));
    Some(out)
}

/// Where the literals' wrapping goes.
fn literal_insertions(tokens: &[(Token<'_>, Span)]) -> Vec<(usize, &'static str)> {
    let mut out: Vec<(usize, &'static str)> = Vec::new();
    // For each open bracket or brace: which it is, and whether it opened a literal.
    let mut open: Vec<(bool, bool)> = Vec::new();
    let mut literal_may_follow = true;
    for (token, span) in tokens {
        match token {
            Token::BracketOpen | Token::BraceOpen => {
                let literal = matches!(token, Token::BraceOpen) || literal_may_follow;
                if literal {
                    out.push((span.start_offset as usize, OPEN));
                }
                open.push((matches!(token, Token::BracketOpen), literal));
            }
            Token::BracketClose | Token::BraceClose => {
                let bracket = matches!(token, Token::BracketClose);
                match open.pop() {
                    Some((b, literal)) if b == bracket => {
                        if literal {
                            out.push((span.end_offset as usize, CLOSE));
                        }
                    }
                    _ => return Vec::new(),
                }
            }
            _ => {}
        }
        literal_may_follow = match token {
            Token::Ident(word) => KEYWORDS.contains(word),
            Token::Str(_)
            | Token::String(_)
            | Token::Int(_)
            | Token::Int128(_)
            | Token::Float(_)
            | Token::ParenClose
            | Token::BracketClose
            | Token::BraceClose => false,
            _ => true,
        };
    }
    if !open.is_empty() {
        return Vec::new();
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

/// `source` with every list and dict literal wrapped, or `None` when it has none.
pub fn rewrite(source: &str) -> Option<String> {
    let inserts = insertions(source);
    if inserts.is_empty() {
        return None;
    }
    let extra: usize = inserts.iter().map(|(_, t)| t.len()).sum();
    let mut out = String::with_capacity(source.len() + extra);
    let mut from = 0;
    for (at, text) in inserts {
        out.push_str(&source[from..at]);
        out.push_str(text);
        from = at;
    }
    out.push_str(&source[from..]);
    Some(out)
}

/// A byte range of [`rewrite`]'s output for `source`, as a range of `source` itself.
pub fn original_range(source: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let inserts = insertions(source);
    if inserts.is_empty() {
        return range;
    }
    let back = |offset: usize| {
        let mut shift = 0;
        for (at, text) in &inserts {
            let start = at + shift;
            if offset < start {
                break;
            }
            if offset < start + text.len() {
                return *at;
            }
            shift += text.len();
        }
        offset - shift
    };
    let start = back(range.start);
    start..back(range.end).max(start)
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// A list written `[...]` in a template.
#[derive(Debug)]
pub struct List(Mutex<Vec<Value>>);

impl List {
    fn items(&self) -> std::sync::MutexGuard<'_, Vec<Value>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An index as Python takes it: negative from the end; `None` when out of range.
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

impl Object for List {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = self.items();
        let i = index(key.as_i64()?, items.len())?;
        items.get(i).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items().clone())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.items().len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let none = Value::from(());
        match method {
            "append" => {
                let (v,): (Value,) = from_args(args)?;
                self.items().push(v);
                Ok(none)
            }
            "extend" => {
                let (v,): (Value,) = from_args(args)?;
                let new: Vec<Value> = v.try_iter()?.collect();
                self.items().extend(new);
                Ok(none)
            }
            "insert" => {
                let (i, v): (i64, Value) = from_args(args)?;
                let mut items = self.items();
                let len = items.len() as i64;
                let at = if i < 0 { (len + i).max(0) } else { i.min(len) };
                items.insert(at as usize, v);
                Ok(none)
            }
            "pop" => {
                let (i,): (Option<i64>,) = from_args(args)?;
                let mut items = self.items();
                if items.is_empty() {
                    return Err(invalid("pop from empty list"));
                }
                let at = index(i.unwrap_or(-1), items.len())
                    .ok_or_else(|| invalid("pop index out of range"))?;
                Ok(items.remove(at))
            }
            "remove" => {
                let (v,): (Value,) = from_args(args)?;
                let mut items = self.items();
                let at = items
                    .iter()
                    .position(|x| *x == v)
                    .ok_or_else(|| invalid(format!("list.remove(x): {v} not in list")))?;
                items.remove(at);
                Ok(none)
            }
            "index" => {
                let (v,): (Value,) = from_args(args)?;
                let at = self.items().iter().position(|x| *x == v);
                at.map(Value::from)
                    .ok_or_else(|| invalid(format!("{v} is not in list")))
            }
            "sort" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let reverse: Option<bool> = kwargs.get("reverse")?;
                kwargs.assert_all_used()?;
                let mut items = self.items();
                items.sort();
                if reverse == Some(true) {
                    items.reverse();
                }
                Ok(none)
            }
            "reverse" => {
                let () = from_args(args)?;
                self.items().reverse();
                Ok(none)
            }
            "clear" => {
                let () = from_args(args)?;
                self.items().clear();
                Ok(none)
            }
            "copy" => {
                let () = from_args(args)?;
                Ok(Value::from_object(List(Mutex::new(self.items().clone()))))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A dict written `{...}` in a template: keys in insertion order, as Python's.
#[derive(Debug)]
pub struct Dict(Mutex<Vec<(Value, Value)>>);

impl Dict {
    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<(Value, Value)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, key: Value, value: Value) {
        let mut entries = self.entries();
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key, value)),
        }
    }
}

impl Object for Dict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let entries = self.entries();
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::RevKeyValueIter(Box::new(self.entries().clone().into_iter()))
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.entries().len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let none = Value::from(());
        match method {
            "update" => {
                let (other, kwargs): (Option<Value>, Kwargs) = from_args(args)?;
                if let Some(other) = other {
                    if other.kind() != ValueKind::Map {
                        return Err(invalid(format!(
                            "dict.update() takes a dict, not {}",
                            other.kind()
                        )));
                    }
                    for k in other.try_iter()? {
                        let v = other.get_item(&k)?;
                        self.set(k, v);
                    }
                }
                for k in kwargs.args() {
                    let v: Value = kwargs.get(k)?;
                    self.set(Value::from(k), v);
                }
                Ok(none)
            }
            "pop" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                let mut entries = self.entries();
                match entries.iter().position(|(k, _)| *k == key) {
                    Some(at) => Ok(entries.remove(at).1),
                    None => default.ok_or_else(|| invalid(format!("KeyError: {key}"))),
                }
            }
            "setdefault" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                let mut entries = self.entries();
                if let Some((_, v)) = entries.iter().find(|(k, _)| *k == key) {
                    return Ok(v.clone());
                }
                let v = default.unwrap_or_else(|| Value::from(()));
                entries.push((key, v.clone()));
                Ok(v)
            }
            "clear" => {
                let () = from_args(args)?;
                self.entries().clear();
                Ok(none)
            }
            "copy" => {
                let () = from_args(args)?;
                Ok(Value::from_object(Dict(Mutex::new(self.entries().clone()))))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str) -> String {
        let mut env = Environment::new();
        add(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        let text = rewrite(source).unwrap_or_else(|| source.to_string());
        env.render_str(&text, ()).unwrap()
    }

    #[test]
    fn literals_are_wrapped_and_subscripts_are_not() {
        assert_eq!(
            rewrite("{% set a = [] %}{{ b[0] }}{{ x in [1, {'k': [2]}] }}").unwrap(),
            "{% set a = __strata_mut([]) %}{{ b[0] }}{{ x in __strata_mut([1, __strata_mut({'k': __strata_mut([2])})]) }}"
        );
        assert_eq!(rewrite("select a[1] from t {{ ref('x') }}"), None);
        assert_eq!(rewrite("{{ f(x)[0] }}{{ 'ab'[1] }}{{ m[k][0] }}"), None);
        assert_eq!(rewrite("{% raw %}{{ [1] }}{% endraw %}"), None);
        // A template that does not tokenize is left as it is.
        assert_eq!(rewrite("{{ [1 }}"), None);
    }

    #[test]
    fn lists_and_dicts_change_in_place() {
        assert_eq!(
            render(
                "{% set a = [] %}{% for i in range(3) %}{% do a.append(i) %}{% endfor %}\
                 {% do a.extend([7, 8]) %}{% do a.insert(0, 9) %}{{ a.pop() }} {{ a.pop(0) }} \
                 {% do a.remove(7) %}{{ a }} {{ a | length }} {{ a[-1] }} {{ a.index(2) }}"
            ),
            "8 9 [0, 1, 2] 3 2 2"
        );
        assert_eq!(
            render(
                "{% set d = {} %}{% do d.update({'b': 1}) %}{% do d.update(a=2) %}\
                 {% do d.setdefault('c', []).append(3) %}{{ d.setdefault('c') }} \
                 {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.b }} \
                 {{ d.pop('b') }} {{ d.pop('zz', 'none') }} {{ d | length }} {{ 'a' in d }}"
            ),
            "[3] b=1;a=2;c=[3]; 1 1 none 2 True"
        );
        // Nested: a list held in a dict changes through the dict.
        assert_eq!(
            render(
                "{% set cols = {'r': []} %}{% do cols['r'].append('x') %}{% do cols.r.append('y') %}{{ cols.r | join(',') }}"
            ),
            "x,y"
        );
        assert_eq!(
            render("{% set a = [3, 1, 2] %}{% do a.sort(reverse=true) %}{{ a }}"),
            "[3, 2, 1]"
        );
    }

    #[test]
    fn every_evaluation_gets_its_own_list() {
        assert_eq!(
            render(
                "{% macro m() %}{% set a = [] %}{% do a.append(1) %}{{ a | length }}{% endmacro %}{{ m() }}{{ m() }}"
            ),
            "11"
        );
    }

    #[test]
    fn a_macro_reading_kwargs_gets_a_kwargs_parameter_the_call_fills() {
        assert_eq!(
            rewrite("{% macro m(a) %}{{ kwargs.x }}{% endmacro %}{% macro n() %}{{ kwargs }}{% endmacro %}{% macro o(kwargs) %}{{ kwargs }}{% endmacro %}{% macro p(a) %}{{ a }}{% endmacro %}").unwrap(),
            "{% macro m(a, kwargs=none) %}{{ kwargs.x }}{% endmacro %}{% macro n(kwargs=none) %}{{ kwargs }}{% endmacro %}{% macro o(kwargs) %}{{ kwargs }}{% endmacro %}{% macro p(a) %}{{ a }}{% endmacro %}"
        );
        let mut env = Environment::new();
        add(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        let text = rewrite(
            "{% macro m(a) %}{{ a }}:{{ kwargs.get('b') }}:{{ kwargs | length }}{% endmacro %}",
        )
        .unwrap();
        env.add_template_owned("t", text).unwrap();
        let tmpl = env.get_template("t").unwrap();
        let mut captured = tmpl.render_captured(()).unwrap();
        captured.with_state_mut(|state| {
            let f = state.lookup("m").unwrap();
            let kw = Value::from(Kwargs::from_iter([
                ("b", Value::from(2)),
                ("a", Value::from(1)),
            ]));
            let packed = pack_kwargs(&f, &[kw]).unwrap();
            assert_eq!(f.call(state, &packed).unwrap().to_string(), "1:2:1");
            let packed = pack_kwargs(&f, &[Value::from(5)]).unwrap();
            assert_eq!(f.call(state, &packed).unwrap().to_string(), "5:None:0");
        });
    }

    #[test]
    fn positions_map_back_to_the_file() {
        let src = "{% set a = [] %}\n{{ a.nope() }}";
        let text = rewrite(src).unwrap();
        let at = text.find("a.nope").unwrap();
        let back = original_range(src, at..at + 6);
        assert_eq!(&src[back], "a.nope");
        // Inside inserted text: the literal's own position.
        let wrap = text.find(OPEN).unwrap();
        assert_eq!(original_range(src, wrap + 3..wrap + 4), 11..11);
    }
}
