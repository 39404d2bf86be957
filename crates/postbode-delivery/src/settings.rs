use postbode_core::retry::RetryPolicy;
use serde::Deserialize;
use std::time::Duration;

use crate::http::HttpSettings;

/// The `[delivery]` section of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// Time to open a connection to a receiver.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time for a whole call: connect, send, and read the answer.
    #[serde(with = "humantime_serde")]
    pub total_timeout: Duration,
    /// How much of a receiver's answer is read; the rest is ignored.
    pub max_response_bytes: usize,
    /// How much of the answer is kept in the attempt log.
    pub logged_response_bytes: usize,
    /// Permit loopback and private addresses as targets: local development and tests only.
    pub allow_private_targets: bool,
    /// An explicit egress proxy (`http://proxy:3128`); proxies from the environment are never used.
    pub proxy: Option<String>,
    pub retry: RetryPolicy,
    /// A webhook whose calls have all failed for this long is disabled.
    #[serde(with = "humantime_serde")]
    pub disable_after: Duration,
    /// How long a claimed delivery belongs to this node; if the node dies, another claims
    /// it after this. Must comfortably exceed `total_timeout`.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Deliveries claimed per database round trip.
    pub claim_batch: u32,
    /// A webhook's deliveries held in memory: at most this many times its current
    /// adaptive limit, so a slow receiver's backlog stays in the database.
    pub room_factor: u32,
    /// Deliveries held in memory in all, across webhooks, each until its result is
    /// stored (so also the most a node that dies leaves leased, to be sent again).
    pub max_held: u32,
    /// Calls in flight a webhook starts with; its limit then adapts between 1 and its
    /// `max_concurrency` (see docs/delivery.md).
    pub initial_concurrency: u32,
    /// Failed calls in a row that pause a webhook's calls (its circuit opens).
    pub breaker_failures: u32,
    /// The first pause after a run of failures; each failed probe call doubles it.
    #[serde(with = "humantime_serde")]
    pub breaker_min_pause: Duration,
    /// The longest pause between probe calls.
    #[serde(with = "humantime_serde")]
    pub breaker_max_pause: Duration,
    /// How often the queue is looked at when nothing announced new work (retries fall due).
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// On shutdown, calls in flight get this long to finish; the rest are released.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Accept events but send nothing: for maintenance windows and for building a
    /// backlog in `postbode bench --backlog`.
    pub paused: bool,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        let http = HttpSettings::default();
        Self {
            connect_timeout: http.connect_timeout,
            total_timeout: http.total_timeout,
            max_response_bytes: http.max_response_bytes,
            logged_response_bytes: 4 * 1024,
            allow_private_targets: false,
            proxy: None,
            retry: RetryPolicy::default(),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            lease: Duration::from_secs(120),
            claim_batch: 512,
            room_factor: 16,
            max_held: 16384,
            initial_concurrency: 8,
            breaker_failures: 5,
            breaker_min_pause: Duration::from_secs(1),
            breaker_max_pause: Duration::from_secs(300),
            poll_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            paused: false,
        }
    }
}

impl DeliverySettings {
    pub fn http(&self) -> HttpSettings {
        HttpSettings {
            connect_timeout: self.connect_timeout,
            total_timeout: self.total_timeout,
            max_response_bytes: self.max_response_bytes,
            allow_private_targets: self.allow_private_targets,
            proxy: self.proxy.clone(),
            ..HttpSettings::default()
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        self.retry.validate().map_err(|e| e.to_string())?;
        if self.lease < self.total_timeout * 4 {
            return Err("delivery.lease must be at least four times delivery.total_timeout".into());
        }
        if self.claim_batch == 0 || self.room_factor == 0 || self.max_held == 0 || self.initial_concurrency == 0 {
            return Err("delivery.claim_batch, room_factor, max_held and initial_concurrency must be positive".into());
        }
        if self.breaker_failures == 0
            || self.breaker_min_pause.is_zero()
            || self.breaker_max_pause < self.breaker_min_pause
        {
            return Err(
                "delivery.breaker_failures must be positive and breaker_max_pause at least breaker_min_pause".into(),
            );
        }
        Ok(())
    }
}
