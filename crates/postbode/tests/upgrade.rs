//! A store written by an earlier release is upgraded in place when the service opens
//! it. The stores are dumps that release's binary wrote (`fixtures/store-0.1.0-7ca8426.*`,
//! made by `fixtures/make_upgrade_fixture.py`): an account, webhooks (one failing, one
//! disabled), a database with a profile, custom and profile events, an open, delivered and
//! retrying deliveries, attempts. After the upgrade nothing is lost: every event reads
//! back with the body it had, a waiting delivery goes out with its id and that body byte
//! for byte, and the log and statistics count what they counted.

mod common;

use common::*;
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const SQLITE_DUMP: &str = include_str!("fixtures/store-0.1.0-7ca8426.sqlite.sql");
const POSTGRES_DUMP: &str = include_str!("fixtures/store-0.1.0-7ca8426.postgres.sql");
const MASTER_KEY: &str = include_str!("fixtures/store-0.1.0-7ca8426.master-key");
/// The schema the PostgreSQL dump was taken from.
const DUMPED_SCHEMA: &str = "fixture_upgrade";

/// What the old store held, read before the service touches it.
struct Before {
    account: String,
    /// Event id → (type, body).
    events: BTreeMap<String, (String, Vec<u8>)>,
    /// Delivery id → (event id, webhook id, status).
    deliveries: BTreeMap<String, (String, String, String)>,
    /// Webhook id → (url, ids of the attempts logged).
    webhooks: BTreeMap<String, (String, BTreeSet<String>)>,
}

#[tokio::test]
async fn a_sqlite_store_of_the_earlier_release_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
    let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
        .await
        .unwrap();
    sqlx::raw_sql(SQLITE_DUMP).execute(&pool).await.unwrap();
    let before = read_before(&pool).await;
    pool.close().await;
    upgrades_in_place(url, None, before).await;
}

#[tokio::test]
async fn a_postgresql_store_of_the_earlier_release_upgrades_in_place() {
    let Some(schema) = postgres_only().await else { return };
    let pool = sqlx::PgPool::connect(&schema.scoped).await.unwrap();
    let dump = POSTGRES_DUMP
        .replace(&format!("CREATE SCHEMA {DUMPED_SCHEMA};"), "")
        .replace(&format!("{DUMPED_SCHEMA}."), &format!("{}.", schema.name()));
    sqlx::raw_sql(&dump).execute(&pool).await.unwrap();
    // The dump empties the search path; the scoped URL's own comes back per connection.
    pool.close().await;
    let pool = sqlx::PgPool::connect(&schema.scoped).await.unwrap();
    let before = read_before(&pool).await;
    pool.close().await;
    let url = schema.scoped.clone();
    upgrades_in_place(url, Some(schema), before).await;
}

async fn read_before<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Before
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'r> String: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> Vec<u8>: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> i64: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let account: String = sqlx::query("SELECT id FROM accounts")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    let events = sqlx::query("SELECT id, type, body FROM events")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<String, _>(0), (r.get::<String, _>(1), r.get::<Vec<u8>, _>(2))))
        .collect();
    let deliveries = sqlx::query("SELECT id, event_id, webhook_id, status FROM deliveries")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<String, _>(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    let mut webhooks: BTreeMap<String, (String, BTreeSet<String>)> = sqlx::query("SELECT id, settings FROM webhooks")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let settings: Value = serde_json::from_str(&r.get::<String, _>(1)).unwrap();
            let url = settings["url"].as_str().unwrap().to_owned();
            (r.get::<String, _>(0), (url, BTreeSet::new()))
        })
        .collect();
    for row in sqlx::query("SELECT webhook_id, id FROM attempts")
        .fetch_all(pool)
        .await
        .unwrap()
    {
        let webhook: String = row.get(0);
        webhooks.get_mut(&webhook).unwrap().1.insert(row.get(1));
    }
    Before {
        account,
        events,
        deliveries,
        webhooks,
    }
}

