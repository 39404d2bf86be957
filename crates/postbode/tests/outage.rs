//! A store that cannot be reached is an outage to wait out, not a fault: every request
//! it touches is answered 503 with `Retry-After` (never 500), `/ready` says so, nothing
//! accepted is lost, and the service takes writes again by itself once the database is
//! back. On the shared test PostgreSQL: its connections ended mid-write (only this
//! test's own, found by their application name), and the server made unreachable and
//! back again through a TCP proxy the test runs (the server itself is never stopped).

mod common;

use common::{ADMIN, Service, TestSchema, eventually, postgres_only};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The test PostgreSQL's URL with the schema's connections named after it.
fn named(schema: &TestSchema, name: &str) -> String {
    format!("{}&application_name={name}", schema.scoped)
}

/// One answer of the service: status, `Retry-After`, body.
type Answer = (u16, Option<String>, Value);

async fn post_event(service: &Service, key: &str, n: u64) -> Answer {
    let response = service
        .http
        .post(format!("{}/v1/events", service.url))
        .bearer_auth(key)
        .json(&json!({"type": "order.paid", "data": {"n": n}}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap_or(Value::Null))
}

async fn ready(service: &Service) -> Answer {
    let response = service.http.get(format!("{}/ready", service.url)).send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap_or(Value::Null))
}

/// An outage's answer: 503, `Retry-After`, the `unavailable` problem.
fn assert_outage((status, retry_after, body): &Answer) {
    assert_eq!(*status, 503, "{body}");
    assert!(retry_after.is_some(), "503 without Retry-After: {body}");
    assert_eq!(body["type"], "/problems/unavailable", "{body}");
}

/// Producers posting events until stopped; every answer is kept.
struct Producers {
    answers: Arc<Mutex<Vec<Answer>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Producers {
    fn start(service: &Arc<Service>, key: &str) -> Self {
        let answers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..4u64)
            .map(|producer| {
                let (service, key, answers, stop) = (service.clone(), key.to_owned(), answers.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut n = producer * 1_000_000;
                    while !stop.load(Ordering::SeqCst) {
                        let answer = post_event(&service, &key, n).await;
                        answers.lock().unwrap().push(answer);
                        n += 1;
                    }
                })
            })
            .collect();
        Self { answers, stop, tasks }
    }

    fn count(&self, status: u16) -> usize {
        self.answers.lock().unwrap().iter().filter(|a| a.0 == status).count()
    }

    async fn stop(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            task.await.unwrap();
        }
        Arc::try_unwrap(self.answers).unwrap().into_inner().unwrap()
    }
}

/// Every answer was a 202 or an outage, and each 202's event is stored.
async fn assert_accepted_kept(service: &Service, key: &str, answers: &[Answer]) {
    for answer in answers {
        match answer.0 {
            202 => {
                let id = answer.2["id"].as_str().unwrap();
                let (status, event) = service.call("GET", &format!("/v1/events/{id}"), key, None).await;
                assert_eq!(status, 200, "an accepted event is gone: {event}");
            }
            _ => assert_outage(answer),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_ended_mid_write_answer_503_and_writes_resume() {
    let Some(schema) = postgres_only().await else {
        return;
    };
    let name = format!(
        "postbode-outage-{}",
        ulid::Ulid::generate().to_string().to_ascii_lowercase()
    );
    let url = named(&schema, &name);
    let service = Arc::new(Service::start_with(|config| config.database_url = Some(url)).await);
    let key = service.account("Acme").await;
    let admin = sqlx::PgPool::connect(&schema.scoped).await.unwrap();

    let producers = Producers::start(&service, &key);
    // End this service's connections, again and again, while it writes, until some
    // request was caught in the middle; after each time, writes go on.
    let mut ended = 0;
    while producers.count(503) == 0 {
        let accepted = producers.count(202);
        eventually("events to be accepted again", || async {
            (producers.count(202) > accepted).then_some(())
        })
        .await;
        let killed: Vec<bool> =
            sqlx::query_scalar("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
                .bind(&name)
                .fetch_all(&admin)
                .await
                .unwrap();
        ended += killed.len();
        assert!(ended < 100_000, "no request was ever caught mid-write");
    }
    let accepted = producers.count(202);
    eventually("events to be accepted after the last ending", || async {
        (producers.count(202) > accepted).then_some(())
    })
    .await;
    let answers = producers.stop().await;
    assert_accepted_kept(&service, &key, &answers).await;
    assert_eq!(ready(&service).await.0, 200);
}

/// A TCP proxy to the test PostgreSQL on a port of its own: stopping it ends every
/// connection through it and refuses new ones, as a database server that went down.
struct Proxy {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let connections = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let connection = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect("127.0.0.1:5432").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                connections.lock().unwrap().push(connection);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { port, tasks }
    }

    fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_postgres_answers_503_until_it_is_back() {
    let Some(schema) = postgres_only().await else {
        return;
    };
    if !schema.scoped.contains("@127.0.0.1:5432/") {
        eprintln!("skipped: the proxy only reaches the test PostgreSQL at 127.0.0.1:5432");
        return;
    }
    let proxy = Proxy::start(0).await;
    let url = schema
        .scoped
        .replace("@127.0.0.1:5432/", &format!("@127.0.0.1:{}/", proxy.port));
    let service = Service::start_with(|config| config.database_url = Some(url)).await;
    let key = service.account("Acme").await;
    assert_eq!(post_event(&service, &key, 0).await.0, 202);

    proxy.stop();
    assert_outage(&post_event(&service, &key, 1).await);
    assert_outage(&ready(&service).await);
    let (status, problem) = service.call("GET", "/v1/webhooks", &key, None).await;
    assert_eq!((status, &problem["type"]), (503, &json!("/problems/unavailable")));

    // The database is back: so are writes, without a restart of the service.
    let _proxy = Proxy::start(proxy.port).await;
    eventually("the service to be ready again", || async {
        (ready(&service).await.0 == 200).then_some(())
    })
    .await;
    let answer = eventually("an event to be accepted again", || async {
        let answer = post_event(&service, &key, 2).await;
        match answer.0 {
            202 => Some(answer),
            _ => {
                assert_outage(&answer);
                None
            }
        }
    })
    .await;
    let id = answer.2["id"].as_str().unwrap();
    assert_eq!(
        service.call("GET", &format!("/v1/events/{id}"), &key, None).await.0,
        200
    );
    let (status, accounts) = service.call("GET", "/v1/accounts", ADMIN, None).await;
    assert_eq!((status, accounts["data"].as_array().unwrap().len()), (200, 1));
}
