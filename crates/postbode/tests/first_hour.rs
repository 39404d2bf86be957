//! The first hour with the binary, as a new user meets it: each message says what is
//! wrong in the user's words (or the thing just works), and the recipes of the README
//! work as written.

mod common;

use common::binary::{run as postbode, run_in as postbode_in, start_binary};
use common::{ADMIN, Receiver, Service, eventually, free_port, postgres_only};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_postbode");
/// How long a started binary may take to print a line before the test gives up.
const PATIENCE: Duration = Duration::from_secs(60);

/// `postbode serve` in `dir`, started as a new user starts it: no operator token given.
struct Serving {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    url: String,
}

impl Serving {
    async fn start(dir: &Path, data_dir: &str) -> Self {
        let port = free_port();
        let mut child = Command::new(BIN)
            .current_dir(dir)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
                data_dir,
            ])
            .env_remove("POSTBODE_ADMIN_TOKEN")
            .env("POSTBODE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        eventually("the server to answer /health", || async {
            let answer = http.get(format!("{url}/health")).send().await.ok()?;
            answer.status().is_success().then_some(())
        })
        .await;
        Self { child, stdout, url }
    }

    /// The operator token the first start prints.
    async fn printed_token(&mut self) -> String {
        let line = tokio::time::timeout(PATIENCE, self.stdout.next_line())
            .await
            .expect("the service printed nothing")
            .unwrap()
            .expect("the service closed its output");
        line.strip_prefix("Operator token (also saved in the data directory's admin-token file): ")
            .unwrap_or_else(|| panic!("not the token line: {line}"))
            .to_owned()
    }

    async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

#[tokio::test]
async fn commands_without_a_key_name_the_variable_that_holds_it() {
    for args in [
        &["webhook", "check"][..],
        &["import", "people.csv", "--database", "db_1"],
        &["domain", "list"],
        &["profile", "erase", "prf_1"],
    ] {
        let out = postbode(args, &[]).await;
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("POSTBODE_API_KEY") && out.stderr.contains("--api-key"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = postbode(&["keys", "show"], &[]).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("POSTBODE_ADMIN_TOKEN") && out.stderr.contains("admin-token"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn an_api_address_without_a_scheme_is_http_and_a_wrong_one_is_named() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let bare = service.url.trim_start_matches("http://");
    let out = postbode(
        &["webhook", "check"],
        &[("POSTBODE_URL", bare), ("POSTBODE_API_KEY", &key)],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "No webhooks.\n");

    let out = postbode(
        &["webhook", "check"],
        &[("POSTBODE_URL", "ftp://example.com"), ("POSTBODE_API_KEY", &key)],
    )
    .await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("POSTBODE_URL"), "{}", out.stderr);

    let out = postbode(
        &["webhook", "check"],
        &[("POSTBODE_URL", "127.0.0.1:1"), ("POSTBODE_API_KEY", &key)],
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("is the service running there?"), "{}", out.stderr);
}

#[tokio::test]
async fn help_says_what_postbode_is_and_each_command_offers_only_its_flags() {
    let out = postbode(&["--help"], &[]).await;
    assert!(
        out.stdout
            .starts_with("Postbode: a self-hosted webhook delivery service\n"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("Wiring"), "{}", out.stdout);
    for command in ["migrate", "backup"] {
        let out = postbode(&[command, "--help"], &[]).await;
        assert!(out.stdout.contains("--data-dir"), "{}", out.stdout);
        assert!(!out.stdout.contains("--listen"), "{command}: {}", out.stdout);
    }
    let out = postbode(&["serve", "--help"], &[]).await;
    assert!(out.stdout.contains("--listen"), "{}", out.stdout);
}

#[tokio::test]
async fn a_start_that_fails_keeps_no_operator_token_and_the_next_one_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let out = postbode_in(
        dir.path(),
        &["serve", "--listen", &address, "--data-dir", "postbode-data"],
        &[],
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("listening on {address}")),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("Operator token"), "{}", out.stdout);
    assert!(!dir.path().join("postbode-data/admin-token").exists());

    let mut serving = Serving::start(dir.path(), "postbode-data").await;
    let token = serving.printed_token().await;
    let saved = std::fs::read_to_string(dir.path().join("postbode-data/admin-token")).unwrap();
    assert_eq!(saved, token);
    serving.stop().await;
}

#[tokio::test]
async fn backup_and_migrate_say_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let copy = dir.path().join("copy.db");
    let out = postbode(&["backup", copy.to_str().unwrap(), "--data-dir", data], &[]).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("there is no SQLite store at {data}/postbode.db"))
            && out.stderr.contains("--data-dir"),
        "{}",
        out.stderr
    );

    drop(start_binary(Path::new(data), free_port()).await);
    let nowhere = dir.path().join("backups/copy.db");
    let out = postbode(&["backup", nowhere.to_str().unwrap(), "--data-dir", data], &[]).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "the directory {} does not exist",
            dir.path().join("backups").display()
        )),
        "{}",
        out.stderr
    );

    let missing = dir.path().join("none.db");
    let from = format!("sqlite://{}", missing.display());
    let out = postbode(
        &[
            "migrate",
            "--from",
            &from,
            "--to",
            "postgres://postgres@127.0.0.1:1/none",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("--from: there is no SQLite store at {}", missing.display())),
        "{}",
        out.stderr
    );
    assert!(!missing.exists(), "nothing is made at --from");
}

