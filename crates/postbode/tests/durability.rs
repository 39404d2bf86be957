//! The real binary, killed: every event that got a 202 is delivered at least once after
//! a `kill -9` and a restart; a graceful stop finishes what is in flight and loses
//! nothing.

mod common;

use common::binary::{Binary, post, start_binary};
use common::{ADMIN, Receiver, Reply, eventually, free_port};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// An account with one webhook per entry of `webhooks` (their settings); returns its key.
async fn setup(binary: &Binary, webhooks: &[Value]) -> String {
    let client = reqwest::Client::new();
    let (_, account) = post(
        &client,
        &format!("{}/v1/accounts", binary.url),
        ADMIN,
        json!({"name": "Acme"}),
    )
    .await
    .unwrap();
    let key = account["api_key"].as_str().unwrap().to_owned();
    for settings in webhooks {
        let (status, answer) = post(&client, &format!("{}/v1/webhooks", binary.url), &key, settings.clone())
            .await
            .unwrap();
        assert_eq!(status, 201, "{answer}");
    }
    key
}

/// The events a receiver got, in order of arrival (a batched call's in its order).
fn received(receiver: &Receiver) -> Vec<Value> {
    receiver
        .calls()
        .iter()
        .flat_map(|c| match c.json() {
            Value::Object(mut batch) if batch.contains_key("events") => match batch.remove("events") {
                Some(Value::Array(events)) => events,
                _ => panic!("a batch without its events"),
            },
            event => vec![event],
        })
        .collect()
}

fn received_ids(receiver: &Receiver) -> HashSet<String> {
    received(receiver)
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_events_stream_in_loses_no_accepted_event() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let receiver = Receiver::start().await;
    let binary = start_binary(dir.path(), port).await;
    let key = setup(&binary, &[json!({ "url": receiver.url, "max_concurrency": 16 })]).await;

    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut producers = Vec::new();
    for producer in 0..16 {
        let (accepted, key, url) = (accepted.clone(), key.clone(), format!("{}/v1/events", binary.url));
        producers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            for n in 0.. {
                let body = json!({ "type": "stream", "data": {"producer": producer, "n": n} });
                match post(&client, &url, &key, body).await {
                    Ok((202, answer)) => accepted.lock().unwrap().push(answer["id"].as_str().unwrap().to_owned()),
                    Ok((status, answer)) => panic!("unexpected {status}: {answer}"),
                    // The server is gone: whatever got no 202 was never promised.
                    Err(_) => return,
                }
            }
        }));
    }
    eventually("a few hundred events accepted", || async {
        (accepted.lock().unwrap().len() >= 400).then_some(())
    })
    .await;
    drop(binary); // SIGKILL: no chance to flush anything
    for producer in producers {
        producer.await.unwrap();
    }
    let accepted: HashSet<String> = accepted.lock().unwrap().iter().cloned().collect();
    assert!(accepted.len() >= 400);

    let _restarted = start_binary(dir.path(), port).await;
    eventually("every accepted event delivered after the restart", || async {
        let received = received_ids(&receiver);
        accepted.is_subset(&received).then_some(())
    })
    .await;
}

