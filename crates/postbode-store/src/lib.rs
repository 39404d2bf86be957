//! Postbode's persistence, behind the one [`Store`] trait.
//!
//! The server and the delivery engine only see the trait; the binary picks the
//! implementation from the database URL. [`sqlite::SqliteStore`] is the default: one
//! writer task commits every concurrent write of the hot path (ingest, claims, attempt
//! results) in a shared transaction, so one fsync serves many requests (group commit).

pub mod error;
pub mod model;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use postbode_core::page::{Page, PageRequest};
use postbode_core::webhook::Webhook;
use std::sync::Arc;
use tokio::sync::Notify;

pub use error::StoreError;
pub use model::*;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything Postbode keeps. Every method that reads or changes an account's data takes
/// the account id and never touches another account's rows: tenant isolation is a
/// property of this interface, not of its callers.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // Accounts and their API keys.
    async fn create_account(&self, account: &Account, first_key: &ApiKey) -> Result<()>;
    async fn list_accounts(&self, page: &PageRequest) -> Result<Page<Account>>;
    async fn get_account(&self, id: &str) -> Result<Option<Account>>;
    async fn create_api_key(&self, key: &ApiKey) -> Result<()>;
    async fn delete_api_key(&self, account_id: &str, key_id: &str) -> Result<bool>;
    async fn find_api_key(&self, key_id: &str) -> Result<Option<ApiKey>>;

    // Webhooks.
    async fn create_webhook(&self, webhook: &Webhook) -> Result<()>;
    async fn get_webhook(&self, account_id: &str, id: &str) -> Result<Option<Webhook>>;
    /// The account's webhooks, only those limited to the filter's database or collection
    /// when it names one.
    async fn list_webhooks(
        &self,
        account_id: &str,
        filter: &WebhookFilter,
        page: &PageRequest,
    ) -> Result<Page<Webhook>>;
    /// Replaces the stored webhook with the same id and account; false when there is none.
    async fn update_webhook(&self, webhook: &Webhook) -> Result<bool>;
    async fn delete_webhook(&self, account_id: &str, id: &str) -> Result<bool>;

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
    async fn get_event(&self, account_id: &str, id: &str) -> Result<Option<(EventRecord, Vec<Delivery>)>>;
    async fn get_delivery(&self, account_id: &str, id: &str) -> Result<Option<Delivery>>;
    /// Makes the delivery due now for one more attempt, whatever its state.
    async fn resend_delivery(&self, account_id: &str, id: &str, now: DateTime<Utc>) -> Result<Option<Delivery>>;
    /// Makes every failed delivery of the webhook created in `[since, until]` due now.
    async fn recover_deliveries(
        &self,
        account_id: &str,
        webhook_id: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64>;

    // The delivery engine's side.
    /// Leases due deliveries of enabled (and, when required, verified) webhooks, within
    /// each webhook's room.
    async fn claim(&self, request: ClaimRequest) -> Result<Claim>;
    async fn record_attempt(&self, result: AttemptResult) -> Result<()>;
    /// Gives leased deliveries back (shutdown), so another node may claim them at once.
    async fn release(&self, delivery_ids: Vec<String>) -> Result<()>;
    /// Notified after a commit that made deliveries due, so the engine need not poll.
    fn work_signal(&self) -> Arc<Notify>;

    // Postbode's signing keys.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Adds new keys and reschedules existing ones (by id), in one transaction.
    async fn save_signing_keys(
        &self,
        new: &[SigningKeyRecord],
        rescheduled: &[(String, postbode_core::signing_keys::KeySchedule)],
    ) -> Result<()>;

    // Profile data. Changes to profiles and subprofiles go through `change_profiles`,
    // which commits each change with its event and deliveries.
    async fn create_database(&self, database: &Database) -> Result<()>;
    async fn get_database(&self, account_id: &str, id: &str) -> Result<Option<Database>>;
    async fn list_databases(&self, account_id: &str, page: &PageRequest) -> Result<Page<Database>>;
    async fn update_database(&self, database: &Database) -> Result<bool>;
    /// Deletes the database with its collections, profiles and subprofiles (no events).
    async fn delete_database(&self, account_id: &str, id: &str) -> Result<bool>;
    async fn create_collection(&self, collection: &Collection) -> Result<()>;
    async fn get_collection(&self, account_id: &str, id: &str) -> Result<Option<Collection>>;
    async fn list_collections(
        &self,
        account_id: &str,
        database_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Collection>>;
    async fn update_collection(&self, collection: &Collection) -> Result<bool>;
    async fn delete_collection(&self, account_id: &str, id: &str) -> Result<bool>;
    async fn get_profile(&self, account_id: &str, id: &str) -> Result<Option<Profile>>;
    async fn list_profiles(&self, account_id: &str, database_id: &str, query: &ProfileQuery) -> Result<Page<Profile>>;
    /// The account's profiles among `ids`, each with its database, in one read.
    async fn profiles_with_databases(
        &self,
        account_id: &str,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, (Profile, Database)>>;
    async fn get_subprofile(&self, account_id: &str, id: &str) -> Result<Option<Subprofile>>;
    async fn list_subprofiles(
        &self,
        account_id: &str,
        profile_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Subprofile>>;
    /// Applies the changes in order, all or nothing, each with its event and deliveries.
    async fn change_profiles(&self, request: ChangeRequest) -> Result<Vec<ChangeOutcome>>;

    // Sent messages.
    async fn create_message(&self, message: &Message) -> Result<()>;
    /// The message with its profile data as it is now, from any account: tracking
    /// requests carry no key (their token's MAC proves them), so callers check the
    /// account where one is known.
    async fn message_context(&self, id: &str) -> Result<Option<MessageContext>>;
    /// Stores a mail event of a message (an open, a click), enriched in the commit with
    /// the message's profile data as it is then; `None` when there is no such message.
    async fn track(
        &self,
        message_id: &str,
        event: postbode_core::mail::MailEvent,
        now: DateTime<Utc>,
        require_verification: bool,
    ) -> Result<Option<Ingested>>;

    // The log.
    async fn list_attempts(&self, account_id: &str, query: &AttemptQuery) -> Result<Page<Attempt>>;
    async fn webhook_stats(&self, account_id: &str, webhook_id: &str, query: &StatsQuery) -> Result<Vec<StatsBucket>>;
    // The dashboard's reads.
    /// The account's API keys, ids and creation times only, oldest first.
    async fn list_api_keys(&self, account_id: &str) -> Result<Vec<ApiKeyInfo>>;
    /// Every webhook of the account added up per hour or day, in one query.
    async fn account_stats(&self, account_id: &str, query: &StatsQuery) -> Result<Vec<StatsBucket>>;
    /// The newest attempts of one delivery (at most [`MAX_DELIVERY_ATTEMPTS`]), newest first.
    async fn delivery_attempts(&self, account_id: &str, delivery_id: &str) -> Result<Vec<Attempt>>;
    /// The newest attempt of each of the account's webhooks in `webhook_ids`, by webhook id.
    async fn latest_attempts(
        &self,
        account_id: &str,
        webhook_ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Attempt>>;
    /// A webhook's deliveries, newest first (paged by id descending), filtered by
    /// status, event type and creation time.
    async fn list_deliveries(&self, account_id: &str, query: &DeliveryQuery) -> Result<Page<Delivery>>;
}
