//! What an attempt's result does: the attempt is logged, the delivery moves on
//! (delivered, due again later, or failed), the webhook's health follows (a run of
//! failures long enough, or a receiver that says it is gone, disables it), and the
//! hour's statistics count it.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};

use super::group::{HourSkips, skip_stats};
use super::routing::hour_of;
use crate::Result;
use crate::backend::{DeliveryUpdate, GroupTx, HourStats, WebhookHealth};
use crate::model::*;

/// What a group's attempts did to one webhook.
#[derive(Default)]
struct HealthChange<'a> {
    account_id: &'a str,
    first_failure: Option<DateTime<Utc>>,
    succeeded_last: bool,
    disable_if_failing_since: Option<DateTime<Utc>>,
    gone: Option<String>,
}

/// Writes the attempts and what they did to deliveries and webhooks; returns what they
/// add to the statistics, for the group to write with the rest of its counts.
pub(crate) async fn write(tx: &mut dyn GroupTx, results: &[AttemptResult]) -> Result<Vec<HourStats>> {
    let updates: Vec<DeliveryUpdate> = results
        .iter()
        .filter(|r| r.attempt.trigger != Trigger::Test)
        .filter_map(delivery_update)
        .collect();
    // A delivery erased while its call was out leaves nothing behind: no attempt (its
    // excerpt may carry the erased data), no statistics, no health change. The update
    // says which are still stored, so no separate look-up is needed.
    let existing: HashSet<String> = match updates.is_empty() {
        true => HashSet::new(),
        false => tx.update_deliveries(&updates).await?.into_iter().collect(),
    };
    let results: Vec<&AttemptResult> = results
        .iter()
        .filter(|r| r.attempt.delivery_id.as_ref().is_none_or(|id| existing.contains(id)))
        .collect();
    if results.is_empty() {
        return Ok(Vec::new());
    }
    let attempts: Vec<(&str, &Attempt)> = results.iter().map(|r| (r.account_id.as_str(), &r.attempt)).collect();
    tx.insert_attempts(&attempts).await?;

    // Sorted, so two nodes writing the same rows lock them in the same order.
    let mut health: BTreeMap<&str, HealthChange> = BTreeMap::new();
    let mut stats: BTreeMap<(&str, DateTime<Utc>), HourStats> = BTreeMap::new();
    for r in results {
        let a = &r.attempt;
        // A test call is the user trying things out: it is logged, but it neither
        // counts in the statistics nor moves the webhook towards being disabled.
        if a.trigger == Trigger::Test {
            continue;
        }
        let hour = stats.entry((a.webhook_id.as_str(), hour_of(a.started_at))).or_default();
        hour.attempts += 1;
        hour.latency.record(a.duration_ms);
        if a.delivery_id.is_some() {
            match &r.outcome {
                AttemptOutcome::Delivered => hour.delivered += 1,
                AttemptOutcome::Failed => hour.failed += 1,
                AttemptOutcome::RetryAt(_) => {}
            }
        }
        let change = health.entry(a.webhook_id.as_str()).or_default();
        change.account_id = &r.account_id;
        if let Some(reason) = &r.disable_webhook {
            change.gone = Some(reason.clone());
        }
        change.disable_if_failing_since = Some(r.disable_if_failing_since);
        if a.succeeded() {
            change.succeeded_last = true;
            change.first_failure = None;
        } else {
            change.succeeded_last = false;
            change.first_failure.get_or_insert(a.started_at);
        }
    }
    save_health(tx, health).await?;
    Ok(stats
        .into_iter()
        .map(|((webhook_id, hour), s)| HourStats {
            webhook_id: webhook_id.to_owned(),
            hour,
            ..s
        })
        .collect())
}

/// Where an attempt leaves its delivery: delivered, due again later, or failed.
fn delivery_update(r: &AttemptResult) -> Option<DeliveryUpdate> {
    let a = &r.attempt;
    let delivery_id = a.delivery_id.as_ref()?;
    let ended = a.started_at + chrono::Duration::milliseconds(a.duration_ms as i64);
    let (status, next_attempt_at, delivered_at, ended_at) = match &r.outcome {
        AttemptOutcome::Delivered => (DeliveryStatus::Delivered, None, Some(ended), Some(a.started_at)),
        AttemptOutcome::RetryAt(at) => (DeliveryStatus::Pending, Some(*at), None, None),
        AttemptOutcome::Failed => (DeliveryStatus::Failed, None, None, Some(a.started_at)),
    };
    Some(DeliveryUpdate {
        id: delivery_id.clone(),
        status,
        attempts: a.number,
        next_attempt_at,
        last_status_code: a.status_code,
        delivered_at,
        ended_at,
    })
}

/// Keeps `failing_since` (when the current run of failures began) and disables a
/// webhook that has failed for too long or that the receiver declared gone.
///
/// Read first without a lock: a healthy webhook's calls change nothing, and locking its
/// row in every group made every group of every node wait for the one before to commit.
/// Only webhooks whose health changes are read again, locked, and decided on that. (A
/// success read against a stale row may leave a failure run that another node began a
/// moment before; the webhook's next success ends it.)
async fn save_health(tx: &mut dyn GroupTx, changes: BTreeMap<&str, HealthChange<'_>>) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = changes.keys().copied().collect();
    let read = tx.webhook_health(&ids, false).await?;
    let changing: Vec<&str> = read
        .iter()
        .filter(|current| {
            changes
                .get(current.id.as_str())
                .is_some_and(|change| next_health(current, change) != **current)
        })
        .map(|current| current.id.as_str())
        .collect();
    if changing.is_empty() {
        return Ok(());
    }
    let mut saved = Vec::new();
    for current in tx.webhook_health(&changing, true).await? {
        let Some(change) = changes.get(current.id.as_str()) else {
            continue;
        };
        let next = next_health(&current, change);
        if next != current {
            if next.enabled != current.enabled {
                let reason = next.disabled_reason.as_deref().unwrap_or_default();
                tracing::info!(webhook = %next.id, account = %change.account_id, %reason, "webhook disabled");
            }
            saved.push(next);
        }
    }
    if saved.is_empty() {
        return Ok(());
    }
    tx.save_webhook_health(&saved).await
}

