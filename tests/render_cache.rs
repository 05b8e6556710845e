//! The render cache (`.strata/render-cache.json`): a warm compile takes unchanged renders from
//! it and gives the same artifacts and the same diagnostics, at the same positions, as a cold
//! one; a changed template, macro, var or environment variable is rendered again. (Caches are
//! written by successful compiles only, and only when they change.)

mod common;

use std::path::Path;

const PROJECT: &str = "name: rc
targets:
  dev:
    type: duckdb
    path: warehouse/rc.duckdb
    schema: main
vars:
  factor: 2
models:
  rc:
    marts:
      +materialized: table
";

const MACROS: &str = "{% macro shout(x) -%}
upper({{ x }})
{%- endmacro %}
";

/// A project with a macro, a var, an env var, config() calls, an incremental model, a hook and
/// hard-coded relations (warnings), one of them in a model whose output depends on the config
/// project.yml and its properties give it (so a warm compile must render it again with that
/// config to place the warning).
fn project() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rc");
    let files: &[(&str, &str)] = &[
        ("project.yml", PROJECT),
        ("macros/shout.sql", MACROS),
        (
            "models/a.sql",
            "select 1 as id,\n    {{ shout(\"'a'\") }} as v,\n    '{{ env_var('STRATA_RC_FLAVOR', 'plain') }}' as flavor,\n    {{ var('factor') }} as factor\n",
        ),
        (
            "models/b.sql",
            "-- reads a model and a table strata does not know\nselect a.id, a.v\nfrom {{ ref('a') }} as a\njoin raw.lookup as l on l.id = a.id\n",
        ),
        (
            "models/c.sql",
            "{{ config(materialized='incremental', unique_key='id', post_hook=\"select count(*) from {{ this }}\") }}\nselect id from {{ ref('a') }}\n{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}\n",
        ),
        (
            "models/d.sql",
            "{{ config(materialized='table', tags=['daily']) }}\n{{ log('rendering d') }}select * from {{ ref('b') }}\n",
        ),
        (
            "models/marts/m.sql",
            "{% if config.get('materialized') == 'table' %}\n-- a table\n{% endif %}\n{% if 'nightly' in config.get('tags', []) %}\n-- nightly\n{% endif %}\nselect a.id from {{ ref('a') }} as a join MAIN.B as o on o.id = a.id\n",
        ),
        (
            "models/marts/_m.yml",
            "version: 2\nmodels:\n  - name: m\n    config:\n      tags: [nightly]\n",
        ),
    ];
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    (tmp, dir)
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn compile(dir: &Path, env: &[(&str, &str)], code: i32) -> (String, String) {
    let out = common::strata_env_ok(dir, &["compile"], env, code);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let manifest = std::fs::read_to_string(dir.join(".strata/manifest.json")).unwrap_or_default();
    (manifest, stderr)
}

#[test]
fn a_warm_compile_reuses_renders_and_gives_the_same_artifacts_and_warnings() {
    let (_tmp, dir) = project();
    let (cold_manifest, cold_stderr) = compile(&dir, &[], 0);
    assert!(
        cold_stderr.contains("models/b.sql:4:"),
        "the hard-coded relation is reported at its line: {cold_stderr}"
    );
    assert!(
        cold_stderr.contains("models/marts/m.sql:7:"),
        "the hard-coded relation is reported at its line: {cold_stderr}"
    );
    // A relation a model builds, written by hand (in capitals): the ref() to write instead.
    assert!(
        cold_stderr.contains("write {{ ref('b') }} so strata knows the dependency"),
        "{cold_stderr}"
    );
    let cache = dir.join(".strata/render-cache.json");
    let cached = read(&dir, ".strata/render-cache.json");
    // Main renders, the incremental variant and the hook are stored.
    assert!(cached.contains("upper('a')"), "{cached}");
    assert!(cached.contains("where id > (select max(id) from __strata_this__)"));
    assert!(cached.contains("select count(*) from __strata_this__"));

    // Warm: the same manifest and the same diagnostics (positions come from a new render).
    let (warm_manifest, warm_stderr) = compile(&dir, &[], 0);
    assert_eq!(warm_manifest, cold_manifest);
    assert_eq!(warm_stderr, cold_stderr);
    let compiled_c = read(&dir, ".strata/compiled/dev/models/c.sql");

    // The cache is really what the warm compile reads: a doctored entry shows through.
    std::fs::write(&cache, cached.replace("upper('a')", "lower('a')")).unwrap();
    compile(&dir, &[], 0);
    assert!(read(&dir, ".strata/compiled/dev/models/a.sql").contains("lower('a')"));
    assert_eq!(read(&dir, ".strata/compiled/dev/models/c.sql"), compiled_c);

    // A damaged cache is ignored, and the next compile writes a good one again.
    std::fs::write(&cache, "{not json").unwrap();
    let (manifest, _) = compile(&dir, &[], 0);
    assert_eq!(manifest, cold_manifest);
    assert!(read(&dir, ".strata/render-cache.json").contains("upper('a')"));
}

