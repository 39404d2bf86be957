//! The write path, and how it commits in groups.
//!
//! Every commit costs a disk flush (SQLite in WAL with `synchronous=FULL`; PostgreSQL's
//! WAL flush), and SQLite has one writer at a time. So ingests, profile changes, mail
//! events, claims (on SQLite), attempt results, releases, retries and replay batches are not written by
//! their callers: they are sent here as [`WriteOp`]s. The writer takes whatever has
//! queued up (at most [`MAX_GROUP`] ops), applies the rules to all of it in ONE
//! transaction, commits, and only then answers each caller. Under load many requests
//! share one flush; when idle a lone request commits at once. On PostgreSQL several
//! groups commit side by side (see [`Commits`]), so the wait for one group's round trips
//! and flush no longer holds up the next.
//!
//! An op that breaks a rule (an idempotency conflict, a failed statement in a profile
//! change) is undone alone, inside a savepoint, so it never spoils the others in its
//! group. If the database gives up the whole transaction, every op of the group fails.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tracing::Instrument;

use crate::backend::{Durability, GroupTx, TxSource};
use crate::handoff::{Dispatch, Handoff, HandoffSlot};
use crate::model::*;
use crate::rules::group::Group;
use crate::{Result, StoreError};

/// Enough to amortise a commit, small enough that one group's latency stays low.
pub const MAX_GROUP: usize = 2048;

pub(crate) enum WriteOp {
    Ingest {
        account_id: String,
        events: Vec<NewEvent>,
        now: chrono::DateTime<chrono::Utc>,
        require_verification: bool,
        reply: oneshot::Sender<Result<Vec<Ingested>>>,
    },
    Change {
        request: ChangeRequest,
        reply: oneshot::Sender<Result<Vec<ChangeOutcome>>>,
    },
    Mail {
        request: MailRequest,
        reply: oneshot::Sender<Result<Option<Ingested>>>,
    },
    Claim {
        request: ClaimRequest,
        reply: oneshot::Sender<Result<Claim>>,
    },
    Record {
        results: Vec<AttemptResult>,
        reply: oneshot::Sender<Result<()>>,
    },
    Release {
        delivery_ids: Vec<String>,
        reply: oneshot::Sender<Result<()>>,
    },
    Retry {
        request: RetryRequest,
        reply: oneshot::Sender<Result<Vec<String>>>,
    },
    Replay {
        batch: crate::replay::ReplayBatch,
        reply: oneshot::Sender<Result<Option<crate::replay::ReplayProgress>>>,
    },
}

/// Sends ops to the writer task and waits for their commit.
#[derive(Clone)]
pub struct WriterHandle {
    ops: mpsc::Sender<WriteOp>,
    /// Where ops that lock profiles or chosen deliveries go when groups commit side by
    /// side (see [`channel`]); `None`: everything goes to `ops`.
    locking: Option<mpsc::Sender<WriteOp>>,
    handoff: HandoffSlot,
}

impl WriterHandle {
    /// Hands new deliveries straight to this engine from now on (`None`: stop).
    pub(crate) fn attach(&self, dispatch: Option<(Arc<dyn Dispatch>, std::time::Duration)>) {
        self.handoff.set(dispatch.map(|(dispatch, lease)| Handoff {
            dispatch,
            lease: chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX),
        }));
    }

    pub(crate) async fn send<T>(&self, op: impl FnOnce(oneshot::Sender<Result<T>>) -> WriteOp) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let op = op(reply);
        let queue = match &self.locking {
            Some(locking) if op.locks_rows() => locking,
            _ => &self.ops,
        };
        queue.send(op).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// How a backend's write groups may commit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Commits {
    /// One group at a time (SQLite has one writer): one queue.
    OneAtATime,
    /// Several groups at once, each in its own transaction (PostgreSQL), so one group's
    /// round trips and flush overlap the next's. Two queues: the main one, which any
    /// number of [`run`] loops may share, and one for the ops that lock profiles or a
    /// chosen set of deliveries (profile changes, mail events, retries), which exactly
    /// one loop takes: groups of the main queue lock only webhooks and statistics, in id
    /// order, so side by side they wait for each other but never deadlock.
    SideBySide,
}

