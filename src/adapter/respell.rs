//! Type names in an engine's own words: `cast(x as varchar)` and `x::double precision` are
//! portable between DuckDB and Postgres, but Spark has no `varchar` without a length, no
//! `text` and no `double precision`. The compiled SQL of a Spark target spells them as Spark
//! does (`Engine::type_spellings`), so a project written for the other two runs there as it
//! is. Only the type of a cast (`cast(... as T)`, `try_cast`, `safe_cast`, `::T`) is touched,
//! and only a name written without a length; strings, quoted names and comments never are.

use std::borrow::Cow;

/// A word of the text, lowercased, with its byte range.
struct Word {
    start: usize,
    end: usize,
    lower: String,
}

/// `sql` with every cast's type that `spellings` names (a portable name of one or two words,
/// and the engine's) replaced by the engine's; borrowed when nothing changes.
pub fn respell_types<'a>(sql: &'a str, spellings: &[(&str, &str)]) -> Cow<'a, str> {
    if spellings.is_empty() {
        return Cow::Borrowed(sql);
    }
    let mut edits: Vec<(usize, usize, &str)> = Vec::new();
    let b = sql.as_bytes();
    // One entry per open parenthesis: true when it opened a cast.
    let mut parens: Vec<bool> = Vec::new();
    let mut last_word: Option<Word> = None;
    let mut i = 0;
    while i < b.len() {
        if let Some((end, quoted)) = skip_quoted_or_comment(b, i) {
            i = end;
            if quoted {
                last_word = None;
            }
            continue;
        }
        match b[i] {
            b'(' => {
                let cast = last_word
                    .as_ref()
                    .is_some_and(|w| matches!(w.lower.as_str(), "cast" | "try_cast" | "safe_cast"));
                parens.push(cast);
                last_word = None;
            }
            b')' => {
                parens.pop();
                last_word = None;
            }
            b':' if b.get(i + 1) == Some(&b':') => {
                i += 2;
                if let Some(edit) = type_at(sql, i, spellings) {
                    edits.push(edit);
                }
                last_word = None;
                continue;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let w = word_at(sql, i);
                i = w.end;
                if w.lower == "as"
                    && parens.last() == Some(&true)
                    && let Some(edit) = type_at(sql, i, spellings)
                {
                    edits.push(edit);
                }
                last_word = Some(w);
                continue;
            }
            c if c.is_ascii_whitespace() => {}
            _ => last_word = None,
        }
        i += 1;
    }
    if edits.is_empty() {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    for (start, end, with) in edits {
        out.push_str(&sql[at..start]);
        out.push_str(with);
        at = end;
    }
    out.push_str(&sql[at..]);
    Cow::Owned(out)
}

/// When a string, a quoted name or a comment starts at byte `i`: the byte after its end, and
/// whether it was quoted (not a comment). Strings take backslash escapes, as in Spark SQL.
pub(crate) fn skip_quoted_or_comment(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    match b[i] {
        q @ (b'\'' | b'"' | b'`') => {
            i += 1;
            while i < b.len() && b[i] != q {
                if b[i] == b'\\' && q == b'\'' {
                    i += 1;
                }
                i += 1;
            }
            Some(((i + 1).min(b.len()), true))
        }
        b'-' if b.get(i + 1) == Some(&b'-') => {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            Some((i, false))
        }
        b'/' if b.get(i + 1) == Some(&b'*') => {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            Some(((i + 2).min(b.len()), false))
        }
        _ => None,
    }
}

/// The word starting at byte `i`.
fn word_at(sql: &str, i: usize) -> Word {
    let b = sql.as_bytes();
    let mut end = i;
    while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
        end += 1;
    }
    Word {
        start: i,
        end,
        lower: sql[i..end].to_ascii_lowercase(),
    }
}

/// The next word at or after byte `i`, past whitespace.
fn next_word(sql: &str, mut i: usize) -> Option<Word> {
    let b = sql.as_bytes();
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    (i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_')).then(|| word_at(sql, i))
}

/// The edit for the type that starts at or after byte `i`, when `spellings` names it and no
/// length follows it.
fn type_at<'s>(
    sql: &str,
    i: usize,
    spellings: &[(&str, &'s str)],
) -> Option<(usize, usize, &'s str)> {
    let first = next_word(sql, i)?;
    let second = next_word(sql, first.end);
    for (portable, own) in spellings {
        let mut parts = portable.split(' ');
        let (a, b) = (parts.next()?, parts.next());
        if first.lower != a {
            continue;
        }
        let end = match (b, &second) {
            (None, _) => first.end,
            (Some(b), Some(s)) if s.lower == b => s.end,
            _ => continue,
        };
        let rest = sql[end..].trim_start();
        if rest.starts_with('(') {
            return None;
        }
        return Some((first.start, end, own));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPARK: &[(&str, &str)] = &[
        ("character varying", "string"),
        ("varchar", "string"),
        ("text", "string"),
        ("double precision", "double"),
    ];

    #[test]
    fn cast_types_are_respelled_and_nothing_else() {
        assert_eq!(
            respell_types(
                "select cast(a as varchar) as text, CAST(b AS Double  Precision), c::text, cast(d as varchar(10)), try_cast(e as character varying) from t",
                SPARK
            ),
            "select cast(a as string) as text, CAST(b AS double), c::string, cast(d as varchar(10)), try_cast(e as string) from t"
        );
        // Strings, quoted names, comments and aliases outside casts stay.
        let untouched = "select 'cast(x as varchar)' as \"text\", x as varchar -- cast(y as text)\n/* ::text */ from t";
        assert!(matches!(respell_types(untouched, SPARK), Cow::Borrowed(_)));
        // Nested parentheses inside a cast.
        assert_eq!(
            respell_types("cast(coalesce(upper(x), '') as varchar)", SPARK),
            "cast(coalesce(upper(x), '') as string)"
        );
        assert!(matches!(
            respell_types("cast(x as varchar)", &[]),
            Cow::Borrowed(_)
        ));
    }
}
