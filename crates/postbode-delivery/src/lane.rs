//! One webhook's lane: the deliveries the engine holds for it, and the task that calls
//! its receiver within the webhook's limits.
//!
//! A lane holds a queue (claimed or handed-over deliveries), the calls in flight, the
//! adaptive limit ([`Limiter`]), the circuit breaker ([`Breaker`]) and the rate pacer.
//! A batching webhook's calls take up to `batch.max_events` deliveries, waiting up to
//! `batch.max_wait_ms` after the first for more; a batch holds deliveries of one kind
//! only (new ones together; a failed batch's again together), so a failed batch is
//! retried whole.
//! Its task starts calls while the limit, the breaker and the rate allow, and waits for
//! a call to end, for new deliveries, or for the pacer or the pause to run out. A slow
//! receiver only ever fills its own lane: its backlog beyond the lane's room stays in
//! the database. An idle lane is removed.

use chrono::{DateTime, Utc};
use postbode_core::runtime::{Circuit, WebhookRuntime};
use postbode_core::webhook::Webhook;
use postbode_store::ClaimedDelivery;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use crate::attempt::Target;
use crate::breaker::{Allowed, Breaker};
use crate::limiter::Limiter;

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct Lane {
    pub webhook_id: String,
    pub state: Mutex<LaneState>,
    /// New deliveries arrived, or the engine is stopping.
    pub wake: Notify,
}

pub struct LaneState {
    /// `None` until the first delivery arrives (a hand-over reserves room first).
    pub target: Option<Arc<Target>>,
    pub queue: VecDeque<Queued>,
    /// Room promised to a write group that has not committed yet.
    pub reserved: usize,
    /// The deliveries of the calls in flight.
    pub in_flight: HashSet<String>,
    /// Calls in flight (a batch is one call).
    pub calls: usize,
    pub limiter: Limiter,
    pub breaker: Breaker,
    /// The earliest instant the next call may start, under a rate limit.
    next_slot: Instant,
    /// The last claim filled the lane's room: the store holds more of its deliveries, to
    /// claim once the lane has worked through half of what it holds.
    pub backlog: bool,
    /// A task is running this lane.
    pub running: bool,
    /// That task, to stop it when the shutdown grace period is over.
    pub task: Option<tokio::task::AbortHandle>,
}

/// A delivery waiting in a lane, and since when.
pub struct Queued {
    pub delivery: ClaimedDelivery,
    pub since: Instant,
}

/// Which deliveries may share a batch: new ones with each other, a retried one with
/// those that fell due with it after the same number of attempts (its old batch).
#[derive(PartialEq, Eq)]
enum Kind {
    New,
    Again { attempts: u32, due_at: DateTime<Utc> },
}

fn kind(delivery: &ClaimedDelivery) -> Kind {
    match delivery.attempts {
        0 => Kind::New,
        attempts => Kind::Again {
            attempts,
            due_at: delivery.due_at,
        },
    }
}

/// What the lane task may do next.
pub enum Next {
    /// One call with these deliveries (one, or a batch).
    Call(Vec<ClaimedDelivery>, Arc<Target>),
    /// Nothing may start before this instant (the rate limit's pacer, or a batch
    /// waiting for more).
    WaitUntil(Instant),
    /// The circuit is open: what is queued goes back to the store.
    Paused,
    /// Wait for a call to end or for more deliveries.
    Wait,
}

impl Lane {
    pub fn new(webhook_id: &str, limiter: Limiter, breaker: Breaker) -> Arc<Self> {
        Arc::new(Self {
            webhook_id: webhook_id.to_owned(),
            state: Mutex::new(LaneState {
                target: None,
                queue: VecDeque::new(),
                reserved: 0,
                in_flight: HashSet::new(),
                calls: 0,
                limiter,
                breaker,
                next_slot: Instant::now(),
                backlog: false,
                running: false,
                task: None,
            }),
            wake: Notify::new(),
        })
    }
}

impl LaneState {
    /// Deliveries the lane holds or has promised room for.
    pub fn held(&self) -> usize {
        self.queue.len() + self.reserved + self.in_flight.len()
    }

    /// Calls go out (the breaker is not holding them back).
    pub fn calling(&mut self, now: DateTime<Utc>) -> bool {
        matches!(self.breaker.allowed(now), Allowed::Calls)
    }

    /// Below this many held deliveries a lane with a backlog claims again.
    pub fn half_room(&self, room_factor: u32) -> usize {
        (room_factor as usize * self.limiter.limit() as usize * self.per_call() / 2).max(1)
    }

    /// Deliveries one call carries at most: a batching webhook's `max_events`, so that
    /// its room holds as many calls as a single-delivery webhook's.
    fn per_call(&self) -> usize {
        self.target
            .as_ref()
            .and_then(|t| t.webhook.settings.batch)
            .map_or(1, |batch| batch.max_events.max(1) as usize)
    }

