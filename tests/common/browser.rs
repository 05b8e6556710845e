//! A real headless Chromium for the docs site's tests, driven through chromedriver (WebDriver)
//! with `fantoccini`. Debian's `chromium` and `chromium-driver` packages provide both
//! (`apt-get install -y chromium chromium-driver`; `.ci/run` installs them when missing);
//! `STRATA_TEST_CHROMIUM` and `STRATA_TEST_CHROMEDRIVER` point elsewhere. A missing browser
//! fails the test with that command: nothing is skipped. `examples/docs_first_page.rs`
//! (the docs site's timing benchmark) uses it too.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;

/// The flags Chromium needs here: headless as root, and none of its background connections
/// (this machine's network is closed; each attempt would be refused).
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

fn find(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.is_file(),
        "{} not found: install Chromium and its WebDriver with \
         `apt-get install -y chromium chromium-driver` (or set {var})",
        path.display()
    );
    path
}

/// A browser session; chromedriver and Chromium stop when it is dropped.
pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless session.
    pub fn start() -> Browser {
        let chromium = find("STRATA_TEST_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = find("STRATA_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let profile = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut args: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"binary": chromium, "args": args}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let attempt = rt.block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps.clone())
                    .connect(&url),
            );
            match attempt {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => {
                    panic!("no WebDriver session from {} in 30 s: {e}", chromedriver.display())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        Browser {
            rt,
            client: Some(client),
            driver,
            _profile: profile,
        }
    }

    fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Opens a `file://` page of the site in `dir` (`#!/...` route appended).
    pub fn open(&self, dir: &Path, route: &str) {
        self.open_url(&format!("file://{}/index.html{route}", dir.display()));
    }

    /// Opens `url`. The current page is marked not ready first: a URL that differs only in its
    /// `#` route is a navigation inside the same document, and `wait_ready` must not see the
    /// previous page's mark.
    pub fn open_url(&self, url: &str) {
        self.unready();
        self.rt.block_on(self.c().goto(url)).unwrap();
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub fn js(&self, script: &str) -> Value {
        self.rt
            .block_on(self.c().execute(script, Vec::new()))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits (10 s at most) until the app says page `name` is drawn; panics with the page's
    /// error text otherwise.
    pub fn wait_ready(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = self.js(
                "return document.body ? (document.body.getAttribute('data-ready') || '') : ''",
            );
            if state == name {
                return;
            }
            if Instant::now() > deadline {
                let main = self.js("var m = document.getElementById('main'); return m ? m.innerText : ''");
                panic!("page `{name}` not ready in 10 s (state `{state}`): {main}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Marks the page as not ready, before an action that draws a new one.
    pub fn unready(&self) {
        self.js("if (document.body) document.body.setAttribute('data-ready', 'stale')");
    }

    /// Types `text` into the element `css` (cleared first).
    pub fn type_into(&self, css: &str, text: &str) {
        let el = self
            .rt
            .block_on(self.c().wait().for_element(Locator::Css(css)))
            .unwrap();
        self.rt.block_on(el.clear()).unwrap();
        self.rt.block_on(el.send_keys(text)).unwrap();
    }

    /// Clicks the element `css`.
    pub fn click(&self, css: &str) {
        let el = self
            .rt
            .block_on(self.c().find(Locator::Css(css)))
            .unwrap_or_else(|e| panic!("no `{css}`: {e}"));
        self.rt.block_on(el.click()).unwrap();
    }

    /// Clicks the link whose text is exactly `text` inside `css`.
    pub fn click_link(&self, css: &str, text: &str) {
        let found = self.js(&format!(
            "var all = document.querySelectorAll({css:?}); \
             for (var i = 0; i < all.length; i++) {{ if (all[i].textContent === {text:?}) {{ \
             all[i].setAttribute('data-click', '1'); return true; }} }} return false;"
        ));
        assert_eq!(found, Value::Bool(true), "no `{css}` link `{text}`");
        self.click("[data-click='1']");
        self.js("var e = document.querySelector(\"[data-click='1']\"); if (e) e.removeAttribute('data-click');");
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        self.rt.block_on(self.c().screenshot()).unwrap()
    }

    /// The text of an open alert, if a script opened one.
    pub fn alert(&self) -> Option<String> {
        self.rt.block_on(self.c().get_alert_text()).ok()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(c.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
