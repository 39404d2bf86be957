//! The delivery loop.
//!
//! One claiming task leases due deliveries in batches and hands each to a task of its
//! own. Each webhook has a [`Gate`]: a semaphore of `max_concurrency` permits and an
//! optional rate limit, so a slow receiver only ever occupies its own permits. The
//! claim query keeps at most `room_factor × max_concurrency` deliveries of a webhook in
//! memory; the rest of a slow receiver's backlog stays in the database, unleased.
//! Results go to the store one by one, where the writer commits them in groups.

use chrono::{DateTime, Utc};
use postbode_core::clock::SharedClock;
use postbode_core::webhook::Webhook;
use postbode_signature::sealed::MasterKey;
use postbode_store::{AttemptResult, ClaimRequest, ClaimedDelivery, Store};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::call::{self, CallContext};
use crate::http::{CallError, CallOutcome, ErrorKind, HttpClient};
use crate::keys::KeyRing;
use crate::settings::DeliverySettings;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid delivery settings: {0}")]
    Settings(String),
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
}

/// Per-webhook limits, shared by that webhook's delivery tasks.
struct Gate {
    permits: Semaphore,
    /// The earliest instant the next call may start, when the webhook has a rate limit.
    next_slot: Mutex<Instant>,
    interval: Option<Duration>,
    secrets: Result<call::WebhookSecrets, String>,
    /// The webhook as last claimed; a changed webhook gets a new gate.
    webhook: Webhook,
}

impl Gate {
    fn new(webhook: Webhook, master: &MasterKey) -> Self {
        let secrets = call::WebhookSecrets::open(&webhook, master).map_err(|e| e.to_string());
        Self {
            permits: Semaphore::new(webhook.settings.max_concurrency as usize),
            next_slot: Mutex::new(Instant::now()),
            interval: webhook
                .settings
                .rate_limit
                .map(|limit| Duration::from_secs_f64(1.0 / f64::from(limit.per_second.max(1)))),
            secrets,
            webhook,
        }
    }

