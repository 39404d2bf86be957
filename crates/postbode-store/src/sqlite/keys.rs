//! API keys as the operator lists them: ids and creation times, never hashes.

use sqlx::Row;
use sqlx::sqlite::SqlitePool;

use super::rows::time;
use crate::Result;
use crate::model::ApiKeyInfo;

pub async fn list_api_keys(pool: &SqlitePool, account_id: &str) -> Result<Vec<ApiKeyInfo>> {
    let rows = sqlx::query("SELECT id, created_at FROM api_keys WHERE account_id = ? ORDER BY id")
        .bind(account_id)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(ApiKeyInfo {
                id: row.try_get("id")?,
                created_at: time(row.try_get("created_at")?),
            })
        })
        .collect()
}
