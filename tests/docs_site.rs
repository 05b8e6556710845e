//! The docs site (`strata docs generate`, `strata docs serve`) in a real headless Chromium,
//! opened from `file://`: search, a model page with its warehouse types and statuses, the
//! selector box against `strata ls -s`, the column view against `strata lineage`, a
//! screenshot of the graph; an XSS fixture whose payloads must all stay text; a project large
//! enough to need many shards; `catalog.json` against dbt's catalog v1 schema; the server.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::browser::Browser;
use common::{example_copy, fixture_copy, strata_ok};
use serde_json::Value as J;

fn stdout(dir: &Path, args: &[&str]) -> String {
    String::from_utf8_lossy(&strata_ok(dir, args, 0).stdout).into_owned()
}

/// `strata ls -s SELECTOR -o id` as a set.
fn ls(dir: &Path, selector: &str) -> BTreeSet<String> {
    let mut args = vec!["ls", "-s"];
    args.extend(selector.split_whitespace());
    args.extend(["-o", "id"]);
    stdout(dir, &args).lines().map(str::to_string).collect()
}

/// The points at the far end of `strata lineage TARGET [--downstream] -o json`'s edges, as
/// `node.column` (`node.` for a whole node's rows).
fn lineage_points(dir: &Path, target: &str, downstream: bool) -> BTreeSet<String> {
    let mut args = vec!["lineage", target, "-o", "json"];
    if downstream {
        args.push("--downstream");
    }
    let v: J = serde_json::from_str(&stdout(dir, &args)).unwrap();
    let end = if downstream { "to" } else { "from" };
    v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}.{}",
                e[end]["node"].as_str().unwrap(),
                e[end]["column"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// The columns the column view highlights with `role` (`up`, `down`), as `node.column`.
fn highlighted(b: &Browser, role: &str) -> BTreeSet<String> {
    let v = b.js(&format!(
        "return Array.from(document.querySelectorAll('#column-graph .col.{role}'))\
         .map(function (e) {{ return e.getAttribute('data-node') + '.' + e.getAttribute('data-col'); }})"
    ));
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn strings(v: J) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect()
}

fn site(dir: &Path) -> PathBuf {
    dir.join(".strata/docs")
}

/// Every data file of a site, with its size.
fn data_files(site: &Path) -> Vec<(String, u64)> {
    std::fs::read_dir(site.join("data"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect()
}

#[test]
fn the_example_site_works_in_a_browser_from_disk() {
    let (_tmp, dir) = example_copy();
    strata_ok(&dir, &["build"], 0);
    let out = stdout(&dir, &["docs", "generate"]);
    assert!(out.contains("and catalog.json"), "{out}");
    let catalog: J =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".strata/catalog.json")).unwrap())
            .unwrap();
    common::dbt_artifacts::assert_valid_catalog(&catalog);
    assert_eq!(
        catalog["nodes"]["model.ofitec.mart_ar_aging"]["columns"]["bucket_0_30"]["type"],
        "DECIMAL(18,2)"
    );
    for (name, size) in data_files(&site(&dir)) {
        assert!(size <= 1024 * 1024, "{name} is {size} bytes");
    }

    let b = Browser::start();
    b.open(&site(&dir), "");
    b.wait_ready("home");
    assert_eq!(b.js("return document.title"), "ofitec · strata docs");

    // Search a column: the hit names the model and the column.
    let hits = search(&b, "bucket_0_30");
    assert!(
        hits.contains(&"mart_ar_aging.bucket_0_30".to_string()),
        "{hits:?}"
    );

    // Search a model by name and open its page.
    let hits = search(&b, "mart_ar_aging");
    assert_eq!(
        hits.first().map(String::as_str),
        Some("mart_ar_aging"),
        "{hits:?}"
    );
    b.unready();
    b.click_link("#results a.hit-link", "mart_ar_aging");
    b.wait_ready("node");
    let h1 = b.js("return document.querySelector('h1').textContent");
    assert_eq!(h1, "model mart_ar_aging");
    let row = strings(b.js(
        "return Array.from(document.querySelectorAll('tr[data-column=\"bucket_0_30\"] td'))\
         .map(function (td) { return td.textContent; })",
    ));
    assert_eq!(row[0], "bucket_0_30");
    assert_eq!(row[1], "decimal(18,2)", "declared type: {row:?}");
    assert_eq!(row[2], "DECIMAL(18,2)", "warehouse type: {row:?}");
    let run = b.js("return document.querySelector('p.run').textContent");
    assert!(run.as_str().unwrap().contains("success"), "{run}");
    let partner_tests =
        b.js("return document.querySelector('tr[data-column=\"partner_id\"]').textContent");
    assert!(
        partner_tests.as_str().unwrap().contains("not_null pass"),
        "{partner_tests}"
    );
    let sql = b.js("return document.querySelectorAll('pre.sql span.k').length");
    assert!(sql.as_u64().unwrap() > 10, "SQL is highlighted: {sql}");

    // Click a column: the view highlights what `strata lineage` finds upstream.
    b.unready();
    b.click_link("a.colname", "bucket_0_30");
    b.wait_ready("columns");
    let up = highlighted(&b, "up");
    assert_eq!(up, lineage_points(&dir, "mart_ar_aging.bucket_0_30", false));
    assert!(
        up.contains("source.ofitec.odoo.receivables.amount_residual"),
        "{up:?}"
    );

    // And downstream, from a staging column found by search.
    search(&b, "amount_residual");
    b.unready();
    b.click_link("#results a.hit-link", "stg_receivables.amount_residual");
    b.wait_ready("columns");
    let down = highlighted(&b, "down");
    assert_eq!(
        down,
        lineage_points(&dir, "stg_receivables.amount_residual", true)
    );
    assert!(
        down.contains("model.ofitec.mart_ar_aging.bucket_0_30"),
        "{down:?}"
    );
    assert_eq!(
        highlighted(&b, "up"),
        lineage_points(&dir, "stg_receivables.amount_residual", false)
    );

    // Three selectors typed into the box select what `strata ls -s` selects.
    b.open(&site(&dir), "#!/graph");
    b.wait_ready("graph");
    for selector in [
        "+mart_ar_aging",
        "tag:marts,config.materialized:table source:odoo.partners+1",
        "@stg_invoices 2+mart_kpi_ceo",
    ] {
        b.type_into("#selector", selector);
        b.unready();
        b.click("#select-form button");
        b.wait_ready("graph");
        let chosen: BTreeSet<String> = strings(b.js(
            "return Array.from(document.querySelectorAll('#selection-list li'))\
             .map(function (li) { return li.getAttribute('data-id'); })",
        ))
        .into_iter()
        .collect();
        assert_eq!(chosen, ls(&dir, selector), "selector `{selector}`");
    }
    // A selector that matches nothing says so, as `strata ls` does.
    b.type_into("#selector", "tag:nope");
    b.unready();
    b.click("#select-form button");
    b.wait_ready("graph-error");
    let error = b.js("return document.getElementById('selector-error').textContent");
    assert!(
        error
            .as_str()
            .unwrap()
            .contains("`tag:nope` matches no node"),
        "{error}"
    );

    // The graph, clicked through to a node, and kept as a screenshot for the test output.
    b.open(&site(&dir), "#!/graph/%2Bmart_kpi_ceo%2B");
    b.wait_ready("graph");
    b.js("document.getElementById('search').value = ''");
    let png = b.screenshot();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("docs-lineage-graph.png");
    std::fs::write(&shot, &png).unwrap();
    println!("screenshot of the lineage graph: {}", shot.display());
    b.unready();
    b.click("svg.dag g.node[data-id='model.ofitec.stg_companies']");
    b.wait_ready("node");
    assert_eq!(
        b.js("return document.querySelector('h1').textContent"),
        "model stg_companies"
    );
}

