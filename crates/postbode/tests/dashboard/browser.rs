//! Headless Chromium driven over WebDriver (chromedriver on 127.0.0.1), with what the
//! dashboard's checks need beyond clicking: a phone's width, the dark colour scheme and
//! another time zone (through chromedriver's pass-through to the DevTools protocol),
//! full-page screenshots, and axe-core run on the page.

use crate::common::eventually;
use crate::webdriver::{Client, Element, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The widths every page is looked at: a laptop's and a phone's.
pub const WIDE: u32 = 1366;
pub const PHONE: u32 = 390;

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// chromedriver and a browser session with a fresh profile, saving screenshots.
pub struct Browser {
    pub client: Client,
    /// The service's address, which `visit` paths are relative to.
    pub base: String,
    driver: Child,
    pub downloads: tempfile::TempDir,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    taken: usize,
    width: u32,
    /// axe-core's script, when installed (`npm ci --prefix crates/postbode/tests/dashboard`).
    axe: Option<String>,
}

impl Browser {
    /// `None` (after saying why) when Chromium is not installed and this is not CI.
    /// Screenshots go into a folder of their own per `test`, as tests run at once.
    pub async fn start(base: &str, test: &str) -> Option<Self> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|path| !Path::new(path).exists())
            .collect();
        if !missing.is_empty() {
            let message = format!(
                "{} not installed: apt-get install -y chromium chromium-driver",
                missing.join(" and ")
            );
            assert!(!in_ci(), "{message}");
            eprintln!("skipping the dashboard browser test: {message}");
            return None;
        }
        let port = crate::common::free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        eventually("chromedriver to listen", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()
        })
        .await;
        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1366,900", "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                },
            },
        });
        let client = Client::connect(&format!("http://127.0.0.1:{port}"), capabilities)
            .await
            .expect("a WebDriver session");
        client.script_timeout(Duration::from_secs(60)).await.unwrap();
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("dashboard-screenshots")
            .join(test);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        println!("dashboard screenshots: {}", shots.display());
        let mut browser = Self {
            client,
            base: base.to_owned(),
            driver,
            downloads,
            _profile: profile,
            shots,
            taken: 0,
            width: WIDE,
            axe: axe_script(),
        };
        browser.set_width(WIDE).await;
        Some(browser)
    }

    pub async fn visit(&self, path: &str) {
        self.visit_at(&self.base, path).await;
    }

    /// A page of another service (`base`).
    pub async fn visit_at(&self, base: &str, path: &str) {
        self.client.goto(&format!("{base}{path}")).await.unwrap();
    }

    /// The path and query of the page shown now.
    pub async fn location(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn reload(&self) {
        self.client.refresh().await.unwrap();
    }

    /// The page's width from now on: a laptop (`WIDE`) or a phone (`PHONE`, as a mobile
    /// device, so the page's viewport meta tag counts).
    pub async fn set_width(&mut self, width: u32) {
        self.width = width;
        self.client
            .cdp(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": if width == PHONE { 844 } else { 900 },
                       "deviceScaleFactor": 1, "mobile": width == PHONE}),
            )
            .await
            .unwrap();
    }

    /// Whether the page is shown as the system's dark colour scheme asks.
    pub async fn set_dark(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.client
            .cdp(
                "Emulation.setEmulatedMedia",
                json!({"features": [{"name": "prefers-color-scheme", "value": value}]}),
            )
            .await
            .unwrap();
    }

    pub async fn set_time_zone(&self, zone: &str) {
        self.client
            .cdp("Emulation.setTimezoneOverride", json!({ "timezoneId": zone }))
            .await
            .unwrap();
    }

    /// Saves the whole page (not only the part in view) as `NN-name-WIDTH.png`, and as
    /// `name-WIDTH.png` into `POSTBODE_SCREENSHOTS` when that is set (how
    /// docs/screenshots is refreshed).
    pub async fn shot(&mut self, name: &str) {
        self.taken += 1;
        let metrics = self.client.cdp("Page.getLayoutMetrics", json!({})).await.unwrap();
        let size = &metrics["cssContentSize"];
        let height = size["height"].as_f64().unwrap_or(900.0).clamp(200.0, 8000.0);
        let shot = self
            .client
            .cdp(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}}),
            )
            .await
            .unwrap();
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        let file = format!("{name}-{}.png", self.width);
        std::fs::write(self.shots.join(format!("{:02}-{file}", self.taken)), &png).unwrap();
        if let Ok(dir) = std::env::var("POSTBODE_SCREENSHOTS") {
            std::fs::write(Path::new(&dir).join(file), &png).unwrap();
        }
    }

    /// Waits until an element matches `css`, and returns the first.
    pub async fn find(&self, css: &str) -> Element<'_> {
        eventually(&format!("an element {css}"), || async {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => Some(element),
                Err(error) if error.is_no_such_element() => None,
                Err(error) => panic!("looking for {css}: {error}"),
            }
        })
        .await
    }

    /// Whether an element matches `css` now (no waiting).
    pub async fn has(&self, css: &str) -> bool {
        !self.client.find_all(Locator::Css(css)).await.unwrap().is_empty()
    }

    /// Waits until the element's text contains `expected`, and returns the text; a
    /// failure says what the element showed instead.
    pub async fn text_of(&self, css: &str, expected: &str) -> String {
        let seen = std::sync::Mutex::new(None::<String>);
        let found = tokio::time::timeout(
            Duration::from_secs(60),
            eventually(&format!("{css} to show {expected:?}"), || async {
                let element = self.client.find(Locator::Css(css)).await.ok()?;
                let text = element.text().await.ok()?;
                *seen.lock().unwrap() = Some(text.clone());
                text.contains(expected).then_some(text)
            }),
        )
        .await;
        found.unwrap_or_else(|_| {
            panic!(
                "gave up waiting for {css} to show {expected:?}; it showed {:?}",
                seen.lock().unwrap()
            )
        })
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }

    /// Sets an input's value as a script would (a date input does not take keystrokes
    /// the same way in every locale).
    pub async fn set_value(&self, css: &str, value: &str) {
        let input = self.find(css).await;
        self.client
            .execute(
                "arguments[0].value = arguments[1]; return null",
                vec![input.to_json(), json!(value)],
            )
            .await
            .unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.find(css).await.select_by_value(value).await.unwrap();
    }

    /// A DOM property of the first element matching `css` (`value`, `checked`).
    pub async fn property(&self, css: &str, name: &str) -> Value {
        self.find(css).await.property(name).await.unwrap()
    }

    /// Runs a script in the page (`arguments`, `return`).
    pub async fn script(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap()
    }

    /// Marks the page, so a check can tell later that it was not loaded again.
    pub async fn mark_page(&self) {
        self.script("window.postbodeMark = 'still this page'; return null")
            .await;
    }

    pub async fn page_is_marked(&self) -> bool {
        self.script("return window.postbodeMark === 'still this page'").await == json!(true)
    }

    pub async fn sign_in(&self, key: &str) {
        self.sign_in_at(&self.base, key).await;
    }

    /// Signs in to another service (`base`). Services on 127.0.0.1 share cookies, so this
    /// ends the session with the other.
    pub async fn sign_in_at(&self, base: &str, key: &str) {
        self.visit_at(base, "/ui/sign-in").await;
        self.fill("#key", key).await;
        self.click("#sign-in").await;
        self.find("#sign-out").await;
    }

    /// The page's serious and critical accessibility violations by axe-core, in words;
    /// empty when axe-core is not installed (outside CI, where it must be).
    pub async fn accessibility_violations(&self) -> Vec<String> {
        let Some(axe) = &self.axe else {
            return Vec::new();
        };
        self.client
            .execute(&format!("{axe}\nreturn true;"), Vec::new())
            .await
            .unwrap();
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']})
                   .then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at '
                       + v.nodes.map(n => n.target.join(' ')).join(', '))))
                   .catch(e => done(['axe failed: ' + e]));",
                Vec::new(),
            )
            .await
            .unwrap();
        serde_json::from_value(found).unwrap()
    }

    /// Whether the page scrolls sideways (wider than the screen).
    pub async fn scrolls_sideways(&self) -> bool {
        self.script("return document.documentElement.scrollWidth > window.innerWidth + 1")
            .await
            == json!(true)
    }

    /// Ends the browser session; dropping then stops chromedriver.
    pub async fn stop(self) {
        let _ = self.client.close().await;
    }
}

/// Also when a test fails half-way.
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn axe_script() -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(script) => Some(script),
        Err(e) => {
            let message = format!(
                "axe-core is not installed ({}: {e}): npm ci --prefix crates/postbode/tests/dashboard",
                path.display()
            );
            assert!(!in_ci(), "{message}");
            eprintln!("accessibility checks skipped: {message}");
            None
        }
    }
}
