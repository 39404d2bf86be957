//! Replays: a webhook's deliveries of a time range sent again, and the events of the
//! range it never had (it did not exist yet, or they were skipped) given a delivery.
//!
//! - A job is refused when it would match more than `max` rows (deliveries plus
//!   events), and while another job of the webhook runs: two would send the same
//!   events twice.
//! - Missing events are the range's **custom** events of a type the webhook wants that
//!   have no delivery to it. An event does not keep the scope it was routed with
//!   (database, source, previous values), so profile and mail events are not replayed
//!   as missing, and a webhook limited to a database or collection gets none. They are
//!   routed as at ingest otherwise: the condition decides, a disabled webhook holds the
//!   delivery, an unverified one (when verification is required) skips it, counted in
//!   the event's hour.
//! - The work goes in batches: the rows of a batch are read outside the write group;
//!   in it, the job's cursor moves first, only if it is still where the batch began
//!   (another node may have done that batch), then the deliveries are made due again
//!   (those in flight are left to their attempt) and the missing ones made. Cursor and
//!   work commit together: after a restart the job goes on from its cursor, nothing is
//!   done twice or lost.

use chrono::{DateTime, Utc};
use postbode_core::event::{MAIL_TYPES, PROFILE_TYPES, is_builtin};
use postbode_core::webhook::Webhook;

use super::group::{Group, owned};
use super::routing::{RoutedWebhook, route};
use crate::backend::{Backend, GroupTx};
use crate::model::*;
use crate::replay::*;
use crate::writer::WriteOp;
use crate::{Result, StoreError};

/// The event types whose missing events a replay gives the webhook; `None`: none.
pub(crate) fn missing_types(webhook: &Webhook, selection: &ReplaySelection) -> Option<EventTypes> {
    let settings = &webhook.settings;
    if !selection.missing || settings.database_id.is_some() || settings.collection_id.is_some() {
        return None;
    }
    let types = if !selection.event_types.is_empty() {
        EventTypes::Only(
            selection
                .event_types
                .iter()
                .filter(|t| !is_builtin(t) && settings.wants(t))
                .cloned()
                .collect(),
        )
    } else if settings.wants(postbode_core::event::ALL) {
        EventTypes::AllBut(
            MAIL_TYPES
                .iter()
                .chain(PROFILE_TYPES)
                .map(|t| (*t).to_owned())
                .collect(),
        )
    } else {
        EventTypes::Only(settings.events.iter().filter(|t| !is_builtin(t)).cloned().collect())
    };
    match types {
        EventTypes::Only(list) if list.is_empty() => None,
        types => Some(types),
    }
}

/// Makes a job for the request, unless it matches too much or the webhook has one running.
pub(crate) async fn start<B: Backend + ?Sized>(store: &B, request: ReplayRequest) -> Result<ReplayStart> {
    let Some(webhook) = store.get_webhook(&request.account_id, &request.webhook_id).await? else {
        return Ok(ReplayStart::NoWebhook);
    };
    let cap = request.max.saturating_add(1);
    let selection = &request.selection;
    let deliveries = match selection.resend {
        true => {
            store
                .count_replay_deliveries(&request.account_id, &webhook.id, selection, cap)
                .await?
        }
        false => 0,
    };
    let missing = match missing_types(&webhook, selection) {
        Some(types) if deliveries < cap => {
            store
                .count_missing_events(&request.account_id, &webhook.id, selection, &types, cap - deliveries)
                .await?
        }
        _ => 0,
    };
    let matched = deliveries + missing;
    if matched > request.max {
        return Ok(ReplayStart::TooMany {
            matched,
            max: request.max,
        });
    }
    let job = ReplayJob {
        id: postbode_core::ids::new_id(postbode_core::ids::JOB),
        account_id: request.account_id.clone(),
        webhook_id: webhook.id.clone(),
        selection: request.selection.clone(),
        status: JobStatus::Running,
        total: matched,
        done: 0,
        resent: 0,
        created: 0,
        cursor: ReplayCursor {
            phase: ReplayPhase::Deliveries,
            after: None,
        },
        error: None,
        created_at: request.now,
        updated_at: request.now,
    };
    if store.create_replay_job(&job).await? {
        return Ok(ReplayStart::Started(Box::new(job)));
    }
    let running = store
        .webhook_replay_jobs(&request.account_id, &webhook.id, 10)
        .await?
        .into_iter()
        .find(|j| j.status == JobStatus::Running)
        .map(|j| j.id)
        .unwrap_or_default();
    Ok(ReplayStart::Busy(running))
}