    /// Waits for this call's slot under the rate limit; the lock is never held across
    /// the wait.
    async fn pace(&self) {
        let Some(interval) = self.interval else { return };
        let slot = {
            let mut next = lock(&self.next_slot);
            let slot = (*next).max(Instant::now());
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the engine holds in memory: the gates, and per webhook the leased deliveries.
#[derive(Default)]
struct Held {
    gates: HashMap<String, Arc<Gate>>,
    deliveries: HashMap<String, HashSet<String>>,
    total: usize,
}

impl Held {
    fn hold(&mut self, webhook_id: &str, delivery_id: &str) {
        if self
            .deliveries
            .entry(webhook_id.to_owned())
            .or_default()
            .insert(delivery_id.to_owned())
        {
            self.total += 1;
        }
    }

    fn counts(&self) -> HashMap<String, u32> {
        self.deliveries
            .iter()
            .map(|(webhook, ids)| (webhook.clone(), ids.len() as u32))
            .collect()
    }

    fn gate_for(&mut self, webhook: &Webhook, master: &MasterKey) -> Arc<Gate> {
        match self.gates.get(&webhook.id) {
            Some(gate) if gate.webhook == *webhook => gate.clone(),
            _ => {
                let gate = Arc::new(Gate::new(webhook.clone(), master));
                self.gates.insert(webhook.id.clone(), gate.clone());
                gate
            }
        }
    }

    /// Forgets a finished delivery; returns how many of its webhook are still held.
    fn finish(&mut self, webhook_id: &str, delivery_id: &str) -> usize {
        let Some(ids) = self.deliveries.get_mut(webhook_id) else {
            return 0;
        };
        if ids.remove(delivery_id) {
            self.total -= 1;
        }
        let left = ids.len();
        if left == 0 {
            self.deliveries.remove(webhook_id);
            self.gates.remove(webhook_id);
        }
        left
    }
}

struct Shared {
    store: Arc<dyn Store>,
    clock: SharedClock,
    http: HttpClient,
    settings: DeliverySettings,
    require_verification: bool,
    keyring: Arc<KeyRing>,
    held: Mutex<Held>,
    /// Set at shutdown: no new claims, and deliveries not yet sent are given back.
    stopping: AtomicBool,
    /// Woken when a webhook's held deliveries fall below half its room, so the room
    /// freed is claimed again in one go rather than one claim per finished call.
    freed: Notify,
}

pub struct Engine {
    shared: Arc<Shared>,
}

/// The running engine; [`EngineHandle::shutdown`] stops it gracefully.
pub struct EngineHandle {
    shared: Arc<Shared>,
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Engine {
    /// `require_verification`: deliveries of webhooks whose URL is not verified wait.
    pub fn new(
        store: Arc<dyn Store>,
        clock: SharedClock,
        settings: DeliverySettings,
        require_verification: bool,
        keyring: Arc<KeyRing>,
    ) -> Result<Self, EngineError> {
        settings.validate().map_err(EngineError::Settings)?;
        let http = HttpClient::new(settings.http())?;
        Ok(Self {
            shared: Arc::new(Shared {
                store,
                clock,
                http,
                settings,
                require_verification,
                keyring,
                held: Mutex::new(Held::default()),
                stopping: AtomicBool::new(false),
                freed: Notify::new(),
            }),
        })
    }

    pub fn start(self) -> EngineHandle {
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(claim_loop(self.shared.clone(), stop.clone()));
        EngineHandle {
            shared: self.shared,
            stop,
            task,
        }
    }
}

impl EngineHandle {
    /// Stops claiming, lets calls in flight finish within the grace period, and gives
    /// every delivery still held back to the store so it is claimable at once.
    pub async fn shutdown(self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.stop.notify_one();
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the delivery loop ended abnormally");
        }
        let leftover: Vec<String> = lock(&self.shared.held)
            .deliveries
            .values()
            .flat_map(|ids| ids.iter().cloned())
            .collect();
        if let Err(e) = self.shared.store.release(leftover).await {
            tracing::warn!(error = %e, "could not release held deliveries; their leases will run out");
        }
    }
}

async fn claim_loop(shared: Arc<Shared>, stop: Arc<Notify>) {
    let work = shared.store.work_signal();
    let mut tasks = JoinSet::new();
    let settings = &shared.settings;
    if settings.paused {
        tracing::warn!("delivery is paused (delivery.paused): events are accepted and kept, nothing is sent");
        stop.notified().await;
        return;
    }
    while !shared.stopping.load(Ordering::SeqCst) {
        let claimed = claim(&shared, &mut tasks).await;
        while tasks.try_join_next().is_some() {}
        if claimed >= settings.claim_batch as usize {
            continue;
        }
        tokio::select! {
            () = work.notified() => {}
            () = shared.freed.notified() => {}
            () = stop.notified() => {}
            () = tokio::time::sleep(settings.poll_interval) => {}
        }
    }
    // Shutting down: calls in flight may finish within the grace period.
    let drained = tokio::time::timeout(settings.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "shutdown grace period over; releasing the deliveries still in flight"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// One claim round; returns how many deliveries it took.
async fn claim(shared: &Arc<Shared>, tasks: &mut JoinSet<()>) -> usize {
    let settings = &shared.settings;
    let (room, held) = {
        let held = lock(&shared.held);
        ((settings.max_held as usize).saturating_sub(held.total), held.counts())
    };
    if room == 0 {
        return 0;
    }
    let now = shared.clock.now();
    let request = ClaimRequest {
        now,
        lease_until: now + chrono::Duration::from_std(settings.lease).unwrap_or(chrono::Duration::MAX),
        limit: settings.claim_batch.min(room as u32),
        held,
        room_factor: settings.room_factor,
        require_verification: shared.require_verification,
    };
    let claim = match shared.store.claim(request).await {
        Ok(claim) => claim,
        Err(e) => {
            tracing::error!(error = %e, "claiming deliveries failed");
            return 0;
        }
    };
    let count = claim.deliveries.len();
    let mut held = lock(&shared.held);
    for delivery in claim.deliveries {
        let Some(webhook) = claim.webhooks.get(&delivery.webhook_id) else {
            continue;
        };
        let gate = held.gate_for(webhook, &shared.keyring.master);
        held.hold(&delivery.webhook_id, &delivery.delivery_id);
        tasks.spawn(deliver(shared.clone(), gate, delivery));
    }
    count
}

async fn deliver(shared: Arc<Shared>, gate: Arc<Gate>, delivery: ClaimedDelivery) {
    // The semaphore is never closed, so acquiring only waits.
    let permit = gate.permits.acquire().await;
    if shared.stopping.load(Ordering::SeqCst) {
        // Not sent yet: left held, so shutdown gives it back.
        return;
    }
    gate.pace().await;
    let result = attempt(&shared, &gate, &delivery).await;
    drop(permit);
    // The room is free as soon as the call is done: the delivery stays leased in the
    // database until its result is committed, so no claim can take it twice meanwhile.
    let (left, total) = {
        let mut held = lock(&shared.held);
        (held.finish(&delivery.webhook_id, &delivery.delivery_id), held.total)
    };
    // Claim again when this call takes the webhook (or the engine) below half its room:
    // exactly once per crossing, however the claims and completions interleave.
    let room = shared.settings.room_factor as usize * gate.webhook.settings.max_concurrency as usize;
    let below_half = |held: usize, room: usize| held + 1 == (room / 2).max(1);
    if below_half(left, room) || below_half(total, shared.settings.max_held as usize) {
        shared.freed.notify_one();
    }
    crate::metrics::record_attempt_metrics(&result);
    if let Err(e) = shared.store.record_attempt(result).await {
        // The lease runs out and the delivery is tried again: at least once, never lost.
        tracing::error!(error = %e, delivery = %delivery.delivery_id, "recording an attempt failed");
    }
}

async fn attempt(shared: &Shared, gate: &Gate, delivery: &ClaimedDelivery) -> AttemptResult {
    let settings = &shared.settings;
    let webhook = &gate.webhook;
    let started_at = shared.clock.now();
    let outcome = match &gate.secrets {
        Ok(secrets) => {
            let context = CallContext {
                delivery_id: &delivery.delivery_id,
                account_id: &delivery.account_id,
                event_type: &delivery.event_type,
                now: started_at,
            };
            let keys = shared.keyring.active(started_at).await;
            let signing = call::Signing {
                secrets: &secrets.signing(started_at),
                keys: &keys,
                settings: &shared.keyring.settings,
            };
            let request = postbode_core::render::render(webhook.settings.format, &delivery.body)
                .map_err(call::CallBuildError::from)
                .and_then(|body| call::build_request(webhook, &signing, body, &context));
            match request {
                Ok(request) => shared.http.send(request).await,
                Err(e) => not_sent(ErrorKind::Other, e.to_string()),
            }
        }
        Err(e) => not_sent(ErrorKind::Other, e.clone()),
    };
    let number = delivery.attempts + 1;
    let verdict = call::judge(&outcome);
    let finished_at: DateTime<Utc> = shared.clock.now();
    let mut record = call::attempt_record(&outcome, started_at, settings.logged_response_bytes);
    record.delivery_id = Some(delivery.delivery_id.clone());
    record.webhook_id = delivery.webhook_id.clone();
    record.event_id = Some(delivery.event_id.clone());
    record.number = number;
    record.trigger = delivery.trigger;
    let disable_after = chrono::Duration::from_std(settings.disable_after).unwrap_or(chrono::Duration::MAX);
    AttemptResult {
        account_id: delivery.account_id.clone(),
        outcome: call::next_step(&verdict, number, &settings.retry, finished_at),
        disable_webhook: verdict.gone.then(|| {
            format!(
                "the receiver answered 410 Gone at {}",
                finished_at.format("%Y-%m-%dT%H:%M:%SZ")
            )
        }),
        disable_if_failing_since: finished_at - disable_after,
        attempt: record,
    }
}

pub(crate) fn not_sent(kind: ErrorKind, message: String) -> CallOutcome {
    CallOutcome {
        started_at: std::time::SystemTime::now(),
        duration: Duration::ZERO,
        result: Err(CallError { kind, message }),
    }
}