/// On PostgreSQL the data directory still holds the master key and operator token, and
/// a start logs no notices of the database's at the default level.
#[tokio::test]
async fn a_postgres_store_makes_its_data_directory_and_logs_no_notices() {
    let Some(schema) = postgres_only().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("not/yet");
    for start in 0..2 {
        let port = free_port();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&data)
            .args(["--database", &schema.scoped])
            .env("POSTBODE_ADMIN_TOKEN", ADMIN)
            .env_remove("POSTBODE_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut log = Vec::new();
        tokio::time::timeout(PATIENCE, async {
            while let Some(line) = stderr.next_line().await.unwrap() {
                let listening = line.contains("Postbode is listening");
                log.push(line);
                if listening {
                    break;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("start {start} never listened: {log:#?}"));
        assert!(
            log.last().is_some_and(|l| l.contains("Postbode is listening")),
            "start {start}: {log:#?}"
        );
        assert!(
            !log.iter()
                .any(|l| l.contains("_sqlx_migrations") || l.contains("notice")),
            "start {start}: {log:#?}"
        );
        assert!(data.join("master-key").exists());
        child.kill().await.unwrap();
    }
}

/// The README's restore recipe, run as written: the restored service has the data and
/// the operator token of the one backed up.
#[tokio::test]
async fn the_readme_restore_recipe_keeps_data_and_operator_token() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let recipe = shell_block_after(&readme, "To restore");
    let dir = tempfile::tempdir().unwrap();
    let mut serving = Serving::start(dir.path(), "postbode-data").await;
    let token = serving.printed_token().await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let created = http
        .post(format!("{}/v1/accounts", serving.url))
        .bearer_auth(&token)
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    std::fs::create_dir(dir.path().join("backups")).unwrap();
    let out = postbode_in(
        dir.path(),
        &["backup", "backups/postbode.db", "--data-dir", "postbode-data"],
        &[],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    serving.stop().await;

    let mut serve_line = None;
    for line in recipe.lines() {
        if line.starts_with("postbode ") {
            serve_line = Some(line);
            continue;
        }
        let line = line.replace("/backups/", "backups/");
        let status = std::process::Command::new("sh")
            .args(["-ec", &line])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "{line}");
    }
    assert_eq!(serve_line, Some("postbode serve --data-dir restored"));
    let restored = Serving::start(dir.path(), "restored").await;
    let accounts = http
        .get(format!("{}/v1/accounts", restored.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(accounts.status(), 200, "the old operator token works");
    let accounts: Value = accounts.json().await.unwrap();
    assert_eq!(accounts["data"][0]["name"], "Acme");
    restored.stop().await;
}

/// The first ```sh block after `marker`.
fn shell_block_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let after = &text[text.find(marker).expect("the marker is in the text")..];
    let start = after.find("```sh\n").expect("a shell block follows") + "```sh\n".len();
    let end = after[start..].find("```").expect("the block ends");
    &after[start..start + end]
}

#[tokio::test]
async fn a_time_reads_the_same_in_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let binary = start_binary(dir.path(), free_port()).await;
    let (status, created) = binary
        .call("POST", "/v1/accounts", ADMIN, Some(json!({"name": "Acme"})))
        .await;
    assert_eq!(status, 201, "{created}");
    let (_, listed) = binary.call("GET", "/v1/accounts", ADMIN, None).await;
    let key = created["api_key"].as_str().unwrap();
    let (_, read) = binary.call("GET", "/v1/account", key, None).await;
    let at = created["created_at"].as_str().unwrap();
    assert_eq!(listed["data"][0]["created_at"], at);
    assert_eq!(read["created_at"], at);
    let fraction = at.trim_end_matches('Z').rsplit_once(':').unwrap().1;
    assert!(
        fraction.len() == 2 || fraction.len() == 6,
        "seconds, and milliseconds when there are any: {at}"
    );
}

#[tokio::test]
async fn a_raw_test_body_that_is_not_in_the_webhooks_format_is_refused_before_sending() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let receiver = Receiver::start().await;
    let hook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let id = hook["id"].as_str().unwrap();
    let api = [
        ("POSTBODE_URL", service.url.as_str()),
        ("POSTBODE_API_KEY", key.as_str()),
    ];
    let out = postbode(&["webhook", "test", id, "--body", "raw=1"], &api).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("Content-Type: application/json"), "{}", out.stderr);
    assert_eq!(receiver.count(), 0, "nothing was sent");

    let out = postbode(&["webhook", "test", id, "--body", r#"{"raw": 1}"#], &api).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(&receiver.wait_for(1).await[0].body[..], br#"{"raw": 1}"#);
}