#[test]
fn a_changed_template_macro_var_or_environment_variable_is_rendered_again() {
    let (_tmp, dir) = project();
    let a = ".strata/compiled/dev/models/a.sql";
    compile(&dir, &[], 0);
    assert!(read(&dir, a).contains("'plain' as flavor"));
    // An environment variable read by a render: its value is part of the cache's validity.
    compile(&dir, &[("STRATA_RC_FLAVOR", "salty")], 0);
    assert!(read(&dir, a).contains("'salty' as flavor"));
    compile(&dir, &[("STRATA_RC_FLAVOR", "sweet")], 0);
    assert!(read(&dir, a).contains("'sweet' as flavor"));
    compile(&dir, &[], 0);
    assert!(read(&dir, a).contains("'plain' as flavor"));
    // A macro shared by every render.
    std::fs::write(
        dir.join("macros/shout.sql"),
        MACROS.replace("upper", "lower"),
    )
    .unwrap();
    compile(&dir, &[], 0);
    assert!(read(&dir, a).contains("lower('a')"));
    // A var.
    compile(&dir, &[], 0);
    let out = common::strata_ok(&dir, &["compile", "--vars", "{factor: 5}"], 0);
    assert!(out.status.success());
    assert!(read(&dir, a).contains("5 as factor"), "{}", read(&dir, a));
    // The template itself; the config() calls of a cached render still apply.
    std::fs::write(
        dir.join("models/d.sql"),
        "{{ config(materialized='table', tags=['hourly']) }}\nselect * from {{ ref('b') }}\n",
    )
    .unwrap();
    let (manifest, _) = compile(&dir, &[], 0);
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["nodes"]["model.rc.d"]["config"]["tags"][0], "hourly");
    assert_eq!(
        m["nodes"]["model.rc.c"]["config"]["materialized"],
        "incremental"
    );
    let (again, _) = compile(&dir, &[], 0);
    assert_eq!(again, manifest);
}

/// A compile that uses every entry of a cache, and adds none, does not write the cache again;
/// one that changes anything does. (Both caches are reformatted here: the loader reads any
/// layout, the writer writes compact JSON, so a rewrite shows.)
#[test]
fn caches_are_written_again_only_when_they_change() {
    let (_tmp, dir) = project();
    let (cold_manifest, _) = compile(&dir, &[], 0);
    let files = [".strata/render-cache.json", ".strata/analysis-cache.json"];
    let reformat = |rel: &str| {
        let v: serde_json::Value = serde_json::from_str(&read(&dir, rel)).unwrap();
        std::fs::write(dir.join(rel), serde_json::to_string_pretty(&v).unwrap()).unwrap();
    };
    for f in files {
        reformat(f);
    }
    let (warm_manifest, _) = compile(&dir, &[], 0);
    assert_eq!(warm_manifest, cold_manifest);
    for f in files {
        assert!(read(&dir, f).contains("\n  "), "{f} was written again");
    }
    // Both caches are still read as they are: nothing is rendered or analyzed again.
    let doctored = read(&dir, files[0]).replace("upper('a')", "lower('a')");
    std::fs::write(dir.join(files[0]), doctored).unwrap();
    compile(&dir, &[], 0);
    assert!(read(&dir, ".strata/compiled/dev/models/a.sql").contains("lower('a')"));

    // A new model: both caches change, and are written again.
    let entries = |rel: &str| {
        let v: serde_json::Value = serde_json::from_str(&read(&dir, rel)).unwrap();
        v["entries"].as_object().unwrap().len()
    };
    let before = files.map(entries);
    std::fs::write(dir.join("models/e.sql"), "select 2 as id\n").unwrap();
    compile(&dir, &[], 0);
    for (f, n) in files.into_iter().zip(before) {
        assert!(!read(&dir, f).contains("\n  "), "{f} was not written again");
        assert_eq!(entries(f), n + 1, "{f}");
    }
    assert!(read(&dir, files[0]).contains("select 2 as id"));
}
