//! The load generator: N events through the API, one per call or in batches, or N opens
//! of messages' open pixels, with a bounded number of calls in flight, as fast as the
//! server answers or at a fixed rate.

use bytes::Bytes;
use futures_util::StreamExt;
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::{Accepted, Api};
use super::keys::id_key;

pub const EVENT_TYPE: &str = "bench.event";
/// The User-Agent of the warm-up open; no measured open has it.
pub const WARM_UP_AGENT: &str = "postbode-bench/warm-up";

/// What each call does.
#[derive(Clone)]
pub enum Work {
    /// Custom events, `batch` per call (1 means `POST /v1/events`, more means
    /// `POST /v1/events/batch`), with `filler` in each event's data; with `subjects`,
    /// each event belongs to one of that many subjects (its `ordering_key`, and
    /// `data.subject` for the receiver to check the order by).
    Events {
        batch: u32,
        filler: Arc<str>,
        subjects: Option<u64>,
    },
    /// One `GET` per open, of these open pixel URLs in turn.
    Opens { urls: Arc<[String]> },
}

pub struct LoadPlan {
    /// Events, or opens.
    pub events: u64,
    pub work: Work,
    /// Calls in flight at most.
    pub concurrency: usize,
    /// Events (or opens) per second, or as fast as possible.
    pub rate: Option<f64>,
}

/// The User-Agent of open number `seq`: the only part of a request that comes back in its
/// `open` body unchanged and unique, so it is what the receiver matches the body by.
pub fn open_agent(seq: u64) -> String {
    format!("postbode-bench/{seq}")
}

/// An accepted event (or a handled open): when its `202` (`200`) arrived, and how many of its deliveries came in.
#[derive(Debug, Clone, Copy)]
pub struct AcceptedEvent {
    pub at: Instant,
    pub received: u32,
}

pub struct LoadResult {
    /// By [`id_key`] of the event id (of the user agent, for opens).
    pub events: HashMap<u128, AcceptedEvent>,
    pub started: Instant,
    /// When the last `202` (or `200`) arrived.
    pub finished: Instant,
    /// Time from sending each call to its `202` (or `200`).
    pub call_latencies: Vec<Duration>,
    /// Deliveries the server reported making (single-event calls only).
    pub deliveries_reported: Option<u64>,
    pub failed_calls: u64,
    pub failed_events: u64,
    pub first_error: Option<String>,
    /// How far behind its schedule the last call started, with `--rate`.
    pub max_lag: Duration,
}

