//! The receiver: a small HTTP/1.1 server in the bench process that every webhook points
//! at. It answers `204` at once and notes, per call, the delivery id (to count
//! duplicates), the event id (to match the call with the moment its event was accepted)
//! and the instant it arrived. An `open` body's `id` is its message's, shared by every
//! open of the message, so opens are matched by the body's `useragent` instead, which the
//! bench makes unique per request; their bodies are also checked for the enrichment.
//! Memory stays at a few dozen bytes per delivery: ids are kept as 128-bit keys, not
//! strings.
//!
//! A batched call (`X-Postbode-Deliveries`) counts as one receipt per event in it. With
//! ordering, each event's `data.subject` is read and the receiver counts the deliveries
//! of a webhook's subject that arrive after a later one of the same subject (delivery
//! ids grow in the order the server must keep). Webhooks `0..slow` point at a path
//! that answers only after `slow_latency` and is not measured; every other call can be
//! held for `latency` before its answer.
//!
//! During a soak, calls are counted by the soak's tally instead (one bit per delivery,
//! not an id each), which may also fail them for `--receiver-flap`.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

use super::keys::id_key;
use super::soak::{self, Tally};

/// The header that carries a delivery's id; it stays the same across retries.
const DELIVERY_HEADER: &str = "x-postbode-delivery";
/// A batch's deliveries' ids, in the order of its `events`.
const BATCH_HEADER: &str = "x-postbode-deliveries";

/// How the receiver answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReceiverOptions {
    pub match_by: MatchBy,
    /// Every measured call's answer waits this long.
    pub latency: Duration,
    /// Webhooks `0..slow` are the slow ones.
    pub slow: u32,
    /// How long a slow webhook's calls wait for their answer.
    pub slow_latency: Duration,
    /// Read each event's `data.subject` and check the order per subject.
    pub ordered: bool,
}

/// One delivery in a call: its id, its event's (or user agent's) key, its subject.
type Item = (Option<u128>, Option<u128>, Option<u64>);

/// What in a delivery body ties it to the request that caused it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MatchBy {
    /// The event id at the start of the body.
    #[default]
    EventId,
    /// The `useragent` of an `open` body.
    UserAgent,
}

/// One first receipt of a delivery.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// [`id_key`] of the event id in the body (of the user agent, for opens).
    pub event: u128,
    pub at: Instant,
}

/// What the receiver saw, handed over at the end of a run.
#[derive(Debug, Default)]
pub struct Received {
    /// First receipts, in arrival order.
    pub arrivals: Vec<Arrival>,
    /// Calls whose delivery id had been seen before.
    pub duplicates: u64,
    /// Calls without a delivery header or an event id in the body.
    pub malformed: u64,
    /// `open` bodies without a `recipient` or without the profile's `fields` (every call,
    /// the warm-up's and repeated ones included).
    pub unenriched: u64,
    /// First receipts that came after a later delivery of the same webhook and subject.
    pub out_of_order: u64,
}

#[derive(Default)]
struct Book {
    /// Until [`Receiver::start_measuring`], every call is a warm-up call: its event is
    /// put on `ignored`, so its late duplicates are not measured either.
    measuring: bool,
    seen: HashSet<u128>,
    /// Events whose deliveries are not part of the measurement (the warm-up).
    ignored: HashSet<u128>,
    /// The newest delivery received per webhook and subject.
    newest: HashMap<(u32, u64), u128>,
    received: Received,
}

#[derive(Default)]
struct Shared {
    options: ReceiverOptions,
    book: Mutex<Book>,
    /// First receipts of measured deliveries, readable without the lock for progress.
    unique: AtomicU64,
    /// Receipts of ignored events' deliveries.
    ignored_calls: AtomicU64,
    /// Connections that could not be accepted.
    accept_errors: AtomicU64,
    /// Calls to the slow webhooks.
    slow_calls: AtomicU64,
    /// During a soak, calls are counted here instead of in `book`.
    soak: OnceLock<Arc<Tally>>,
}