fn next_health(current: &WebhookHealth, change: &HealthChange) -> WebhookHealth {
    let mut next = current.clone();
    if change.succeeded_last {
        next.failing_since = None;
    } else if let Some(first_failure) = change.first_failure {
        let since = *next.failing_since.get_or_insert(first_failure);
        if next.enabled && change.disable_if_failing_since.is_some_and(|limit| since <= limit) {
            next.enabled = false;
            next.disabled_reason = Some(format!(
                "every call has failed since {}",
                since.format("%Y-%m-%dT%H:%M:%SZ")
            ));
        }
    }
    if let Some(reason) = &change.gone
        && next.enabled
    {
        next.enabled = false;
        next.disabled_reason = Some(reason.clone());
    }
    next
}

/// Skipped events (unverified URL, condition errors) and held ones as counts of their
/// hours.
pub(crate) fn skips(skipped: HashMap<(String, DateTime<Utc>), HourSkips>) -> impl Iterator<Item = HourStats> {
    skipped
        .into_iter()
        .map(|((webhook_id, hour), counts)| skip_stats(webhook_id, hour, counts))
}

/// Adds the counters (and merges the latency histograms) into the stored hours: one
/// read and one write for the whole group, its rows locked in (webhook, hour) order, so
/// groups committing side by side wait for each other instead of deadlocking.
pub(crate) async fn add_stats(tx: &mut dyn GroupTx, added: Vec<HourStats>) -> Result<()> {
    if added.is_empty() {
        return Ok(());
    }
    let mut summed: BTreeMap<(String, DateTime<Utc>), HourStats> = BTreeMap::new();
    for add in added {
        summed
            .entry((add.webhook_id.clone(), add.hour))
            .and_modify(|counted| *counted = sum(counted, &add))
            .or_insert(add);
    }
    let added: Vec<HourStats> = summed.into_values().collect();
    let keys: Vec<(&str, DateTime<Utc>)> = added.iter().map(|s| (s.webhook_id.as_str(), s.hour)).collect();
    let stored: HashMap<(String, DateTime<Utc>), HourStats> = tx
        .hour_stats(&keys)
        .await?
        .into_iter()
        .map(|s| ((s.webhook_id.clone(), s.hour), s))
        .collect();
    let merged: Vec<HourStats> = added
        .into_iter()
        .map(|add| match stored.get(&(add.webhook_id.clone(), add.hour)) {
            None => add,
            Some(old) => sum(old, &add),
        })
        .collect();
    tx.save_hour_stats(&merged).await
}

/// Two counts of one webhook's hour added up.
fn sum(old: &HourStats, add: &HourStats) -> HourStats {
    let mut latency = old.latency.clone();
    latency.merge(&add.latency);
    HourStats {
        webhook_id: add.webhook_id.clone(),
        hour: add.hour,
        delivered: old.delivered + add.delivered,
        failed: old.failed.saturating_add(add.failed),
        skipped_unverified: old.skipped_unverified + add.skipped_unverified,
        condition_errors: old.condition_errors + add.condition_errors,
        held: old.held + add.held,
        attempts: old.attempts + add.attempts,
        latency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn healthy() -> WebhookHealth {
        WebhookHealth {
            id: "wh_1".into(),
            enabled: true,
            failing_since: None,
            disabled_reason: None,
        }
    }

    #[test]
    fn a_run_of_failures_starts_once_and_disables_after_the_limit() {
        let failing = HealthChange {
            first_failure: Some(at("2026-01-01T10:00:00Z")),
            disable_if_failing_since: Some(at("2025-12-27T10:00:00Z")),
            ..HealthChange::default()
        };
        let next = next_health(&healthy(), &failing);
        assert_eq!(next.failing_since, Some(at("2026-01-01T10:00:00Z")));
        assert!(next.enabled);

        let later = HealthChange {
            first_failure: Some(at("2026-01-06T11:00:00Z")),
            disable_if_failing_since: Some(at("2026-01-01T11:00:00Z")),
            ..HealthChange::default()
        };
        let disabled = next_health(&next, &later);
        assert_eq!(
            disabled.failing_since,
            Some(at("2026-01-01T10:00:00Z")),
            "the run began at the first failure"
        );
        assert!(!disabled.enabled);
        assert_eq!(
            disabled.disabled_reason.as_deref(),
            Some("every call has failed since 2026-01-01T10:00:00Z")
        );
    }

    #[test]
    fn a_success_ends_the_run_and_gone_disables_at_once() {
        let mut failing = healthy();
        failing.failing_since = Some(at("2026-01-01T10:00:00Z"));
        let ok = HealthChange {
            succeeded_last: true,
            ..HealthChange::default()
        };
        assert_eq!(next_health(&failing, &ok).failing_since, None);

        let gone = HealthChange {
            first_failure: Some(at("2026-01-01T10:00:00Z")),
            gone: Some("the receiver answered 410 Gone".into()),
            ..HealthChange::default()
        };
        let next = next_health(&healthy(), &gone);
        assert!(!next.enabled);
        assert_eq!(next.disabled_reason.as_deref(), Some("the receiver answered 410 Gone"));
    }
}
