//! Retention's reads and deletes ([`crate::backend::PruneTx`]) of both SQL backends,
//! written once: the statements read the same but for how a list of ids is passed
//! (the backend's `dialect`) and PostgreSQL's row locks, which SQLite, with one writer
//! at a time, does without.

/// Implements `PruneTx` for a type with a `tx: Transaction<'static, DB>` field.
/// `$skip` ends a read of rows another node may be deleting too (PostgreSQL:
/// `FOR UPDATE SKIP LOCKED`); `$states` is the statement of `delivery_states`
/// (parameter 1: the event ids, a `key_list`; columns `event_id`, `status`, `held`).
macro_rules! sql_prune {
    ($tx:ty, $dialect:ident, $skip:expr, $states:expr) => {
        #[async_trait::async_trait]
        impl $crate::backend::PruneTx for $tx {
            async fn delete_expired_idempotency_keys(
                &mut self,
                now: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::Result<u64> {
                Ok(sqlx::query(&format!(
                    "DELETE FROM idempotency_keys WHERE (account_id, key) IN \
                     (SELECT account_id, key FROM idempotency_keys WHERE expires_at <= $1 \
                      ORDER BY expires_at LIMIT $2 {})",
                    $skip
                ))
                .bind($crate::rows::ms(now))
                .bind(i64::from(limit))
                .execute(&mut *self.tx)
                .await?
                .rows_affected())
            }

            async fn delete_attempts_before(
                &mut self,
                before: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::Result<u64> {
                Ok(sqlx::query(&format!(
                    "DELETE FROM attempts WHERE id IN \
                     (SELECT id FROM attempts WHERE started_at < $1 ORDER BY started_at LIMIT $2 {})",
                    $skip
                ))
                .bind($crate::rows::ms(before))
                .bind(i64::from(limit))
                .execute(&mut *self.tx)
                .await?
                .rows_affected())
            }

            async fn events_before(
                &mut self,
                before: chrono::DateTime<chrono::Utc>,
                after: Option<&$crate::backend::EventCursor>,
                limit: u32,
            ) -> $crate::Result<Vec<$crate::backend::EventCursor>> {
                use $crate::rows::Columns;
                let (after_ms, after_id) = after.map_or((i64::MIN, ""), |c| {
                    ($crate::rows::ms(c.created_at), c.id.as_str())
                });
                let rows = sqlx::query(&format!(
                    "SELECT id, created_at FROM events WHERE created_at < $1 AND (created_at, id) > ($2, $3) \
                     ORDER BY created_at, id LIMIT $4 {}",
                    $skip
                ))
                .bind($crate::rows::ms(before))
                .bind(after_ms)
                .bind($dialect::key(after_id))
                .bind(i64::from(limit))
                .fetch_all(&mut *self.tx)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::backend::EventCursor {
                            id: row.text("id")?,
                            created_at: $crate::rows::time(row.int("created_at")?),
                        })
                    })
                    .collect()
            }

            async fn delivery_states(
                &mut self,
                event_ids: &[&str],
            ) -> $crate::Result<Vec<$crate::backend::DeliveryState>> {
                use $crate::rows::Columns;
                let statement: String = $states;
                let rows = sqlx::query(&statement)
                    .bind($dialect::key_list(event_ids)?)
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::backend::DeliveryState {
                            event_id: row.text("event_id")?,
                            status: $crate::rows::delivery_status(row)?,
                            held: row.flag("held")?,
                        })
                    })
                    .collect()
            }

            async fn delete_events(&mut self, ids: &[&str]) -> $crate::Result<(u64, u64)> {
                let ids = $dialect::key_list(ids)?;
                let attempts = sqlx::query(&format!(
                    "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE {})",
                    $dialect::key_in("event_id", 1)
                ))
                .bind(&ids)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
                let deliveries = sqlx::query(&format!(
                    "DELETE FROM deliveries WHERE {}",
                    $dialect::key_in("event_id", 1)
                ))
                .bind(&ids)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
                sqlx::query(&format!("DELETE FROM events WHERE {}", $dialect::key_in("id", 1)))
                    .bind(&ids)
                    .execute(&mut *self.tx)
                    .await?;
                Ok((deliveries, attempts))
            }

            async fn commit(self: Box<Self>) -> $crate::Result<()> {
                self.tx.commit().await?;
                Ok(())
            }

            async fn rollback(self: Box<Self>) -> $crate::Result<()> {
                self.tx.rollback().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use sql_prune;
