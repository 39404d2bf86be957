//! Pausing a webhook whose receiver keeps failing, so it is not hammered.
//!
//! After `threshold` failed calls in a row the circuit opens: no calls for a pause,
//! then one probe call (half open). A probe that succeeds closes the circuit; one that
//! fails opens it again for twice as long, up to `max_pause`. A `Retry-After` opens it
//! until the time the receiver asked for. The deliveries that wait meanwhile spend no
//! attempts: pausing is the engine holding back, not the receiver failing them.

use chrono::{DateTime, Utc};
use postbode_core::runtime::Circuit;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct BreakerSettings {
    /// Failed calls in a row that open the circuit.
    pub threshold: u32,
    /// The first pause; each failed probe doubles it.
    pub min_pause: Duration,
    pub max_pause: Duration,
}

/// What the breaker lets the webhook do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// As many calls as the limit allows.
    Calls,
    /// One probe call, and no more until it ends.
    Probe,
    /// Nothing until then.
    Until(DateTime<Utc>),
}

#[derive(Debug, Clone)]
pub struct Breaker {
    settings: BreakerSettings,
    circuit: Circuit,
    failures_in_a_row: u32,
    pause: Duration,
    probing: bool,
}

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            pause: settings.min_pause,
            settings,
            circuit: Circuit::Closed,
            failures_in_a_row: 0,
            probing: false,
        }
    }

    pub fn circuit(&self) -> &Circuit {
        &self.circuit
    }

    pub fn allowed(&mut self, now: DateTime<Utc>) -> Allowed {
        match &self.circuit {
            Circuit::Closed => Allowed::Calls,
            Circuit::Open { until, .. } if *until > now => Allowed::Until(*until),
            Circuit::Open { .. } | Circuit::HalfOpen => {
                self.circuit = Circuit::HalfOpen;
                match self.probing {
                    true => Allowed::Until(now + self.pause_delta()),
                    false => Allowed::Probe,
                }
            }
        }
    }

    /// A call starts; in half open state it is the probe.
    pub fn started(&mut self) {
        if self.circuit == Circuit::HalfOpen {
            self.probing = true;
        }
    }

    /// Returns true when this closed an open circuit (the receiver is back).
    pub fn succeeded(&mut self) -> bool {
        self.failures_in_a_row = 0;
        self.probing = false;
        let reopened = self.circuit != Circuit::Closed;
        self.circuit = Circuit::Closed;
        self.pause = self.settings.min_pause;
        reopened
    }

    /// A call failed; returns the end of the pause when this opened the circuit.
    pub fn failed(&mut self, now: DateTime<Utc>, reason: &str) -> Option<DateTime<Utc>> {
        self.failures_in_a_row += 1;
        let probe_failed = std::mem::take(&mut self.probing) || self.circuit == Circuit::HalfOpen;
        if probe_failed {
            self.pause = (self.pause * 2).min(self.settings.max_pause);
        } else if self.circuit != Circuit::Closed || self.failures_in_a_row < self.settings.threshold {
            return None;
        }
        let until = now + self.pause_delta();
        self.circuit = Circuit::Open {
            until,
            reason: format!(
                "{} calls in a row failed, the last with {reason}",
                self.failures_in_a_row
            ),
        };
        Some(until)
    }

    /// The receiver asked for a pause (`Retry-After`); returns its end when it is later
    /// than any pause already on.
    pub fn retry_after(&mut self, until: DateTime<Utc>, reason: &str) -> Option<DateTime<Utc>> {
        if let Circuit::Open { until: current, .. } = &self.circuit
            && *current >= until
        {
            return None;
        }
        self.probing = false;
        self.circuit = Circuit::Open {
            until,
            reason: reason.to_owned(),
        };
        Some(until)
    }

    fn pause_delta(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.pause).unwrap_or(chrono::Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        "2026-11-20T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::seconds(seconds)
    }

    fn breaker() -> Breaker {
        Breaker::new(BreakerSettings {
            threshold: 3,
            min_pause: Duration::from_secs(1),
            max_pause: Duration::from_secs(4),
        })
    }

    #[test]
    fn a_run_of_failures_opens_it_and_probes_come_at_growing_intervals() {
        let mut b = breaker();
        assert_eq!(b.failed(at(0), "503"), None);
        assert_eq!(b.failed(at(0), "503"), None);
        assert_eq!(b.failed(at(0), "503"), Some(at(1)));
        assert_eq!(b.allowed(at(0)), Allowed::Until(at(1)));
        // The pause is over: one probe, and nothing else while it runs.
        assert_eq!(b.allowed(at(1)), Allowed::Probe);
        b.started();
        assert!(matches!(b.allowed(at(1)), Allowed::Until(_)));
        assert_eq!(b.failed(at(1), "503"), Some(at(3)), "twice as long");
        assert_eq!(b.allowed(at(3)), Allowed::Probe);
        b.started();
        assert_eq!(b.failed(at(3), "503"), Some(at(7)));
        assert_eq!(b.allowed(at(7)), Allowed::Probe);
        b.started();
        assert_eq!(b.failed(at(7), "503"), Some(at(11)), "at most max_pause");
    }

    #[test]
    fn a_probe_that_succeeds_closes_it_and_a_success_ends_the_run() {
        let mut b = breaker();
        b.failed(at(0), "timeout");
        b.failed(at(0), "timeout");
        b.succeeded();
        assert_eq!(b.failed(at(0), "timeout"), None, "the run began again");
        b.failed(at(0), "timeout");
        b.failed(at(0), "timeout");
        assert_eq!(b.allowed(at(1)), Allowed::Probe);
        b.started();
        assert!(b.succeeded(), "the receiver is back");
        assert_eq!(b.allowed(at(1)), Allowed::Calls);
        assert_eq!(*b.circuit(), Circuit::Closed);
    }

    #[test]
    fn retry_after_pauses_until_the_time_asked() {
        let mut b = breaker();
        assert_eq!(b.retry_after(at(30), "429 Retry-After 30 s"), Some(at(30)));
        assert_eq!(
            b.retry_after(at(10), "429"),
            None,
            "a shorter request does not cut the pause"
        );
        assert_eq!(b.allowed(at(29)), Allowed::Until(at(30)));
        assert_eq!(b.allowed(at(30)), Allowed::Probe);
    }
}