/// Does the job's next batch of at most `batch` rows; returns the job as it is after it.
pub(crate) async fn advance<B: Backend + ?Sized>(
    store: &B,
    job: &ReplayJob,
    batch: u32,
    now: DateTime<Utc>,
    require_verification: bool,
) -> Result<Option<ReplayJob>> {
    if job.status != JobStatus::Running {
        return Ok(Some(job.clone()));
    }
    let Some(webhook) = store.get_webhook(&job.account_id, &job.webhook_id).await? else {
        // Deleting the webhook deletes its jobs.
        return Ok(None);
    };
    let types = missing_types(&webhook, &job.selection);
    // A job that resends nothing starts with the missing events.
    let (phase, after) = match job.cursor.phase {
        ReplayPhase::Deliveries if !job.selection.resend => (ReplayPhase::Missing, None),
        phase => (phase, job.cursor.after.as_ref()),
    };
    let mut work = ReplayBatch {
        job_id: job.id.clone(),
        account_id: job.account_id.clone(),
        webhook_id: job.webhook_id.clone(),
        from: job.cursor.clone(),
        to: ReplayCursor {
            phase,
            after: after.cloned(),
        },
        deliveries: Vec::new(),
        events: Vec::new(),
        last: false,
        now,
        require_verification,
    };
    match (phase, &types) {
        (ReplayPhase::Deliveries, _) => {
            let rows = store
                .replay_deliveries(&job.account_id, &job.webhook_id, &job.selection, after, batch)
                .await?;
            if rows.len() < batch as usize {
                work.to = ReplayCursor {
                    phase: ReplayPhase::Missing,
                    after: None,
                };
                work.last = types.is_none();
            } else {
                work.to.after = rows.last().cloned();
            }
            work.deliveries = rows.into_iter().map(|(_, id)| id).collect();
        }
        (ReplayPhase::Missing, Some(types)) => {
            let events = store
                .missing_events(&job.account_id, &job.webhook_id, &job.selection, types, after, batch)
                .await?;
            work.last = events.len() < batch as usize;
            if let Some(e) = events.last() {
                work.to.after = Some((e.created_at, e.id.clone()));
            }
            work.events = events;
        }
        (ReplayPhase::Missing, None) => work.last = true,
    }
    store
        .writer()
        .send(|reply| WriteOp::Replay { batch: work, reply })
        .await?;
    store.get_replay_job(&job.account_id, &job.id).await
}

/// A batch inside the write group; `None` when another node did it first.
pub(crate) async fn apply(
    group: &mut Group,
    tx: &mut dyn GroupTx,
    batch: &ReplayBatch,
) -> Result<Option<ReplayProgress>> {
    let rows = (batch.deliveries.len() + batch.events.len()) as u64;
    if !tx
        .move_replay_cursor(&batch.job_id, &batch.from, &batch.to, rows, batch.last, batch.now)
        .await?
    {
        return Ok(None);
    }
    let mut progress = ReplayProgress::default();
    if !batch.deliveries.is_empty() {
        // Results staged earlier in the group are written first, so a replay is not
        // overwritten by an older attempt's outcome.
        group.flush(tx).await?;
        let request = RetryRequest {
            account_id: batch.account_id.clone(),
            selection: RetrySelection::Replay {
                webhook_id: batch.webhook_id.clone(),
                ids: batch.deliveries.clone(),
            },
            now: batch.now,
        };
        let resent = super::retry::retry(tx, &request).await?;
        group.made_due |= !resent.is_empty();
        progress.resent = resent.len() as u64;
    }
    if !batch.events.is_empty() {
        progress.created = replay_missing(group, tx, batch).await?;
    }
    tx.count_replayed(&batch.job_id, progress).await?;
    Ok(Some(progress))
}

async fn replay_missing(group: &mut Group, tx: &mut dyn GroupTx, batch: &ReplayBatch) -> Result<u64> {
    group.webhooks_of(tx, &batch.account_id).await?;
    let Some(webhook) = group
        .webhooks(&batch.account_id)
        .iter()
        .find(|w| w.webhook.id == batch.webhook_id)
        .map(|w| RoutedWebhook::new(w.webhook.clone()))
    else {
        return Err(StoreError::Invalid("the replayed webhook is gone".into()));
    };
    let only = std::slice::from_ref(&webhook);
    let mut created = 0;
    for stored in &batch.events {
        let event = NewEvent {
            id: stored.id.clone(),
            event_type: stored.event_type.clone(),
            body: Vec::new(),
            created_at: stored.created_at,
            idempotency: None,
            scope: Default::default(),
            trace_parent: None,
        };
        let (targets, skipped) = owned(route(only, &event, batch.require_verification));
        created += targets.len() as u64;
        group.stage_deliveries(&batch.account_id, &event, batch.now, targets, skipped);
    }
    Ok(created)
}