/// Types `q` into the search box and returns the texts of the results' links.
fn search(b: &Browser, q: &str) -> Vec<String> {
    b.js("var r = document.getElementById('results'); r.textContent = ''; r.hidden = true;");
    b.type_into("#search", q);
    wait_hits(b)
}

/// Waits for search results and returns the texts of their links.
fn wait_hits(b: &Browser) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let hits = strings(b.js(
            "var r = document.getElementById('results'); if (r.hidden) return []; \
             return Array.from(r.querySelectorAll('a.hit-link')).map(function (a) { return a.textContent; })",
        ));
        if !hits.is_empty() {
            return hits;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no search results in 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// What must hold on every page of the XSS fixture: no payload ran, and none became markup.
fn assert_nothing_ran(b: &Browser, page: &str) {
    assert_eq!(b.alert(), None, "{page}: an alert opened");
    let report = b.js(
        "var bad = []; \
         if (window.__xss !== undefined) bad.push('window.__xss = ' + window.__xss); \
         document.querySelectorAll('script').forEach(function (s) { \
           var src = s.getAttribute('src') || ''; \
           if (!/^(assets|data)\\/[a-z]+(-[0-9]+)?\\.js$/.test(src)) bad.push('script ' + s.outerHTML); }); \
         document.querySelectorAll('img, iframe, svg foreignObject, style, object, embed') \
           .forEach(function (e) { bad.push('element ' + e.outerHTML); }); \
         document.querySelectorAll('*').forEach(function (e) { \
           for (var i = 0; i < e.attributes.length; i++) { \
             var a = e.attributes[i]; \
             if (/^on/i.test(a.name)) bad.push('handler ' + e.outerHTML); \
             if (/^(href|src|action|formaction|xlink:href)$/i.test(a.name) && \
                 /^\\s*(javascript|data|vbscript):/i.test(a.value)) bad.push('url ' + e.outerHTML); } }); \
         return bad;",
    );
    assert_eq!(report, serde_json::json!([]), "{page}");
}

#[test]
fn no_payload_of_the_xss_fixture_runs() {
    let (_tmp, dir) = fixture_copy("docs_xss");
    strata_ok(&dir, &["build"], 0);
    strata_ok(&dir, &["docs", "generate"], 0);
    let meta = std::fs::read_to_string(site(&dir).join("data/meta.js")).unwrap();
    let csp = std::fs::read_to_string(site(&dir).join("index.html")).unwrap();
    assert!(
        csp.contains("Content-Security-Policy") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains(" on"), "no inline handlers in index.html");
    let b = Browser::start();
    b.open(&site(&dir), "");
    b.wait_ready("home");
    assert_nothing_ran(&b, "home");
    let nodes: usize = meta
        .split("\"nodes\":")
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(nodes, 5, "{meta}");
    for i in 0..nodes {
        b.open(&site(&dir), &format!("#!/n/{i}"));
        b.wait_ready("node");
        assert_nothing_ran(&b, &format!("node {i}"));
        // The payloads of models, sources and exposures are shown as text.
        let text = b.js("return document.getElementById('main').textContent");
        let text = text.as_str().unwrap();
        let kind = b.js("return document.querySelector('h1 .type').textContent");
        if ["model", "source", "exposure"].contains(&kind.as_str().unwrap()) {
            assert!(text.contains("window.__xss"), "node {i}: {text}");
        }
    }
    b.open(&site(&dir), "#!/n/1");
    b.wait_ready("node");
    for col in ["label", "<img src=x onerror=window.__xss=1>"] {
        b.unready();
        b.click_link("a.colname", col);
        b.wait_ready("columns");
        assert_nothing_ran(&b, &format!("column {col}"));
        b.open(&site(&dir), "#!/n/1");
        b.wait_ready("node");
    }
    b.open(&site(&dir), "#!/graph/");
    b.wait_ready("graph");
    assert_nothing_ran(&b, "graph");
    for q in ["script", "img", "xss", "onerror"] {
        search(&b, q);
        assert_nothing_ran(&b, &format!("search {q}"));
    }
    // Hovering and clicking the rendered payloads runs nothing either.
    b.open(&site(&dir), "#!/n/4");
    b.wait_ready("node");
    b.js(
        "document.querySelectorAll('#main *').forEach(function (e) { \
          ['mouseover', 'click'].forEach(function (t) { \
            if (e.tagName !== 'A') e.dispatchEvent(new MouseEvent(t, {bubbles: true})); }); })",
    );
    assert_nothing_ran(&b, "exposure page, hovered and clicked");
    let url = b.js("return document.getElementById('main').innerText");
    assert!(
        url.as_str()
            .unwrap()
            .contains("not a web address: not linked"),
        "{url}"
    );
}

/// A project of `models` models, each with a long description and a few columns, so that the
/// site's data needs many shards.
fn big_project(dir: &Path, models: usize) {
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::write(
        dir.join("project.yml"),
        "name: big\ntarget: dev\ntargets:\n  dev:\n    type: duckdb\n    path: warehouse/big.duckdb\n    schema: main\n",
    )
    .unwrap();
    let mut props = String::from("version: 2\nmodels:\n");
    for i in 0..models {
        let parent = if i == 0 {
            "(select 1 as id, 'a' as k) as s".to_string()
        } else {
            format!("{{{{ ref('m_{:05}') }}}}", i / 2)
        };
        std::fs::write(
            dir.join(format!("models/m_{i:05}.sql")),
            format!("select id, k, id * {i} as v_{i} from {parent}\n"),
        )
        .unwrap();
        props.push_str(&format!(
            "  - name: m_{i:05}\n    description: \"{}\"\n    columns:\n      - name: id\n        description: key of m_{i:05}\n",
            format!("Model {i} of a large project. ").repeat(40)
        ));
    }
    std::fs::write(dir.join("models/properties.yml"), props).unwrap();
}

#[test]
fn a_large_project_is_sharded_and_each_page_finds_its_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("big");
    big_project(&dir, 1500);
    let out = stdout(&dir, &["docs", "generate"]);
    assert!(
        out.contains("no catalog") || !out.contains("catalog.json"),
        "{out}"
    );
    let files = data_files(&site(&dir));
    let pages = files.iter().filter(|(n, _)| n.starts_with("page-")).count();
    assert!(pages >= 4, "pages in {pages} shards: {files:?}");
    for (name, size) in &files {
        assert!(*size <= 1024 * 1024, "{name} is {size} bytes");
    }
    let meta = files.iter().find(|(n, _)| n == "meta.js").unwrap();
    assert!(
        meta.1 < 8 * 1024,
        "the first page's data is small: {meta:?}"
    );

    let b = Browser::start();
    for i in [0usize, 777, 1499] {
        b.open(&site(&dir), &format!("#!/n/{i}"));
        b.wait_ready("node");
        let h1 = b.js("return document.querySelector('h1').textContent");
        assert_eq!(h1, format!("model m_{i:05}").as_str());
    }
    b.open(&site(&dir), "#!/graph/%2Bm_01499");
    b.wait_ready("graph");
    let chosen = b.js("return document.querySelectorAll('#selection-list li').length");
    assert_eq!(
        chosen.as_u64().unwrap() as usize,
        ls(&dir, "+m_01499").len()
    );
    b.open(&site(&dir), "#!/n/99999");
    b.wait_ready("error");
}

