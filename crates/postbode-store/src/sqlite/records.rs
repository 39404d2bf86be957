//! The records of the SQLite backend: plain reads and management writes on the pool.

use async_trait::async_trait;
use postbode_core::page::{Page, PageRequest};
use postbode_core::webhook::Webhook;
use sqlx::Row;

use super::{SqliteStore, profiles};
use crate::Result;
use crate::backend::Records;
use crate::model::*;
use crate::rows::{self, ms};

pub(super) fn page_limit(page: &PageRequest) -> i64 {
    i64::from(page.limit) + 1
}

#[async_trait]
impl Records for SqliteStore {
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

    async fn create_message(&self, message: &Message) -> Result<()> {
        profiles::create_message(&self.pool, message).await
    }

    async fn message_context(&self, id: &str) -> Result<Option<MessageContext>> {
        let mut conn = self.pool.acquire().await?;
        Ok(profiles::message_contexts(&mut conn, &[id]).await?.remove(id))
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
        let rows = sqlx::query(&format!(
            "SELECT {} FROM accounts WHERE id > ? ORDER BY id LIMIT ?",
            rows::ACCOUNT_COLUMNS
        ))
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(page_limit(page))
        .fetch_all(&self.pool)
        .await?;
        let accounts = rows.iter().map(rows::account).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(accounts, page.limit, |a| &a.id))
    }

    async fn get_account(&self, id: &str) -> Result<Option<Account>> {
        let row = sqlx::query(&format!("SELECT {} FROM accounts WHERE id = ?", rows::ACCOUNT_COLUMNS))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::account).transpose()
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
        let row = sqlx::query(&format!("SELECT {} FROM api_keys WHERE id = ?", rows::API_KEY_COLUMNS))
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::api_key).transpose()
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

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM signing_keys ORDER BY activates_at",
            rows::SIGNING_KEY_COLUMNS
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::signing_key).collect()
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
        let rows = sqlx::query(&format!(
            "SELECT {} FROM webhook_stats s JOIN webhooks w ON w.id = s.webhook_id \
             WHERE s.webhook_id = ? AND w.account_id = ? AND s.hour >= ? AND s.hour < ? ORDER BY s.hour",
            rows::prefixed("s", rows::HOUR_STATS_COLUMNS, "")
        ))
        .bind(webhook_id)
        .bind(account_id)
        .bind(ms(query.since) - ms(query.since).rem_euclid(3_600_000))
        .bind(ms(query.until))
        .fetch_all(&self.pool)
        .await?;
        let hours = rows.iter().map(rows::hour_stats).collect::<Result<Vec<_>>>()?;
        Ok(rows::stats_buckets(hours, query.bucket))
    }
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