/// The same promise with batched calls and ordered deliveries, and the order kept: each
/// subject's events arrive first in the order they were accepted, across the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_batching_and_ordering_loses_nothing_and_keeps_order() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let batched = Receiver::start().await;
    let ordered = Receiver::start().await;
    let binary = start_binary(dir.path(), port).await;
    let key = setup(
        &binary,
        &[
            json!({ "url": batched.url, "batch": {"max_events": 20, "max_wait_ms": 10} }),
            json!({ "url": ordered.url, "ordering": "profile" }),
        ],
    )
    .await;

    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut producers = Vec::new();
    for producer in 0..8 {
        let (accepted, key, url) = (accepted.clone(), key.clone(), format!("{}/v1/events", binary.url));
        producers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            for n in 0.. {
                let body = json!({
                    "type": "stream",
                    "ordering_key": format!("subject-{producer}"),
                    "data": {"producer": producer, "n": n},
                });
                match post(&client, &url, &key, body).await {
                    Ok((202, answer)) => accepted.lock().unwrap().push(answer["id"].as_str().unwrap().to_owned()),
                    Ok((status, answer)) => panic!("unexpected {status}: {answer}"),
                    Err(_) => return,
                }
            }
        }));
    }
    eventually("a few hundred events accepted", || async {
        (accepted.lock().unwrap().len() >= 400).then_some(())
    })
    .await;
    drop(binary);
    for producer in producers {
        producer.await.unwrap();
    }
    let accepted: HashSet<String> = accepted.lock().unwrap().iter().cloned().collect();

    let _restarted = start_binary(dir.path(), port).await;
    eventually("every accepted event delivered to both after the restart", || async {
        (accepted.is_subset(&received_ids(&batched)) && accepted.is_subset(&received_ids(&ordered))).then_some(())
    })
    .await;
    let mut seen = HashSet::new();
    let mut last = std::collections::HashMap::new();
    for event in received(&ordered) {
        if !seen.insert(event["id"].as_str().unwrap().to_owned()) {
            continue; // sent again after the kill: at least once
        }
        let (producer, n) = (
            event["data"]["producer"].as_i64().unwrap(),
            event["data"]["n"].as_i64().unwrap(),
        );
        if let Some(before) = last.insert(producer, n) {
            assert!(n > before, "subject-{producer}: {n} arrived after {before}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_finishes_calls_in_flight_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let receiver = Receiver::answering(|_| Reply::WaitForGate).await;
    let mut binary = start_binary(dir.path(), port).await;
    let key = setup(&binary, &[json!({ "url": receiver.url, "max_concurrency": 2 })]).await;
    let client = reqwest::Client::new();
    let mut sent = HashSet::new();
    for n in 0..20 {
        let (status, answer) = post(
            &client,
            &format!("{}/v1/events", binary.url),
            &key,
            json!({"type": "x", "data": n}),
        )
        .await
        .unwrap();
        assert_eq!(status, 202);
        sent.insert(answer["id"].as_str().unwrap().to_owned());
    }
    // Two calls are in flight (max_concurrency 2), the rest wait in the engine.
    receiver.wait_for(2).await;
    let pid = binary.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    receiver.open_gate();
    let status = eventually("the server to exit", || {
        let exited = binary.child.try_wait().unwrap();
        async move { exited }
    })
    .await;
    assert!(status.success(), "exit status {status}");

    let restarted = start_binary(dir.path(), port).await;
    eventually("every event delivered after the restart", || async {
        (received_ids(&receiver) == sent).then_some(())
    })
    .await;
    // Released deliveries were claimable at once, and the calls that were in flight
    // were recorded as delivered: no event went out twice.
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/v1/events/{}", restarted.url, sent.iter().next().unwrap()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    eventually("all deliveries recorded", || async {
        let mut all_delivered = true;
        for id in &sent {
            let event: Value = client
                .get(format!("{}/v1/events/{id}", restarted.url))
                .bearer_auth(&key)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            all_delivered &= event["deliveries"][0]["status"] == "delivered";
        }
        all_delivered.then_some(())
    })
    .await;
    assert_eq!(receiver.count(), 20, "no call was made twice");
}

