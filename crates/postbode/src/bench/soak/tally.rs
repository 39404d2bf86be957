//! What a soak counts while it runs, in memory that does not grow with the run's
//! length beyond one bit per delivery: the receiver marks each delivery in a bitmap
//! indexed by its event's sequence number and webhook (a second mark is a duplicate),
//! and each interval's latencies are kept only until the interval's row is printed.
//!
//! Each event carries `data.seq` and `data.sent_us`, the microseconds from the soak's
//! start to just before its API call, so a receipt's latency needs no look-up: the
//! receiver and the load generator share this process's clock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// With `--receiver-flap`: the receiver fails every call for this long…
pub const FLAP_FOR: Duration = Duration::from_secs(3);
/// …at the start of every stretch of this length. Long enough for the circuit breaker to
/// open and probe, short enough that a retry 5 s later mostly finds the receiver back.
pub const FLAP_EVERY: Duration = Duration::from_secs(30);

/// What the receiver answers a soak call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// A failing stretch of `--receiver-flap`.
    Fail,
}

#[derive(Default)]
struct Interval {
    /// From just before the API call to the receipt, per first receipt.
    latencies: Vec<Duration>,
    /// From sending the API call to its `202`.
    calls: Vec<Duration>,
}

/// Taken at the end of each interval.
pub struct IntervalFigures {
    pub latencies: Vec<Duration>,
    pub calls: Vec<Duration>,
}

