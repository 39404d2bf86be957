//! The load generator: N events through the API, one per call or in batches, with a
//! bounded number of calls in flight, as fast as the server answers or at a fixed rate.

use bytes::Bytes;
use futures_util::StreamExt;
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::{Accepted, Api};
use super::keys::id_key;

pub const EVENT_TYPE: &str = "bench.event";

pub struct LoadPlan {
    pub events: u64,
    /// Events per call; 1 means `POST /v1/events`, more means `POST /v1/events/batch`.
    pub batch: u32,
    /// Calls in flight at most.
    pub concurrency: usize,
    /// Events per second, or as fast as possible.
    pub rate: Option<f64>,
    /// Bytes of filler in each event's data.
    pub payload: usize,
}

/// An accepted event: when its `202` arrived, and how many of its deliveries came in.
#[derive(Debug, Clone, Copy)]
pub struct AcceptedEvent {
    pub at: Instant,
    pub received: u32,
}

pub struct LoadResult {
    /// By [`id_key`] of the event id.
    pub events: HashMap<u128, AcceptedEvent>,
    pub started: Instant,
    /// When the last `202` arrived.
    pub finished: Instant,
    /// Time from sending each call to its `202`.
    pub call_latencies: Vec<Duration>,
    /// Deliveries the server reported making (single-event calls only).
    pub deliveries_reported: Option<u64>,
    pub failed_calls: u64,
    pub failed_events: u64,
    pub first_error: Option<String>,
    /// How far behind its schedule the last call started, with `--rate`.
    pub max_lag: Duration,
}

/// Sends every event of `plan`, counting accepted events on `bar`.
pub async fn run(api: Api, key: Arc<str>, plan: &LoadPlan, bar: &ProgressBar) -> LoadResult {
    let batch = u64::from(plan.batch.max(1));
    let calls = plan.events.div_ceil(batch);
    let filler: Arc<str> = "x".repeat(plan.payload).into();
    // A call's events, by sequence number: every call but the last is full.
    let call_range = move |n: u64| (n * batch)..((n + 1) * batch).min(plan.events);
    let interval = plan.rate.map(|rate| Duration::from_secs_f64(batch as f64 / rate));
    let started = Instant::now();
    let mut result = LoadResult {
        events: HashMap::with_capacity(plan.events as usize),
        started,
        finished: started,
        call_latencies: Vec::with_capacity(calls as usize),
        deliveries_reported: (batch == 1).then_some(0),
        failed_calls: 0,
        failed_events: 0,
        first_error: None,
        max_lag: Duration::ZERO,
    };
    let single = batch == 1;
    let mut answers = futures_util::stream::iter(0..calls)
        .map(|n| {
            let (api, key, filler) = (api.clone(), key.clone(), filler.clone());
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
                    if single {
                        api.post_event(&key, event_json(range.start, &filler)).await
                    } else {
                        api.post_batch(&key, batch_json(range, &filler)).await
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

/// One event: a sequence number, and filler when asked for.
pub fn event_value(seq: u64, filler: &str) -> serde_json::Value {
    let mut data = serde_json::json!({ "seq": seq });
    if !filler.is_empty() {
        data["filler"] = filler.into();
    }
    serde_json::json!({ "type": EVENT_TYPE, "data": data })
}

fn event_json(seq: u64, filler: &str) -> Bytes {
    event_value(seq, filler).to_string().into()
}

fn batch_json(range: std::ops::Range<u64>, filler: &str) -> Bytes {
    let events: Vec<_> = range.map(|seq| event_value(seq, filler)).collect();
    serde_json::json!({ "events": events }).to_string().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_api_shape() {
        let single: serde_json::Value = serde_json::from_slice(&event_json(7, "")).unwrap();
        assert_eq!(single, serde_json::json!({"type": "bench.event", "data": {"seq": 7}}));
        let batch: serde_json::Value = serde_json::from_slice(&batch_json(3..5, "ab")).unwrap();
        assert_eq!(batch["events"].as_array().unwrap().len(), 2);
        assert_eq!(
            batch["events"][1]["data"],
            serde_json::json!({"seq": 4, "filler": "ab"})
        );
    }
}
