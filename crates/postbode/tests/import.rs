//! Bulk import (`POST /v1/databases/{id}/import` and `postbode import`): the body is
//! processed while it arrives, bad rows are listed and skip only themselves, a key makes a
//! re-import change nothing, upserts fire `update` events from the `import` source, and
//! input the server cannot take changes nothing at all.

mod common;

use bytes::Bytes;
use common::{Receiver, Service, eventually};
use serde_json::{Value, json};
use std::time::Instant;

const ROWS: usize = 100_000;

/// A database of people; returns its id.
async fn people_database(service: &Service, key: &str) -> String {
    service
        .database(
            key,
            json!({
                "name": "people",
                "fields": [
                    {"name": "email", "type": "email"},
                    {"name": "name", "type": "text"},
                    {"name": "age", "type": "integer"},
                ],
            }),
        )
        .await
}

/// A CSV of `ROWS` data rows, each line with its newline, and the line numbers of the
/// deliberately bad rows (the header is line 1, data row `i` is line `i + 2`).
fn people_csv() -> (Vec<String>, Vec<u64>) {
    let mut lines = Vec::with_capacity(ROWS + 1);
    lines.push("email,name,age\n".to_owned());
    let mut bad = Vec::new();
    for i in 0..ROWS {
        let line = match i {
            10 => format!("p{i}@example.com,Person {i},ten\n"), // not an integer
            25_000 => format!("not-an-email,Person {i},30\n"),  // not an e-mail address
            60_000 => format!("p{i}@example.com,Person {i}\n"), // two cells
            80_000 => format!(",Person {i},30\n"),              // the key is empty
            99_999 => format!("p{i}@example.com,Person {i},1,2\n"), // four cells
            _ => format!("p{i}@example.com,Person {i},{}\n", i % 90),
        };
        if matches!(i, 10 | 25_000 | 60_000 | 80_000 | 99_999) {
            bad.push(i as u64 + 2);
        }
        lines.push(line);
    }
    (lines, bad)
}

