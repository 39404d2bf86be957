//! Deliveries handed straight to this node's engine when their event commits.
//!
//! A claim costs a database round trip (and on SQLite a turn of the writer) per batch,
//! and waits for the next commit; a fresh delivery need not pay that. While a write
//! group is applied, the writer asks the engine how many of each webhook's new
//! deliveries it takes now ([`Dispatch::reserve`]), inserts those already leased to this
//! node, and after the commit hands them over with their event's body
//! ([`Dispatch::dispatch`]). The rest are inserted unleased and claimed as before, so an
//! engine that is full, paused or absent changes nothing but the path. A delivery that
//! must wait for an earlier one of its subject (ordered webhooks) is never handed over.

use std::sync::{Arc, RwLock};

use crate::model::Claim;

/// The engine's side of the hand-over. Called from the writer, so none of these may
/// block or wait.
pub trait Dispatch: Send + Sync + 'static {
    /// How many of `wanted` new deliveries of the webhook the engine takes now.
    fn reserve(&self, webhook_id: &str, wanted: usize) -> usize;
    /// Gives back what a group reserved but could not commit.
    fn unreserve(&self, webhook_id: &str, count: usize);
    /// Committed deliveries, leased to this node, with their webhooks.
    fn dispatch(&self, claim: Claim);
}

/// The engine attached to the write path, and how long a handed-over delivery is
/// leased to it.
#[derive(Clone)]
pub(crate) struct Handoff {
    pub dispatch: Arc<dyn Dispatch>,
    pub lease: chrono::Duration,
}

/// Where the writer finds the attached engine (set by [`crate::Store::attach`]).
#[derive(Clone, Default)]
pub(crate) struct HandoffSlot(Arc<RwLock<Option<Handoff>>>);

impl HandoffSlot {
    pub fn set(&self, handoff: Option<Handoff>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = handoff;
    }

    pub fn get(&self) -> Option<Handoff> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
