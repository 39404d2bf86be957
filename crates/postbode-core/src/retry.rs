//! When the next attempt of a failed delivery is due.

use serde::Deserialize;

use crate::error::ValidationError;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// The wait before each retry. The first attempt goes out at once, so a delivery gets
    /// `schedule.len() + 1` attempts before it is `failed`.
    #[serde(deserialize_with = "schedule_serde::deserialize")]
    pub schedule: Vec<Duration>,
    /// Each wait is spread by up to this fraction either way, so retries of many
    /// deliveries that failed together do not hit the receiver together again.
    pub jitter: f64,
    /// A receiver's `Retry-After` is honoured up to this bound, so it cannot park a
    /// delivery for days.
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let min = 60;
        let hour = 3600;
        Self {
            schedule: [5, 5 * min, 30 * min, 2 * hour, 5 * hour, 10 * hour, 10 * hour]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            jitter: 0.2,
            max_retry_after: Duration::from_secs(hour),
        }
    }
}

impl RetryPolicy {
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.schedule.len()).map_or(u32::MAX, |n| n.saturating_add(1))
    }

    /// The wait after `attempts_made` attempts failed, or `None` when none is left.
    /// A receiver's `Retry-After` replaces the schedule's wait, within the bound.
    pub fn next_delay(&self, attempts_made: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let planned = *self.schedule.get((attempts_made as usize).checked_sub(1)?)?;
        Some(match retry_after {
            Some(asked) => asked.min(self.max_retry_after),
            None => self.jittered(planned),
        })
    }

    fn jittered(&self, wait: Duration) -> Duration {
        if wait.is_zero() || self.jitter <= 0.0 {
            return wait;
        }
        let spread = (fastrand::f64() * 2.0 - 1.0) * self.jitter.min(1.0);
        wait.mul_f64(1.0 + spread)
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(ValidationError::single("delivery.retry.jitter", "between 0 and 1"));
        }
        Ok(())
    }
}

/// The schedule in a config file: a list of humantime strings (`["0s", "5s", "5m"]`).
mod schedule_serde {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| humantime_serde::re::humantime::parse_duration(text).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_gives_eight_attempts_with_bounded_jitter() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.max_attempts(), 8);
        for _ in 0..200 {
            let wait = policy.next_delay(2, None).unwrap();
            assert!(wait >= Duration::from_secs(240) && wait <= Duration::from_secs(360));
        }
        assert_eq!(policy.next_delay(8, None), None);
    }

    #[test]
    fn retry_after_replaces_the_schedule_within_its_bound() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.next_delay(1, Some(Duration::from_secs(90))),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            policy.next_delay(1, Some(Duration::from_secs(86_400))),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(policy.next_delay(8, Some(Duration::from_secs(1))), None);
    }
}
