//! Several `postbode serve` nodes on one PostgreSQL database, as real processes: one
//! killed with SIGKILL while events stream into all of them loses no accepted event and
//! sends again at most what it held; a key rotation through one node reaches the
//! others; nodes rotating at once add one key per algorithm. PostgreSQL only (a fresh
//! schema of its own); without it the tests skip, except under `CI=true`.

mod common;

use common::binary::{Binary, post, start_binary_with};
use common::{ADMIN, Call, Receiver, Reply, TestSchema, eventually, free_port};
use postbode_core::signing_keys::SignatureSettings;
use postbode_signature::sealed::MasterKey;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Every node seals and opens the webhooks' secrets with the same master key.
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The killed node's room: it never holds more deliveries leased than this.
const MAX_HELD: usize = 64;

/// A node's own port and data directory, on the shared database.
struct Node {
    binary: Binary,
    _dir: tempfile::TempDir,
}

async fn start_nodes(schema: &TestSchema, count: usize, extra: &[(&str, &str)]) -> Vec<Node> {
    let max_held = MAX_HELD.to_string();
    let mut env: Vec<(&str, &str)> = vec![
        ("POSTBODE_DATABASE_URL", schema.scoped.as_str()),
        ("POSTBODE_MASTER_KEY", MASTER_KEY),
        ("POSTBODE_DELIVERY__MAX_HELD", max_held.as_str()),
        // Short, so the killed node's leases run out within the test (four times the
        // call timeout, as the settings require).
        ("POSTBODE_DELIVERY__CONNECT_TIMEOUT", "1s"),
        ("POSTBODE_DELIVERY__TOTAL_TIMEOUT", "5s"),
        ("POSTBODE_DELIVERY__LEASE", "20s"),
        ("POSTBODE_DELIVERY__POLL_INTERVAL", "100ms"),
    ];
    env.extend_from_slice(extra);
    // All at once: their start-up work (migrations, first signing keys) races too.
    let starts = (0..count).map(|_| {
        let env = env.clone();
        async move {
            let dir = tempfile::tempdir().unwrap();
            let binary = start_binary_with(dir.path(), free_port(), &env).await;
            Node { binary, _dir: dir }
        }
    });
    futures_util::future::join_all(starts).await
}

