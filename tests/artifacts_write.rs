//! How `compile` writes its artifacts: the manifest as compact JSON, replaced only when its
//! content changes; compiled SQL files checked against the index of what was written, which
//! never hides a file edited, shortened or deleted by hand, and is ignored when damaged.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

fn compile(dir: &Path, args: &[&str]) {
    let mut all = vec!["compile"];
    all.extend_from_slice(args);
    common::strata_ok(dir, &all, 0);
}

fn compiled_dir(dir: &Path) -> PathBuf {
    dir.join(".strata/compiled/dev")
}

fn index_path(dir: &Path) -> PathBuf {
    compiled_dir(dir).join(".index")
}

fn mart(dir: &Path) -> PathBuf {
    compiled_dir(dir).join("models/marts/mart_fact_sales.sql")
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

fn set_mtime(p: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// Identifies one version of a file: a rewrite (temp file + rename) gets a new inode.
#[cfg(unix)]
fn version(p: &Path) -> (SystemTime, u64) {
    use std::os::unix::fs::MetadataExt;
    (mtime(p), std::fs::metadata(p).unwrap().ino())
}

#[cfg(not(unix))]
fn version(p: &Path) -> (SystemTime, u64) {
    (mtime(p), 0)
}

/// Every compiled SQL file (the index left out), by path.
fn compiled_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(compiled_dir(dir))
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file() && e.file_name() != ".index")
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// The same bytes with the first one changed.
fn same_length_edit(bytes: &[u8]) -> Vec<u8> {
    let mut edited = bytes.to_vec();
    edited[0] = if edited[0] == b'x' { b'y' } else { b'x' };
    edited
}

#[test]
fn the_manifest_is_compact_json_replaced_only_when_it_changes() {
    let (_tmp, dir) = common::example_copy();
    compile(&dir, &[]);
    let path = dir.join(".strata/manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with("}\n"), "one JSON document and a newline");
    assert_eq!(text.matches('\n').count(), 1, "compact JSON is one line");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc["metadata"]["dbt_schema_version"],
        "https://schemas.getdbt.com/dbt/manifest/v12.json"
    );
    let sales = &doc["nodes"]["model.ofitec.mart_fact_sales"];
    assert!(
        sales["compiled_code"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert!(
        doc["parent_map"]["model.ofitec.mart_fact_sales"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );
    assert!(doc["sources"].as_object().is_some_and(|s| !s.is_empty()));
    assert!(doc["exposures"].as_object().is_some_and(|s| !s.is_empty()));
    // The maps are written sorted by id.
    let child_ids: Vec<&str> = text
        .split("\"child_map\":{")
        .nth(1)
        .unwrap()
        .split("]},\"group_map\"")
        .next()
        .unwrap()
        .split("],")
        .filter_map(|entry| entry.strip_prefix('"')?.split('"').next())
        .collect();
    assert!(child_ids.len() > 20);
    assert!(child_ids.is_sorted(), "{child_ids:?}");

    // A second compile leaves the file alone: an old modification time would not survive a
    // rewrite.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    set_mtime(&path, old);
    let before = version(&path);
    compile(&dir, &[]);
    assert_eq!(version(&path), before);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // A changed model changes it.
    let model = dir.join("models/marts/mart_fact_sales.sql");
    let sql = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, format!("{sql}\n-- changed\n")).unwrap();
    compile(&dir, &[]);
    assert_ne!(mtime(&path), old);
    let changed = std::fs::read_to_string(&path).unwrap();
    assert_ne!(changed, text);
    let doc: serde_json::Value = serde_json::from_str(&changed).unwrap();
    assert!(
        doc["nodes"]["model.ofitec.mart_fact_sales"]["raw_code"]
            .as_str()
            .unwrap()
            .contains("-- changed")
    );
    // Back to the original model: back to the original manifest.
    std::fs::write(&model, &sql).unwrap();
    compile(&dir, &[]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn parse_writes_the_manifest_without_compiled_sql() {
    let (_tmp, dir) = common::example_copy();
    compile(&dir, &[]);
    let path = dir.join(".strata/manifest.json");
    let mut compiled: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    common::strata_ok(&dir, &["parse"], 0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches('\n').count(), 1);
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The same manifest but for the compiled SQL of nodes written as SQL (and its checksum).
    let mut stripped = 0;
    for node in compiled["nodes"].as_object_mut().unwrap().values_mut() {
        if node["raw_code"].as_str().is_none_or(str::is_empty) {
            continue;
        }
        let code = std::mem::take(&mut node["compiled_code"]);
        stripped += code.is_string() as usize;
        node["compiled"] = false.into();
        let config = node["config"].as_object_mut().unwrap();
        if let Some(strata) = config.get_mut("strata").and_then(|s| s.as_object_mut()) {
            strata.remove("compiled_checksum");
            if strata.is_empty() {
                config.remove("strata");
            }
        }
    }
    assert!(stripped > 10);
    assert_eq!(parsed, compiled);
}

#[test]
fn a_compiled_file_edited_by_hand_is_restored() {
    let (_tmp, dir) = common::example_copy();
    compile(&dir, &[]);
    let file = mart(&dir);
    let original = std::fs::read(&file).unwrap();
    assert!(index_path(&dir).is_file());

    // Same length, edited in place: the modification time tells.
    let written = mtime(&file);
    std::fs::write(&file, same_length_edit(&original)).unwrap();
    set_mtime(&file, written + Duration::from_secs(5));
    compile(&dir, &[]);
    assert_eq!(std::fs::read(&file).unwrap(), original);

    // Another length, with the modification time put back: the length tells.
    let written = mtime(&file);
    std::fs::write(&file, b"select 1\n").unwrap();
    set_mtime(&file, written);
    compile(&dir, &[]);
    assert_eq!(std::fs::read(&file).unwrap(), original);

    // Edited with the same length and modification time but no later than the index itself
    // was written (as within one tick of a coarse file system clock): not trusted either.
    let written = mtime(&file);
    std::fs::write(&file, same_length_edit(&original)).unwrap();
    set_mtime(&file, written);
    set_mtime(&index_path(&dir), written);
    compile(&dir, &[]);
    assert_eq!(std::fs::read(&file).unwrap(), original);
}

#[test]
fn a_deleted_compiled_file_is_written_again() {
    let (_tmp, dir) = common::example_copy();
    compile(&dir, &[]);
    let all = compiled_files(&dir);
    assert!(index_path(&dir).is_file());
    let file = mart(&dir);
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_dir_all(compiled_dir(&dir).join("models/staging")).unwrap();
    compile(&dir, &[]);
    assert_eq!(compiled_files(&dir), all);
}

#[test]
fn a_damaged_index_is_ignored() {
    let (_tmp, dir) = common::example_copy();
    compile(&dir, &[]);
    let all = compiled_files(&dir);
    let index = index_path(&dir);
    let good = std::fs::read_to_string(&index).unwrap();
    assert!(good.starts_with("strata compiled index"));
    // Cut in the middle of a line.
    let mut cut = good.len() / 2;
    while !good.is_char_boundary(cut) || good.as_bytes()[cut - 1] == b'\n' {
        cut += 1;
    }
    let damaged = [
        b"not an index\0\xff\n".to_vec(),
        good.as_bytes()[..cut].to_vec(),
        good.replacen("\t", "\tx", 3).into_bytes(),
        Vec::new(),
    ];
    for damage in damaged {
        // An edit the index would not see: same length, same modification time.
        let file = mart(&dir);
        let written = mtime(&file);
        std::fs::write(&file, same_length_edit(&all[&file])).unwrap();
        set_mtime(&file, written);
        std::fs::write(&index, &damage).unwrap();
        compile(&dir, &[]);
        assert_eq!(compiled_files(&dir), all);
        let text = std::fs::read_to_string(&index).unwrap();
        assert!(text.starts_with("strata compiled index") && text.ends_with('\n'));
    }
}

#[test]
fn the_index_is_written_only_when_it_changes_and_keeps_unselected_files() {
    let (_tmp, dir) = common::example_copy();
    compile(&dir, &[]);
    compile(&dir, &[]);
    let index = index_path(&dir);
    let text = std::fs::read_to_string(&index).unwrap();
    let before = version(&index);
    compile(&dir, &[]);
    assert_eq!(version(&index), before);
    // A selection leaves the other files' entries in place.
    compile(&dir, &["--select", "mart_fact_sales"]);
    assert_eq!(std::fs::read_to_string(&index).unwrap(), text);
    // A changed model changes its entry only.
    let model = dir.join("models/marts/mart_fact_sales.sql");
    let sql = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, format!("{sql}\n-- changed\n")).unwrap();
    compile(&dir, &[]);
    let changed = std::fs::read_to_string(&index).unwrap();
    let differing: Vec<_> = text
        .lines()
        .zip(changed.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(text.lines().count(), changed.lines().count());
    assert_eq!(differing.len(), 1, "{differing:?}");
    assert!(differing[0].1.ends_with("\tmart_fact_sales.sql"));
}

#[test]
fn a_manifest_of_several_serialization_batches_is_one_valid_document() {
    // Node maps are serialized 4,096 nodes at a time, each batch while the previous one is
    // written: 5,000 models, each with a test, cross the batch boundaries of both maps.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::write(
        dir.join("project.yml"),
        "name: batches\ntarget: dev\ntargets:\n  dev:\n    type: duckdb\n    path: b.duckdb\n    schema: main\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("models")).unwrap();
    let mut props = String::from("version: 2\nmodels:\n");
    for i in 0..5000 {
        std::fs::write(
            dir.join(format!("models/m_{i:04}.sql")),
            format!("select {i} as id\n"),
        )
        .unwrap();
        props.push_str(&format!(
            "  - name: m_{i:04}\n    columns:\n      - name: id\n        tests: [not_null]\n"
        ));
    }
    std::fs::write(dir.join("models/_models.yml"), props).unwrap();
    compile(&dir, &[]);
    let text = std::fs::read_to_string(dir.join(".strata/manifest.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ids: Vec<&String> = doc["nodes"].as_object().unwrap().keys().collect();
    assert_eq!(ids.len(), 10_000);
    assert_eq!(doc["parent_map"].as_object().unwrap().len(), 10_000);
    // In id order in the text itself (serde_json's map would sort the keys whatever the text).
    let first_keys: Vec<&str> = text
        .split("\"unique_id\":\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        // The built-in macros are in the manifest's `macros` map.
        .filter(|id| !id.starts_with("macro."))
        .collect();
    let mut sorted = first_keys.clone();
    sorted.sort_unstable();
    assert_eq!(first_keys, sorted);
    assert_eq!(first_keys.len(), 10_000);
}
