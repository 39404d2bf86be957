//! What retention may delete: attempts past their age, expired idempotency keys, and
//! events past their age whose deliveries have all ended (delivered, failed or
//! skipped) or are held for a disabled webhook, with those deliveries and their
//! attempts. An event with a delivery still being delivered stays, however old, and a
//! resend makes an ended delivery pending again, which the deliveries' locks taken here
//! order against. A held delivery does not keep its event: a webhook disabled for good
//! would otherwise keep every event it ever wanted.
//!
//! Each batch is its own transaction of at most `batch` rows of each kind, so the
//! writer and the claims never wait long behind it.

use std::collections::HashSet;

use crate::Result;
use crate::backend::{Backend, EventCursor, PruneTx};
use crate::model::*;

/// Batches until one finds nothing more to look at.
pub(crate) async fn prune<B: Backend + ?Sized>(backend: &B, request: &PruneRequest) -> Result<Pruned> {
    let mut total = Pruned::default();
    let mut cursor = None;
    let (mut expired_left, mut events_left) = (true, true);
    while expired_left || events_left {
        // Rows past their age and the events are taken in transactions of their own:
        // one holding both could wait, for an attempt of its events, on another node
        // that waits for one of its own in turn.
        if expired_left {
            let (pruned, more) = in_transaction(backend, Step::Expired, request, &mut cursor).await?;
            total.add(pruned);
            expired_left = more;
        }
        if events_left {
            let (pruned, more) = in_transaction(backend, Step::EndedEvents, request, &mut cursor).await?;
            total.add(pruned);
            events_left = more;
        }
        // Between batches the writer and the claims go first.
        tokio::task::yield_now().await;
    }
    Ok(total)
}

enum Step {
    Expired,
    EndedEvents,
}

async fn in_transaction<B: Backend + ?Sized>(
    backend: &B,
    step: Step,
    request: &PruneRequest,
    cursor: &mut Option<EventCursor>,
) -> Result<(Pruned, bool)> {
    let mut tx = backend.prune_transaction().await?;
    let done = match step {
        Step::Expired => expired(tx.as_mut(), request).await,
        Step::EndedEvents => ended_events(tx.as_mut(), request, cursor).await,
    };
    match done {
        Ok(done) => {
            tx.commit().await?;
            Ok(done)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rolling back a failed retention batch");
            }
            Err(e)
        }
    }
}

/// Expired idempotency keys and attempts past their age; whether a batch filled up.
async fn expired(tx: &mut dyn PruneTx, request: &PruneRequest) -> Result<(Pruned, bool)> {
    let batch = request.batch.max(1);
    let pruned = Pruned {
        idempotency_keys: tx.delete_expired_idempotency_keys(request.now, batch).await?,
        attempts: tx.delete_attempts_before(request.attempts_before, batch).await?,
        batches: 1,
        ..Pruned::default()
    };
    let more = pruned.idempotency_keys >= u64::from(batch) || pruned.attempts >= u64::from(batch);
    Ok((pruned, more))
}

/// The next batch of events past their age, walked from `cursor`: those whose
/// deliveries have all ended go, with them; whether there may be more.
async fn ended_events(
    tx: &mut dyn PruneTx,
    request: &PruneRequest,
    cursor: &mut Option<EventCursor>,
) -> Result<(Pruned, bool)> {
    let batch = request.batch.max(1);
    let mut pruned = Pruned {
        batches: 1,
        ..Pruned::default()
    };
    let events = tx.events_before(request.events_before, cursor.as_ref(), batch).await?;
    let Some(last) = events.last() else {
        return Ok((pruned, false));
    };
    *cursor = Some(last.clone());
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let states = tx.delivery_states(&ids).await?;
    let going_out: HashSet<&str> = states
        .iter()
        .filter(|d| d.status == DeliveryStatus::Pending && !d.held)
        .map(|d| d.event_id.as_str())
        .collect();
    let ended: Vec<&str> = ids.into_iter().filter(|id| !going_out.contains(*id)).collect();
    if !ended.is_empty() {
        let (deliveries, attempts) = tx.delete_events(&ended).await?;
        pruned.events = ended.len() as u64;
        pruned.deliveries = deliveries;
        pruned.attempts = attempts;
        pruned.held = states
            .iter()
            .filter(|d| d.held && !going_out.contains(d.event_id.as_str()))
            .count() as u64;
    }
    Ok((pruned, events.len() >= batch as usize))
}