async fn upgrades_in_place(database_url: String, schema: Option<TestSchema>, before: Before) {
    let service = Service::start_with(|c| {
        c.database_url = Some(database_url);
        c.master_key = Some(MASTER_KEY.trim().to_owned());
    })
    .await;
    let key = service
        .create(ADMIN, &format!("/v1/accounts/{}/keys", before.account), json!({}))
        .await["api_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // Keys made before scopes existed keep every right.
    let (_, keys) = service
        .call("GET", &format!("/v1/accounts/{}/keys", before.account), ADMIN, None)
        .await;
    let keys = keys.as_array().unwrap();
    assert!(keys.len() >= 2, "the fixture's key and the new one: {keys:?}");
    assert!(keys.iter().all(|k| k["scopes"] == json!(["manage"])), "{keys:?}");

    // Every event reads back with its body and its deliveries.
    assert!(before.events.len() >= 7, "the fixture has events of every kind");
    for (id, (event_type, body)) in &before.events {
        let event = service.event(&key, id).await;
        assert_eq!(&event["type"], event_type);
        let old: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["body"], old, "{id}");
        let ids: BTreeSet<&str> = event["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        let expected: BTreeSet<&str> = before
            .deliveries
            .iter()
            .filter(|(_, (event_id, _, _))| event_id == id)
            .map(|(delivery, _)| delivery.as_str())
            .collect();
        assert_eq!(ids, expected, "{id}");
    }

    // The log holds what it held (the engine may have added retries since the start),
    // and the statistics count what they counted.
    for (webhook_id, (_, attempts)) in &before.webhooks {
        let logged: BTreeSet<String> = service
            .attempts(&key, webhook_id)
            .await
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            logged.is_superset(attempts),
            "{webhook_id}: {logged:?} lacks some of {attempts:?}"
        );
    }
    let delivered: BTreeMap<&str, usize> =
        before
            .deliveries
            .values()
            .filter(|d| d.2 == "delivered")
            .fold(BTreeMap::new(), |mut counts, d| {
                *counts.entry(d.1.as_str()).or_default() += 1;
                counts
            });
    for (webhook_id, count) in &delivered {
        let (_, stats) = service
            .call("GET", &format!("/v1/webhooks/{webhook_id}/stats"), &key, None)
            .await;
        let counted: u64 = stats["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["delivered"].as_u64().unwrap())
            .sum();
        assert_eq!(counted, *count as u64, "{stats}");
    }

    // The deliveries still waiting (a failing receiver's retries) go out once it is
    // fixed: each with its own id, and the body the old release would have sent.
    let waiting: Vec<(&String, &(String, String, String))> =
        before.deliveries.iter().filter(|(_, d)| d.2 == "pending").collect();
    assert!(waiting.len() >= 4, "the fixture has retrying deliveries");
    let receiver = Receiver::start().await;
    let webhooks: BTreeSet<&str> = waiting.iter().map(|(_, d)| d.1.as_str()).collect();
    for webhook_id in &webhooks {
        let (status, answer) = service
            .call(
                "PATCH",
                &format!("/v1/webhooks/{webhook_id}"),
                &key,
                Some(json!({ "url": format!("{}/fixed", receiver.url), "enabled": true })),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    service.advance(Duration::from_secs(24 * 3600));
    let calls = receiver.wait_for(waiting.len()).await;
    for (delivery_id, (event_id, _, _)) in &waiting {
        let call = calls
            .iter()
            .find(|c| c.header("x-postbode-delivery") == delivery_id.as_str())
            .unwrap_or_else(|| panic!("{delivery_id} went out"));
        assert_eq!(
            &call.body[..],
            &before.events[event_id].1[..],
            "the body, byte for byte"
        );
    }

    // And the upgraded store takes new events.
    let ok = before
        .webhooks
        .iter()
        .find(|(_, (url, _))| url.ends_with("/ok/hook.php"))
        .map(|(id, _)| id.clone())
        .unwrap();
    service
        .call(
            "PATCH",
            &format!("/v1/webhooks/{ok}"),
            &key,
            Some(json!({ "url": format!("{}/ok/hook.php", receiver.url) })),
        )
        .await;
    let event_id = service
        .send_event(&key, json!({ "type": "after.upgrade", "data": {"n": 1} }))
        .await;
    service
        .delivery_when(&key, &event_id, |d| d["status"] == "delivered")
        .await;
    drop(service);
    drop(schema);
}
