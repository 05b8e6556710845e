//! Selection semantics on a small fixture DAG (tests/fixtures/select_dag):
//!
//! ```text
//! raw_a ─▶ stg_a ─┬─▶ int_ab ─┬─▶ mart_x ─▶ dash (exposure), not_null_mart_x_id (test)
//! ext.events ─▶ stg_b ─┘      └─▶ mart_y
//!          stg_a ─▶ mart_z
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use strata::compile::{Compiled, compile};
use strata::graph::select::{IndirectSelection, select};
use strata::project::LoadOptions;

fn fixture() -> Compiled {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/select_dag");
    compile(&root, &LoadOptions::default()).expect("fixture compiles")
}

fn names(
    c: &Compiled,
    sel: &[&str],
    exc: &[&str],
    indirect: IndirectSelection,
) -> BTreeSet<String> {
    let sel: Vec<String> = sel.iter().map(|s| s.to_string()).collect();
    let exc: Vec<String> = exc.iter().map(|s| s.to_string()).collect();
    select(&c.dag, &c.nodes, &sel, &exc, indirect)
        .expect("valid selector")
        .into_iter()
        .map(|i| c.nodes[i].name.clone())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

const NO_TESTS: IndirectSelection = IndirectSelection::Empty;

#[test]
fn plain_name_selects_one_node() {
    let c = fixture();
    assert_eq!(names(&c, &["int_ab"], &[], NO_TESTS), set(&["int_ab"]));
}

#[test]
fn plus_prefix_selects_all_ancestors() {
    let c = fixture();
    assert_eq!(
        names(&c, &["+int_ab"], &[], NO_TESTS),
        set(&["raw_a", "stg_a", "events", "stg_b", "int_ab"])
    );
}

#[test]
fn plus_suffix_selects_all_descendants() {
    let c = fixture();
    assert_eq!(
        names(&c, &["stg_b+"], &[], NO_TESTS),
        set(&[
            "stg_b",
            "int_ab",
            "mart_x",
            "mart_y",
            "dash",
            "not_null_mart_x_id"
        ])
    );
}

#[test]
fn depth_limits_ancestors_and_descendants() {
    let c = fixture();
    assert_eq!(
        names(&c, &["1+int_ab"], &[], NO_TESTS),
        set(&["stg_a", "stg_b", "int_ab"])
    );
    assert_eq!(
        names(&c, &["2+int_ab"], &[], NO_TESTS),
        set(&["raw_a", "events", "stg_a", "stg_b", "int_ab"])
    );
    assert_eq!(
        names(&c, &["stg_a+1"], &[], NO_TESTS),
        set(&["stg_a", "int_ab", "mart_z"])
    );
}

#[test]
fn at_selects_descendants_and_their_ancestors() {
    let c = fixture();
    // Descendants of stg_b, plus everything those need (stg_a, raw_a, events).
    assert_eq!(
        names(&c, &["@stg_b"], &[], NO_TESTS),
        set(&[
            "stg_b",
            "int_ab",
            "mart_x",
            "mart_y",
            "dash",
            "not_null_mart_x_id",
            "stg_a",
            "raw_a",
            "events"
        ])
    );
}

#[test]
fn tag_path_config_source_and_resource_type_methods() {
    let c = fixture();
    assert_eq!(
        names(&c, &["tag:staging"], &[], NO_TESTS),
        set(&["stg_a", "stg_b"])
    );
    assert_eq!(names(&c, &["tag:nightly"], &[], NO_TESTS), set(&["int_ab"]));
    assert_eq!(
        names(&c, &["path:models/marts"], &[], NO_TESTS),
        set(&["mart_x", "mart_y", "mart_z", "dash", "not_null_mart_x_id"])
    );
    assert_eq!(
        names(&c, &["config.materialized:table"], &[], NO_TESTS),
        set(&["mart_x", "mart_z"])
    );
    assert_eq!(
        names(&c, &["config.materialized:incremental"], &[], NO_TESTS),
        set(&["mart_y"])
    );
    assert_eq!(
        names(
            &c,
            &["config.incremental_strategy:delete+insert"],
            &[],
            NO_TESTS
        ),
        set(&["mart_y"])
    );
    assert_eq!(names(&c, &["source:ext"], &[], NO_TESTS), set(&["events"]));
    assert_eq!(
        names(&c, &["source:ext.events+1"], &[], NO_TESTS),
        set(&["events", "stg_b"])
    );
    assert_eq!(
        names(&c, &["resource_type:seed"], &[], NO_TESTS),
        set(&["raw_a"])
    );
    assert_eq!(
        names(&c, &["resource_type:exposure"], &[], NO_TESTS),
        set(&["dash"])
    );
    assert_eq!(
        names(&c, &["resource_type:test"], &[], NO_TESTS),
        set(&["not_null_mart_x_id"])
    );
}

#[test]
fn folder_names_and_globs_select_like_dbt() {
    let c = fixture();
    assert_eq!(
        names(&c, &["staging"], &[], NO_TESTS),
        set(&["stg_a", "stg_b"])
    );
    assert_eq!(
        names(&c, &["mart_*"], &[], NO_TESTS),
        set(&["mart_x", "mart_y", "mart_z"])
    );
    assert_eq!(
        names(&c, &["models/int/int_ab.sql"], &[], NO_TESTS),
        set(&["int_ab"])
    );
}

#[test]
fn space_is_a_union_and_repeated_flags_too() {
    let c = fixture();
    assert_eq!(
        names(&c, &["mart_x mart_z"], &[], NO_TESTS),
        set(&["mart_x", "mart_z"])
    );
    assert_eq!(
        names(&c, &["mart_x", "mart_z"], &[], NO_TESTS),
        set(&["mart_x", "mart_z"])
    );
}

#[test]
fn comma_is_an_intersection() {
    let c = fixture();
    assert_eq!(
        names(&c, &["+mart_x,tag:staging"], &[], NO_TESTS),
        set(&["stg_a", "stg_b"])
    );
    assert_eq!(
        names(
            &c,
            &["path:models/marts,config.materialized:table"],
            &[],
            NO_TESTS
        ),
        set(&["mart_x", "mart_z"])
    );
}

#[test]
fn exclude_removes_after_selection() {
    let c = fixture();
    assert_eq!(
        names(&c, &["+mart_x"], &["stg_b+"], NO_TESTS),
        set(&["raw_a", "stg_a", "events"])
    );
    assert_eq!(
        names(&c, &["mart_*"], &["mart_y"], NO_TESTS),
        set(&["mart_x", "mart_z"])
    );
}

#[test]
fn tests_follow_their_models_eagerly_by_default() {
    let c = fixture();
    assert_eq!(
        names(&c, &["mart_x"], &[], IndirectSelection::Eager),
        set(&["mart_x", "not_null_mart_x_id"])
    );
    assert_eq!(
        names(&c, &["mart_x"], &[], IndirectSelection::Empty),
        set(&["mart_x"])
    );
}

#[test]
fn empty_selection_is_everything_in_topological_order() {
    let c = fixture();
    let order: Vec<String> = select(&c.dag, &c.nodes, &[], &[], NO_TESTS)
        .unwrap()
        .into_iter()
        .map(|i| c.nodes[i].name.clone())
        .collect();
    assert_eq!(order.len(), c.nodes.len());
    let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
    assert!(pos("raw_a") < pos("stg_a"));
    assert!(pos("events") < pos("stg_b"));
    assert!(pos("stg_b") < pos("int_ab"));
    assert!(pos("int_ab") < pos("mart_x"));
    assert!(pos("mart_x") < pos("dash"));
}

#[test]
fn unknown_method_is_an_error_with_suggestion() {
    let c = fixture();
    let err = select(
        &c.dag,
        &c.nodes,
        &["tags:staging".to_string()],
        &[],
        NO_TESTS,
    )
    .unwrap_err();
    let err = &err.items()[0];
    assert_eq!(err.code.as_str(), "S501");
    let help = err.help.as_deref().unwrap();
    assert!(help.contains("did you mean `tag:`?"), "{help}");
    // S501 lists every valid method.
    for m in [
        "tag:",
        "path:",
        "file:",
        "config.<key>:",
        "source:",
        "resource_type:",
        "fqn:",
        "exposure:",
        "test_type:",
    ] {
        assert!(help.contains(m), "S501 help lacks {m}: {help}");
    }
}

/// The S502 diagnostics of a selection, as (message, help).
fn nothing(c: &Compiled, sel: &[&str], exc: &[&str]) -> Vec<(String, String)> {
    let sel: Vec<String> = sel.iter().map(|s| s.to_string()).collect();
    let exc: Vec<String> = exc.iter().map(|s| s.to_string()).collect();
    let diags = select(&c.dag, &c.nodes, &sel, &exc, NO_TESTS).expect_err("an error");
    diags
        .items()
        .iter()
        .map(|d| {
            assert_eq!(d.code.as_str(), "S502", "{}", d.message);
            (d.message.clone(), d.help.clone().unwrap_or_default())
        })
        .collect()
}

#[test]
fn a_name_that_matches_nothing_is_an_error_with_did_you_mean() {
    let c = fixture();
    let found = nothing(&c, &["mart_q"], &[]);
    assert_eq!(found.len(), 1);
    assert!(found[0].0.contains("`mart_q`"), "{found:?}");
    // Graph operators are kept in the suggestion.
    let found = nothing(&c, &["+int_ba+"], &[]);
    assert!(found[0].1.contains("did you mean `+int_ab+`?"), "{found:?}");
    let found = nothing(&c, &["tag:stagin"], &[]);
    assert!(
        found[0].1.contains("did you mean `tag:staging`?"),
        "{found:?}"
    );
}

#[test]
fn one_term_of_a_union_that_matches_nothing_is_an_error_and_all_are_reported() {
    let c = fixture();
    let found = nothing(&c, &["mart_x stg_c", "tag:nighty"], &[]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].0.contains("`stg_c`"));
    assert!(found[1].0.contains("`tag:nighty`"));
}

#[test]
fn an_intersection_whose_parts_never_meet_is_an_error() {
    let c = fixture();
    let found = nothing(&c, &["tag:nightly,path:models/marts"], &[]);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].0.contains("no node matches all of them"),
        "{found:?}"
    );
    assert!(found[0].1.contains("space"), "{found:?}");
}

#[test]
fn an_exclude_that_matches_no_node_is_an_error_but_outside_the_selection_is_fine() {
    let c = fixture();
    let found = nothing(&c, &["mart_*"], &["mart_yy"]);
    assert_eq!(found.len(), 1);
    assert!(found[0].0.contains("--exclude `mart_yy`"), "{found:?}");
    assert!(found[0].1.contains("did you mean `mart_y`?"), "{found:?}");
    // Excluding a real node that is not selected changes nothing.
    assert_eq!(
        names(&c, &["mart_x"], &["mart_z"], NO_TESTS),
        set(&["mart_x"])
    );
}
