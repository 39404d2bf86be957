//! The delivery engine: deliveries in (handed over at commit, or claimed), calls out,
//! results back to the store.
//!
//! - Each webhook with work has a [`Lane`] (see `lane`): its queue, its adaptive limit,
//!   its circuit breaker and rate pacer, and a task calling its receiver. The engine
//!   holds at most `room_factor × limit` deliveries of a webhook, and `max_held` in all.
//! - New deliveries reach a lane straight from the write path ([`Dispatch`]: the writer
//!   asks how many the lane takes, and hands them over leased once committed).
//!   Everything else (retries falling due, a backlog the lanes had no room for, another
//!   node's expired leases) is claimed by the claim loop, which asks for each lane's
//!   room and wakes on the store's work signal, on room freed, or on its poll interval.
//! - Results go back to the store from tasks of their own, so a lane never waits for a
//!   commit; a delivery stays leased until its result is committed.

use chrono::Utc;
use postbode_core::clock::SharedClock;
use postbode_core::runtime::{EngineView, WebhookRuntime};
use postbode_store::{Claim, ClaimRequest, Dispatch};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;

use crate::attempt::{self, Attempted, Context, Load, Target};
use crate::breaker::{Breaker, BreakerSettings};
use crate::http::HttpClient;
use crate::keys::KeyRing;
use crate::lane::{Lane, Next, Queued, lock};
use crate::limiter::Limiter;
use crate::port::DeliveryStore;
use crate::settings::DeliverySettings;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid delivery settings: {0}")]
    Settings(String),
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
}

struct Shared {
    /// This engine, for the lane tasks the hand-over starts (`Dispatch` gets `&self`).
    me: std::sync::Weak<Shared>,
    store: Arc<dyn DeliveryStore>,
    clock: SharedClock,
    http: HttpClient,
    settings: DeliverySettings,
    require_verification: bool,
    keyring: Arc<KeyRing>,
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
    /// Deliveries held in all lanes (queued, in flight or reserved).
    held: AtomicUsize,
    /// Set at shutdown: no new calls, and what is not sent is given back.
    stopping: AtomicBool,
    /// The last claim was cut short by `max_held`: claim again once half is free.
    full: AtomicBool,
    /// A lane with a backlog in the store fell below half its room (or a full engine
    /// below half of `max_held`): claim again, in one go rather than once per finished
    /// call.
    freed: Notify,
    /// Lane tasks and result writers, awaited at shutdown.
    tasks: TaskTracker,
    runtime: tokio::runtime::Handle,
}

pub struct Engine {
    shared: Arc<Shared>,
}

/// The running engine; [`EngineHandle::shutdown`] stops it gracefully.
pub struct EngineHandle {
    shared: Arc<Shared>,
    stop: Arc<Notify>,
    claimer: tokio::task::JoinHandle<()>,
}

impl Engine {
    /// `require_verification`: deliveries of webhooks whose URL is not verified wait.
    /// Must be made inside the runtime the engine will run on.
    pub fn new(
        store: Arc<dyn DeliveryStore>,
        clock: SharedClock,
        settings: DeliverySettings,
        require_verification: bool,
        keyring: Arc<KeyRing>,
    ) -> Result<Self, EngineError> {
        settings.validate().map_err(EngineError::Settings)?;
        let http = HttpClient::new(settings.http())?;
        Ok(Self {
            shared: Arc::new_cyclic(|me| Shared {
                me: me.clone(),
                store,
                clock,
                http,
                settings,
                require_verification,
                keyring,
                lanes: Mutex::default(),
                held: AtomicUsize::new(0),
                stopping: AtomicBool::new(false),
                full: AtomicBool::new(false),
                freed: Notify::new(),
                tasks: TaskTracker::new(),
                runtime: tokio::runtime::Handle::current(),
            }),
        })
    }

    /// What the API shows of each webhook's lane.
    pub fn view(&self) -> Arc<dyn EngineView> {
        self.shared.clone()
    }