#[test]
fn docs_without_a_warehouse_say_so_and_create_none() {
    let (_tmp, dir) = example_copy();
    let out = strata_ok(&dir, &["docs", "generate"], 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no catalog.json"), "{err}");
    assert!(err.contains("strata build"), "{err}");
    assert!(!dir.join("warehouse").exists(), "no warehouse was created");
    assert!(!dir.join(".strata/catalog.json").exists());
    assert!(site(&dir).join("index.html").is_file());
}

#[test]
fn docs_serve_serves_the_site_on_loopback_only() {
    let (_tmp, dir) = example_copy();
    let out = strata_ok(&dir, &["docs", "serve", "--port", "0"], 2);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("strata docs generate"), "{text}");
    strata_ok(&dir, &["docs", "generate", "--empty-catalog"], 0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["--project-dir"])
        .arg(&dir)
        .args(["docs", "serve", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("{line}"))
        .trim_end_matches('/')
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let get = |path: &str| ureq::get(&format!("{base}{path}")).call();
    let index = get("/").unwrap().into_body().read_to_string().unwrap();
    assert!(index.contains("Content-Security-Policy"), "{index}");
    let meta = get("/data/meta.js").unwrap();
    assert!(
        meta.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(get("/../project.yml").is_err(), "nothing outside the site");
    assert!(
        get("/data/../../project.yml").is_err(),
        "nothing outside the site"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
