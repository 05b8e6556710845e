//! Times the docs site in a headless Chromium, opened from `file://`: how long after navigation
//! starts each page is usable (the app marks it drawn), over several fresh loads.
//!
//! ```text
//! cargo run --release --example docs_first_page -- SITE_DIR [RUNS] [ROUTE...]
//! ```
//!
//! SITE_DIR is a generated site (`.strata/docs`). Each run opens `index.html` in a new page
//! load and reads `performance.now()` when the page says it is ready (`data-ready`), which is
//! measured from the start of that navigation: the script files and data shards it loads are
//! included. ROUTEs default to the first page, a node page and the graph of one selector.
//! Needs Debian's `chromium` and `chromium-driver`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::ClientBuilder;

const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,900",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(site) = args.next().map(PathBuf::from) else {
        eprintln!("usage: docs_first_page SITE_DIR [RUNS] [ROUTE...]");
        std::process::exit(2);
    };
    let site = site.canonicalize().expect("the site's folder");
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(11);
    let mut routes: Vec<String> = args.collect();
    if routes.is_empty() {
        routes = vec!["".into(), "#!/n/0".into(), "#!/graph/tag%3Amarts".into()];
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (apt-get install -y chromium chromium-driver)");
    let profile = std::env::temp_dir().join(format!("strata-docs-bench-{port}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut opts: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
    opts.push(format!("--user-data-dir={}", profile.display()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"binary": "/usr/bin/chromium", "args": opts}),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        match rt.block_on(
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}")),
        ) {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => panic!("no WebDriver session: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    for route in &routes {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs + 1 {
            // A blank page first, so that each run is a fresh load of the site.
            rt.block_on(client.goto("about:blank")).unwrap();
            let url = format!("file://{}/index.html{route}", site.display());
            rt.block_on(client.goto(&url)).unwrap();
            let t0 = Instant::now();
            let ms = loop {
                let v = rt
                    .block_on(client.execute(
                        "var r = document.body && document.body.getAttribute('data-ready'); \
                         return r && r !== 'error' && r !== 'stale' ? window.strataFirstReady : null",
                        vec![],
                    ))
                    .unwrap();
                if let Some(ms) = v.as_f64() {
                    break ms;
                }
                assert!(t0.elapsed() < Duration::from_secs(60), "{route}: never ready");
                std::thread::sleep(Duration::from_millis(5));
            };
            times.push(ms / 1000.0);
        }
        times.remove(0); // the first load warms the browser's caches of the assets
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{:<28} runs {runs}: min {:.3} s, median {:.3} s, max {:.3} s",
            if route.is_empty() { "(first page)" } else { route },
            times[0],
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    let _ = rt.block_on(client.close());
    let _ = driver.kill();
    let _ = driver.wait();
    let _ = std::fs::remove_dir_all(&profile);
}