    pub fn start(self) -> EngineHandle {
        let stop = Arc::new(Notify::new());
        if !self.shared.settings.paused {
            let dispatch: Arc<dyn Dispatch> = self.shared.clone();
            self.shared.store.attach(Some((dispatch, self.shared.settings.lease)));
        }
        let claimer = tokio::spawn(claim_loop(self.shared.clone(), stop.clone()));
        EngineHandle {
            shared: self.shared,
            stop,
            claimer,
        }
    }
}

impl EngineHandle {
    /// Stops claiming, lets calls in flight finish within the grace period, and gives
    /// every delivery still held back to the store so it is claimable at once.
    pub async fn shutdown(self) {
        let shared = &self.shared;
        shared.stopping.store(true, Ordering::SeqCst);
        shared.store.attach(None);
        self.stop.notify_one();
        if let Err(e) = self.claimer.await {
            tracing::error!(error = %e, "the claim loop ended abnormally");
        }
        let lanes: Vec<Arc<Lane>> = lock(&shared.lanes).values().cloned().collect();
        for lane in &lanes {
            lane.wake.notify_one();
        }
        shared.tasks.close();
        if tokio::time::timeout(shared.settings.shutdown_grace, shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace period over; releasing the deliveries still in flight");
            for lane in &lanes {
                if let Some(task) = lock(&lane.state).task.take() {
                    task.abort();
                }
            }
            shared.tasks.wait().await;
        }
        let leftover: Vec<String> = lanes
            .iter()
            .flat_map(|lane| {
                let mut state = lock(&lane.state);
                let mut ids: Vec<String> = state.queue.drain(..).map(|q| q.delivery.delivery_id).collect();
                ids.extend(state.in_flight.drain());
                ids
            })
            .collect();
        if let Err(e) = shared.store.release(leftover).await {
            tracing::warn!(error = %e, "could not release held deliveries; their leases will run out");
        }
    }
}

impl Shared {
    fn limiter(&self) -> Limiter {
        Limiter::new(
            self.settings.initial_concurrency,
            postbode_core::webhook::MAX_CONCURRENCY,
        )
    }

    fn breaker(&self) -> Breaker {
        Breaker::new(BreakerSettings {
            threshold: self.settings.breaker_failures,
            min_pause: self.settings.breaker_min_pause,
            max_pause: self.settings.breaker_max_pause,
        })
    }

    fn lane(&self, webhook_id: &str) -> Arc<Lane> {
        lock(&self.lanes)
            .entry(webhook_id.to_owned())
            .or_insert_with(|| Lane::new(webhook_id, self.limiter(), self.breaker()))
            .clone()
    }

    fn free(&self) -> usize {
        (self.settings.max_held as usize).saturating_sub(self.held.load(Ordering::SeqCst))
    }

    /// Puts claimed or handed-over deliveries into their lanes and gets the lanes going;
    /// `backlogged`: the lanes whose room the claim filled.
    fn admit(self: &Arc<Self>, claim: Claim, reserved: bool, backlogged: &HashSet<String>) {
        if self.stopping.load(Ordering::SeqCst) {
            // Too late to send: give them back at once.
            let ids = claim.deliveries.into_iter().map(|d| d.delivery_id).collect();
            let store = self.store.clone();
            self.runtime.spawn(async move { store.release(ids).await });
            return;
        }
        let mut by_lane: HashMap<String, Vec<postbode_store::ClaimedDelivery>> = HashMap::new();
        for delivery in claim.deliveries {
            by_lane.entry(delivery.webhook_id.clone()).or_default().push(delivery);
        }
        for (webhook_id, deliveries) in by_lane {
            let Some(webhook) = claim.webhooks.get(&webhook_id) else {
                continue;
            };
            let lane = self.lane(&webhook_id);
            let start = {
                let mut state = lock(&lane.state);
                state.refresh(webhook, || Target::new(webhook.clone(), &self.keyring));
                let count = deliveries.len();
                state.backlog |= backlogged.contains(&webhook_id);
                let since = std::time::Instant::now();
                state
                    .queue
                    .extend(deliveries.into_iter().map(|delivery| Queued { delivery, since }));
                if reserved {
                    state.reserved = state.reserved.saturating_sub(count);
                } else {
                    self.held.fetch_add(count, Ordering::SeqCst);
                }
                !std::mem::replace(&mut state.running, true)
            };
            if start {
                let task = self
                    .runtime
                    .spawn(self.tasks.track_future(run_lane(self.clone(), lane.clone())));
                lock(&lane.state).task = Some(task.abort_handle());
            } else {
                lane.wake.notify_one();
            }
        }
    }

