//! The store cannot write (here: a file-size limit of 1 KiB set on the running server,
//! as a full disk would): what was accepted stays intact and readable, new requests get
//! `503` with `Retry-After` and change nothing, and the service carries on by itself
//! once it can write again.

mod common;

use common::binary::start_binary_under;
use common::{ADMIN, Receiver, eventually, free_port};
use serde_json::{Value, json};
use std::process::Command;

/// Sets the soft file-size limit of process `pid` (bytes, or `unlimited`).
fn limit_file_size(pid: u32, limit: &str) {
    let status = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={limit}:")])
        .status()
        .expect("prlimit (util-linux) is installed");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_write_answers_503_and_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    // Writes past the limit then fail with EFBIG instead of killing the process
    // (SIGXFSZ), as writes to a full disk fail with ENOSPC.
    let launcher = ["bash", "-c", "trap '' XFSZ; exec \"$@\"", "bash"];
    let server = start_binary_under(&launcher, dir.path(), free_port(), &[]).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let call = |method: &str, path: &str, token: &str, body: Option<Value>| {
        let mut request = client
            .request(method.parse().unwrap(), format!("{}{path}", server.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, retry_after, body)
        }
    };
    let (_, _, account) = call("POST", "/v1/accounts", ADMIN, Some(json!({"name": "Acme"}))).await;
    let key = account["api_key"].as_str().unwrap().to_owned();
    let (status, _, webhook) = call("POST", "/v1/webhooks", &key, Some(json!({"url": receiver.url}))).await;
    assert_eq!(status, 201);
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    let (status, _, before) = call("POST", "/v1/events", &key, Some(json!({"type": "before"}))).await;
    assert_eq!(status, 202);
    receiver.wait_for(1).await;
    // Its result is stored too (after the call, in a later write) before writes stop.
    let before_path = format!("/v1/events/{}", before["id"].as_str().unwrap());
    eventually("the first delivery's result to be stored", || async {
        let (_, _, event) = call("GET", &before_path, &key, None).await;
        (event["deliveries"][0]["status"] == "delivered").then_some(())
    })
    .await;

    limit_file_size(server.child.id(), "1024");
    let (status, retry_after, problem) = call("POST", "/v1/events", &key, Some(json!({"type": "refused"}))).await;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(retry_after.as_deref(), Some("10"));
    assert_eq!(problem["type"], "/problems/unavailable", "{problem}");
    // What was accepted before is intact and readable.
    let (status, _, event) = call(
        "GET",
        &format!("/v1/events/{}", before["id"].as_str().unwrap()),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(event["deliveries"][0]["status"], "delivered");

    limit_file_size(server.child.id(), "unlimited");
    let (status, _, after) = call("POST", "/v1/events", &key, Some(json!({"type": "after"}))).await;
    assert_eq!(status, 202, "writes work again without a restart: {after}");
    let calls = receiver.wait_for(2).await;
    let types: Vec<String> = calls
        .iter()
        .map(|c| c.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(types.contains(&"after".to_owned()), "{types:?}");
    assert!(
        !types.contains(&"refused".to_owned()),
        "the refused event was not stored"
    );
    // Exactly the two accepted events have deliveries.
    let path = format!("/v1/webhooks/{webhook_id}/deliveries");
    let deliveries = eventually("the accepted events' deliveries", || async {
        let (_, _, page) = call("GET", &path, &key, None).await;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        data.iter().all(|d| d["status"] == "delivered").then_some(data)
    })
    .await;
    assert_eq!(deliveries.len(), 2);
}
