//! Failed authentications, counted so that guessing keys and tokens is slow.
//!
//! Each client address (an IPv6 address by its /64, which one holder usually has whole)
//! and each API key named with a wrong secret has a bucket of `per_address` (`per_key`)
//! failures that refills evenly over `period`. A failure takes one; when none is left,
//! every attempt from that address or with that key, right or wrong, is refused with
//! 429 before its credentials are checked, until one has refilled (`Retry-After`). A
//! refused attempt is no failure: it counts nothing and costs nothing to refuse.
//!
//! Memory is bounded: at most `max_tracked` buckets are kept. A bucket that has refilled
//! is the same as none and makes room; when every one is in use, new addresses (keys)
//! share one bucket, so a flood from more addresses than that is still slowed, as one.
//! While no bucket exists, which is whenever nobody failed lately, a request pays one
//! atomic load for this.
//!
//! [`AuthThrottle::report`] sums up the failures since the last report, for the log
//! line written once a minute.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::settings::AuthFailureSettings;

/// What a bucket counts for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Address(IpAddr),
    Key(Box<str>),
}

impl Subject {
    fn address(ip: IpAddr) -> Self {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
            },
            v4 => v4,
        };
        Subject::Address(ip)
    }

    fn is_key(&self) -> bool {
        matches!(self, Subject::Key(_))
    }
}

/// Failures not yet refilled, as of `at` (Unix milliseconds).
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    used: f64,
    at: i64,
    /// Failures since the last report.
    failures: u32,
}

#[derive(Default)]
struct State {
    buckets: HashMap<Subject, Bucket>,
    /// Shared by new addresses, and by new keys, while `buckets` is full.
    overflow: [Bucket; 2],
    /// Until when a full `buckets` is not swept again (one sweep a second at most).
    swept_until: i64,
    failures: u64,
    refused: u64,
}

/// The failures since the last report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub failures: u64,
    /// Attempts answered 429.
    pub refused: u64,
    /// Addresses that failed.
    pub addresses: usize,
    /// The address that failed most, and how often.
    pub top_address: Option<(IpAddr, u32)>,
    /// The API key named with a wrong secret most, and how often.
    pub top_key: Option<(String, u32)>,
}

pub struct AuthThrottle {
    settings: AuthFailureSettings,
    /// Buckets in use (overflow included); 0 lets requests skip the lock.
    tracked: AtomicUsize,
    state: Mutex<State>,
}

