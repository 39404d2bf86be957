//! The delivery log: a webhook's deliveries, newest first, filtered by status, event
//! type and creation time, paged by id (the `(webhook_id, id)` index).

use sqlx::sqlite::SqlitePool;

use super::rows::{self, ms};
use crate::Result;
use crate::model::{Delivery, DeliveryQuery};
use postbode_core::page::Page;

pub async fn list_deliveries(pool: &SqlitePool, account_id: &str, query: &DeliveryQuery) -> Result<Page<Delivery>> {
    let columns = rows::prefixed("d", rows::DELIVERY_COLUMNS, "");
    let rows = sqlx::query(&format!(
        "SELECT {columns} FROM deliveries d \
         WHERE d.webhook_id = ?1 AND d.account_id = ?2 AND d.id < ?3 \
         AND (?4 IS NULL OR d.status = ?4) \
         AND (?5 IS NULL OR EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.type = ?5)) \
         AND d.created_at >= ?6 AND d.created_at < ?7 \
         ORDER BY d.id DESC LIMIT ?8"
    ))
    .bind(&query.webhook_id)
    .bind(account_id)
    .bind(query.page.after.as_deref().unwrap_or("~"))
    .bind(query.status.map(|s| s.as_str()))
    .bind(&query.event_type)
    .bind(query.since.map_or(i64::MIN, ms))
    .bind(query.until.map_or(i64::MAX, ms))
    .bind(i64::from(query.page.limit) + 1)
    .fetch_all(pool)
    .await?;
    let deliveries = rows.iter().map(rows::delivery).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(deliveries, query.page.limit, |d| &d.id))
}