/// The writer's queues: its handle, and the receiving ends for [`run`] (the main queue
/// first; with [`Commits::SideBySide`] also the queue of ops that lock rows).
pub fn channel(commits: Commits) -> (WriterHandle, WriterQueue, Option<WriterQueue>) {
    let handoff = HandoffSlot::default();
    let queue = |handoff: &HandoffSlot| {
        let (ops, queue) = mpsc::channel(MAX_GROUP * 4);
        let queue = WriterQueue {
            ops: Arc::new(Mutex::new(queue)),
            handoff: handoff.clone(),
            committing: Arc::default(),
        };
        (ops, queue)
    };
    let (ops, main) = queue(&handoff);
    let (locking, locking_queue) = match commits {
        Commits::OneAtATime => (None, None),
        Commits::SideBySide => {
            let (ops, queue) = queue(&handoff);
            (Some(ops), Some(queue))
        }
    };
    let handle = WriterHandle { ops, locking, handoff };
    (handle, main, locking_queue)
}

/// A queue of ops; loops that share it take turns to gather a group from it.
#[derive(Clone)]
pub struct WriterQueue {
    ops: Arc<Mutex<mpsc::Receiver<WriteOp>>>,
    handoff: HandoffSlot,
    /// How many groups of this queue are committing now, and a signal when one is done.
    committing: Arc<(AtomicUsize, Notify)>,
}

/// While another group of the queue is committing, a loop gathers until it has this many
/// ops or that group is done: groups too small cost more statements per op than the
/// overlap saves.
const FULL_ENOUGH: usize = 32;

impl WriterQueue {
    /// Takes the next group's ops into `batch`; 0 when every handle is gone.
    async fn gather(&self, batch: &mut Vec<WriteOp>) -> usize {
        let mut ops = self.ops.lock().await;
        if ops.recv_many(batch, MAX_GROUP).await == 0 {
            return 0;
        }
        let (committing, done) = &*self.committing;
        loop {
            let one_done = done.notified();
            tokio::pin!(one_done);
            one_done.as_mut().enable();
            if batch.len() >= FULL_ENOUGH || committing.load(Ordering::Acquire) == 0 {
                break;
            }
            tokio::select! {
                more = ops.recv_many(batch, MAX_GROUP - batch.len()) => if more == 0 { break },
                () = one_done => {}
            }
        }
        committing.fetch_add(1, Ordering::AcqRel);
        batch.len()
    }

    fn committed(&self) {
        let (committing, done) = &*self.committing;
        committing.fetch_sub(1, Ordering::AcqRel);
        done.notify_waiters();
    }
}

/// An answer held back until the group has committed.
enum Reply {
    Ingest(oneshot::Sender<Result<Vec<Ingested>>>, Vec<Ingested>),
    Change(oneshot::Sender<Result<Vec<ChangeOutcome>>>, Vec<ChangeOutcome>),
    Mail(oneshot::Sender<Result<Option<Ingested>>>, Option<Ingested>),
    Claim(oneshot::Sender<Result<Claim>>, Claim),
    Retry(oneshot::Sender<Result<Vec<String>>>, Vec<String>),
    Replay(
        oneshot::Sender<Result<Option<crate::replay::ReplayProgress>>>,
        Option<crate::replay::ReplayProgress>,
    ),
    Done(oneshot::Sender<Result<()>>),
}

impl Reply {
    fn send(self, failure: Option<&StoreError>) {
        fn answer<T>(tx: oneshot::Sender<Result<T>>, value: T, failure: Option<&StoreError>) {
            // A caller that went away no longer needs its answer.
            let _ = tx.send(failure.map_or(Ok(value), |e| Err(e.again())));
        }
        match self {
            Reply::Ingest(tx, v) => answer(tx, v, failure),
            Reply::Change(tx, v) => answer(tx, v, failure),
            Reply::Mail(tx, v) => answer(tx, v, failure),
            Reply::Claim(tx, v) => answer(tx, v, failure),
            Reply::Retry(tx, v) => answer(tx, v, failure),
            Reply::Replay(tx, v) => answer(tx, v, failure),
            Reply::Done(tx) => answer(tx, (), failure),
        }
    }
}

impl WriteOp {
    fn fail(self, cause: &StoreError) {
        let error = || cause.again();
        let _ = match self {
            WriteOp::Ingest { reply, .. } => reply.send(Err(error())).map_err(drop),
            WriteOp::Change { reply, .. } => reply.send(Err(error())).map_err(drop),
            WriteOp::Mail { reply, .. } => reply.send(Err(error())).map_err(drop),
            WriteOp::Claim { reply, .. } => reply.send(Err(error())).map_err(drop),
            WriteOp::Retry { reply, .. } => reply.send(Err(error())).map_err(drop),
            WriteOp::Replay { reply, .. } => reply.send(Err(error())).map_err(drop),
            WriteOp::Record { reply, .. } | WriteOp::Release { reply, .. } => reply.send(Err(error())).map_err(drop),
        };
    }