impl AuthThrottle {
    pub fn new(settings: AuthFailureSettings) -> Self {
        Self {
            settings,
            tracked: AtomicUsize::new(0),
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn limit(&self, subject: &Subject) -> f64 {
        f64::from(if subject.is_key() {
            self.settings.per_key
        } else {
            self.settings.per_address
        })
    }

    /// Failures refilled per millisecond, for a bucket of `limit`.
    fn rate(&self, limit: f64) -> f64 {
        limit / (self.settings.period.as_millis().max(1) as f64)
    }

    fn used_at(&self, bucket: &Bucket, limit: f64, now: i64) -> f64 {
        (bucket.used - (now - bucket.at) as f64 * self.rate(limit)).max(0.0)
    }

    /// Seconds until an attempt is allowed again, when `bucket` has none left.
    fn wait(&self, bucket: &Bucket, limit: f64, now: i64) -> Option<u64> {
        let over = self.used_at(bucket, limit, now) - (limit - 1.0);
        (over > 0.0).then(|| ((over / self.rate(limit)) / 1000.0).ceil().max(1.0) as u64)
    }

    /// When the address, or the key a token names (`pb_<key id>_...`), may not try now:
    /// the seconds until it may (429's `Retry-After`).
    pub fn refused(&self, address: IpAddr, key_id: Option<&str>, now: DateTime<Utc>) -> Option<u64> {
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let now = now.timestamp_millis();
        let mut state = self.lock();
        let subjects = std::iter::once(Subject::address(address)).chain(key_id.map(|k| Subject::Key(k.into())));
        let wait = subjects
            .filter_map(|subject| {
                let limit = self.limit(&subject);
                let bucket = state
                    .buckets
                    .get(&subject)
                    .unwrap_or(&state.overflow[usize::from(subject.is_key())]);
                self.wait(bucket, limit, now)
            })
            .max();
        if wait.is_some() {
            state.refused += 1;
        }
        wait
    }

    /// A failed authentication from `address`; `key_id` is the stored API key it named
    /// with a wrong secret, if it named one.
    pub fn failed(&self, address: IpAddr, key_id: Option<&str>, now: DateTime<Utc>) {
        let now = now.timestamp_millis();
        let mut guard = self.lock();
        let state = &mut *guard;
        state.failures += 1;
        for subject in std::iter::once(Subject::address(address)).chain(key_id.map(|k| Subject::Key(k.into()))) {
            let limit = self.limit(&subject);
            let overflow = usize::from(subject.is_key());
            if !state.buckets.contains_key(&subject) {
                if state.buckets.len() >= self.settings.max_tracked {
                    self.sweep(state, now);
                }
                if state.buckets.len() < self.settings.max_tracked {
                    state.buckets.insert(subject.clone(), Bucket::default());
                }
            }
            let bucket = match state.buckets.get_mut(&subject) {
                Some(bucket) => bucket,
                None => &mut state.overflow[overflow],
            };
            let used = self.used_at(bucket, limit, now);
            *bucket = Bucket {
                used: (used + 1.0).min(limit),
                at: now,
                failures: bucket.failures.saturating_add(1),
            };
        }
        self.count(state);
    }

    /// Drops the buckets that have refilled (at most once a second while full).
    fn sweep(&self, state: &mut State, now: i64) {
        if now < state.swept_until {
            return;
        }
        let kept = |bucket: &Bucket, limit: f64| bucket.failures > 0 || self.used_at(bucket, limit, now) > 0.0;
        let (per_address, per_key) = (f64::from(self.settings.per_address), f64::from(self.settings.per_key));
        state
            .buckets
            .retain(|subject, bucket| kept(bucket, if subject.is_key() { per_key } else { per_address }));
        state.swept_until = now + 1000;
    }

    fn count(&self, state: &State) {
        let overflow = state.overflow.iter().filter(|b| b.used > 0.0).count();
        self.tracked.store(state.buckets.len() + overflow, Ordering::Relaxed);
    }

    /// The failures since the last report (`None` when there were none), and forgets
    /// what has refilled.
    pub fn report(&self, now: DateTime<Utc>) -> Option<Report> {
        let now = now.timestamp_millis();
        let mut guard = self.lock();
        let state = &mut *guard;
        let report = (state.failures + state.refused > 0).then(|| {
            let top = |key: bool| {
                state
                    .buckets
                    .iter()
                    .filter(|(subject, bucket)| subject.is_key() == key && bucket.failures > 0)
                    .max_by_key(|(_, bucket)| bucket.failures)
                    .map(|(subject, bucket)| (subject.clone(), bucket.failures))
            };
            Report {
                failures: state.failures,
                refused: state.refused,
                addresses: state
                    .buckets
                    .iter()
                    .filter(|(subject, bucket)| !subject.is_key() && bucket.failures > 0)
                    .count(),
                top_address: top(false).and_then(|(subject, n)| match subject {
                    Subject::Address(ip) => Some((ip, n)),
                    Subject::Key(_) => None,
                }),
                top_key: top(true).and_then(|(subject, n)| match subject {
                    Subject::Key(id) => Some((id.into(), n)),
                    Subject::Address(_) => None,
                }),
            }
        });
        state.failures = 0;
        state.refused = 0;
        for bucket in state.buckets.values_mut().chain(state.overflow.iter_mut()) {
            bucket.failures = 0;
        }
        for (n, limit) in [self.settings.per_address, self.settings.per_key]
            .into_iter()
            .enumerate()
        {
            let limit = f64::from(limit);
            if self.used_at(&state.overflow[n], limit, now) == 0.0 {
                state.overflow[n] = Bucket::default();
            }
        }
        state.swept_until = 0;
        self.sweep(state, now);
        self.count(state);
        report
    }

    /// Logs [`Self::report`] once a minute, as one line, when there were failures.
    pub async fn log_every_minute(self: std::sync::Arc<Self>, clock: postbode_core::clock::SharedClock) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Some(report) = self.report(clock.now()) {
                tracing::warn!(
                    failures = report.failures,
                    refused = report.refused,
                    addresses = report.addresses,
                    top_address = report.top_address.map(|(ip, n)| format!("{ip} ({n})")),
                    top_key = report.top_key.map(|(id, n)| format!("{id} ({n})")),
                    "failed authentications in the last minute (refused: answered 429)"
                );
            }
        }
    }

