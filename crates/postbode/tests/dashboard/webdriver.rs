//! A small W3C WebDriver client (<https://www.w3.org/TR/webdriver2/>) over reqwest, with
//! the commands the dashboard tests send to chromedriver on 127.0.0.1, and chromedriver's
//! pass-through to the Chrome DevTools Protocol (screen size, colour scheme, time zone). A client crate
//! would bring second major versions of http, cookie, thiserror and ICU into the build.
//!
//! Commands fail rather than wait: a test waits for a page with `eventually`.

use reqwest::Method;
use serde_json::{Value, json};
use std::fmt;
use std::time::Duration;

/// The key under which WebDriver names an element in JSON (W3C "web element identifier").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

#[derive(Debug)]
pub enum Error {
    /// The remote end answered with a W3C error: `code` is its `error` (e.g. "no such
    /// element"), `message` its explanation.
    Refused { code: String, message: String },
    /// No answer, or one that is not what WebDriver says it should be.
    Exchange(String),
}

impl Error {
    pub fn is_no_such_element(&self) -> bool {
        matches!(self, Error::Refused { code, .. } if code == "no such element")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Refused { code, message } => write!(f, "WebDriver {code}: {message}"),
            Error::Exchange(what) => write!(f, "WebDriver exchange failed: {what}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// How an element is looked up.
#[derive(Clone, Copy, Debug)]
pub enum Locator<'a> {
    Css(&'a str),
    /// An `<a>` whose visible text is exactly this.
    LinkText(&'a str),
}

impl Locator<'_> {
    fn to_json(self) -> Value {
        match self {
            Locator::Css(selector) => json!({"using": "css selector", "value": selector}),
            Locator::LinkText(text) => json!({"using": "link text", "value": text}),
        }
    }
}

/// One browser session of a WebDriver remote end.
pub struct Client {
    http: reqwest::Client,
    /// `{remote end}/session/{id}`, which every command's path extends.
    session: String,
}

impl Client {
    /// Opens a session at the remote end `driver` (`http://127.0.0.1:PORT`) with the
    /// capabilities a browser must match (`goog:chromeOptions`, ...).
    pub async fn connect(driver: &str, capabilities: Value) -> Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            // A hang guard for a stuck driver, far beyond any command's real time.
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::Exchange(e.to_string()))?;
        let body = json!({"capabilities": {"alwaysMatch": capabilities}});
        let created = exchange(&http, Method::POST, format!("{driver}/session"), Some(body)).await?;
        let id = created["sessionId"]
            .as_str()
            .ok_or_else(|| Error::Exchange(format!("a new session without an id: {created}")))?;
        Ok(Self {
            session: format!("{driver}/session/{id}"),
            http,
        })
    }

    async fn get(&self, path: &str) -> Result<Value> {
        exchange(&self.http, Method::GET, format!("{}{path}", self.session), None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        exchange(&self.http, Method::POST, format!("{}{path}", self.session), Some(body)).await
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    pub async fn current_url(&self) -> Result<url::Url> {
        let url = string(self.get("/url").await?)?;
        url.parse().map_err(|e| Error::Exchange(format!("{url}: {e}")))
    }

    pub async fn refresh(&self) -> Result<()> {
        self.post("/refresh", json!({})).await.map(drop)
    }

    /// The page's markup as the browser holds it now.
    pub async fn source(&self) -> Result<String> {
        string(self.get("/source").await?)
    }

    pub async fn find(&self, locator: Locator<'_>) -> Result<Element<'_>> {
        self.find_under("", locator).await
    }

    pub async fn find_all(&self, locator: Locator<'_>) -> Result<Vec<Element<'_>>> {
        self.find_all_under("", locator).await
    }

    /// The first match inside `scope` (the page, or an element's path).
    async fn find_under(&self, scope: &str, locator: Locator<'_>) -> Result<Element<'_>> {
        let found = self.post(&format!("{scope}/element"), locator.to_json()).await?;
        Element::from_json(self, &found)
    }

    async fn find_all_under(&self, scope: &str, locator: Locator<'_>) -> Result<Vec<Element<'_>>> {
        let found = self.post(&format!("{scope}/elements"), locator.to_json()).await?;
        let Value::Array(found) = found else {
            return Err(Error::Exchange(format!("not a list of elements: {found}")));
        };
        found.iter().map(|value| Element::from_json(self, value)).collect()
    }

    /// Runs `script` (a function body: `arguments` holds `args`, `return` answers) in the
    /// page.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Runs `script` in the page; it answers by calling the callback passed as its last
    /// argument.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post("/execute/async", json!({ "script": script, "args": args }))
            .await
    }

    /// A Chrome DevTools Protocol command (chromedriver's `goog/cdp/execute`).
    pub async fn cdp(&self, command: &str, params: Value) -> Result<Value> {
        self.post("/goog/cdp/execute", json!({ "cmd": command, "params": params }))
            .await
    }

    /// Sets the script timeout (for `execute_async`).
    pub async fn script_timeout(&self, timeout: Duration) -> Result<()> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.post("/timeouts", json!({ "script": ms })).await.map(drop)
    }

    /// Ends the session, which closes the browser; later commands are refused.
    pub async fn close(&self) -> Result<()> {
        exchange(&self.http, Method::DELETE, self.session.clone(), None)
            .await
            .map(drop)
    }
}

/// An element of the page it was found on.
pub struct Element<'c> {
    client: &'c Client,
    id: String,
}

impl<'c> Element<'c> {
    fn from_json(client: &'c Client, value: &Value) -> Result<Self> {
        let id = value[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| Error::Exchange(format!("not an element: {value}")))?;
        Ok(Self {
            client,
            id: id.to_owned(),
        })
    }

    fn path(&self, command: &str) -> String {
        format!("{}/{command}", self.scope())
    }

    fn scope(&self) -> String {
        format!("/element/{}", self.id)
    }

    /// The element as the WebDriver JSON that `execute` takes as an argument.
    pub fn to_json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    pub async fn click(&self) -> Result<()> {
        self.client.post(&self.path("click"), json!({})).await.map(drop)
    }

    /// Two clicks in quick succession, as a person's double click.
    pub async fn double_click(&self) -> Result<()> {
        let press = [
            json!({"type": "pointerDown", "button": 0}),
            json!({"type": "pointerUp", "button": 0}),
        ];
        let actions = json!({"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "origin": self.to_json(), "x": 0, "y": 0},
                press[0], press[1], press[0], press[1],
            ],
        }]});
        self.client.post("/actions", actions).await.map(drop)
    }

    /// Empties an input or a textarea.
    pub async fn clear(&self) -> Result<()> {
        self.client.post(&self.path("clear"), json!({})).await.map(drop)
    }

    /// Types `text` into the element, as keystrokes.
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        let keys = json!({ "text": text });
        self.client.post(&self.path("value"), keys).await.map(drop)
    }