    /// Ops that lock rows other ops of the main queue never lock (profiles, the
    /// deliveries a retry picks), in an order of their own.
    fn locks_rows(&self) -> bool {
        matches!(
            self,
            WriteOp::Change { .. } | WriteOp::Mail { .. } | WriteOp::Retry { .. } | WriteOp::Replay { .. }
        )
    }

    /// The traces of the events an ingest brings, which its group's span links to.
    fn traces(&self) -> impl Iterator<Item = &TraceParent> {
        let events = match self {
            WriteOp::Ingest { events, .. } => events.as_slice(),
            _ => &[],
        };
        events.iter().filter_map(|e| e.trace_parent.as_ref())
    }

    /// Claims and releases only move leases, which a lost machine may forget.
    fn durability(&self) -> Durability {
        match self {
            WriteOp::Claim { .. } | WriteOp::Release { .. } => Durability::Relaxed,
            _ => Durability::Full,
        }
    }
}

/// Applies and commits groups until every [`WriterHandle`] is dropped. After a commit
/// that made deliveries due, `work` is notified (and the transaction told other nodes).
pub async fn run(source: Arc<dyn TxSource>, queue: WriterQueue, work: Arc<Notify>) {
    let mut batch = Vec::with_capacity(MAX_GROUP);
    loop {
        // The queue is held only while gathering: another loop sharing it gathers the
        // next group while this one commits.
        if queue.gather(&mut batch).await == 0 {
            break;
        }
        let started = std::time::Instant::now();
        let size = batch.len();
        let durability = match batch.iter().all(|op| op.durability() == Durability::Relaxed) {
            true => Durability::Relaxed,
            false => Durability::Full,
        };
        let handoff = queue.handoff.get();
        // Only when traces are exported: linked to the trace of every event it commits.
        let span = tracing::trace_span!("write group", ops = size);
        if !span.is_disabled() {
            batch
                .iter()
                .flat_map(WriteOp::traces)
                .for_each(|t| postbode_core::trace::link(&span, t));
        }
        let made_work = match source.begin(durability).instrument(span.clone()).await {
            Ok(tx) => commit_group(tx, &mut batch, handoff).instrument(span).await,
            Err(e) => {
                tracing::error!(error = %e, "starting a write group failed");
                for op in batch.drain(..) {
                    op.fail(&e);
                }
                false
            }
        };
        queue.committed();
        metrics::histogram!("postbode_writer_group_ops").record(size as f64);
        metrics::histogram!("postbode_writer_commit_seconds").record(started.elapsed().as_secs_f64());
        tracing::debug!(
            ops = size,
            micros = started.elapsed().as_micros() as u64,
            "write group committed"
        );
        if made_work {
            work.notify_one();
        }
    }
}

/// Applies and commits one group; returns whether it made deliveries due.
async fn commit_group(mut tx: Box<dyn GroupTx>, ops: &mut Vec<WriteOp>, handoff: Option<Handoff>) -> bool {
    let mut group = Group::default();
    group.handoff = handoff;
    let mut replies = Vec::with_capacity(ops.len());
    let mailed: Vec<String> = ops
        .iter()
        .filter_map(|op| match op {
            WriteOp::Mail { request, .. } => Some(request.message_id.clone()),
            _ => None,
        })
        .collect();
    let mut messages = read_messages(tx.as_mut(), &mailed).await;
    for op in ops.drain(..) {
        if let Some(why) = &group.broken {
            op.fail(why);
            continue;
        }
        apply(&mut group, tx.as_mut(), op, &mut messages, &mailed, &mut replies).await;
    }
    let mut flushed = group.flush(tx.as_mut()).await;
    let made_work = group.made_due;
    if made_work && flushed.is_ok() {
        flushed = tx.announce_work().await;
    }
    let committed = match flushed {
        Ok(()) => tx.commit().await,
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    };
    match committed {
        Ok(()) => {
            // Handed over before anyone hears of the commit, so a caller that heard of
            // it can count on the engine having its deliveries.
            if let Some(handoff) = group.handoff.clone()
                && !group.handed.is_empty()
            {
                handoff.dispatch.dispatch(group.handed_claim());
            }
            for reply in replies {
                reply.send(None);
            }
            made_work
        }
        Err(e) => {
            if let Some(handoff) = &group.handoff {
                for delivery in std::mem::take(&mut group.handed) {
                    handoff.dispatch.unreserve(&delivery.webhook_id, 1);
                }
            }
            tracing::error!(error = %e, "a write group failed and was rolled back");
            for reply in replies {
                reply.send(Some(&e));
            }
            false
        }
    }
}