impl Shared {
    fn book(&self) -> MutexGuard<'_, Book> {
        // A panic while the lock was held leaves plain counters behind: still usable.
        self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The deliveries of one call to webhook `hook`.
    fn record(&self, hook: u32, items: &[Item], at: Instant) {
        let mut book = self.book();
        for &(delivery, event, subject) in items {
            let (Some(delivery), Some(event)) = (delivery, event) else {
                book.received.malformed += 1;
                continue;
            };
            if !book.measuring {
                book.ignored.insert(event);
            }
            if book.ignored.contains(&event) {
                self.ignored_calls.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if !book.seen.insert(delivery) {
                book.received.duplicates += 1;
                continue;
            }
            if let Some(subject) = subject {
                let newest = book.newest.entry((hook, subject)).or_insert(delivery);
                if delivery < *newest {
                    book.received.out_of_order += 1;
                } else {
                    *newest = delivery;
                }
            }
            book.received.arrivals.push(Arrival { event, at });
            self.unique.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Listens on a free port of 127.0.0.1 and serves until dropped.
    pub async fn start(options: ReceiverOptions) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            options,
            ..Shared::default()
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Self { addr, shared, task })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL for webhook number `n`; the first `slow` are slow ones.
    pub fn url(&self, n: u32) -> String {
        match n < self.shared.options.slow {
            true => format!("{}/slow/{n}", self.base_url()),
            false => format!("{}/hook/{n}", self.base_url()),
        }
    }

    /// Calls to the slow webhooks so far.
    pub fn slow_calls(&self) -> u64 {
        self.shared.slow_calls.load(Ordering::Relaxed)
    }

    /// Deliveries received once or more, not counting ignored events.
    pub fn unique(&self) -> u64 {
        self.shared.unique.load(Ordering::Relaxed)
    }

    /// From now on, calls count, except those for events seen before (the warm-up).
    pub fn start_measuring(&self) {
        self.shared.book().measuring = true;
    }

    /// Calls for warm-up events.
    pub fn ignored_calls(&self) -> u64 {
        self.shared.ignored_calls.load(Ordering::Relaxed)
    }

    pub fn accept_errors(&self) -> u64 {
        self.shared.accept_errors.load(Ordering::Relaxed)
    }

    /// From now on, calls are counted by a soak's tally (which may also fail them).
    pub fn soak_into(&self, tally: Arc<Tally>) {
        let _ = self.shared.soak.set(tally);
    }

    /// Everything recorded so far; the receiver keeps answering (and counting
    /// duplicates against the ids it has seen) afterwards.
    pub fn take(&self) -> Received {
        std::mem::take(&mut self.shared.book().received)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Typically out of file descriptors: counted for the report, and the
                // server retries what it could not send.
                shared.accept_errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        // Small answers on a kept-alive connection: do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(shared.clone(), request));
            // A connection the server drops mid-call is its business; it retries.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, hyper::Error> {
    // Arrival is when the call's head is here; the body follows on the same read in practice.
    let at = Instant::now();
    let options = shared.options;
    let path = request.uri().path().to_owned();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (delivery, batch) = (header(DELIVERY_HEADER), header(BATCH_HEADER));
    let body = request.into_body().collect().await?.to_bytes();
    if path.starts_with("/slow/") {
        shared.slow_calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(options.slow_latency).await;
        return Ok(no_content());
    }
    let hook = path.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    if let Some(tally) = shared.soak.get() {
        let answer = tally.record(hook, &soak::stamps(&body, batch.is_some()), at);
        if answer == soak::Answer::Fail {
            return Ok(status(StatusCode::SERVICE_UNAVAILABLE));
        }
    } else {
        book_call(&shared, hook, delivery, batch, &body, at);
    }
    if !options.latency.is_zero() {
        tokio::time::sleep(options.latency).await;
    }
    Ok(no_content())
}

/// Notes a call's deliveries in the book.
fn book_call(shared: &Shared, hook: u32, delivery: Option<String>, batch: Option<String>, body: &[u8], at: Instant) {
    let options = shared.options;
    let items: Vec<Item> = match (batch, options.match_by) {
        (Some(ids), _) => read_batch(&ids, body),
        (None, MatchBy::EventId) if options.ordered => {
            let (event, subject) = read_event(body);
            vec![(delivery.as_deref().map(id_key), event, subject)]
        }
        (None, MatchBy::EventId) => vec![(
            delivery.as_deref().map(id_key),
            event_id(body).map(|id| id_key(&id)),
            None,
        )],
        (None, MatchBy::UserAgent) => {
            let open = read_open(body);
            if !open.enriched {
                shared.book().received.unenriched += 1;
            }
            vec![(
                delivery.as_deref().map(id_key),
                open.agent.map(|agent| id_key(&agent)),
                None,
            )]
        }
    };
    shared.record(hook, &items, at);
}

fn no_content() -> Response<Empty<Bytes>> {
    status(StatusCode::NO_CONTENT)
}

fn status(code: StatusCode) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = code;
    response
}

/// An event of a delivery body, read in full: its id and `data.subject`.
#[derive(serde::Deserialize)]
struct EventBody {
    id: String,
    #[serde(default)]
    data: Option<SubjectData>,
}

#[derive(serde::Deserialize)]
struct SubjectData {
    subject: Option<u64>,
}

impl EventBody {
    fn keys(&self) -> (Option<u128>, Option<u64>) {
        (Some(id_key(&self.id)), self.data.as_ref().and_then(|d| d.subject))
    }
}

fn read_event(body: &[u8]) -> (Option<u128>, Option<u64>) {
    serde_json::from_slice::<EventBody>(body).map_or((None, None), |event| event.keys())
}

/// A batched call: the deliveries' ids from the header, paired in order with `events`.
fn read_batch(ids: &str, body: &[u8]) -> Vec<Item> {
    #[derive(serde::Deserialize)]
    struct Batch {
        events: Vec<EventBody>,
    }
    let events = serde_json::from_slice::<Batch>(body).map_or_else(|_| Vec::new(), |b| b.events);
    let ids: Vec<&str> = ids.split(',').map(str::trim).collect();
    if ids.len() != events.len() {
        return vec![(None, None, None)];
    }
    ids.iter()
        .zip(&events)
        .map(|(id, event)| {
            let (key, subject) = event.keys();
            (Some(id_key(id)), key, subject)
        })
        .collect()
}

/// The event id of a delivery body. A JSON body starts with `{"id":"evt_...`, so that is
/// read without parsing the rest; anything else is parsed properly.
fn event_id(body: &[u8]) -> Option<String> {
    const PREFIX: &[u8] = b"{\"id\":\"";
    if let Some(rest) = body.strip_prefix(PREFIX) {
        let end = rest.iter().position(|&b| b == b'"')?;
        return std::str::from_utf8(&rest[..end]).ok().map(str::to_owned);
    }
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: String,
    }
    serde_json::from_slice::<IdOnly>(body).ok().map(|body| body.id)
}

/// What the receiver checks of an `open` body.
#[derive(Debug, PartialEq)]
struct OpenCheck {
    agent: Option<String>,
    /// Both the recipient's address and the profile's fields are there.
    enriched: bool,
}

/// Parsed in full, unlike an event id: the enrichment sits after the visit's fields.
fn read_open(body: &[u8]) -> OpenCheck {
    #[derive(serde::Deserialize)]
    struct OpenBody {
        useragent: Option<String>,
        recipient: Option<serde_json::Value>,
        fields: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<OpenBody>(body) {
        Ok(open) => OpenCheck {
            agent: open.useragent,
            enriched: matches!(&open.recipient, Some(serde_json::Value::String(r)) if !r.is_empty())
                && matches!(open.fields, Some(serde_json::Value::Object(_))),
        },
        Err(_) => OpenCheck {
            agent: None,
            enriched: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_id_is_read_from_the_start_of_the_body() {
        let body = br#"{"id":"evt_01hx","type":"bench.event","data":{"id":"other"}}"#;
        assert_eq!(event_id(body).as_deref(), Some("evt_01hx"));
        let spaced = br#"{ "type": "x", "id": "evt_2" }"#;
        assert_eq!(event_id(spaced).as_deref(), Some("evt_2"));
        assert_eq!(event_id(b"not json"), None);
    }

    #[test]
    fn opens_are_read_by_user_agent_and_checked_for_enrichment() {
        let full = br#"{"id":"msg_1","type":"open","useragent":"postbode-bench/7","recipient":"p7@example.com","profile":"prf_1","fields":{"age":7},"tags":["bench"]}"#;
        assert_eq!(
            read_open(full),
            OpenCheck {
                agent: Some("postbode-bench/7".into()),
                enriched: true
            }
        );
        let bare = br#"{"id":"msg_1","type":"open","useragent":"postbode-bench/8","recipient":"p8@example.com","fields":null}"#;
        assert_eq!(
            read_open(bare),
            OpenCheck {
                agent: Some("postbode-bench/8".into()),
                enriched: false
            }
        );
        let no_recipient = br#"{"id":"msg_1","useragent":"postbode-bench/9","fields":{}}"#;
        assert!(!read_open(no_recipient).enriched);
        assert_eq!(
            read_open(b"not json"),
            OpenCheck {
                agent: None,
                enriched: false
            }
        );
    }

    #[test]
    fn duplicates_and_ignored_events_are_kept_apart() {
        let shared = Shared::default();
        let now = Instant::now();
        // A warm-up call, then its late duplicate once measuring.
        shared.record(0, &[(Some(3), Some(99), None)], now);
        shared.book().measuring = true;
        shared.record(0, &[(Some(4), Some(99), None)], now);
        shared.record(0, &[(Some(1), Some(10), None), (Some(1), Some(10), None)], now);
        shared.record(0, &[(Some(2), Some(10), None)], now);
        shared.record(0, &[(None, Some(10), None)], now);
        let book = shared.book();
        assert_eq!(book.received.arrivals.len(), 2);
        assert_eq!(book.received.duplicates, 1);
        assert_eq!(book.received.malformed, 1);
        assert_eq!(shared.unique.load(Ordering::Relaxed), 2);
        assert_eq!(shared.ignored_calls.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_delivery_before_a_later_one_of_its_subject_is_out_of_order() {
        let shared = Shared::default();
        shared.book().measuring = true;
        let now = Instant::now();
        // Subject 1 of webhook 0: 5 then 7 in order, then 6 late; subject 2 and webhook 1
        // keep their own order.
        shared.record(0, &[(Some(5), Some(50), Some(1)), (Some(7), Some(70), Some(1))], now);
        shared.record(0, &[(Some(6), Some(60), Some(1))], now);
        shared.record(0, &[(Some(1), Some(10), Some(2))], now);
        shared.record(1, &[(Some(2), Some(20), Some(1))], now);
        assert_eq!(shared.book().received.out_of_order, 1);
    }

    #[test]
    fn a_batch_pairs_its_ids_with_its_events() {
        let body = br#"{"events":[{"id":"evt_1","data":{"subject":3}},{"id":"evt_2","data":{}}]}"#;
        let items = read_batch("dlv_a, dlv_b", body);
        assert_eq!(
            items,
            vec![
                (Some(id_key("dlv_a")), Some(id_key("evt_1")), Some(3)),
                (Some(id_key("dlv_b")), Some(id_key("evt_2")), None)
            ]
        );
        assert_eq!(read_batch("dlv_a", body), vec![(None, None, None)]);
    }
}