    /// Gives deliveries the lane will not send back to the store (claimable at once, by
    /// this node or another); `pause` is persisted first, so other nodes hold back too.
    fn give_back(&self, webhook_id: &str, ids: Vec<String>, pause: Option<(chrono::DateTime<Utc>, String)>) {
        self.held.fetch_sub(ids.len(), Ordering::SeqCst);
        let store = self.store.clone();
        let webhook_id = webhook_id.to_owned();
        self.tasks.spawn(async move {
            if let Some((until, reason)) = pause
                && let Err(e) = store.pause_webhook(&webhook_id, Some((until, reason))).await
            {
                tracing::warn!(error = %e, webhook = %webhook_id, "recording a webhook's pause");
            }
            if let Err(e) = store.release(ids).await {
                tracing::warn!(error = %e, webhook = %webhook_id, "releasing a paused webhook's deliveries");
            }
        });
    }
}

impl Dispatch for Shared {
    fn reserve(&self, webhook_id: &str, wanted: usize) -> usize {
        if self.stopping.load(Ordering::SeqCst) {
            return 0;
        }
        let lane = self.lane(webhook_id);
        let mut state = lock(&lane.state);
        let lane_room = state.room(self.settings.room_factor, self.clock.now());
        let granted = wanted.min(lane_room).min(self.free());
        if granted < wanted {
            // The rest stays in the store, to be claimed as room frees up.
            if granted < lane_room {
                self.full.store(true, Ordering::SeqCst);
            } else {
                state.backlog = true;
            }
        }
        state.reserved += granted;
        self.held.fetch_add(granted, Ordering::SeqCst);
        granted
    }

    fn unreserve(&self, webhook_id: &str, count: usize) {
        let lane = self.lane(webhook_id);
        let mut state = lock(&lane.state);
        let count = count.min(state.reserved);
        state.reserved -= count;
        self.held.fetch_sub(count, Ordering::SeqCst);
    }

    fn dispatch(&self, claim: Claim) {
        if let Some(shared) = self.me.upgrade() {
            shared.admit(claim, true, &HashSet::new());
        }
    }
}

impl EngineView for Shared {
    fn webhook(&self, id: &str) -> Option<WebhookRuntime> {
        let lane = lock(&self.lanes).get(id).cloned()?;
        let state = lock(&lane.state);
        // A lane that has only reserved room has not read the webhook's ceiling yet.
        state.target.as_ref()?;
        Some(state.runtime())
    }
}

async fn claim_loop(shared: Arc<Shared>, stop: Arc<Notify>) {
    let work = shared.store.work_signal();
    let settings = &shared.settings;
    if settings.paused {
        tracing::warn!("delivery is paused (delivery.paused): events are accepted and kept, nothing is sent");
        stop.notified().await;
        return;
    }
    while !shared.stopping.load(Ordering::SeqCst) {
        let claimed = claim(&shared).await;
        if claimed >= settings.claim_batch as usize {
            continue;
        }
        tokio::select! {
            () = work.notified() => {}
            () = shared.freed.notified() => {}
            () = stop.notified() => {}
            () = tokio::time::sleep(settings.poll_interval) => {}
        }
        forget_idle_lanes(&shared);
    }
}