pub struct Tally {
    pub start: Instant,
    webhooks: u32,
    flap: AtomicBool,
    /// Bit `seq × webhooks + webhook`: that delivery has arrived.
    received: Mutex<Vec<u64>>,
    interval: Mutex<Interval>,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    /// Calls the soak could not read a sequence number from (the warm-up's late repeats).
    other: AtomicU64,
    failed_answers: AtomicU64,
    pub accepted: AtomicU64,
    pub failed_calls: AtomicU64,
    first_error: Mutex<Option<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values are plain counters and lists: still usable after a panic.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Tally {
    pub fn new(webhooks: u32, flap: bool) -> Self {
        Self {
            start: Instant::now(),
            webhooks: webhooks.max(1),
            flap: AtomicBool::new(flap),
            received: Mutex::new(Vec::new()),
            interval: Mutex::new(Interval::default()),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            other: AtomicU64::new(0),
            failed_answers: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            failed_calls: AtomicU64::new(0),
            first_error: Mutex::new(None),
        }
    }

    /// Microseconds since the soak started, for an event's `sent_us`.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Whether the receiver fails calls at `at` (only while flapping is on).
    pub fn failing(&self, at: Instant) -> bool {
        self.flap.load(Ordering::Relaxed) && flap_failing(at.saturating_duration_since(self.start))
    }

    /// Ends the failing stretches, so the last deliveries can arrive.
    pub fn stop_flapping(&self) {
        self.flap.store(false, Ordering::Relaxed);
    }

    /// One call to webhook `hook` carrying `events` (each its `(seq, sent_us)`, or
    /// `None` when the body had none), received at `at`.
    pub fn record(&self, hook: u32, events: &[Option<(u64, u64)>], at: Instant) -> Answer {
        if self.failing(at) {
            self.failed_answers.fetch_add(1, Ordering::Relaxed);
            return Answer::Fail;
        }
        let now_us = u64::try_from(at.saturating_duration_since(self.start).as_micros()).unwrap_or(u64::MAX);
        let mut fresh = Vec::with_capacity(events.len());
        {
            let mut received = lock(&self.received);
            for event in events {
                let Some((seq, sent_us)) = *event else {
                    self.other.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let bit = seq * u64::from(self.webhooks) + u64::from(hook % self.webhooks);
                let (word, mask) = ((bit / 64) as usize, 1u64 << (bit % 64));
                if received.len() <= word {
                    received.resize(word + 1, 0);
                }
                if received[word] & mask != 0 {
                    self.duplicates.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                received[word] |= mask;
                fresh.push(Duration::from_micros(now_us.saturating_sub(sent_us)));
            }
        }
        self.delivered.fetch_add(fresh.len() as u64, Ordering::Relaxed);
        lock(&self.interval).latencies.extend(fresh);
        Answer::Ok
    }

    /// An API call answered `202` after `took`.
    pub fn accepted_call(&self, events: u64, took: Duration) {
        self.accepted.fetch_add(events, Ordering::Relaxed);
        lock(&self.interval).calls.push(took);
    }

    pub fn failed_call(&self, error: String) {
        self.failed_calls.fetch_add(1, Ordering::Relaxed);
        lock(&self.first_error).get_or_insert(error);
    }

    /// The figures of the interval that ends now; the next one starts empty.
    pub fn take_interval(&self) -> IntervalFigures {
        let taken = std::mem::take(&mut *lock(&self.interval));
        IntervalFigures {
            latencies: taken.latencies,
            calls: taken.calls,
        }
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    pub fn other(&self) -> u64 {
        self.other.load(Ordering::Relaxed)
    }

    pub fn failed_answers(&self) -> u64 {
        self.failed_answers.load(Ordering::Relaxed)
    }

    pub fn first_error(&self) -> Option<String> {
        lock(&self.first_error).clone()
    }

    /// Memory the bitmap holds.
    #[cfg(test)]
    fn bitmap_bytes(&self) -> usize {
        lock(&self.received).capacity() * 8
    }
}

/// The `(seq, sent_us)` of each event in a delivery body: one event, or with `batched`
/// a batch's `events`; `None` for an event without them.
pub fn stamps(body: &[u8], batched: bool) -> Vec<Option<(u64, u64)>> {
    #[derive(serde::Deserialize)]
    struct Event {
        data: Option<Stamp>,
    }
    #[derive(serde::Deserialize)]
    struct Stamp {
        seq: Option<u64>,
        sent_us: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Batch {
        events: Vec<Event>,
    }
    let stamp = |event: Event| event.data.and_then(|d| Some((d.seq?, d.sent_us?)));
    match batched {
        true => serde_json::from_slice::<Batch>(body)
            .map_or_else(|_| vec![None], |batch| batch.events.into_iter().map(stamp).collect()),
        false => vec![serde_json::from_slice::<Event>(body).ok().and_then(stamp)],
    }
}

/// Whether `since_start` falls in a failing stretch.
fn flap_failing(since_start: Duration) -> bool {
    let phase = since_start.as_millis() % FLAP_EVERY.as_millis();
    phase < FLAP_FOR.as_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_delivery_counts_once_and_repeats_are_duplicates() {
        let tally = Tally::new(2, false);
        let at = tally.start + Duration::from_millis(5);
        assert_eq!(tally.record(0, &[Some((0, 1000)), Some((1, 2000))], at), Answer::Ok);
        tally.record(1, &[Some((0, 1000))], at);
        tally.record(0, &[Some((1, 2000)), None], at);
        assert_eq!(tally.delivered(), 3);
        assert_eq!(tally.duplicates(), 1);
        assert_eq!(tally.other(), 1);
        let interval = tally.take_interval();
        assert_eq!(
            interval.latencies,
            [4000, 3000, 4000].map(Duration::from_micros).to_vec()
        );
        assert!(tally.take_interval().latencies.is_empty());
        // A million deliveries take a million bits.
        tally.record(1, &[Some((500_000, 0))], at);
        assert!(tally.bitmap_bytes() <= 1_000_001 / 8 + 8);
    }

    #[test]
    fn stamps_are_read_from_single_and_batched_bodies() {
        let single = br#"{"id":"evt_1","type":"bench.event","data":{"seq":7,"sent_us":1500}}"#;
        assert_eq!(stamps(single, false), [Some((7, 1500))]);
        let batch = br#"{"events":[{"data":{"seq":1,"sent_us":2}},{"data":{}}]}"#;
        assert_eq!(stamps(batch, true), [Some((1, 2)), None]);
        assert_eq!(stamps(b"not json", false), [None]);
    }

    #[test]
    fn flapping_fails_the_start_of_every_stretch() {
        assert!(flap_failing(Duration::ZERO));
        assert!(flap_failing(FLAP_EVERY + FLAP_FOR / 2));
        assert!(!flap_failing(FLAP_FOR));
        assert!(!flap_failing(FLAP_EVERY - Duration::from_millis(1)));
        let tally = Tally::new(1, true);
        assert_eq!(tally.record(0, &[Some((0, 0))], tally.start), Answer::Fail);
        assert_eq!((tally.failed_answers(), tally.delivered()), (1, 0));
        tally.stop_flapping();
        assert_eq!(tally.record(0, &[Some((0, 0))], tally.start), Answer::Ok);
    }
}
