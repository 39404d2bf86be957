//! Attempt reads for the dashboard: the attempts of one delivery, and the latest
//! attempt of each webhook on a page of the webhook list.

use sqlx::sqlite::SqlitePool;
use std::collections::HashMap;

use super::rows;
use crate::Result;
use crate::model::Attempt;

/// The newest [`MAX_DELIVERY_ATTEMPTS`] attempts of a delivery, newest first.
pub async fn delivery_attempts(pool: &SqlitePool, account_id: &str, delivery_id: &str) -> Result<Vec<Attempt>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM attempts WHERE delivery_id = ? AND account_id = ? ORDER BY id DESC LIMIT ?",
        rows::ATTEMPT_COLUMNS
    ))
    .bind(delivery_id)
    .bind(account_id)
    .bind(crate::model::MAX_DELIVERY_ATTEMPTS)
    .fetch_all(pool)
    .await?;
    rows.iter().map(rows::attempt).collect()
}

/// One query for a whole page of webhooks: each one's newest attempt (by the
/// `(webhook_id, id)` index), keyed by webhook id.
pub async fn latest_attempts(
    pool: &SqlitePool,
    account_id: &str,
    webhook_ids: &[&str],
) -> Result<HashMap<String, Attempt>> {
    if webhook_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = serde_json::to_string(webhook_ids)?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM attempts WHERE id IN \
         (SELECT (SELECT max(a.id) FROM attempts a WHERE a.webhook_id = j.value) FROM json_each(?) j) \
         AND account_id = ?",
        rows::ATTEMPT_COLUMNS
    ))
    .bind(ids)
    .bind(account_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| rows::attempt(row).map(|a| (a.webhook_id.clone(), a)))
        .collect()
}