async fn profiles(service: &Service, key: &str, db: &str, query: &str) -> Vec<Value> {
    let (status, page) = service
        .call("GET", &format!("/v1/databases/{db}/profiles?{query}"), key, None)
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

async fn profile_by_email(service: &Service, key: &str, db: &str, email: &str) -> Value {
    let mut found = profiles(service, key, db, &format!("fields.email={email}")).await;
    assert_eq!(found.len(), 1, "{email}: {found:?}");
    found.remove(0)
}

/// Sends `body` to the import route as it is and returns status and JSON answer.
async fn import(service: &Service, key: &str, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let response = service
        .http
        .post(format!("{}{path}", service.url))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Runs the real `postbode import` against `service`: (success, stdout, stderr).
async fn cli(service: &Service, key: &str, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"))
        .arg("import")
        .args(args)
        .env("POSTBODE_URL", &service.url)
        .env("POSTBODE_API_KEY", key)
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_import_commits_while_the_body_arrives_and_a_keyed_reimport_changes_nothing() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    let db = people_database(&service, &key).await;
    let (lines, bad_lines) = people_csv();

    // The body is a stream fed from here: the server only sees what was sent so far.
    let (body, chunks) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(chunks, |mut chunks| async move {
        chunks.recv().await.map(|chunk| (chunk, chunks))
    });
    let started = Instant::now();
    let request = service
        .http
        .post(format!("{}/v1/databases/{db}/import?key=email", service.url))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let request = tokio::spawn(async move {
        let response = request.await.unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    });
    let half = lines.len() / 2;
    for chunk in lines[..half].chunks(1000) {
        body.send(Ok(Bytes::from(chunk.concat()))).await.unwrap();
    }
    // Profiles are committed while the request is still open: the server imports as the
    // body arrives instead of reading it whole first.
    eventually("profiles from the first half, while the body is still open", || async {
        let page = profiles(&service, &key, &db, "limit=1").await;
        (!page.is_empty()).then_some(())
    })
    .await;
    assert!(!request.is_finished(), "the server answered before the body ended");
    for chunk in lines[half..].chunks(1000) {
        body.send(Ok(Bytes::from(chunk.concat()))).await.unwrap();
    }
    drop(body);
    let (status, summary) = request.await.unwrap();
    let streamed_in = started.elapsed();
    println!("streamed import of {ROWS} rows: {streamed_in:?}");
    assert_eq!(status, 200, "{summary}");
    let good = (ROWS - bad_lines.len()) as u64;
    assert_eq!(summary["created"], good, "{summary}");
    assert_eq!(summary["updated"], 0);
    assert_eq!(summary["unchanged"], 0);
    assert_eq!(summary["rejected_count"], bad_lines.len());
    let rejected = summary["rejected"].as_array().unwrap();
    let lines_rejected: Vec<u64> = rejected.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines_rejected, bad_lines, "{summary}");
    for rejection in rejected {
        assert!(!rejection["error"].as_str().unwrap().is_empty(), "{rejection}");
    }
    assert!(rejected[0]["error"].as_str().unwrap().contains("age"), "{summary}");
    assert!(rejected[1]["error"].as_str().unwrap().contains("email"), "{summary}");
    assert!(rejected[2]["error"].as_str().unwrap().contains("cells"), "{summary}");
    assert!(rejected[3]["error"].as_str().unwrap().contains("empty"), "{summary}");
    assert!(rejected[4]["error"].as_str().unwrap().contains("cells"), "{summary}");
    // Values are typed as the database defines them.
    let stored = profile_by_email(&service, &key, &db, "p12345@example.com").await;
    assert_eq!(
        stored["fields"],
        json!({"email": "p12345@example.com", "name": "Person 12345", "age": 12345 % 90})
    );
    assert!(
        profiles(&service, &key, &db, "fields.email=p10@example.com")
            .await
            .is_empty()
    );

    // The same file again, through the real command line, keyed by e-mail: nothing
    // changes and no profile event fires.
    service
        .webhook(&key, json!({"url": receiver.url, "events": ["create", "update"]}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.csv");
    std::fs::write(&file, lines.concat()).unwrap();
    let started = Instant::now();
    let (ok, out, err) = cli(
        &service,
        &key,
        &[file.to_str().unwrap(), "--database", &db, "--key", "email", "--json"],
    )
    .await;
    let reimported_in = started.elapsed();
    println!("re-import of {ROWS} rows with `postbode import --key email`: {reimported_in:?}");
    assert!(ok, "{out}{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["created"], 0, "{summary}");
    assert_eq!(summary["updated"], 0, "{summary}");
    assert_eq!(summary["unchanged"], good, "{summary}");
    assert_eq!(summary["rejected_count"], bad_lines.len());

    // A later change does fire: had the re-import fired anything, it would be there first.
    service.profile(&key, &db, json!({"email": "late@example.com"})).await;
    let calls = receiver.wait_for(1).await;
    assert_eq!(calls[0].json()["fields"]["email"], "late@example.com");
    assert_eq!(calls[0].json()["source"], "api");
    assert_eq!(receiver.count(), 1);
}

#[tokio::test]
async fn json_lines_upsert_by_key_fires_import_updates_and_stores_interests() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    let db = people_database(&service, &key).await;
    let (status, summary) = import(
        &service,
        &key,
        &format!("/v1/databases/{db}/import"),
        "text/csv",
        "email,name,age,interests\nanna@example.com,Anna,40,news; offers\nbob@example.com,Bob,30,\n",
    )
    .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["created"], 2, "{summary}");
    let anna = profile_by_email(&service, &key, &db, "anna@example.com").await;
    assert_eq!(
        anna["interests"],
        json!(["news", "offers"]),
        "CSV interests split on `;`"
    );
    service
        .webhook(&key, json!({"url": receiver.url, "events": ["create", "update"]}))
        .await;

    let rows = [
        json!({"email": "anna@example.com", "name": "Anna", "age": 41}),
        json!({"email": "bob@example.com", "name": "Bob", "age": 30}),
        json!({"email": "bob@example.com", "interests": ["sale", "news"]}),
        json!({"email": "cees@example.com", "name": "Cees", "interests": ["news"]}),
        json!({"email": "dirk@example.com", "age": "old"}),
    ];
    let body: String = rows.iter().map(|r| format!("{r}\n")).collect::<String>() + "[1]\n\n{not json\n";
    let (status, summary) = import(
        &service,
        &key,
        &format!("/v1/databases/{db}/import?key=email"),
        "application/x-ndjson",
        &body,
    )
    .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["created"], 1, "{summary}");
    assert_eq!(summary["updated"], 2, "{summary}");
    assert_eq!(summary["unchanged"], 1, "{summary}");
    let rejected: Vec<u64> = summary["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(rejected, [5, 6, 8], "{summary}");
    assert_eq!(summary["rejected_count"], 3);

    let anna_after = profile_by_email(&service, &key, &db, "anna@example.com").await;
    assert_eq!(anna_after["id"], anna["id"], "the key found the same profile");
    assert_eq!(anna_after["fields"]["age"], 41);
    let bob = profile_by_email(&service, &key, &db, "bob@example.com").await;
    assert_eq!(bob["interests"], json!(["sale", "news"]));
    assert_eq!(bob["fields"]["name"], "Bob", "a merge keeps what the row does not name");
    let cees = profile_by_email(&service, &key, &db, "cees@example.com").await;
    assert_eq!(cees["interests"], json!(["news"]));
    assert!(
        profiles(&service, &key, &db, "fields.email=dirk@example.com")
            .await
            .is_empty()
    );

    let calls = receiver.wait_for(3).await;
    let events: Vec<Value> = calls.iter().map(|c| c.json()).collect();
    assert!(events.iter().all(|e| e["source"] == "import"), "{events:?}");
    let update_of = |id: &Value| {
        events
            .iter()
            .find(|e| e["type"] == "update" && e["profile"] == *id)
            .unwrap_or_else(|| panic!("no update for {id}: {events:?}"))
    };
    let anna_update = update_of(&anna["id"]);
    assert_eq!(anna_update["previous"], json!({"age": 40}));
    assert_eq!(anna_update["fields"]["age"], 41);
    let bob_update = update_of(&bob["id"]);
    assert_eq!(bob_update["interests"], json!(["sale", "news"]));
    let created = events.iter().find(|e| e["type"] == "create").unwrap();
    assert_eq!(created["profile"], cees["id"]);
    assert_eq!(created["interests"], json!(["news"]));
    // Nothing more: the unchanged row fired nothing (a later event arrives alone).
    service.profile(&key, &db, json!({"email": "late@example.com"})).await;
    let calls = receiver.wait_for(4).await;
    assert_eq!(calls[3].json()["fields"]["email"], "late@example.com");
    assert_eq!(receiver.count(), 4);
}

#[tokio::test]
async fn input_the_server_cannot_take_changes_nothing() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    let other_key = service.account("Other").await;
    let db = people_database(&service, &key).await;
    let other_db = people_database(&service, &other_key).await;
    let csv = "email,name\nx@example.com,X\n";
    let path = format!("/v1/databases/{db}/import");

    let (status, problem) = import(&service, &key, &path, "text/csv", "email,shoe\nx@example.com,42\n").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "header", "{problem}");
    assert!(
        problem["errors"][0]["message"].as_str().unwrap().contains("shoe"),
        "{problem}"
    );

    let (status, problem) = import(&service, &key, &format!("{path}?key=shoe"), "text/csv", csv).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "key", "{problem}");

    let (status, problem) = import(&service, &key, &path, "application/json", csv).await;
    assert_eq!(status, 415, "{problem}");
    assert_eq!(problem["status"], 415);

    let (status, problem) = import(&service, &key, "/v1/databases/db_nope/import", "text/csv", csv).await;
    assert_eq!(status, 404, "{problem}");

    let (status, problem) = import(
        &service,
        &key,
        &format!("/v1/databases/{other_db}/import"),
        "text/csv",
        csv,
    )
    .await;
    assert_eq!(status, 404, "another account's database is not found: {problem}");

    assert!(profiles(&service, &key, &db, "").await.is_empty());
    assert!(profiles(&service, &other_key, &other_db, "").await.is_empty());
}