    /// The text as rendered (hidden parts left out).
    pub async fn text(&self) -> Result<String> {
        string(self.client.get(&self.path("text")).await?)
    }

    /// Whether the element is shown (not hidden by CSS or a closed `<details>`).
    pub async fn displayed(&self) -> Result<bool> {
        let value = self.client.get(&self.path("displayed")).await?;
        value
            .as_bool()
            .ok_or_else(|| Error::Exchange(format!("not a boolean: {value}")))
    }

    /// The attribute as written in the markup; `None` when absent.
    pub async fn attribute(&self, name: &str) -> Result<Option<String>> {
        let value = self.client.get(&self.path(&format!("attribute/{name}"))).await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// The DOM property now (an input's `value` is what was typed, not the markup's).
    pub async fn property(&self, name: &str) -> Result<Value> {
        self.client.get(&self.path(&format!("property/{name}"))).await
    }

    pub async fn find(&self, locator: Locator<'_>) -> Result<Element<'c>> {
        self.client.find_under(&self.scope(), locator).await
    }

    pub async fn find_all(&self, locator: Locator<'_>) -> Result<Vec<Element<'c>>> {
        self.client.find_all_under(&self.scope(), locator).await
    }

    /// Picks the `<option>` of this `<select>` whose value is `value`.
    pub async fn select_by_value(&self, value: &str) -> Result<()> {
        let option = format!("option[value='{value}']");
        self.find(Locator::Css(&option)).await?.click().await
    }

    /// Picks the `<option>` of this `<select>` whose text is `label`.
    pub async fn select_by_label(&self, label: &str) -> Result<()> {
        for option in self.find_all(Locator::Css("option")).await? {
            if option.text().await? == label {
                return option.click().await;
            }
        }
        Err(Error::Refused {
            code: "no such element".into(),
            message: format!("no option labelled {label:?}"),
        })
    }
}

fn string(value: Value) -> Result<String> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(Error::Exchange(format!("not a string: {other}"))),
    }
}

/// Sends one command and returns its answer's `value`, or the error it names.
async fn exchange(http: &reqwest::Client, method: Method, url: String, body: Option<Value>) -> Result<Value> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| Error::Exchange(e.to_string()))?;
    let succeeded = response.status().is_success();
    let mut answer: Value = response.json().await.map_err(|e| Error::Exchange(e.to_string()))?;
    let value = answer["value"].take();
    if succeeded {
        return Ok(value);
    }
    Err(Error::Refused {
        code: value["error"].as_str().unwrap_or("unknown error").to_owned(),
        message: value["message"].as_str().unwrap_or_default().to_owned(),
    })
}
