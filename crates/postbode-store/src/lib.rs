//! Postbode's persistence: the product's rules about stored data, written once, over a
//! narrow interface that each database backend implements with its own SQL.
//!
//! - [`Store`] is what the server and the delivery engine use: plain records
//!   ([`Records`]) plus the operations that carry rules (ingest, profile changes, mail
//!   events, claims, attempt results, retries).
//! - `rules` holds those rules; `writer` applies them in group commits.
//! - [`backend`] is the interface a backend implements: [`Records`], and [`GroupTx`],
//!   the reads and writes the rules make inside a write group.
//! - [`sqlite`] (the default: one writer, group commit) and [`postgres`] (several nodes,
//!   `SKIP LOCKED` claims, LISTEN/NOTIFY) are the backends; [`open`] picks one by URL.

pub mod backend;
pub mod error;
mod handoff;
mod keys;
pub mod model;
pub mod postgres;
mod prune_sql;
mod records_sql;
mod replay;
mod replay_sql;
mod rows;
mod rules;
pub mod sqlite;
pub mod transfer;
pub mod writer;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::Notify;

pub use backend::{Backend, GroupTx, PruneTx, Records, ReplayRecords};
pub use error::StoreError;
pub use handoff::Dispatch;
pub use model::*;
pub use replay::*;
use writer::WriteOp;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything Postbode keeps, and the rules of what changes it. Implemented once, for
/// every [`Backend`].
#[async_trait]
pub trait Store: Records {
    /// Commits the events, all or nothing, with one pending delivery per matching
    /// enabled webhook (and verified, when `require_verification`; an unverified one is
    /// counted as `skipped_unverified` instead). Returns one outcome per event, in order.
    async fn ingest(
        &self,
        account_id: &str,
        events: Vec<NewEvent>,
        now: DateTime<Utc>,
        require_verification: bool,
    ) -> Result<Vec<Ingested>>;
    /// Applies the changes in order, all or nothing, each with its event and deliveries.
    async fn change_profiles(&self, request: ChangeRequest) -> Result<Vec<ChangeOutcome>>;
    /// Stores a mail event of a message, enriched in the commit with the message's profile
    /// data as it is then; `None` when there is no such message (in the request's account).
    async fn mail_event(&self, request: MailRequest) -> Result<Option<Ingested>>;
    /// Makes deliveries due now for one more attempt: one (resend, whatever its state),
    /// or a webhook's failed and waiting ones (recover). Returns the ids it picked.
    async fn retry(&self, request: RetryRequest) -> Result<Vec<String>>;
    /// Makes a replay job (see `rules::replay`), or says why not.
    async fn start_replay(&self, request: ReplayRequest) -> Result<ReplayStart>;
    /// Does a job's next batch of at most `batch` rows; the job after it (`None`: it is
    /// gone with its webhook).
    async fn advance_replay(
        &self,
        job: &ReplayJob,
        batch: u32,
        now: DateTime<Utc>,
        require_verification: bool,
    ) -> Result<Option<ReplayJob>>;
    async fn replay_job(&self, account_id: &str, id: &str) -> Result<Option<ReplayJob>>;
    /// The webhook's newest jobs first.
    async fn replay_jobs(&self, account_id: &str, webhook_id: &str, limit: u32) -> Result<Vec<ReplayJob>>;
    /// The jobs still running, of every account (to resume after a restart).
    async fn running_replays(&self) -> Result<Vec<ReplayJob>>;
    /// Ends a running job as failed, with why.
    async fn fail_replay(&self, id: &str, error: &str, now: DateTime<Utc>) -> Result<()>;

