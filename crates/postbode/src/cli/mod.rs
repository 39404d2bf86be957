//! The command line for people at a terminal: commands that talk to a running Postbode
//! over its API (`webhook`, `domain`, `profile`, `keys`, `import`), and tools for receivers (`verify`, `listen`).

pub mod domain;
pub mod import;
pub mod keys;
pub mod listen;
pub mod profile;
pub mod verify;
pub mod webhook;

use anyhow::Context;
use serde_json::Value;
use std::fmt::Write as _;

/// Where the API is and who is asking.
#[derive(clap::Args, Debug, Clone)]
pub struct ApiArgs {
    /// The Postbode API: `http://HOST:PORT` (a bare `HOST:PORT` means http).
    #[arg(long, env = "POSTBODE_URL", default_value = "http://127.0.0.1:8080", value_parser = api_url)]
    pub url: String,
    /// An account API key (`pb_...`); required, here or in POSTBODE_API_KEY.
    #[arg(long, env = "POSTBODE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// Where the API is, with the operator token (for the operator's commands).
#[derive(clap::Args, Debug, Clone)]
pub struct OperatorArgs {
    /// The Postbode API: `http://HOST:PORT` (a bare `HOST:PORT` means http).
    #[arg(long, env = "POSTBODE_URL", default_value = "http://127.0.0.1:8080", value_parser = api_url)]
    pub url: String,
    /// The operator token (printed at first start, kept in <data-dir>/admin-token);
    /// required, here or in POSTBODE_ADMIN_TOKEN.
    #[arg(long, env = "POSTBODE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// `--url` / `POSTBODE_URL` as an http(s) URL. `localhost:8080` is what people type (and
/// what the service's log shows without a scheme), so a missing scheme means http.
fn api_url(text: &str) -> Result<String, String> {
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    match url::Url::parse(&with_scheme) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(with_scheme),
        _ => Err(format!(
            "{text:?} (--url or POSTBODE_URL) is not the address of a Postbode API; give http://HOST:PORT, \
             e.g. http://127.0.0.1:8080"
        )),
    }
}

/// A required credential that is missing: a usage error (exit status 2) that names the
/// environment variable too, since that is where most people keep it.
fn missing(what: &str) -> ! {
    clap::Error::raw(clap::error::ErrorKind::MissingRequiredArgument, format!("{what}\n")).exit()
}

pub struct Api {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(args: ApiArgs) -> anyhow::Result<Self> {
        let Some(key) = args.api_key else {
            missing(
                "no API key: set POSTBODE_API_KEY or give --api-key (an account key, pb_...; \
                 POST /v1/accounts or the dashboard's operator pages make one)",
            );
        };
        Self::with_token(args.url, key)
    }

    pub fn operator(args: OperatorArgs) -> anyhow::Result<Self> {
        let Some(token) = args.admin_token else {
            missing(
                "no operator token: set POSTBODE_ADMIN_TOKEN or give --admin-token (the token the first \
                 `postbode serve` printed, kept in <data-dir>/admin-token)",
            );
        };
        Self::with_token(args.url, token)
    }

    fn with_token(url: String, token: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .context("building the HTTP client")?;
        Ok(Self { url, token, http })
    }

    /// Sends a request and returns the JSON answer; a problem document becomes an error
    /// that says what the server said.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            let hint = if e.is_connect() {
                " (is the service running there? --url or POSTBODE_URL says where it is)"
            } else {
                ""
            };
            anyhow::Error::new(e).context(format!("calling {url}{hint}"))
        })?;
        let status = response.status();
        let text = response.text().await.context("reading the answer")?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            anyhow::bail!("{}", problem_text(status, &value).trim_end());
        }
        Ok(value)
    }
}

/// The server's problem document: status, detail and each bad field.
pub fn problem_text(status: reqwest::StatusCode, problem: &Value) -> String {
    let mut out = String::new();
    match problem["detail"].as_str() {
        Some(detail) => {
            let _ = writeln!(out, "{status}: {detail}");
        }
        None => {
            let _ = writeln!(out, "{status}: {problem}");
        }
    }
    for error in problem["errors"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {}: {}",
            error["field"].as_str().unwrap_or("?"),
            error["message"].as_str().unwrap_or("")
        );
    }
    out
}