async fn read_messages(tx: &mut dyn GroupTx, ids: &[String]) -> Result<HashMap<String, MessageContext>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    tx.message_contexts(&ids).await
}

async fn apply(
    group: &mut Group,
    tx: &mut dyn GroupTx,
    op: WriteOp,
    messages: &mut Result<HashMap<String, MessageContext>>,
    mailed: &[String],
    replies: &mut Vec<Reply>,
) {
    match op {
        WriteOp::Ingest {
            account_id,
            events,
            now,
            require_verification,
            reply,
        } => match group.ingest(tx, &account_id, events, now, require_verification).await {
            Ok(outcome) => replies.push(Reply::Ingest(reply, outcome)),
            Err(e) => drop(reply.send(Err(e))),
        },
        WriteOp::Change { request, reply } => {
            match group.change(tx, request).await {
                Ok(outcome) => replies.push(Reply::Change(reply, outcome)),
                Err(e) => drop(reply.send(Err(e))),
            }
            // The mail events after this change show the profiles as it left them.
            if !mailed.is_empty() && group.broken.is_none() {
                *messages = read_messages(tx, mailed).await;
            }
        }
        WriteOp::Mail { request, reply } => {
            let context = match messages {
                Ok(found) => found.get(&request.message_id).cloned(),
                Err(e) => {
                    drop(reply.send(Err(e.again())));
                    return;
                }
            };
            let unsubscribe = matches!(request.event, postbode_core::mail::MailEvent::Unsubscribe);
            match group.mail_event(tx, request, context.as_ref()).await {
                Ok(outcome) => replies.push(Reply::Mail(reply, outcome)),
                Err(e) => drop(reply.send(Err(e))),
            }
            if unsubscribe && !mailed.is_empty() && group.broken.is_none() {
                *messages = read_messages(tx, mailed).await;
            }
        }
        WriteOp::Claim { request, reply } => {
            // The claim reads the table: what the group staged so far goes in first.
            let claimed = match group.flush(tx).await {
                Ok(()) => crate::rules::claim::claim(tx, &request).await,
                Err(e) => Err(e),
            };
            match claimed {
                Ok(claim) => replies.push(Reply::Claim(reply, claim)),
                Err(e) => drop(reply.send(Err(e))),
            }
        }
        WriteOp::Record { results, reply } => {
            if results.iter().any(|r| matches!(r.outcome, AttemptOutcome::RetryAt(_))) {
                group.made_due = true;
            }
            group.results.extend(results);
            replies.push(Reply::Done(reply));
        }
        WriteOp::Release { delivery_ids, reply } => {
            group.released.extend(delivery_ids);
            replies.push(Reply::Done(reply));
        }
        WriteOp::Retry { request, reply } => {
            // Results staged earlier in the group are written first, so a retry is not
            // overwritten by an older attempt's outcome.
            let retried = match group.flush(tx).await {
                Ok(()) => crate::rules::retry::retry(tx, &request).await,
                Err(e) => Err(e),
            };
            match retried {
                Ok(ids) => {
                    group.made_due |= !ids.is_empty();
                    replies.push(Reply::Retry(reply, ids));
                }
                Err(e) => drop(reply.send(Err(e))),
            }
        }
        WriteOp::Replay { batch, reply } => {
            // Undone alone when it fails, like a refused ingest.
            if let Err(e) = tx.savepoint().await {
                drop(reply.send(Err(e)));
                return;
            }
            match crate::rules::replay::apply(group, tx, &batch).await {
                Ok(progress) => match tx.release_savepoint().await {
                    Ok(()) => replies.push(Reply::Replay(reply, progress)),
                    Err(e) => drop(reply.send(Err(e))),
                },
                Err(e) => {
                    group.undo(tx).await;
                    drop(reply.send(Err(e)));
                }
            }
        }
    }
}