/// Makes every call of `plan`, counting accepted events (handled opens) on `bar`.
pub async fn run(api: Api, key: Arc<str>, plan: &LoadPlan, bar: &ProgressBar) -> LoadResult {
    let batch = match &plan.work {
        Work::Events { batch, .. } => u64::from((*batch).max(1)),
        Work::Opens { .. } => 1,
    };
    let calls = plan.events.div_ceil(batch);
    // A call's events, by sequence number: every call but the last is full.
    let call_range = move |n: u64| (n * batch)..((n + 1) * batch).min(plan.events);
    let interval = plan.rate.map(|rate| Duration::from_secs_f64(batch as f64 / rate));
    let started = Instant::now();
    let mut result = LoadResult {
        events: HashMap::with_capacity(plan.events as usize),
        started,
        finished: started,
        call_latencies: Vec::with_capacity(calls as usize),
        deliveries_reported: matches!(plan.work, Work::Events { batch: 1, .. }).then_some(0),
        failed_calls: 0,
        failed_events: 0,
        first_error: None,
        max_lag: Duration::ZERO,
    };
    let mut answers = futures_util::stream::iter(0..calls)
        .map(|n| {
            let (api, key, work) = (api.clone(), key.clone(), plan.work.clone());
            let due = interval.map(|interval| started + interval.mul_f64(n as f64));
            async move {
                if let Some(due) = due {
                    tokio::time::sleep_until(due.into()).await;
                }
                let sent = Instant::now();
                let lag = due.map_or(Duration::ZERO, |due| sent.saturating_duration_since(due));
                let range = call_range(n);
                let events = range.end - range.start;
                // Each call on a task of its own, so building bodies and reading answers
                // runs on every core rather than on this loop's.
                let outcome = tokio::spawn(async move {
                    match work {
                        Work::Events {
                            batch: 1,
                            filler,
                            subjects,
                        } => api.post_event(&key, event_json(range.start, &filler, subjects)).await,
                        Work::Events { filler, subjects, .. } => {
                            api.post_batch(&key, batch_json(range, &filler, subjects)).await
                        }
                        Work::Opens { urls } => {
                            // Round robin, so every message is opened about as often.
                            let url = usize::try_from(range.start)
                                .ok()
                                .and_then(|seq| urls.get(seq % urls.len().max(1)));
                            match url {
                                Some(url) => api.open(url, open_agent(range.start)).await,
                                None => Err(anyhow::anyhow!("no open pixel URL to call")),
                            }
                        }
                    }
                })
                .await;
                let outcome = match outcome {
                    Ok(outcome) => outcome,
                    Err(e) => Err(anyhow::anyhow!("the call's task failed: {e}")),
                };
                (sent, lag, events, outcome)
            }
        })
        .buffer_unordered(plan.concurrency.max(1));
    while let Some((sent, lag, events, outcome)) = answers.next().await {
        result.max_lag = result.max_lag.max(lag);
        match outcome {
            Ok(accepted) => result.note(sent, accepted, bar),
            Err(e) => {
                result.failed_calls += 1;
                result.failed_events += events;
                result.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    result
}

impl LoadResult {
    fn note(&mut self, sent: Instant, accepted: Accepted, bar: &ProgressBar) {
        self.call_latencies.push(accepted.at.saturating_duration_since(sent));
        self.finished = self.finished.max(accepted.at);
        if let (Some(total), Some(made)) = (self.deliveries_reported.as_mut(), accepted.deliveries) {
            *total += made;
        }
        bar.inc(accepted.ids.len() as u64);
        for id in &accepted.ids {
            self.events.insert(
                id_key(id),
                AcceptedEvent {
                    at: accepted.at,
                    received: 0,
                },
            );
        }
    }

    pub fn accepted(&self) -> u64 {
        self.events.len() as u64
    }
}

/// The bench's event type with a schema that holds every event [`event_value`] makes
/// (`--typed`).
pub fn event_type_definition() -> serde_json::Value {
    serde_json::json!({
        "name": EVENT_TYPE,
        "description": "An event of postbode bench.",
        "schema": {
            "type": "object",
            "required": ["seq"],
            "properties": {
                "seq": {"type": "integer", "minimum": 0},
                "subject": {"type": "integer", "minimum": 0},
                "filler": {"type": "string"}
            },
            "additionalProperties": false
        }
    })
}

/// One event: a sequence number, filler when asked for, and its subject when ordered.
pub fn event_value(seq: u64, filler: &str, subjects: Option<u64>) -> serde_json::Value {
    let mut data = serde_json::json!({ "seq": seq });
    if !filler.is_empty() {
        data["filler"] = filler.into();
    }
    let mut event = serde_json::json!({ "type": EVENT_TYPE });
    if let Some(subjects) = subjects {
        let subject = seq % subjects.max(1);
        data["subject"] = subject.into();
        event["ordering_key"] = format!("subject-{subject}").into();
    }
    event["data"] = data;
    event
}

fn event_json(seq: u64, filler: &str, subjects: Option<u64>) -> Bytes {
    event_value(seq, filler, subjects).to_string().into()
}

fn batch_json(range: std::ops::Range<u64>, filler: &str, subjects: Option<u64>) -> Bytes {
    let events: Vec<_> = range.map(|seq| event_value(seq, filler, subjects)).collect();
    serde_json::json!({ "events": events }).to_string().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_api_shape() {
        let single: serde_json::Value = serde_json::from_slice(&event_json(7, "", None)).unwrap();
        assert_eq!(single, serde_json::json!({"type": "bench.event", "data": {"seq": 7}}));
        let ordered: serde_json::Value = serde_json::from_slice(&event_json(7, "", Some(5))).unwrap();
        assert_eq!(
            ordered,
            serde_json::json!({"type": "bench.event", "ordering_key": "subject-2", "data": {"seq": 7, "subject": 2}})
        );
        let batch: serde_json::Value = serde_json::from_slice(&batch_json(3..5, "ab", None)).unwrap();
        assert_eq!(batch["events"].as_array().unwrap().len(), 2);
        assert_eq!(
            batch["events"][1]["data"],
            serde_json::json!({"seq": 4, "filler": "ab"})
        );
    }

    #[test]
    fn the_typed_schema_holds_every_event_the_bench_sends() {
        let definition = event_type_definition();
        let schema = postbode_core::event_type::DataSchema::compile(&definition["schema"]).unwrap();
        for event in [event_value(7, "", None), event_value(8, "xyz", Some(3))] {
            assert!(schema.check("data", &event["data"]).is_empty(), "{event}");
        }
    }
}