    // The delivery engine's side.
    /// Leases due deliveries of enabled (and, when required, verified) webhooks, within
    /// each webhook's room.
    async fn claim(&self, request: ClaimRequest) -> Result<Claim>;
    async fn record_attempt(&self, result: AttemptResult) -> Result<()> {
        self.record_attempts(vec![result]).await
    }
    /// Records the attempts of one call (several for a batch) in one commit.
    async fn record_attempts(&self, results: Vec<AttemptResult>) -> Result<()>;
    /// Gives leased deliveries back (shutdown), so another node may claim them at once.
    async fn release(&self, delivery_ids: Vec<String>) -> Result<()>;
    /// Deletes what retention lets go (see [`PruneRequest`]), a batch per transaction,
    /// until a batch finds no more. Safe on several nodes at once.
    async fn prune(&self, request: PruneRequest) -> Result<Pruned>;
    /// Notified after a commit that made deliveries due, so the engine need not poll.
    fn work_signal(&self) -> Arc<Notify>;
    /// Hands new deliveries straight to this node's engine, leased to it for `lease`,
    /// instead of leaving them to be claimed (see `handoff`); `None` detaches it.
    fn attach(&self, dispatch: Option<(Arc<dyn Dispatch>, std::time::Duration)>);
}

#[async_trait]
impl<B: Backend> Store for B {
    async fn ingest(
        &self,
        account_id: &str,
        events: Vec<NewEvent>,
        now: DateTime<Utc>,
        require_verification: bool,
    ) -> Result<Vec<Ingested>> {
        let account_id = account_id.to_owned();
        self.writer()
            .send(|reply| WriteOp::Ingest {
                account_id,
                events,
                now,
                require_verification,
                reply,
            })
            .await
    }

    async fn change_profiles(&self, request: ChangeRequest) -> Result<Vec<ChangeOutcome>> {
        self.writer().send(|reply| WriteOp::Change { request, reply }).await
    }

    async fn mail_event(&self, request: MailRequest) -> Result<Option<Ingested>> {
        self.writer().send(|reply| WriteOp::Mail { request, reply }).await
    }

    async fn retry(&self, request: RetryRequest) -> Result<Vec<String>> {
        self.writer().send(|reply| WriteOp::Retry { request, reply }).await
    }

    async fn start_replay(&self, request: ReplayRequest) -> Result<ReplayStart> {
        rules::replay::start(self, request).await
    }

    async fn advance_replay(
        &self,
        job: &ReplayJob,
        batch: u32,
        now: DateTime<Utc>,
        require_verification: bool,
    ) -> Result<Option<ReplayJob>> {
        rules::replay::advance(self, job, batch, now, require_verification).await
    }

    async fn replay_job(&self, account_id: &str, id: &str) -> Result<Option<ReplayJob>> {
        self.get_replay_job(account_id, id).await
    }

    async fn replay_jobs(&self, account_id: &str, webhook_id: &str, limit: u32) -> Result<Vec<ReplayJob>> {
        self.webhook_replay_jobs(account_id, webhook_id, limit).await
    }

    async fn running_replays(&self) -> Result<Vec<ReplayJob>> {
        self.running_replay_jobs().await
    }

    async fn fail_replay(&self, id: &str, error: &str, now: DateTime<Utc>) -> Result<()> {
        self.fail_replay_job(id, error, now).await
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Claim> {
        let Some(mut tx) = self.claim_transaction().await? else {
            return self.writer().send(|reply| WriteOp::Claim { request, reply }).await;
        };
        match rules::claim::claim(tx.as_mut(), &request).await {
            Ok(claim) => tx.commit().await.map(|()| claim),
            Err(e) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "rolling back a failed claim");
                }
                Err(e)
            }
        }
    }

    async fn record_attempts(&self, results: Vec<AttemptResult>) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        self.writer().send(|reply| WriteOp::Record { results, reply }).await
    }

    async fn release(&self, delivery_ids: Vec<String>) -> Result<()> {
        if delivery_ids.is_empty() {
            return Ok(());
        }
        self.writer()
            .send(|reply| WriteOp::Release { delivery_ids, reply })
            .await
    }

    async fn prune(&self, request: PruneRequest) -> Result<Pruned> {
        rules::retention::prune(self, &request).await
    }

    fn work_signal(&self) -> Arc<Notify> {
        Backend::work_signal(self)
    }

    fn attach(&self, dispatch: Option<(Arc<dyn Dispatch>, std::time::Duration)>) {
        self.writer().attach(dispatch);
    }
}

/// Opens the store a database URL names: `sqlite://PATH` or `postgres://...`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        postgres::PgStore::open(url).await
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