/// One claim round; returns how many deliveries it took.
async fn claim(shared: &Arc<Shared>) -> usize {
    let settings = &shared.settings;
    let free = shared.free();
    if free == 0 {
        shared.full.store(true, Ordering::SeqCst);
        return 0;
    }
    let now = shared.clock.now();
    let mut room: HashMap<String, u32> = HashMap::new();
    // Lanes that hold all their room while calls go out.
    let mut full_lanes = Vec::new();
    for (id, lane) in lock(&shared.lanes).iter() {
        let mut state = lock(&lane.state);
        let lane_room = state.room(settings.room_factor, now) as u32;
        if lane_room == 0 && state.calling(now) {
            full_lanes.push(lane.clone());
        }
        room.insert(id.clone(), lane_room);
    }
    let request = ClaimRequest {
        now,
        lease_until: now + chrono::Duration::from_std(settings.lease).unwrap_or(chrono::Duration::MAX),
        limit: settings.claim_batch.min(free as u32),
        room,
        room_default: settings.room_factor * settings.initial_concurrency,
        require_verification: shared.require_verification,
    };
    let (limit, cut_by_free) = (request.limit as usize, (free as u32) < settings.claim_batch);
    let rooms = (request.room.clone(), request.room_default);
    match shared.store.claim(request).await {
        Ok(claim) => {
            let count = claim.deliveries.len();
            let mut per_lane: HashMap<&str, u32> = HashMap::new();
            for delivery in &claim.deliveries {
                *per_lane.entry(delivery.webhook_id.as_str()).or_default() += 1;
            }
            // A lane the claim filled may have more in the store: it claims again once
            // it has worked through half of what it holds. Filled is measured against the
            // room asked for, not the room after admission: the limit may have grown
            // meanwhile, and a lane not marked now would wait for the poll interval.
            let backlogged: HashSet<String> = per_lane
                .into_iter()
                .filter(|(id, taken)| *taken >= rooms.0.get(*id).copied().unwrap_or(rooms.1))
                .map(|(id, _)| id.to_owned())
                .collect();
            if count == limit && cut_by_free {
                shared.full.store(true, Ordering::SeqCst);
            }
            shared.admit(claim, false, &backlogged);
            // So may a lane that had no room to claim into (retries come due, other nodes
            // write); one that drained while the claim ran claims at once.
            for lane in full_lanes {
                let mut state = lock(&lane.state);
                if state.held() < state.half_room(settings.room_factor) && state.calling(now) {
                    shared.freed.notify_one();
                } else {
                    state.backlog = true;
                }
            }
            count
        }
        Err(e) => {
            tracing::error!(error = %e, "claiming deliveries failed");
            0
        }
    }
}

/// Drops lanes with nothing to do and nothing to remember (closed circuit, no recent
/// back-off), so the map only holds webhooks with work.
fn forget_idle_lanes(shared: &Shared) {
    lock(&shared.lanes).retain(|_, lane| {
        let state = lock(&lane.state);
        state.running || state.held() > 0 || !state.forgettable()
    });
}

/// The lane's task: starts calls while its limits allow, handles their ends.
async fn run_lane(shared: Arc<Shared>, lane: Arc<Lane>) {
    let mut calls: JoinSet<Done> = JoinSet::new();
    loop {
        let mut wake_at = None;
        loop {
            let next = lock(&lane.state).next(shared.clock.now(), shared.stopping.load(Ordering::SeqCst));
            match next {
                Next::Call(unit, target) => {
                    let shared = shared.clone();
                    calls.spawn(async move {
                        let cx = Context {
                            http: &shared.http,
                            keyring: &shared.keyring,
                            settings: &shared.settings,
                            clock: &shared.clock,
                        };
                        let attempted = attempt::attempt(cx, &target, &unit).await;
                        Done {
                            ids: unit.into_iter().map(|d| d.delivery_id).collect(),
                            ordered: target.webhook.settings.ordering.is_some(),
                            attempted,
                        }
                    });
                }
                Next::WaitUntil(instant) => {
                    wake_at = Some(instant);
                    break;
                }
                Next::Paused => {
                    // Paused with deliveries queued: they go back to the store.
                    let (ids, pause) = {
                        let mut state = lock(&lane.state);
                        let ids: Vec<String> = state.queue.drain(..).map(|q| q.delivery.delivery_id).collect();
                        (ids, state.pause())
                    };
                    shared.give_back(&lane.webhook_id, ids, pause);
                    break;
                }
                Next::Wait => break,
            }
        }
        if calls.is_empty() {
            let mut state = lock(&lane.state);
            let nothing_to_send = state.queue.is_empty() || shared.stopping.load(Ordering::SeqCst);
            if nothing_to_send && wake_at.is_none() {
                state.running = false;
                state.task = None;
                return;
            }
        }
        // A pacer's slot or a moved test clock is noticed within the poll interval.
        let nap = wake_at.map_or(shared.settings.poll_interval, |at| {
            at.saturating_duration_since(std::time::Instant::now())
                .min(shared.settings.poll_interval)
        });
        tokio::select! {
            Some(done) = calls.join_next() => match done {
                Ok(done) => finished(&shared, &lane, done),
                Err(e) => tracing::error!(error = %e, webhook = %lane.webhook_id, "a call task failed"),
            },
            () = lane.wake.notified() => {}
            () = tokio::time::sleep(nap) => {}
        }
    }
}