    /// Buckets in use, overflow included (for tests of the bound).
    pub fn tracked(&self) -> usize {
        self.tracked.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings() -> AuthFailureSettings {
        AuthFailureSettings {
            per_address: 3,
            per_key: 5,
            period: Duration::from_secs(60),
            max_tracked: 100,
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_is_refused_after_its_failures_until_one_refills() {
        let throttle = AuthThrottle::new(settings());
        let client = ip("192.0.2.7");
        for _ in 0..3 {
            assert_eq!(throttle.refused(client, None, at(0)), None);
            throttle.failed(client, None, at(0));
        }
        // One failure refills every 20 s.
        assert_eq!(throttle.refused(client, None, at(0)), Some(20));
        assert_eq!(throttle.refused(client, None, at(15)), Some(5));
        assert_eq!(throttle.refused(ip("192.0.2.8"), None, at(15)), None);
        assert_eq!(throttle.refused(client, None, at(20)), None);
        throttle.failed(client, None, at(20));
        assert_eq!(throttle.refused(client, None, at(20)), Some(20));
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let throttle = AuthThrottle::new(settings());
        for n in 1..=3 {
            throttle.failed(ip(&format!("2001:db8:1:2::{n}")), None, at(0));
        }
        assert!(throttle.refused(ip("2001:db8:1:2:ffff::1"), None, at(0)).is_some());
        assert!(throttle.refused(ip("2001:db8:1:3::1"), None, at(0)).is_none());
    }

    #[test]
    fn a_key_is_refused_after_its_failures_from_any_address() {
        let throttle = AuthThrottle::new(settings());
        for n in 0..5 {
            throttle.failed(ip(&format!("192.0.2.{n}")), Some("key_a"), at(0));
        }
        assert!(throttle.refused(ip("198.51.100.1"), Some("key_a"), at(0)).is_some());
        assert!(throttle.refused(ip("198.51.100.1"), Some("key_b"), at(0)).is_none());
        assert!(throttle.refused(ip("198.51.100.1"), None, at(0)).is_none());
    }

    #[test]
    fn memory_stays_bounded_and_a_flood_is_still_slowed() {
        let throttle = AuthThrottle::new(AuthFailureSettings {
            max_tracked: 1000,
            ..settings()
        });
        let address = |n: u32| IpAddr::V4(std::net::Ipv4Addr::from_bits(0x0a00_0000 + n));
        for n in 0..100_000 {
            throttle.failed(address(n), Some(&format!("key_{n}")), at(0));
            assert!(throttle.tracked() <= 1002, "{} buckets", throttle.tracked());
        }
        assert!(throttle.lock().buckets.len() <= 1000);
        // The addresses past the bound share one bucket, which the flood has used up.
        assert!(throttle.refused(address(200_000), None, at(0)).is_some());
        // Once the period has passed, every bucket has refilled and is dropped.
        let report = throttle.report(at(61)).unwrap();
        assert_eq!(report.failures, 100_000);
        assert_eq!(throttle.report(at(61)), None);
        assert_eq!(throttle.tracked(), 0);
        assert!(throttle.refused(address(200_000), None, at(61)).is_none());
    }

    #[test]
    fn a_report_sums_up_the_minute_once() {
        let throttle = AuthThrottle::new(settings());
        assert_eq!(throttle.report(at(0)), None);
        for _ in 0..4 {
            if throttle.refused(ip("192.0.2.7"), Some("key_a"), at(1)).is_none() {
                throttle.failed(ip("192.0.2.7"), Some("key_a"), at(1));
            }
        }
        throttle.failed(ip("192.0.2.9"), None, at(2));
        let report = throttle.report(at(3)).unwrap();
        assert_eq!(
            report,
            Report {
                failures: 4,
                refused: 1,
                addresses: 2,
                top_address: Some((ip("192.0.2.7"), 3)),
                top_key: Some(("key_a".into(), 3)),
            }
        );
        assert_eq!(throttle.report(at(4)), None);
        // What has not refilled is still refused after the report.
        assert!(throttle.refused(ip("192.0.2.7"), None, at(4)).is_some());
    }
}