/// An account with one webhook of these settings, made through `node`; its API key.
async fn account_with_webhook(node: &Binary, settings: Value) -> String {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (status, account) = post(
        &client,
        &format!("{}/v1/accounts", node.url),
        ADMIN,
        json!({"name": "Acme"}),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{account}");
    let key = account["api_key"].as_str().unwrap().to_owned();
    let (status, webhook) = post(&client, &format!("{}/v1/webhooks", node.url), &key, settings)
        .await
        .unwrap();
    assert_eq!(status, 201, "{webhook}");
    key
}

/// The signing keys every node shares, per algorithm.
async fn keys_per_algorithm(node: &Binary) -> HashMap<String, usize> {
    let (status, keys) = node.call("GET", "/v1/signing-keys", ADMIN, None).await;
    assert_eq!(status, 200, "{keys}");
    let mut count = HashMap::new();
    for key in keys["data"].as_array().unwrap() {
        *count.entry(key["algorithm"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_stream_loses_no_accepted_event_and_repeats_at_most_what_it_held() {
    let Some(schema) = common::postgres_only().await else {
        return;
    };
    // The third node's events are held at the receiver until it is killed, so it dies
    // with calls in flight (received, but their results never stored).
    let receiver = Receiver::answering_calls(|_, call| match call.json()["data"]["node"] == 2 {
        true => Reply::WaitForGate,
        false => Reply::Status(200),
    })
    .await;
    let mut nodes = start_nodes(&schema, 3, &[]).await;
    assert_eq!(
        keys_per_algorithm(&nodes[0].binary)
            .await
            .values()
            .copied()
            .collect::<Vec<_>>(),
        [1, 1],
        "three nodes starting at once make the first keys once"
    );
    let key = account_with_webhook(&nodes[0].binary, json!({ "url": receiver.url, "max_concurrency": 16 })).await;

    const PER_PRODUCER: usize = 250;
    const PRODUCERS_PER_NODE: usize = 4;
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let accepted_by_victim = Arc::new(Mutex::new(0usize));
    let mut producers = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        for producer in 0..PRODUCERS_PER_NODE {
            let (accepted, by_victim) = (accepted.clone(), accepted_by_victim.clone());
            let (key, url) = (key.clone(), format!("{}/v1/events", node.binary.url));
            producers.push(tokio::spawn(async move {
                let client = reqwest::Client::builder().no_proxy().build().unwrap();
                for n in 0..PER_PRODUCER {
                    let body = json!({ "type": "stream", "data": {"node": index, "producer": producer, "n": n} });
                    match post(&client, &url, &key, body).await {
                        Ok((202, answer)) => {
                            accepted.lock().unwrap().push(answer["id"].as_str().unwrap().to_owned());
                            if index == 2 {
                                *by_victim.lock().unwrap() += 1;
                            }
                        }
                        Ok((status, answer)) => panic!("unexpected {status} from node {index}: {answer}"),
                        // The node is gone: whatever got no 202 was never promised.
                        Err(_) if index == 2 => return,
                        Err(e) => panic!("node {index} failed: {e}"),
                    }
                }
            }));
        }
    }
    eventually("the third node to accept events and have calls in flight", || async {
        let held = receiver
            .calls()
            .iter()
            .filter(|c| c.json()["data"]["node"] == 2)
            .count();
        (*accepted_by_victim.lock().unwrap() >= 150 && held >= 8).then_some(())
    })
    .await;
    let victim = nodes.pop().unwrap();
    drop(victim); // SIGKILL: its leases stay until they run out
    receiver.open_gate();
    for producer in producers {
        producer.await.unwrap();
    }
    let accepted: HashSet<String> = accepted.lock().unwrap().iter().cloned().collect();
    assert!(
        accepted.len() >= 2 * PRODUCERS_PER_NODE * PER_PRODUCER + 150,
        "{} accepted",
        accepted.len()
    );

    let calls = eventually("every accepted event delivered by the nodes left", || async {
        let calls = receiver.calls();
        let events: HashSet<String> = calls
            .iter()
            .map(|c| c.json()["id"].as_str().unwrap().to_owned())
            .collect();
        accepted.is_subset(&events).then_some(calls)
    })
    .await;
    let deliveries: HashSet<&str> = calls.iter().map(|c| c.header("x-postbode-delivery")).collect();
    let repeated = calls.len() - deliveries.len();
    eprintln!(
        "{} events accepted, {} calls, {repeated} sent again",
        accepted.len(),
        calls.len()
    );
    assert!(repeated > 0, "the killed node's calls in flight are sent again");
    assert!(
        repeated <= MAX_HELD,
        "{repeated} deliveries were sent twice; the killed node held at most {MAX_HELD}"
    );
}

/// The `keyId` an http-signature call was signed with.
fn key_id(call: &Call) -> String {
    call.header("signature")
        .split("keyId=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_through_one_node_is_signed_with_by_the_others() {
    let Some(schema) = common::postgres_only().await else {
        return;
    };
    let receiver = Receiver::start().await;
    // The new key signs a second after the rotation, and each node looks at the keys
    // again every half second (instead of 48 hours and a minute).
    let nodes = start_nodes(
        &schema,
        2,
        &[
            ("POSTBODE_SIGNATURE__PRE_PUBLICATION", "1s"),
            ("POSTBODE_SIGNATURE__RELOAD", "500ms"),
        ],
    )
    .await;
    let (first, second) = (&nodes[0].binary, &nodes[1].binary);
    let key = account_with_webhook(first, json!({ "url": receiver.url, "signatures": ["http-signature"] })).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let send = |n: usize| {
        let (client, key, url) = (client.clone(), key.clone(), format!("{}/v1/events", second.url));
        async move {
            let (status, answer) = post(&client, &url, &key, json!({"type": "x", "data": n}))
                .await
                .unwrap();
            assert_eq!(status, 202, "{answer}");
        }
    };
    // Events sent to the second node are called by it (handed to its own engine).
    send(0).await;
    let before = key_id(&receiver.wait_for(1).await[0]);
    assert!(!before.is_empty());

    let (status, rotated) = post(
        &client,
        &format!("{}/v1/signing-keys/rotate", first.url),
        ADMIN,
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{rotated}");
    let next: Vec<String> = rotated["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == "next")
        .map(|k| format!("{}._domainkey.", k["selector"].as_str().unwrap()))
        .collect();
    assert_eq!(next.len(), 2, "{rotated}");
    assert!(!next.iter().any(|selector| before.starts_with(selector.as_str())));

    let mut sent = 1;
    let after = eventually("the second node to sign with the new key", || {
        let calls = receiver.calls();
        let newest = calls.last().map(key_id).unwrap_or_default();
        let signed_new = next.iter().any(|selector| newest.starts_with(selector.as_str()));
        // One event at a time: the next once the last has arrived, signed with the old key.
        let another = (!signed_new && calls.len() == sent).then(|| {
            sent += 1;
            send(sent)
        });
        async move {
            if let Some(another) = another {
                another.await;
            }
            signed_new.then_some(newest)
        }
    })
    .await;
    assert_ne!(after, before);
}

/// Two nodes whose hourly upkeep finds the next key due at the same moment add one new
/// key per algorithm between them, not one each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_due_to_rotate_at_once_add_one_key_per_algorithm() {
    let Some(schema) = common::postgres_only().await else {
        return;
    };
    let (one, two) = (
        postbode_store::open(&schema.scoped).await.unwrap(),
        postbode_store::open(&schema.scoped).await.unwrap(),
    );
    let master = MasterKey::parse(MASTER_KEY).unwrap();
    let settings = SignatureSettings::default();
    let t0 = chrono::Utc::now();
    let made = postbode_server::signing_keys::maintain(one.as_ref(), &master, t0, &settings)
        .await
        .unwrap();
    assert_eq!(made, 2);
    let retires_at = one.list_signing_keys().await.unwrap()[0].schedule.retires_at;
    let due = retires_at - chrono::Duration::from_std(settings.pre_publication).unwrap() + chrono::Duration::minutes(1);

    // Each on a task of its own, as two processes would run them: side by side.
    let master = std::sync::Arc::new(master);
    let upkeep = |store: std::sync::Arc<dyn postbode_store::Store>| {
        let (master, settings) = (master.clone(), settings.clone());
        tokio::spawn(
            async move { postbode_server::signing_keys::maintain(store.as_ref(), &master, due, &settings).await },
        )
    };
    let (a, b) = tokio::join!(upkeep(one.clone()), upkeep(two.clone()));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.unwrap() + b.unwrap(), 2, "one new key per algorithm between them");
    let keys = one.list_signing_keys().await.unwrap();
    for algorithm in ["rsa", "ed25519"] {
        let schedules: Vec<_> = keys
            .iter()
            .filter(|k| k.algorithm == algorithm)
            .map(|k| k.schedule)
            .collect();
        assert_eq!(schedules.len(), 2, "{algorithm}: {schedules:?}");
        assert_eq!(
            schedules[1].activates_at, retires_at,
            "the next key follows the current one"
        );
    }
}
