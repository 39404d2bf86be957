//! What the engine needs of the store, and nothing more: claims and hand-overs in,
//! results, releases and pauses out, and the signing keys. The store's full interface
//! serves the API too; the engine sees only this port, so what it may touch is plain.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use postbode_store::{AttemptResult, Claim, ClaimRequest, Dispatch, Result, SigningKeyRecord, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Leases due deliveries within each webhook's room.
    async fn claim(&self, request: ClaimRequest) -> Result<Claim>;
    /// The attempts of one call, in one commit.
    async fn record_attempts(&self, results: Vec<AttemptResult>) -> Result<()>;
    /// Gives leased deliveries back, claimable at once.
    async fn release(&self, delivery_ids: Vec<String>) -> Result<()>;
    /// Holds a webhook's calls back on every node until then (`None`: resume).
    async fn pause_webhook(&self, id: &str, pause: Option<(DateTime<Utc>, String)>) -> Result<()>;
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Notified when a commit made deliveries due.
    fn work_signal(&self) -> Arc<Notify>;
    /// New deliveries straight to this engine from now on (`None`: stop).
    fn attach(&self, dispatch: Option<(Arc<dyn Dispatch>, Duration)>);
}

/// The store the engine is given: any store, through this port.
pub fn port(store: Arc<dyn Store>) -> Arc<dyn DeliveryStore> {
    Arc::new(Shared(store))
}

/// The whole store seen through the port.
struct Shared(Arc<dyn Store>);

#[async_trait]
impl DeliveryStore for Shared {
    async fn claim(&self, request: ClaimRequest) -> Result<Claim> {
        self.0.claim(request).await
    }

    async fn record_attempts(&self, results: Vec<AttemptResult>) -> Result<()> {
        self.0.record_attempts(results).await
    }

    async fn release(&self, delivery_ids: Vec<String>) -> Result<()> {
        self.0.release(delivery_ids).await
    }

    async fn pause_webhook(&self, id: &str, pause: Option<(DateTime<Utc>, String)>) -> Result<()> {
        self.0.pause_webhook(id, pause).await
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        self.0.list_signing_keys().await
    }

    fn work_signal(&self) -> Arc<Notify> {
        self.0.work_signal()
    }

    fn attach(&self, dispatch: Option<(Arc<dyn Dispatch>, Duration)>) {
        self.0.attach(dispatch)
    }
}