    /// How many more deliveries the lane takes: a few times its limit while calls go
    /// out, one while it waits to probe, none while paused.
    pub fn room(&mut self, room_factor: u32, now: DateTime<Utc>) -> usize {
        let room = match self.breaker.allowed(now) {
            Allowed::Calls => room_factor as usize * self.limiter.limit() as usize * self.per_call(),
            Allowed::Probe => 1,
            Allowed::Until(_) => 0,
        };
        room.saturating_sub(self.held())
    }

    /// Takes the webhook as the store last gave it; a changed webhook gets its secrets
    /// opened again and its ceiling applied.
    pub fn refresh(&mut self, webhook: &Webhook, make: impl FnOnce() -> Target) {
        let changed = self.target.as_ref().is_none_or(|t| t.webhook != *webhook);
        if changed {
            self.limiter.set_max(webhook.settings.max_concurrency);
            self.target = Some(Arc::new(make()));
        }
    }

    /// The next thing the lane task may do.
    pub fn next(&mut self, now: DateTime<Utc>, stopping: bool) -> Next {
        if stopping || self.queue.is_empty() {
            return Next::Wait;
        }
        let Some(target) = self.target.clone() else {
            return Next::Wait;
        };
        match self.breaker.allowed(now) {
            Allowed::Until(_) => return Next::Paused,
            Allowed::Probe if self.calls > 0 => return Next::Wait,
            Allowed::Calls if self.calls >= self.limiter.limit() as usize => return Next::Wait,
            Allowed::Probe | Allowed::Calls => {}
        }
        let unit = match target.webhook.settings.batch {
            None => 1,
            Some(batch) => match self.batch_size(batch.max_events as usize, batch.max_wait_ms) {
                Ok(size) => size,
                Err(ready_at) => return Next::WaitUntil(ready_at),
            },
        };
        if let Some(limit) = target.webhook.settings.rate_limit {
            let interval = Duration::from_secs_f64(1.0 / f64::from(limit.per_second.max(1)));
            let slot = self.next_slot.max(Instant::now());
            if slot > Instant::now() {
                return Next::WaitUntil(slot);
            }
            self.next_slot = slot + interval;
        }
        let deliveries = self.take(unit);
        if deliveries.is_empty() {
            return Next::Wait;
        }
        self.in_flight.extend(deliveries.iter().map(|d| d.delivery_id.clone()));
        self.calls += 1;
        self.breaker.started();
        Next::Call(deliveries, target)
    }

    /// How many deliveries the next batch takes (those of the first one's kind, at most
    /// `max_events`), or until when it waits for more: new deliveries wait up to
    /// `max_wait_ms` after the first arrived; retried ones go at once.
    fn batch_size(&self, max_events: usize, max_wait_ms: u32) -> Result<usize, Instant> {
        let Some(first) = self.queue.front() else { return Ok(0) };
        let kind = kind(&first.delivery);
        let size = self
            .queue
            .iter()
            .filter(|q| self::kind(&q.delivery) == kind)
            .take(max_events)
            .count();
        let ready_at = first.since + Duration::from_millis(u64::from(max_wait_ms));
        if size < max_events && kind == Kind::New && Instant::now() < ready_at {
            return Err(ready_at);
        }
        Ok(size)
    }

    /// Takes the first `count` deliveries of the first one's kind off the queue.
    fn take(&mut self, count: usize) -> Vec<ClaimedDelivery> {
        let Some(first) = self.queue.front() else {
            return Vec::new();
        };
        let kind = kind(&first.delivery);
        let mut taken = Vec::with_capacity(count);
        // Mostly the batch is the front of the queue: popped without touching the rest,
        // which may hold many batches' worth.
        while taken.len() < count && self.queue.front().is_some_and(|q| self::kind(&q.delivery) == kind) {
            if let Some(queued) = self.queue.pop_front() {
                taken.push(queued.delivery);
            }
        }
        let mut at = 0;
        while taken.len() < count && at < self.queue.len() {
            match self.queue.get(at) {
                Some(queued) if self::kind(&queued.delivery) == kind => {
                    if let Some(queued) = self.queue.remove(at) {
                        taken.push(queued.delivery);
                    }
                }
                _ => at += 1,
            }
        }
        taken
    }

    /// What the API shows of the lane.
    pub fn runtime(&self) -> WebhookRuntime {
        WebhookRuntime {
            limit: self.limiter.limit(),
            max_concurrency: self.limiter.max(),
            in_flight: self.calls as u32,
            queued: self.queue.len() as u32,
            circuit: self.breaker.circuit().clone(),
            last_backoff: self.limiter.last_backoff().cloned(),
        }
    }

    /// The pause on, with its reason, while the circuit is open.
    pub fn pause(&self) -> Option<(DateTime<Utc>, String)> {
        match self.breaker.circuit() {
            Circuit::Open { until, reason } => Some((*until, reason.clone())),
            Circuit::Closed | Circuit::HalfOpen => None,
        }
    }

    /// Nothing to remember: the circuit is closed and the limit never backed off.
    pub fn forgettable(&self) -> bool {
        *self.breaker.circuit() == Circuit::Closed && self.limiter.last_backoff().is_none()
    }
}