/// A call that ended: its deliveries and what became of them.
struct Done {
    ids: Vec<String>,
    /// The webhook orders its deliveries: the next of each subject waits for this
    /// result to be committed.
    ordered: bool,
    attempted: Attempted,
}

/// A call ended: the limit, the breaker and the room follow, the results go to the store.
fn finished(shared: &Arc<Shared>, lane: &Lane, done: Done) {
    let Done {
        ids,
        ordered,
        attempted,
    } = done;
    let now = shared.clock.now();
    let settings = &shared.settings;
    let mut state = lock(&lane.state);
    for id in &ids {
        state.in_flight.remove(id);
    }
    let calls = state.calls;
    state.calls = calls.saturating_sub(1);
    match &attempted.load {
        Load::Fine(latency) => state.limiter.succeeded(*latency, calls),
        Load::Overloaded(reason) => state.limiter.back_off(reason.clone(), now, calls),
        Load::Neutral(_) => state.limiter.neutral(),
    }
    let reason = match &attempted.load {
        Load::Fine(_) => String::new(),
        Load::Overloaded(reason) | Load::Neutral(reason) => reason.clone(),
    };
    let succeeded = attempted.results.first().is_some_and(|r| r.attempt.succeeded());
    let mut paused = false;
    let mut resumed = false;
    if succeeded {
        resumed = state.breaker.succeeded();
        if resumed {
            state.limiter.restart(settings.initial_concurrency);
        }
    } else if state.breaker.failed(now, &reason).is_some() {
        paused = true;
    }
    if let Some(wait) = attempted.retry_after {
        let until = now + chrono::Duration::from_std(wait.min(settings.retry.max_retry_after)).unwrap_or_default();
        paused |= state
            .breaker
            .retry_after(until, &format!("the receiver answered {reason} with Retry-After"))
            .is_some();
    }
    let mut give_back = Vec::new();
    if paused || attempted.gone {
        give_back = state.queue.drain(..).map(|q| q.delivery.delivery_id).collect();
    }
    let pause = if paused { state.pause() } else { None };
    let half = state.half_room(settings.room_factor);
    // A resumed webhook's waiting deliveries are in the store: fetch them now.
    let more = (state.backlog && state.held() < half) || resumed;
    if more {
        state.backlog = false;
    }
    drop(state);
    if more {
        shared.freed.notify_one();
    }
    if paused || !give_back.is_empty() {
        shared.give_back(&lane.webhook_id, give_back, pause);
    }
    for result in &attempted.results {
        crate::metrics::record_attempt_metrics(result);
    }
    let store = shared.store.clone();
    let webhook_id = lane.webhook_id.clone();
    let me = shared.clone();
    let max_held = settings.max_held as usize;
    shared.tasks.spawn(async move {
        let count = ids.len();
        if let Err(e) = store.record_attempts(attempted.results).await {
            // The leases run out and the deliveries are tried again: at least once, never lost.
            tracing::error!(error = %e, deliveries = ?ids, "recording an attempt failed");
        }
        // Held until the result is stored, not only until the call ends: a node that
        // dies sends again at most `max_held` deliveries, those still leased to it.
        me.held.fetch_sub(count, Ordering::SeqCst);
        let unfull = me.free() >= max_held / 2 && me.full.swap(false, Ordering::SeqCst);
        if ordered || unfull {
            // The next delivery of each subject is claimable now.
            me.freed.notify_one();
        }
        if resumed && let Err(e) = store.pause_webhook(&webhook_id, None).await {
            tracing::warn!(error = %e, webhook = %webhook_id, "recording a webhook's resumption");
        }
    });
}
