//! The embedded SQLite store: WAL mode with `synchronous=FULL` for durability, one
//! writer task for the hot path (see [`writer`]), a pool of connections for reads and
//! for the rare management writes (which wait their turn through `busy_timeout`).

mod attempts;
mod changes;
mod deliveries;
mod keys;
mod profiles;
mod rows;
mod stats;
mod writer;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use postbode_core::mail::MailEvent;
use postbode_core::page::{Page, PageRequest};
use postbode_core::webhook::Webhook;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Row};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::model::*;
use crate::{Result, Store, StoreError};
use rows::ms;
use writer::WriteOp;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    writer: mpsc::Sender<WriteOp>,
    work: Arc<Notify>,
    /// Held for the store's lifetime: one process per SQLite file (see `open`).
    _lock: Option<std::fs::File>,
}

/// Takes `<database file>.lock` exclusively, so a second process cannot open the same
/// file: the store clears leases at open on the understanding that it is alone. The
/// operating system releases the lock when the process dies, even by `kill -9`.
fn lock_database(options: &SqliteConnectOptions) -> Result<Option<std::fs::File>> {
    let path = options.get_filename();
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        return Ok(None);
    }
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::Commit(format!("opening {}: {e}", std::path::Path::new(&lock_path).display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse(path.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Commit(format!("locking {}: {e}", path.display()))),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://PATH`) and applies
    /// the migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-32000")
            .log_statements(tracing::log::LevelFilter::Trace);
        let lock = lock_database(&options)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        // An SQLite file has one service process (the data directory is not shared), so
        // a lease found at open belongs to a process that died: its deliveries are due
        // now, not when the lease would have run out.
        sqlx::query("UPDATE deliveries SET lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL")
            .execute(&pool)
            .await?;
        let (writer, ops) = mpsc::channel(writer::MAX_GROUP * 4);
        let work = Arc::new(Notify::new());
        // The writer gets a thread and runtime of its own: every statement is a round
        // trip to SQLite's worker thread, and on the shared runtime each of those waits
        // behind the HTTP traffic, which is what made groups slow under load.
        let (ready, opened) = oneshot::channel();
        let signal = work.clone();
        std::thread::Builder::new()
            .name("postbode-writer".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(StoreError::Commit(format!("starting the writer: {e}"))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match options.connect().await {
                        Ok(connection) => {
                            let _ = ready.send(Ok(()));
                            writer::run(connection, ops, signal).await;
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e.into()));
                        }
                    }
                });
            })
            .map_err(|e| StoreError::Commit(format!("starting the writer thread: {e}")))?;
        opened.await.map_err(|_| StoreError::Closed)??;
        Ok(Self {
            pool,
            writer,
            work,
            _lock: lock,
        })
    }

    async fn write<T>(&self, op: impl FnOnce(oneshot::Sender<Result<T>>) -> WriteOp) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(op(reply)).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