/// Profile changes and tracked opens make the same promise: a 201 or a pixel means the
/// change or the open is committed with its event, and is delivered after a `kill -9`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_profiles_and_opens_stream_in_loses_no_accepted_one() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let receiver = Receiver::start().await;
    let binary = start_binary(dir.path(), port).await;
    let key = setup(&binary, &[json!({ "url": receiver.url, "max_concurrency": 16 })]).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (status, db) = post(
        &client,
        &format!("{}/v1/databases", binary.url),
        &key,
        json!({"name": "people", "fields": [{"name": "n", "type": "integer"}]}),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{db}");
    let db = db["id"].as_str().unwrap().to_owned();
    let (status, message) = post(
        &client,
        &format!("{}/v1/messages", binary.url),
        &key,
        json!({"mailing": {"id": "m"}, "email": "a@example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{message}");
    let open_url = message["open_url"].as_str().unwrap().to_owned();

    let profiles = Arc::new(Mutex::new(Vec::<String>::new()));
    let opens = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut producers = Vec::new();
    for producer in 0..8 {
        let (profiles, key, url) = (
            profiles.clone(),
            key.clone(),
            format!("{}/v1/databases/{db}/profiles", binary.url),
        );
        producers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            for n in 0.. {
                match post(&client, &url, &key, json!({"fields": {"n": producer * 1_000_000 + n}})).await {
                    Ok((201, answer)) => profiles.lock().unwrap().push(answer["id"].as_str().unwrap().to_owned()),
                    Ok((status, answer)) => panic!("unexpected {status}: {answer}"),
                    Err(_) => return,
                }
            }
        }));
        let (opens, url) = (opens.clone(), open_url.clone());
        producers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            for n in 0.. {
                let agent = format!("reader-{producer}-{n}");
                let answer = client.get(&url).header("user-agent", &agent).send().await;
                match answer.map(|r| r.status().as_u16()) {
                    Ok(200) => opens.lock().unwrap().push(agent),
                    Ok(status) => panic!("unexpected {status}"),
                    Err(_) => return,
                }
            }
        }));
    }
    eventually("a few hundred profiles and opens accepted", || async {
        (profiles.lock().unwrap().len() >= 200 && opens.lock().unwrap().len() >= 200).then_some(())
    })
    .await;
    drop(binary);
    for producer in producers {
        producer.await.unwrap();
    }
    let profiles: HashSet<String> = profiles.lock().unwrap().iter().cloned().collect();
    let opens: HashSet<String> = opens.lock().unwrap().iter().cloned().collect();

    let _restarted = start_binary(dir.path(), port).await;
    eventually(
        "every accepted profile and open delivered after the restart",
        || async {
            let bodies: Vec<Value> = receiver.calls().iter().map(|c| c.json()).collect();
            let created: HashSet<String> = bodies
                .iter()
                .filter(|b| b["type"] == "create")
                .filter_map(|b| b["profile"].as_str().map(str::to_owned))
                .collect();
            let opened: HashSet<String> = bodies
                .iter()
                .filter(|b| b["type"] == "open")
                .filter_map(|b| b["useragent"].as_str().map(str::to_owned))
                .collect();
            (profiles.is_subset(&created) && opens.is_subset(&opened)).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_node_with_another_master_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let schema = common::test_database().await;
    let config = || {
        let mut config = common::test_config(dir.path());
        config.database_url = schema.as_ref().map(|s| s.scoped.clone());
        config
    };
    let clock = || std::sync::Arc::new(postbode_core::clock::ManualClock::new(chrono::Utc::now()));
    // The first start makes the master key (in the data directory) and seals the
    // signing keys with it; a start with it again is fine.
    postbode::app::start(config(), clock())
        .await
        .unwrap()
        .stop()
        .await
        .unwrap();
    postbode::app::start(config(), clock())
        .await
        .unwrap()
        .stop()
        .await
        .unwrap();
    // Another node, given another key, would fail every call it signs: it stops at once.
    let (_, other) = postbode_signature::sealed::MasterKey::generate().unwrap();
    let mut wrong = config();
    wrong.master_key = Some(other);
    let refused = match postbode::app::start(wrong, clock()).await {
        Ok(_) => panic!("a node with another master key started"),
        Err(e) => format!("{e:#}"),
    };
    assert!(refused.contains("master key"), "{refused}");
    assert!(refused.contains("POSTBODE_MASTER_KEY"), "{refused}");
}
