//! dbt's `source_status:fresher` selector: the sources whose newest load in the current
//! `sources.json` (written by the last `strata source freshness`) is later than in the
//! `sources.json` under `--state DIR`, or that the state did not have. A term such as
//! `source_status:fresher+` becomes one `source:<source>.<table>+` term per such source, so
//! that the graph operators keep their meaning.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The method and value the selector is written with.
const SELECTOR: &str = "source_status:fresher";

/// What expanding the selectors gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Expanded {
    /// No term used `source_status:`: the selectors as given.
    Unchanged,
    /// The selectors with each `source_status:fresher` term replaced (possibly by nothing).
    Replaced(Vec<String>),
}

fn newest_loads(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let results = doc["results"]
        .as_array()
        .ok_or_else(|| format!("{} has no `results`", path.display()))?;
    Ok(results
        .iter()
        .filter_map(|r| {
            Some((
                r["unique_id"].as_str()?.to_string(),
                r["max_loaded_at"].as_str()?.to_string(),
            ))
        })
        .collect())
}

/// `source.<project>.<source>.<table>` as a `source:` selector value.
fn source_selector(unique_id: &str) -> Option<String> {
    let mut parts = unique_id.splitn(4, '.');
    (parts.next()? == "source").then_some(())?;
    parts.next()?;
    Some(format!("{}.{}", parts.next()?, parts.next()?))
}

/// Expands `source_status:fresher` in `selectors`, comparing `current` (the artifacts
/// directory) with `state` (`--state DIR`). An error when the selector is used without
/// `--state`, inside an intersection, or with files missing.
pub fn expand(
    selectors: &[String],
    current: &Path,
    state: Option<&Path>,
) -> Result<Expanded, String> {
    if !selectors.iter().any(|s| s.contains("source_status:")) {
        return Ok(Expanded::Unchanged);
    }
    let state = state.ok_or(
        "`source_status:fresher` compares with an earlier `sources.json`: give --state DIR (the artifacts directory of an earlier `strata source freshness`)",
    )?;
    let now = newest_loads(&current.join("sources.json"))
        .map_err(|e| format!("{e}; run `strata source freshness` first"))?;
    let before = newest_loads(&state.join("sources.json"))?;
    // RFC 3339 UTC strings of one width compare as the instants they are.
    let fresher: Vec<String> = now
        .iter()
        .filter(|(id, at)| before.get(*id).is_none_or(|b| *at > b))
        .filter_map(|(id, _)| source_selector(id))
        .collect();
    let mut out = Vec::new();
    for term in selectors {
        let Some(at) = term.find("source_status:") else {
            out.push(term.clone());
            continue;
        };
        if term.contains(',') {
            return Err(format!(
                "`{term}`: source_status: cannot be part of an intersection (a comma); write it as a term of its own"
            ));
        }
        let (prefix, rest) = term.split_at(at);
        let Some(suffix) = rest.strip_prefix(SELECTOR) else {
            return Err(format!(
                "`{term}`: the only source_status: selector is `source_status:fresher`"
            ));
        };
        out.extend(
            fresher
                .iter()
                .map(|s| format!("{prefix}source:{s}{suffix}")),
        );
    }
    Ok(Expanded::Replaced(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, loads: &[(&str, &str)]) {
        let results: Vec<Value> = loads
            .iter()
            .map(|(id, at)| serde_json::json!({"unique_id": id, "max_loaded_at": at}))
            .collect();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("sources.json"),
            serde_json::json!({"results": results}).to_string(),
        )
        .unwrap();
    }

    #[test]
    fn fresher_sources_replace_the_term_with_its_graph_operators() {
        let tmp = tempfile::tempdir().unwrap();
        let (now, before) = (tmp.path().join("now"), tmp.path().join("before"));
        write(
            &now,
            &[
                ("source.p.s.a", "2026-01-01T10:00:00.000000Z"),
                ("source.p.s.b", "2026-01-01T09:00:00.000000Z"),
                ("source.p.s.c", "2026-01-01T09:00:00.000000Z"),
            ],
        );
        write(
            &before,
            &[
                ("source.p.s.a", "2026-01-01T09:00:00.000000Z"),
                ("source.p.s.b", "2026-01-01T09:00:00.000000Z"),
            ],
        );
        let sel = vec!["source_status:fresher+".to_string(), "m".to_string()];
        assert_eq!(
            expand(&sel, &now, Some(&before)).unwrap(),
            Expanded::Replaced(vec!["source:s.a+".into(), "source:s.c+".into(), "m".into()])
        );
        assert!(expand(&sel, &now, None).unwrap_err().contains("--state"));
        let bad = vec!["source_status:fresher,tag:x".to_string()];
        assert!(expand(&bad, &now, Some(&before)).is_err());
        let none = vec!["m".to_string()];
        assert_eq!(expand(&none, &now, None).unwrap(), Expanded::Unchanged);
    }
}
