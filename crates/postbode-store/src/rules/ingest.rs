//! Custom events in: routed to their webhooks, and deduplicated by idempotency key.
//!
//! A key is stored with the event it first made, for as long as the key lives. Reusing
//! it with the same request answers that event again (nothing new is stored); with
//! another request it is a conflict, and the whole op (a batch is all or nothing) is
//! refused. A group's own keys are remembered in memory; keys of earlier groups (or of
//! another node, at the same moment) are settled by the database in one statement per
//! op, inside a savepoint so a refused op leaves no key behind.

use chrono::{DateTime, Utc};

use super::group::{Group, SkipCount, owned};
use super::routing::route;
use crate::backend::{GroupTx, IdempotencyRow};
use crate::model::*;
use crate::{Result, StoreError};

impl Group {
    pub async fn ingest(
        &mut self,
        tx: &mut dyn GroupTx,
        account_id: &str,
        events: Vec<NewEvent>,
        now: DateTime<Utc>,
        require_verification: bool,
    ) -> Result<Vec<Ingested>> {
        self.webhooks_of(tx, account_id).await?;
        let mut outcomes: Vec<Option<Ingested>> = vec![None; events.len()];
        let mut fresh: Vec<(usize, NewEvent, Vec<String>, Vec<SkipCount>)> = Vec::with_capacity(events.len());
        let mut claims: Vec<IdempotencyRow> = Vec::new();
        for (index, event) in events.into_iter().enumerate() {
            let (targets, skipped) = owned(route(self.webhooks(account_id), &event, require_verification));
            if let Some(key) = &event.idempotency {
                let earlier = claims
                    .iter()
                    .find(|k| k.key == key.key)
                    .or_else(|| self.keys.get(&(account_id.to_owned(), key.key.clone())));
                if let Some(earlier) = earlier {
                    outcomes[index] = Some(repeat(earlier, key)?);
                    continue;
                }
                claims.push(IdempotencyRow {
                    account_id: account_id.to_owned(),
                    key: key.key.clone(),
                    request_hash: key.request_hash.clone(),
                    event_id: event.id.clone(),
                    deliveries: targets.len() as u32,
                    expires_at: key.expires_at,
                });
            }
            fresh.push((index, event, targets, skipped));
        }
        let live = self.claim_keys(tx, &claims, now).await?;
        for (index, event, targets, skipped) in fresh {
            if let Some(key) = &event.idempotency
                && let Some(earlier) = live.iter().find(|k| k.key == key.key)
            {
                outcomes[index] = Some(repeat(earlier, key)?);
                continue;
            }
            outcomes[index] = Some(self.stage(account_id, event, targets, skipped));
        }
        for claim in claims {
            if !live.iter().any(|k| k.key == claim.key) {
                self.keys.insert((claim.account_id.clone(), claim.key.clone()), claim);
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| StoreError::Invalid("an event was neither stored nor repeated".into())))
            .collect()
    }

    /// Stores the op's new keys; answers those already held by an earlier request. A
    /// conflict undoes the op's keys and refuses it.
    async fn claim_keys(
        &mut self,
        tx: &mut dyn GroupTx,
        claims: &[IdempotencyRow],
        now: DateTime<Utc>,
    ) -> Result<Vec<IdempotencyRow>> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        tx.savepoint().await?;
        let live = match tx.claim_idempotency_keys(claims, now).await {
            Ok(live) => live,
            Err(e) => {
                self.undo(tx).await;
                return Err(e);
            }
        };
        let conflict = live.iter().find(|held| {
            claims
                .iter()
                .any(|c| c.key == held.key && c.request_hash != held.request_hash)
        });
        if let Some(held) = conflict {
            let key = held.key.clone();
            self.undo(tx).await;
            return Err(StoreError::IdempotencyConflict { key });
        }
        tx.release_savepoint().await?;
        Ok(live)
    }

    /// Undoes the current savepoint; if the database gave up the whole transaction, the
    /// group is lost and nothing more of it may be written.
    pub async fn undo(&mut self, tx: &mut dyn GroupTx) {
        let undone = match tx.rollback_to_savepoint().await {
            Ok(()) => tx.release_savepoint().await,
            Err(e) => Err(e),
        };
        if let Err(e) = undone {
            tracing::error!(error = %e, "undoing a refused request failed: the write group is lost");
            self.broken = Some(e);
        }
    }
}

/// The answer to a request that repeats an earlier one's key.
fn repeat(earlier: &IdempotencyRow, key: &IdempotencyKey) -> Result<Ingested> {
    if earlier.request_hash != key.request_hash {
        return Err(StoreError::IdempotencyConflict { key: key.key.clone() });
    }
    Ok(Ingested {
        event_id: earlier.event_id.clone(),
        deliveries: earlier.deliveries,
        skipped: Skipped::default(),
        duplicate: true,
    })
}