#[tokio::test]
async fn the_command_line_prints_the_summary_or_says_what_went_wrong() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    let db = people_database(&service, &key).await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let csv = write(
        "people.csv",
        "email,name,age,interests\na@example.com,A,1,news;offers\nb@example.com,B,two,\nc@example.com,C,3,\n",
    );

    let (ok, out, err) = cli(&service, &key, &[&csv, "--database", "db_nope"]).await;
    assert!(!ok, "an unknown database fails: {out}");
    assert!(err.contains("404") && err.contains("database not found"), "{err}");
    assert!(out.is_empty(), "{out}");

    let (ok, out, err) = cli(&service, &key, &[&csv, "--database", &db, "--key", "email"]).await;
    assert!(ok, "rejected rows alone are not a failure: {out}{err}");
    assert!(out.contains("created:   2"), "{out}");
    assert!(out.contains("updated:   0"), "{out}");
    assert!(out.contains("unchanged: 0"), "{out}");
    assert!(out.contains("rejected:  1"), "{out}");
    assert!(out.contains(r#"line 3: fields.age: an integer, not "two""#), "{out}");
    assert!(out.contains("1 row was not imported"), "{out}");
    let a = profile_by_email(&service, &key, &db, "a@example.com").await;
    assert_eq!(a["interests"], json!(["news", "offers"]));

    // JSON lines, known by the extension; an update and the unchanged rest.
    let jsonl = write(
        "people.jsonl",
        "{\"email\": \"a@example.com\", \"age\": 5}\n{\"email\": \"c@example.com\", \"age\": 3}\n",
    );
    let (ok, out, err) = cli(&service, &key, &[&jsonl, "--database", &db, "--key", "email"]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("updated:   1") && out.contains("unchanged: 1"), "{out}");
    assert!(!out.contains("not imported"), "{out}");

    // An extension that does not tell the format, unless --format does.
    let txt = write("people.txt", "email\nd@example.com\n");
    let (ok, _, err) = cli(&service, &key, &[&txt, "--database", &db]).await;
    assert!(!ok);
    assert!(
        err.contains(".csv") && err.contains(".ndjson") && err.contains("--format"),
        "{err}"
    );
    let (ok, out, err) = cli(&service, &key, &[&txt, "--database", &db, "--format", "csv"]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("created:   1"), "{out}");

    // The server's field errors are shown, and nothing was imported.
    let shoe = write("shoes.csv", "email,shoe\ne@example.com,42\n");
    let (ok, _, err) = cli(&service, &key, &[&shoe, "--database", &db]).await;
    assert!(!ok);
    assert!(
        err.contains("422") && err.contains("header: ") && err.contains("shoe"),
        "{err}"
    );
    // Also when the server refuses a large file before reading all of it, which may close
    // the connection while the file is still being sent.
    let mut big = String::from("email,shoe\n");
    for i in 0..ROWS {
        big.push_str(&format!("p{i}@example.com,{i}\n"));
    }
    let big = write("big-shoes.csv", &big);
    let (ok, _, err) = cli(&service, &key, &[&big, "--database", &db]).await;
    assert!(!ok);
    assert!(
        err.contains("422") && err.contains("header: ") && err.contains("shoe"),
        "{err}"
    );
    let (ok, _, err) = cli(&service, &key, &[&big, "--database", "db_nope"]).await;
    assert!(!ok);
    assert!(err.contains("404") && err.contains("database not found"), "{err}");
    assert!(
        profiles(&service, &key, &db, "fields.email=p0@example.com")
            .await
            .is_empty()
    );
    let (ok, _, err) = cli(&service, &key, &[&csv, "--database", &db, "--key", "shoe"]).await;
    assert!(!ok);
    assert!(err.contains("key: no such field"), "{err}");
    assert!(
        profiles(&service, &key, &db, "fields.email=e@example.com")
            .await
            .is_empty()
    );

    let missing = dir.path().join("missing.csv");
    let (ok, _, err) = cli(&service, &key, &[missing.to_str().unwrap(), "--database", &db]).await;
    assert!(!ok);
    assert!(err.contains("missing.csv"), "{err}");

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_postbode"))
        .args(["import", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("header") && help.contains("interests") && help.contains("`;`"),
        "{help}"
    );
    assert!(help.contains("changes nothing"), "{help}");
}

/// `postbode serve` as a child process, killed when dropped.
struct ServerBinary {
    child: std::process::Child,
    url: String,
}

impl Drop for ServerBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerBinary {
    async fn start(data_dir: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_postbode"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data_dir)
            .env("POSTBODE_ADMIN_TOKEN", common::ADMIN)
            .env("POSTBODE_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        eventually("the server to answer /health", || async {
            let response = client.get(format!("{}/health", server.url)).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
        server
    }

    /// The most memory the process has held so far (VmHWM), in bytes.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_server_imports_a_large_file_from_the_command_line_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerBinary::start(&dir.path().join("data")).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = |path: &str, token: &str, body: Value| {
        client
            .post(format!("{}{path}", server.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let account: Value = post("/v1/accounts", common::ADMIN, json!({"name": "Shop"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = account["api_key"].as_str().unwrap().to_owned();
    let db: Value = post(
        "/v1/databases",
        &key,
        json!({"name": "people", "fields": [
            {"name": "email", "type": "email"},
            {"name": "name", "type": "text"},
            {"name": "age", "type": "integer"},
        ]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let db = db["id"].as_str().unwrap();
    let (lines, bad_lines) = people_csv();
    let file = dir.path().join("people.csv");
    std::fs::write(&file, lines.concat()).unwrap();
    let before = server.peak_rss();

    let started = Instant::now();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"))
        .args(["import", file.to_str().unwrap(), "--database", db, "--key", "email"])
        .env("POSTBODE_URL", &server.url)
        .env("POSTBODE_API_KEY", &key)
        .output()
        .await
        .unwrap();
    let took = started.elapsed();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{out}{err}");
    assert!(out.contains(&format!("created:   {}", ROWS - bad_lines.len())), "{out}");
    assert!(out.contains(&format!("rejected:  {}", bad_lines.len())), "{out}");
    for line in &bad_lines {
        assert!(out.contains(&format!("  line {line}: ")), "{out}");
    }
    let peak = server.peak_rss();
    println!(
        "`postbode import` of {ROWS} rows ({} bytes) into `postbode serve`: {took:?}; server peak RSS {} MiB \
         before, {} MiB after",
        std::fs::metadata(&file).unwrap().len(),
        before >> 20,
        peak >> 20
    );
    assert!(peak < 200 << 20, "the server's peak RSS was {} MiB", peak >> 20);
}

#[tokio::test]
async fn a_blank_key_is_rejected_rather_than_merging_rows() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    let db = people_database(&service, &key).await;
    // `name` is a text field: a blank cell stays a text, so it must be refused as a key.
    let (status, summary) = import(
        &service,
        &key,
        &format!("/v1/databases/{db}/import?key=name"),
        "text/csv",
        "name,age\n,1\n  ,2\nPiet,3\n",
    )
    .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["created"], 1);
    let lines: Vec<&Value> = summary["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["line"])
        .collect();
    assert_eq!(lines, [&json!(2), &json!(3)]);
    assert_eq!(profiles(&service, &key, &db, "").await.len(), 1);
}

#[tokio::test]
async fn a_row_longer_than_the_limit_stops_the_import_after_the_rows_before_it() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    let db = people_database(&service, &key).await;
    let long = "x".repeat(2 << 20);
    let body = format!("name,age\nPiet,1\n\"{long}\",2\nJan,3\n");
    let (status, problem) = import(&service, &key, &format!("/v1/databases/{db}/import"), "text/csv", &body).await;
    assert_eq!(status, 400, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("longer than"), "{detail}");
    let names: Vec<Value> = profiles(&service, &key, &db, "")
        .await
        .iter()
        .map(|p| p["fields"]["name"].clone())
        .collect();
    assert_eq!(
        names,
        [json!("Piet")],
        "the rows before the long one are kept, none after"
    );
}

#[tokio::test]
async fn imports_by_many_different_keys_all_find_their_profiles() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    // More key fields than the store keeps lookup indexes for (32): the later keys are
    // looked up without one, and must find the same profiles.
    let fields: Vec<Value> = (0..34)
        .map(|i| json!({"name": format!("k{i}"), "type": "text"}))
        .collect();
    let db = service.database(&key, json!({"name": "many", "fields": fields})).await;
    let header: Vec<String> = (0..34).map(|i| format!("k{i}")).collect();
    let row: Vec<String> = (0..34).map(|i| format!("v{i}")).collect();
    let csv = format!("{}\n{}\n", header.join(","), row.join(","));
    for i in 0..34 {
        let (status, summary) = import(
            &service,
            &key,
            &format!("/v1/databases/{db}/import?key=k{i}"),
            "text/csv",
            &csv,
        )
        .await;
        assert_eq!(status, 200, "{summary}");
        let expected = if i == 0 { (1, 0) } else { (0, 1) };
        assert_eq!(
            (summary["created"].clone(), summary["unchanged"].clone()),
            (json!(expected.0), json!(expected.1)),
            "key k{i}: {summary}"
        );
    }
    assert_eq!(profiles(&service, &key, &db, "").await.len(), 1);
}
