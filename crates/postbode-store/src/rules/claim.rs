//! Which due deliveries a claim takes: oldest due first, each webhook within its room
//! (so a slow receiver's backlog stays in the database, unleased, instead of filling
//! memory and leases).

use std::collections::HashMap;

use crate::Result;
use crate::backend::GroupTx;
use crate::model::*;

/// Candidates read per delivery wanted: webhooks without room are skipped in the query,
/// the rest filtered here, so one busy webhook cannot fill the whole read.
const READ_AHEAD: u32 = 4;

pub(crate) async fn claim(tx: &mut dyn GroupTx, request: &ClaimRequest) -> Result<Claim> {
    let candidates = tx
        .due_deliveries(request, request.limit.saturating_mul(READ_AHEAD))
        .await?;
    let mut taken: HashMap<&str, u32> = HashMap::new();
    let mut chosen = Vec::new();
    for candidate in &candidates {
        if chosen.len() >= request.limit as usize {
            break;
        }
        let room = request.room_of(&candidate.webhook_id);
        let taken = taken.entry(&candidate.webhook_id).or_default();
        if *taken < room {
            *taken += 1;
            chosen.push(candidate.id.as_str());
        }
    }
    if chosen.is_empty() {
        return Ok(Claim::default());
    }
    let deliveries = tx.lease(&chosen, request.now, request.lease_until).await?;
    let webhook_ids: Vec<&str> = taken.keys().copied().collect();
    let webhooks = tx
        .webhooks(&webhook_ids)
        .await?
        .into_iter()
        .map(|w| (w.id.clone(), w))
        .collect();
    Ok(Claim { deliveries, webhooks })
}
