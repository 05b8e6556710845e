//! Secrets read with `env_var()` never reach a file strata writes: not the render cache (which
//! keeps only the digests of the values it read), not the analysis cache, not the manifest
//! beyond the compiled SQL of the model that prints the value, where the user put it. Changing
//! a variable still makes the renders that read it render again.

mod common;

use std::path::{Path, PathBuf};

const SECRET: &str = "s3cr3t-Hunter2-0xC0FFEE";
const ROTATED: &str = "r0tated-Tr0ub4dor-42";

/// A Postgres target whose DSN holds the password from the environment (compiled offline: no
/// server is needed), a model that prints the secret, one that only branches on a variable,
/// and one that reads the secret in a macro without showing it.
fn project() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sec");
    let files: &[(&str, &str)] = &[
        (
            "project.yml",
            "name: sec\ntargets:\n  dev:\n    type: postgres\n    dsn: \"postgresql://app:{{ env_var('STRATA_TEST_SECRET') }}@127.0.0.1:1/app\"\n    schema: public\n",
        ),
        (
            "macros/auth.sql",
            "{% macro has_token() -%}\n{{ 'true' if env_var('STRATA_TEST_SECRET', '') | length > 0 else 'false' }}\n{%- endmacro %}\n",
        ),
        (
            "models/prints.sql",
            "select '{{ env_var('STRATA_TEST_SECRET') }}' as token, 1 as id\n",
        ),
        (
            "models/branch.sql",
            "select {% if env_var('STRATA_TEST_COLOR', 'blue') == 'green' %}2{% else %}1{% endif %} as shade, {{ has_token() }} as authed\n",
        ),
        (
            "models/child.sql",
            "select p.id from {{ ref('prints') }} as p\n",
        ),
    ];
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    (tmp, dir)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every file under the artifacts directory that holds `secret`, outside the compiled SQL of
/// `prints` (its file, and its `compiled_code` in the manifest).
fn leaks(dir: &Path, secret: &str) -> Vec<String> {
    let artifacts = dir.join(".strata");
    let mut files = Vec::new();
    files_under(&artifacts, &mut files);
    assert!(files.len() > 4, "{files:?}");
    let mut leaks = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(&artifacts)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&f).unwrap();
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if rel == "compiled/dev/models/prints.sql" {
            continue;
        }
        if rel == "manifest.json" {
            let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
            m["nodes"]["model.sec.prints"]["compiled_code"].take();
            text = m.to_string();
        }
        if text.contains(secret) {
            leaks.push(rel);
        }
    }
    leaks
}

fn compile(dir: &Path, secret: &str, color: &str) {
    common::strata_env_ok(
        dir,
        &["compile"],
        &[("STRATA_TEST_SECRET", secret), ("STRATA_TEST_COLOR", color)],
        0,
    );
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn a_secret_read_with_env_var_is_in_no_file_but_the_compiled_sql_that_prints_it() {
    let (_tmp, dir) = project();
    compile(&dir, SECRET, "blue");
    let prints = ".strata/compiled/dev/models/prints.sql";
    assert!(read(&dir, prints).contains(SECRET), "the model prints it");
    let manifest = read(&dir, ".strata/manifest.json");
    assert!(manifest.contains(SECRET), "in the model's compiled_code");
    assert_eq!(leaks(&dir, SECRET), Vec::<String>::new());
    // Warm: still nowhere, and the render that only branches on a variable is cached, under
    // the digest of the variable's value.
    compile(&dir, SECRET, "blue");
    assert_eq!(leaks(&dir, SECRET), Vec::<String>::new());
    let cache = read(&dir, ".strata/render-cache.json");
    assert!(cache.contains("as shade"), "{cache}");
    assert!(cache.contains("STRATA_TEST_COLOR"), "{cache}");
    assert!(!cache.contains("\"blue\""), "{cache}");

    // A rotated secret: the model that prints it shows the new value, the old one is gone.
    compile(&dir, ROTATED, "blue");
    assert!(read(&dir, prints).contains(ROTATED));
    assert_eq!(leaks(&dir, ROTATED), Vec::<String>::new());
    assert_eq!(leaks(&dir, SECRET), Vec::<String>::new());

    // A changed variable still invalidates the cached renders that read it.
    let branch = ".strata/compiled/dev/models/branch.sql";
    assert!(read(&dir, branch).contains("select 1 as shade"));
    compile(&dir, ROTATED, "green");
    assert!(
        read(&dir, branch).contains("select 2 as shade"),
        "{}",
        read(&dir, branch)
    );
    compile(&dir, ROTATED, "blue");
    assert!(read(&dir, branch).contains("select 1 as shade"));
    assert_eq!(leaks(&dir, ROTATED), Vec::<String>::new());
}
