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
//! Needs Debian's `chromium` and `chromium-driver` (the tests' browser support starts them).

#[allow(dead_code)]
#[path = "../tests/common/browser.rs"]
mod browser;

use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    let b = browser::Browser::start();
    for route in &routes {
        let mut times = Vec::with_capacity(runs);
        // One more load than timed: the first warms the browser's caches of the assets.
        for _ in 0..=runs {
            b.open_url("about:blank");
            b.open(&site, route);
            let t0 = Instant::now();
            let ms = loop {
                let v = b.js(
                    "var r = document.body && document.body.getAttribute('data-ready'); \
                     return r && r !== 'error' ? window.strataFirstReady : null",
                );
                if let Some(ms) = v.as_f64() {
                    break ms;
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(60),
                    "{route}: never ready"
                );
                std::thread::sleep(Duration::from_millis(5));
            };
            times.push(ms / 1000.0);
        }
        times.remove(0);
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{:<28} runs {runs}: min {:.3} s, median {:.3} s, max {:.3} s",
            if route.is_empty() {
                "(first page)"
            } else {
                route
            },
            times[0],
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
}
