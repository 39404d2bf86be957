//! Sending deliveries again on a user's request: one delivery (resend), or a webhook's
//! deliveries of a time range (recover).
//!
//! Recover picks every delivery that is not delivered and not in flight: failed ones,
//! and pending ones waiting out a retry back-off. A user who presses "recover" after
//! fixing a receiver expects everything waiting to go now. A delivery sent again no
//! longer counts as delivered or failed in the hour it ended in: it counts in the hour
//! of its new end, so the statistics count each delivery once.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use super::routing::hour_of;
use crate::Result;
use crate::backend::{GroupTx, HourStats};
use crate::model::*;

pub(crate) async fn retry(tx: &mut dyn GroupTx, request: &RetryRequest) -> Result<Vec<String>> {
    let picked = tx
        .deliveries_to_retry(&request.account_id, &request.selection, request.now)
        .await?;
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let trigger = match request.selection {
        RetrySelection::Delivery(_) => Trigger::Resend,
        RetrySelection::Webhook { .. } => Trigger::Recover,
        RetrySelection::Replay { .. } => Trigger::Replay,
    };
    let ids: Vec<&str> = picked.iter().map(|d| d.id.as_str()).collect();
    tx.retry_deliveries(&ids, trigger, request.now).await?;
    let mut uncounted: BTreeMap<(&str, DateTime<Utc>), (u64, u64)> = BTreeMap::new();
    for delivery in &picked {
        let Some(ended) = delivery.ended_at else { continue };
        let counts = uncounted.entry((&delivery.webhook_id, hour_of(ended))).or_default();
        match delivery.status {
            DeliveryStatus::Delivered => counts.0 += 1,
            DeliveryStatus::Failed => counts.1 += 1,
            DeliveryStatus::Pending | DeliveryStatus::Skipped => {}
        }
    }
    uncount(tx, uncounted).await?;
    Ok(picked.into_iter().map(|d| d.id).collect())
}

/// Takes delivered and failed deliveries out of the hours they were counted in.
async fn uncount(tx: &mut dyn GroupTx, uncounted: BTreeMap<(&str, DateTime<Utc>), (u64, u64)>) -> Result<()> {
    let keys: Vec<(&str, DateTime<Utc>)> = uncounted.keys().copied().collect();
    if keys.is_empty() {
        return Ok(());
    }
    let stored: Vec<HourStats> = tx
        .hour_stats(&keys)
        .await?
        .into_iter()
        .map(|mut s| {
            if let Some((delivered, failed)) = uncounted.get(&(s.webhook_id.as_str(), s.hour)) {
                s.delivered = s.delivered.saturating_sub(*delivered);
                s.failed = s.failed.saturating_sub(*failed);
            }
            s
        })
        .collect();
    tx.save_hour_stats(&stored).await
}