fn page_limit(page: &PageRequest) -> i64 {
    i64::from(page.limit) + 1
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_database(&self, database: &Database) -> Result<()> {
        profiles::create_database(&self.pool, database).await
    }

    async fn get_database(&self, account_id: &str, id: &str) -> Result<Option<Database>> {
        profiles::get_database(&self.pool, account_id, id).await
    }

    async fn list_databases(&self, account_id: &str, page: &PageRequest) -> Result<Page<Database>> {
        profiles::list_databases(&self.pool, account_id, page).await
    }

    async fn update_database(&self, database: &Database) -> Result<bool> {
        profiles::update_database(&self.pool, database).await
    }

    async fn delete_database(&self, account_id: &str, id: &str) -> Result<bool> {
        profiles::delete_in_account(&self.pool, "databases", account_id, id).await
    }

    async fn create_collection(&self, collection: &Collection) -> Result<()> {
        profiles::create_collection(&self.pool, collection).await
    }

    async fn get_collection(&self, account_id: &str, id: &str) -> Result<Option<Collection>> {
        profiles::get_collection(&self.pool, account_id, id).await
    }

    async fn list_collections(
        &self,
        account_id: &str,
        database_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Collection>> {
        profiles::list_collections(&self.pool, account_id, database_id, page).await
    }

    async fn update_collection(&self, collection: &Collection) -> Result<bool> {
        profiles::update_collection(&self.pool, collection).await
    }

    async fn delete_collection(&self, account_id: &str, id: &str) -> Result<bool> {
        profiles::delete_in_account(&self.pool, "collections", account_id, id).await
    }

    async fn get_profile(&self, account_id: &str, id: &str) -> Result<Option<Profile>> {
        profiles::get_profile(&self.pool, account_id, id).await
    }

    async fn list_profiles(&self, account_id: &str, database_id: &str, query: &ProfileQuery) -> Result<Page<Profile>> {
        profiles::list_profiles(&self.pool, account_id, database_id, query).await
    }

    async fn profiles_with_databases(
        &self,
        account_id: &str,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, (Profile, Database)>> {
        profiles::profiles_with_databases(&self.pool, account_id, ids).await
    }

    async fn get_subprofile(&self, account_id: &str, id: &str) -> Result<Option<Subprofile>> {
        profiles::get_subprofile(&self.pool, account_id, id).await
    }

    async fn list_subprofiles(
        &self,
        account_id: &str,
        profile_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Subprofile>> {
        profiles::list_subprofiles(&self.pool, account_id, profile_id, page).await
    }

    async fn change_profiles(&self, request: ChangeRequest) -> Result<Vec<ChangeOutcome>> {
        self.write(|reply| WriteOp::Change { request, reply }).await
    }

    async fn create_message(&self, message: &Message) -> Result<()> {
        profiles::create_message(&self.pool, message).await
    }

    async fn message_context(&self, id: &str) -> Result<Option<MessageContext>> {
        let mut conn = self.pool.acquire().await?;
        Ok(profiles::message_contexts(&mut conn, &[id]).await?.remove(id))
    }

    async fn track(
        &self,
        message_id: &str,
        event: MailEvent,
        now: DateTime<Utc>,
        require_verification: bool,
    ) -> Result<Option<Ingested>> {
        let message_id = message_id.to_owned();
        self.write(|reply| WriteOp::Track {
            message_id,
            event,
            now,
            require_verification,
            reply,
        })
        .await
    }

    async fn create_account(&self, account: &Account, first_key: &ApiKey) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)")
            .bind(&account.id)
            .bind(&account.name)
            .bind(ms(account.created_at))
            .execute(&mut *tx)
            .await?;
        insert_key(&mut tx, first_key).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_accounts(&self, page: &PageRequest) -> Result<Page<Account>> {
        let rows = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id > ? ORDER BY id LIMIT ?")
            .bind(page.after.as_deref().unwrap_or(""))
            .bind(page_limit(page))
            .fetch_all(&self.pool)
            .await?;
        let accounts = rows.iter().map(account).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(accounts, page.limit, |a| &a.id))
    }

    async fn get_account(&self, id: &str) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account).transpose()
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_key(&mut conn, key).await
    }

    async fn delete_api_key(&self, account_id: &str, key_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM api_keys WHERE id = ? AND account_id = ?")
            .bind(key_id)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn find_api_key(&self, key_id: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query("SELECT id, account_id, secret_hash, created_at FROM api_keys WHERE id = ?")
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(ApiKey {
                id: row.try_get("id")?,
                account_id: row.try_get("account_id")?,
                secret_hash: row.try_get("secret_hash")?,
                created_at: rows::time(row.try_get("created_at")?),
            })
        })
        .transpose()
    }

    async fn create_webhook(&self, webhook: &Webhook) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO webhooks ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows::WEBHOOK_COLUMNS
        ))
        .bind(&webhook.id)
        .bind(&webhook.account_id)
        .bind(serde_json::to_string(&webhook.settings)?)
        .bind(webhook.settings.enabled)
        .bind(&webhook.disabled_reason)
        .bind(&webhook.secret)
        .bind(serde_json::to_string(&webhook.verification)?)
        .bind(webhook.failing_since.map(ms))
        .bind(ms(webhook.created_at))
        .bind(ms(webhook.updated_at))
        .bind(webhook.previous_secret.as_ref().map(|(sealed, _)| sealed))
        .bind(webhook.previous_secret.as_ref().map(|(_, until)| ms(*until)))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_webhook(&self, account_id: &str, id: &str) -> Result<Option<Webhook>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM webhooks WHERE id = ? AND account_id = ?",
            rows::WEBHOOK_COLUMNS
        ))
        .bind(id)
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::webhook).transpose()
    }

    async fn list_webhooks(
        &self,
        account_id: &str,
        filter: &WebhookFilter,
        page: &PageRequest,
    ) -> Result<Page<Webhook>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM webhooks WHERE account_id = ?1 \
             AND (?2 IS NULL OR settings ->> '$.database_id' = ?2) \
             AND (?3 IS NULL OR settings ->> '$.collection_id' = ?3) \
             AND id > ?4 ORDER BY id LIMIT ?5",
            rows::WEBHOOK_COLUMNS
        ))
        .bind(account_id)
        .bind(&filter.database_id)
        .bind(&filter.collection_id)
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(page_limit(page))
        .fetch_all(&self.pool)
        .await?;
        let webhooks = rows.iter().map(rows::webhook).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(webhooks, page.limit, |w| &w.id))
    }

    async fn update_webhook(&self, webhook: &Webhook) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE webhooks SET settings = ?, enabled = ?, disabled_reason = ?, secret = ?, verification = ?, \
             failing_since = ?, updated_at = ?, previous_secret = ?, previous_secret_until = ? \
             WHERE id = ? AND account_id = ?",
        )
        .bind(serde_json::to_string(&webhook.settings)?)
        .bind(webhook.settings.enabled)
        .bind(&webhook.disabled_reason)
        .bind(&webhook.secret)
        .bind(serde_json::to_string(&webhook.verification)?)
        .bind(webhook.failing_since.map(ms))
        .bind(ms(webhook.updated_at))
        .bind(webhook.previous_secret.as_ref().map(|(sealed, _)| sealed))
        .bind(webhook.previous_secret.as_ref().map(|(_, until)| ms(*until)))
        .bind(&webhook.id)
        .bind(&webhook.account_id)
        .execute(&self.pool)
        .await?;
        if webhook.settings.enabled {
            // Deliveries that waited while it was disabled may go now.
            self.work.notify_one();
        }
        Ok(done.rows_affected() > 0)
    }

    async fn delete_webhook(&self, account_id: &str, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = ? AND account_id = ?")
            .bind(id)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn ingest(
        &self,
        account_id: &str,
        events: Vec<NewEvent>,
        now: DateTime<Utc>,
        require_verification: bool,
    ) -> Result<Vec<Ingested>> {
        self.write(|reply| WriteOp::Ingest {
            account_id: account_id.to_owned(),
            events,
            now,
            require_verification,
            reply,
        })
        .await
    }

    async fn get_event(&self, account_id: &str, id: &str) -> Result<Option<(EventRecord, Vec<Delivery>)>> {
        let Some(row) = sqlx::query("SELECT id, type, body, created_at FROM events WHERE id = ? AND account_id = ?")
            .bind(id)
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let event = EventRecord {
            id: row.try_get("id")?,
            event_type: row.try_get("type")?,
            body: row.try_get("body")?,
            created_at: rows::time(row.try_get("created_at")?),
        };
        let deliveries = sqlx::query(&format!(
            "SELECT {} FROM deliveries WHERE event_id = ? AND account_id = ? ORDER BY id",
            rows::DELIVERY_COLUMNS
        ))
        .bind(id)
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::delivery)
        .collect::<Result<Vec<_>>>()?;
        Ok(Some((event, deliveries)))
    }

    async fn get_delivery(&self, account_id: &str, id: &str) -> Result<Option<Delivery>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM deliveries WHERE id = ? AND account_id = ?",
            rows::DELIVERY_COLUMNS
        ))
        .bind(id)
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::delivery).transpose()
    }

    async fn resend_delivery(&self, account_id: &str, id: &str, now: DateTime<Utc>) -> Result<Option<Delivery>> {
        let row = sqlx::query(&format!(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, next_trigger = 'resend', lease_until = NULL \
             WHERE id = ? AND account_id = ? RETURNING {}",
            rows::DELIVERY_COLUMNS
        ))
        .bind(ms(now))
        .bind(id)
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        self.work.notify_one();
        row.as_ref().map(rows::delivery).transpose()
    }

    async fn recover_deliveries(
        &self,
        account_id: &str,
        webhook_id: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, next_trigger = 'recover', lease_until = NULL \
             WHERE webhook_id = ? AND account_id = ? AND status = 'failed' AND created_at >= ? AND created_at <= ?",
        )
        .bind(ms(now))
        .bind(webhook_id)
        .bind(account_id)
        .bind(ms(since))
        .bind(ms(until))
        .execute(&self.pool)
        .await?;
        self.work.notify_one();
        Ok(done.rows_affected())
    }

    async fn claim(&self, request: ClaimRequest) -> Result<Claim> {
        self.write(|reply| WriteOp::Claim { request, reply }).await
    }

    async fn record_attempt(&self, result: AttemptResult) -> Result<()> {
        self.write(|reply| WriteOp::Record {
            result: Box::new(result),
            reply,
        })
        .await
    }

    async fn release(&self, delivery_ids: Vec<String>) -> Result<()> {
        if delivery_ids.is_empty() {
            return Ok(());
        }
        self.write(|reply| WriteOp::Release { delivery_ids, reply }).await
    }

    fn work_signal(&self) -> Arc<Notify> {
        self.work.clone()
    }

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "SELECT id, algorithm, selector, private_key, public_key, activates_at, retires_at, expires_at, created_at \
             FROM signing_keys ORDER BY activates_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SigningKeyRecord {
                    id: row.try_get("id")?,
                    algorithm: row.try_get("algorithm")?,
                    selector: row.try_get("selector")?,
                    sealed_private_key: row.try_get("private_key")?,
                    public_key: row.try_get("public_key")?,
                    schedule: postbode_core::signing_keys::KeySchedule {
                        activates_at: rows::time(row.try_get("activates_at")?),
                        retires_at: rows::time(row.try_get("retires_at")?),
                        expires_at: rows::time(row.try_get("expires_at")?),
                    },
                    created_at: rows::time(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    async fn save_signing_keys(
        &self,
        new: &[SigningKeyRecord],
        rescheduled: &[(String, postbode_core::signing_keys::KeySchedule)],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (id, schedule) in rescheduled {
            sqlx::query("UPDATE signing_keys SET activates_at = ?, retires_at = ?, expires_at = ? WHERE id = ?")
                .bind(ms(schedule.activates_at))
                .bind(ms(schedule.retires_at))
                .bind(ms(schedule.expires_at))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for key in new {
            sqlx::query(
                "INSERT INTO signing_keys (id, algorithm, selector, private_key, public_key, activates_at, retires_at, \
                 expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&key.id)
            .bind(&key.algorithm)
            .bind(&key.selector)
            .bind(&key.sealed_private_key)
            .bind(&key.public_key)
            .bind(ms(key.schedule.activates_at))
            .bind(ms(key.schedule.retires_at))
            .bind(ms(key.schedule.expires_at))
            .bind(ms(key.created_at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_attempts(&self, account_id: &str, query: &AttemptQuery) -> Result<Page<Attempt>> {
        let status_filter = match query.status {
            None => "",
            Some(AttemptFilter::Succeeded) => "AND status_code BETWEEN 200 AND 299",
            Some(AttemptFilter::Failed) => "AND (status_code IS NULL OR status_code NOT BETWEEN 200 AND 299)",
        };
        let rows = sqlx::query(&format!(
            "SELECT {} FROM attempts WHERE webhook_id = ? AND account_id = ? AND id < ? \
             AND started_at >= ? AND started_at < ? {status_filter} ORDER BY id DESC LIMIT ?",
            rows::ATTEMPT_COLUMNS
        ))
        .bind(&query.webhook_id)
        .bind(account_id)
        .bind(query.page.after.as_deref().unwrap_or("~"))
        .bind(query.since.map_or(i64::MIN, ms))
        .bind(query.until.map_or(i64::MAX, ms))
        .bind(page_limit(&query.page))
        .fetch_all(&self.pool)
        .await?;
        let attempts = rows.iter().map(rows::attempt).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(attempts, query.page.limit, |a| &a.id))
    }

    async fn webhook_stats(&self, account_id: &str, webhook_id: &str, query: &StatsQuery) -> Result<Vec<StatsBucket>> {
        stats::webhook_stats(&self.pool, account_id, webhook_id, query).await
    }

    async fn list_api_keys(&self, account_id: &str) -> Result<Vec<ApiKeyInfo>> {
        keys::list_api_keys(&self.pool, account_id).await
    }

    async fn account_stats(&self, account_id: &str, query: &StatsQuery) -> Result<Vec<StatsBucket>> {
        stats::account_stats(&self.pool, account_id, query).await
    }

    async fn delivery_attempts(&self, account_id: &str, delivery_id: &str) -> Result<Vec<Attempt>> {
        attempts::delivery_attempts(&self.pool, account_id, delivery_id).await
    }

    async fn latest_attempts(
        &self,
        account_id: &str,
        webhook_ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Attempt>> {
        attempts::latest_attempts(&self.pool, account_id, webhook_ids).await
    }
    async fn list_deliveries(&self, account_id: &str, query: &DeliveryQuery) -> Result<Page<Delivery>> {
        deliveries::list_deliveries(&self.pool, account_id, query).await
    }
}

fn account(row: &sqlx::sqlite::SqliteRow) -> Result<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: rows::time(row.try_get("created_at")?),
    })
}

async fn insert_key(conn: &mut sqlx::SqliteConnection, key: &ApiKey) -> Result<()> {
    sqlx::query("INSERT INTO api_keys (id, account_id, secret_hash, created_at) VALUES (?, ?, ?, ?)")
        .bind(&key.id)
        .bind(&key.account_id)
        .bind(&key.secret_hash)
        .bind(ms(key.created_at))
        .execute(conn)
        .await?;
    Ok(())
}
