//! The real `postbode` binary, started on a free port with a data directory of the
//! test's, killed (SIGKILL) when dropped.

use serde_json::Value;
use std::process::{Child, Command, Stdio};

use super::{ADMIN, eventually};

pub struct Binary {
    pub child: Child,
    pub url: String,
}

/// A failing test must not leave a server running.
impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One JSON `POST` to a started binary; `Err` when the connection fails, as it does for
/// a server being killed.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Value,
) -> Result<(u16, Value), reqwest::Error> {
    let response = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.json().await?;
    Ok((status, body))
}

impl Binary {
    /// One call that must be answered: its status and JSON body (`null` when it has none).
    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut request = client
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

pub async fn start_binary(data_dir: &std::path::Path, port: u16) -> Binary {
    start_binary_with(data_dir, port, &[]).await
}

/// The binary with more settings in its environment.
pub async fn start_binary_with(data_dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Binary {
    start_binary_under(&[], data_dir, port, env).await
}

/// The binary started through `launcher` (a command and its arguments, to which the
/// binary's path and arguments are appended, and which must `exec` it so the child's pid
/// is the server's).
pub async fn start_binary_under(
    launcher: &[&str],
    data_dir: &std::path::Path,
    port: u16,
    env: &[(&str, &str)],
) -> Binary {
    let binary = env!("CARGO_BIN_EXE_postbode");
    let mut command = match launcher.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    let child = command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .env("POSTBODE_ADMIN_TOKEN", ADMIN)
        .env("POSTBODE_DELIVERY__ALLOW_PRIVATE_TARGETS", "true")
        .env("POSTBODE_WEBHOOKS__REQUIRE_VERIFICATION", "false")
        .env("POSTBODE_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    eventually("the server to answer /health", || async {
        client
            .get(format!("{url}/health"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())
            .map(drop)
    })
    .await;
    Binary { child, url }
}

/// What a command printed, and how it exited.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary to its end with the variables given (none of the test run's own
/// `POSTBODE_*`) and a backtrace asked for, as a developer's shell may.
pub async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_in(std::path::Path::new("."), args, env).await
}

/// [`run`] in the directory `dir`.
pub async fn run_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("POSTBODE_")) {
        command.env_remove(name);
    }
    let output = command
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .output()
        .await
        .unwrap();
    Output {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}
