//! How many calls a webhook may have in flight: additive increase, multiplicative
//! decrease (AIMD), between 1 and the webhook's `max_concurrency`.
//!
//! - While calls succeed fast, the limit grows by one per window of `limit` successes
//!   (so about one step per round trip), but only when the engine actually uses at
//!   least half of it: an idle webhook does not creep up to its ceiling.
//! - "Fast" is against the quickest recent round trip: a call more than twice as slow
//!   (plus 10 ms of slack) is the receiver queueing, and the limit holds.
//! - A timeout, a connection error, a 5xx or a 429 halves the limit, once per window:
//!   the calls already in flight when it happened fail for the same reason and must not
//!   halve it again.

use chrono::{DateTime, Utc};
use postbode_core::runtime::Backoff;
use std::time::Duration;

/// A round trip this much slower than the quickest recent one does not grow the limit.
const SLACK: Duration = Duration::from_millis(10);
/// The quickest round trip is forgotten after this many calls, so a receiver that got
/// slower for good is measured afresh.
const LATENCY_WINDOW: u64 = 256;

#[derive(Debug, Clone)]
pub struct Limiter {
    limit: f64,
    max: u32,
    completions: u64,
    /// Back-offs are ignored until this many calls have completed.
    hold_until: u64,
    quickest: Option<Duration>,
    quickest_in_window: Option<Duration>,
    last_backoff: Option<Backoff>,
}

impl Limiter {
    pub fn new(initial: u32, max: u32) -> Self {
        let max = max.max(1);
        Self {
            limit: f64::from(initial.clamp(1, max)),
            max,
            completions: 0,
            hold_until: 0,
            quickest: None,
            quickest_in_window: None,
            last_backoff: None,
        }
    }

    pub fn limit(&self) -> u32 {
        (self.limit as u32).clamp(1, self.max)
    }

    pub fn max(&self) -> u32 {
        self.max
    }

    pub fn last_backoff(&self) -> Option<&Backoff> {
        self.last_backoff.as_ref()
    }

    /// The webhook's ceiling changed: the limit stays under it.
    pub fn set_max(&mut self, max: u32) {
        self.max = max.max(1);
        self.limit = self.limit.min(f64::from(self.max));
    }

    /// Back to a cautious start (a receiver that recovered from an outage).
    pub fn restart(&mut self, initial: u32) {
        self.limit = f64::from(initial.clamp(1, self.max));
    }

    /// A call succeeded after `latency`, with `in_flight` calls (this one included)
    /// under way when it ended.
    pub fn succeeded(&mut self, latency: Duration, in_flight: usize) {
        self.completions += 1;
        self.remember(latency);
        let quickest = self.quickest.unwrap_or(latency);
        let fast = latency <= quickest * 2 + SLACK;
        let used = in_flight as f64 * 2.0 >= self.limit;
        if fast && used {
            self.limit = (self.limit + 1.0 / self.limit).min(f64::from(self.max));
        }
    }

    /// A call failed in a way that says the receiver has too much: halves the limit,
    /// unless it was halved for calls that were already in flight. `in_flight` counts
    /// this call too.
    pub fn back_off(&mut self, reason: String, at: DateTime<Utc>, in_flight: usize) {
        self.completions += 1;
        if self.completions <= self.hold_until {
            return;
        }
        self.limit = (self.limit / 2.0).max(1.0);
        self.hold_until = self.completions + in_flight.saturating_sub(1) as u64;
        self.last_backoff = Some(Backoff { reason, at });
    }

    /// A call that says nothing of the receiver's load (a 4xx, a refused address).
    pub fn neutral(&mut self) {
        self.completions += 1;
    }

    fn remember(&mut self, latency: Duration) {
        self.quickest_in_window = Some(self.quickest_in_window.map_or(latency, |q| q.min(latency)));
        self.quickest = Some(self.quickest.map_or(latency, |q| q.min(latency)));
        if self.completions.is_multiple_of(LATENCY_WINDOW) {
            self.quickest = self.quickest_in_window.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-11-20T10:00:00Z".parse().unwrap()
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn it_grows_by_about_one_per_window_while_calls_are_fast_and_the_limit_is_used() {
        let mut limiter = Limiter::new(4, 64);
        for _ in 0..4 {
            limiter.succeeded(MS, 4);
        }
        assert_eq!(limiter.limit(), 4, "a fraction of a step per success");
        for _ in 0..8 {
            limiter.succeeded(MS, 5);
        }
        assert_eq!(limiter.limit(), 6);
        for _ in 0..10_000 {
            limiter.succeeded(MS, 64);
        }
        assert_eq!(limiter.limit(), 64, "never above the webhook's ceiling");
    }

    #[test]
    fn it_holds_when_unused_or_when_the_receiver_queues() {
        let mut idle = Limiter::new(8, 64);
        for _ in 0..1000 {
            idle.succeeded(MS, 1);
        }
        assert_eq!(idle.limit(), 8, "one call at a time says nothing about more");

        let mut queueing = Limiter::new(8, 64);
        queueing.succeeded(MS, 8);
        for _ in 0..200 {
            queueing.succeeded(50 * MS, 8);
        }
        assert!(queueing.limit() <= 9, "slower than twice the quickest round trip");
        for _ in 0..1000 {
            queueing.succeeded(50 * MS, 8);
        }
        assert!(queueing.limit() > 9, "a receiver slower for good is measured afresh");
    }

    #[test]
    fn it_halves_once_per_window_of_calls_in_flight_and_keeps_the_reason() {
        let mut limiter = Limiter::new(32, 64);
        limiter.back_off("503".into(), at(), 32);
        assert_eq!(limiter.limit(), 16);
        // The other 31 calls of that window fail for the same reason.
        for _ in 0..31 {
            limiter.back_off("503".into(), at(), 31);
        }
        assert_eq!(limiter.limit(), 16);
        // Calls one at a time: each failure halves.
        limiter.back_off("timeout".into(), at(), 1);
        assert_eq!(limiter.limit(), 8);
        assert_eq!(limiter.last_backoff().unwrap().reason, "timeout");
        for _ in 0..10 {
            limiter.back_off("timeout".into(), at(), 1);
        }
        assert_eq!(limiter.limit(), 1, "never below one");
    }

    #[test]
    fn a_lower_ceiling_takes_effect_at_once() {
        let mut limiter = Limiter::new(8, 64);
        limiter.set_max(2);
        assert_eq!(limiter.limit(), 2);
        limiter.restart(8);
        assert_eq!(limiter.limit(), 2);
    }
}
