//! A real headless Chromium for the docs site's tests, driven through chromedriver (W3C
//! WebDriver). Debian's `chromium` and `chromium-driver` packages provide both
//! (`apt-get install -y chromium chromium-driver`; `.ci/run` installs them when missing);
//! `STRATA_TEST_CHROMIUM` and `STRATA_TEST_CHROMEDRIVER` point elsewhere. A missing browser
//! fails the test with that command: nothing is skipped. `examples/docs_first_page.rs`
//! (the docs site's timing benchmark) uses it too.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

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
///
/// It speaks W3C WebDriver (JSON over HTTP) to chromedriver through `ureq`, the HTTP client
/// already in the tree: a WebDriver crate's dependencies changed the features of a crate that
/// DuckDB's bundled build depends on, which rebuilt DuckDB (~30 minutes) for the tests.
pub struct Browser {
    http: ureq::Agent,
    session: String,
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
        let profile = tempfile::tempdir().unwrap();
        let log = profile.path().join("chromedriver.log");
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            // cargo runs tests with its build outputs' library folders on LD_LIBRARY_PATH;
            // Chromium must load the system's libraries, not those.
            .env_remove("LD_LIBRARY_PATH")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(profile.path().join("chromium.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let log_tail = || {
            let text = std::fs::read_to_string(&log).unwrap_or_default()
                + &std::fs::read_to_string(profile.path().join("chromium.log")).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        };
        let http: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut args: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!(
            "--user-data-dir={}",
            profile.path().join("chromium").display()
        ));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}}}});
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let session = loop {
            match post(&http, &format!("{base}/session"), &caps) {
                Ok(v) if v["value"]["sessionId"].is_string() => {
                    break v["value"]["sessionId"].as_str().unwrap().to_string();
                }
                Ok(v) if Instant::now() > deadline => panic!(
                    "no WebDriver session from {}: {}\nchromedriver's log:\n{}",
                    chromedriver.display(),
                    v["value"]["message"],
                    log_tail()
                ),
                Err(e) if Instant::now() > deadline => {
                    panic!(
                        "no WebDriver session from {} in 30 s: {e}",
                        chromedriver.display()
                    )
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        Browser {
            http,
            session: format!("{base}/session/{session}"),
            driver,
            _profile: profile,
        }
    }

    /// A command of the session: its `value`, or a panic with WebDriver's error.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.session);
        let v = match (method, body) {
            ("GET", _) => get(&self.http, &url),
            ("DELETE", _) => self
                .http
                .delete(&url)
                .call()
                .map_err(|e| e.to_string())
                .and_then(read),
            (_, body) => post(&self.http, &url, &body.unwrap_or_else(|| json!({}))),
        }?;
        match v["value"]["error"].as_str() {
            Some(error) => Err(format!("{error}: {}", v["value"]["message"])),
            None => Ok(v["value"].clone()),
        }
    }

    fn element(&self, css: &str) -> Result<String, String> {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("no element id in {v}"))
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
        self.cmd("POST", "/url", Some(json!({"url": url})))
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits (10 s at most) until the app says page `name` is drawn; panics with the page's
    /// error text otherwise.
    pub fn wait_ready(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = self
                .js("return document.body ? (document.body.getAttribute('data-ready') || '') : ''");
            if state == name {
                return;
            }
            if Instant::now() > deadline {
                let main =
                    self.js("var m = document.getElementById('main'); return m ? m.innerText : ''");
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
            .element(css)
            .unwrap_or_else(|e| panic!("no `{css}`: {e}"));
        self.cmd("POST", &format!("/element/{el}/clear"), None)
            .unwrap();
        self.cmd(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .unwrap();
    }

    /// Clicks the element `css`.
    pub fn click(&self, css: &str) {
        let el = self
            .element(css)
            .unwrap_or_else(|e| panic!("no `{css}`: {e}"));
        self.cmd("POST", &format!("/element/{el}/click"), None)
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
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
        let v = self.cmd("GET", "/screenshot", None).unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    }

    /// The text of an open alert, if a script opened one.
    pub fn alert(&self) -> Option<String> {
        self.cmd("GET", "/alert/text", None)
            .ok()
            .map(|v| v.as_str().unwrap_or_default().to_string())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.cmd("DELETE", "", None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn read(resp: ureq::http::Response<ureq::Body>) -> Result<Value, String> {
    let text = resp
        .into_body()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
}

fn post(http: &ureq::Agent, url: &str, body: &Value) -> Result<Value, String> {
    http.post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .map_err(|e| e.to_string())
        .and_then(read)
}

fn get(http: &ureq::Agent, url: &str) -> Result<Value, String> {
    http.get(url)
        .call()
        .map_err(|e| e.to_string())
        .and_then(read)
}
