//! Prometheus alerting rules made from the project's freshness config: one rule per SLO (per
//! distinct threshold: `FreshnessAbove20m` for the nodes whose `warn_after` is 20 minutes,
//! severity `warning`; `error_after` gives severity `critical`), plus one for checks that
//! fail. The file is Prometheus's rule-file format (`groups:` of rules with `alert`, `expr`,
//! `for`, `labels`, `annotations`), written with the YAML crate's emitter.

use std::collections::BTreeMap;

use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

use super::check::Spec;
use super::metrics::names;
use crate::ir::FreshnessThreshold;

/// One SLO: a threshold and the nodes it applies to.
struct Slo {
    name: String,
    words: String,
    seconds: u64,
    severity: &'static str,
    unique_ids: Vec<String>,
}

fn short(t: &FreshnessThreshold) -> String {
    let unit = match t.period.as_str() {
        "minute" => "m",
        "hour" => "h",
        _ => "d",
    };
    format!("{}{unit}", t.count)
}

fn slos(specs: &[Spec]) -> Vec<Slo> {
    let mut by: BTreeMap<(u64, &'static str), Slo> = BTreeMap::new();
    for s in specs {
        let both = [
            (&s.freshness.warn_after, "warning"),
            (&s.freshness.error_after, "critical"),
        ];
        for (t, severity) in both {
            let Some(t) = t else { continue };
            let slo = by.entry((t.seconds(), severity)).or_insert_with(|| Slo {
                name: format!("FreshnessAbove{}", short(t)),
                words: t.describe(),
                seconds: t.seconds(),
                severity,
                unique_ids: Vec::new(),
            });
            slo.unique_ids.push(s.unique_id.to_string());
        }
    }
    by.into_values().collect()
}

fn s(v: &str) -> Yaml {
    Yaml::String(v.to_string())
}

fn map(entries: Vec<(&str, Yaml)>) -> Yaml {
    let mut h = Hash::new();
    for (k, v) in entries {
        h.insert(s(k), v);
    }
    Yaml::Hash(h)
}

/// Escapes a unique id for a PromQL regex inside a double-quoted label matcher.
fn regex_escape(id: &str) -> String {
    let mut out = String::new();
    for c in id.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            // A backslash escapes the regex metacharacter; doubled for the PromQL string.
            out.push_str("\\\\");
        } else if c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The rule file for `project`'s checks.
pub fn rules_yaml(project: &str, specs: &[Spec]) -> String {
    let mut rules: Vec<Yaml> = Vec::new();
    for slo in slos(specs) {
        let ids: Vec<String> = slo.unique_ids.iter().map(|i| regex_escape(i)).collect();
        let expr = format!(
            "time() - strata_{}{{project=\"{project}\", unique_id=~\"{}\"}} > {}",
            names::LAST_LOADED,
            ids.join("|"),
            slo.seconds
        );
        rules.push(map(vec![
            ("alert", s(&slo.name)),
            ("expr", s(&expr)),
            ("for", s("1m")),
            (
                "labels",
                map(vec![("severity", s(slo.severity)), ("project", s(project))]),
            ),
            (
                "annotations",
                map(vec![
                    (
                        "summary",
                        s(&format!("{{{{ $labels.node }}}} was last loaded more than {} ago", slo.words)),
                    ),
                    (
                        "description",
                        s(&format!(
                            "max(loaded_at_field) of {{{{ $labels.unique_id }}}} is older than its freshness threshold of {} ({} nodes of project {project} share it).",
                            slo.words,
                            slo.unique_ids.len()
                        )),
                    ),
                ]),
            ),
        ]));
    }
    rules.push(map(vec![
        ("alert", s("FreshnessCheckFailed")),
        (
            "expr",
            s(&format!(
                "strata_{}{{project=\"{project}\"}} == 0",
                names::CHECK_SUCCESS
            )),
        ),
        ("for", s("5m")),
        (
            "labels",
            map(vec![("severity", s("warning")), ("project", s(project))]),
        ),
        (
            "annotations",
            map(vec![(
                "summary",
                s("the freshness check of {{ $labels.node }} fails: its age is unknown"),
            )]),
        ),
    ]));
    let doc = map(vec![(
        "groups",
        Yaml::Array(vec![map(vec![
            ("name", s(&format!("strata-freshness-{project}"))),
            ("rules", Yaml::Array(rules)),
        ])]),
    )]);
    let mut out = String::new();
    YamlEmitter::new(&mut out)
        .dump(&doc)
        .expect("writing to a String cannot fail");
    out.push('\n');
    out
}
