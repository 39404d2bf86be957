//! The plain records ([`crate::backend::Records`]) of both SQL backends, written once.
//!
//! Their statements read the same in SQLite and PostgreSQL (`$1`-style placeholders work
//! in both, when each appears first in order), except where a backend's `dialect`
//! module supplies the piece: reading a JSON field, and passing a list of ids. The
//! macro expands this code once per backend, so each is compiled against its own
//! driver; the write path (`GroupTx`) is each backend's own code.

/// Implements `Records` for a backend type with a `pool` field and an `announce_work`
/// method, using the given `dialect` module (`json_text`, `json_equals`, `id_in`,
/// `id_list`).
macro_rules! sql_records {
    ($store:ty, $dialect:ident) => {
        #[async_trait::async_trait]
        impl $crate::backend::Records for $store {
            async fn create_account(&self, account: &Account, first_key: &ApiKey) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(&account.id)
                    .bind(&account.name)
                    .bind(ms(account.created_at))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(rows::INSERT_API_KEY)
                    .bind(&first_key.id)
                    .bind(&first_key.account_id)
                    .bind(&first_key.secret_hash)
                    .bind(&first_key.name)
                    .bind(first_key.scopes.to_text())
                    .bind(ms(first_key.created_at))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_accounts(&self, page: &PageRequest) -> Result<Page<Account>> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM accounts WHERE id > $1 ORDER BY id LIMIT $2",
                    rows::ACCOUNT_COLUMNS
                ))
                .bind(page.after.as_deref().unwrap_or(""))
                .bind(rows::page_limit(page))
                .fetch_all(&self.pool)
                .await?;
                rows::page(&rows, page, rows::account, |a| &a.id)
            }

            async fn get_account(&self, id: &str) -> Result<Option<Account>> {
                let row = sqlx::query(&format!("SELECT {} FROM accounts WHERE id = $1", rows::ACCOUNT_COLUMNS))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::account).transpose()
            }

            async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
                sqlx::query(rows::INSERT_API_KEY)
                    .bind(&key.id)
                    .bind(&key.account_id)
                    .bind(&key.secret_hash)
                    .bind(&key.name)
                    .bind(key.scopes.to_text())
                    .bind(ms(key.created_at))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_api_key(&self, account_id: &str, key_id: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM api_keys WHERE id = $1 AND account_id = $2")
                    .bind(key_id)
                    .bind(account_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn find_api_key(&self, key_id: &str) -> Result<Option<ApiKey>> {
                let row = sqlx::query(&format!("SELECT {} FROM api_keys WHERE id = $1", rows::API_KEY_COLUMNS))
                    .bind(key_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::api_key).transpose()
            }

            async fn list_api_keys(&self, account_id: &str) -> Result<Vec<ApiKeyInfo>> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM api_keys WHERE account_id = $1 ORDER BY id",
                    rows::API_KEY_INFO_COLUMNS
                ))
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::api_key_info).collect()
            }

            async fn create_event_type(&self, t: &EventTypeRecord) -> Result<bool> {
                let done = sqlx::query(&format!(
                    "INSERT INTO event_types ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                    rows::EVENT_TYPE_COLUMNS
                ))
                .bind(&t.account_id)
                .bind(&t.name)
                .bind(&t.description)
                .bind(t.schema.as_ref().map(|v| v.to_string()))
                .bind(t.example.as_ref().map(|v| v.to_string()))
                .bind(t.archived)
                .bind(ms(t.created_at))
                .bind(ms(t.updated_at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn list_event_types(&self, account_id: &str) -> Result<Vec<EventTypeRecord>> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM event_types WHERE account_id = $1 ORDER BY name",
                    rows::EVENT_TYPE_COLUMNS
                ))
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::event_type).collect()
            }

            async fn get_event_type(&self, account_id: &str, name: &str) -> Result<Option<EventTypeRecord>> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM event_types WHERE account_id = $1 AND name = $2",
                    rows::EVENT_TYPE_COLUMNS
                ))
                .bind(account_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::event_type).transpose()
            }

            async fn update_event_type(&self, t: &EventTypeRecord) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE event_types SET description = $3, schema = $4, example = $5, archived = $6, updated_at = $7 \
                     WHERE account_id = $1 AND name = $2",
                )
                .bind(&t.account_id)
                .bind(&t.name)
                .bind(&t.description)
                .bind(t.schema.as_ref().map(|v| v.to_string()))
                .bind(t.example.as_ref().map(|v| v.to_string()))
                .bind(t.archived)
                .bind(ms(t.updated_at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn remove_event_type(
                &self,
                account_id: &str,
                name: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<Removal>> {
                let mut tx = self.pool.begin().await?;
                let used: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM events WHERE account_id = $1 AND type = $2)",
                )
                .bind(account_id)
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
                let done = if used {
                    sqlx::query("UPDATE event_types SET archived = TRUE, updated_at = $3 WHERE account_id = $1 AND name = $2")
                        .bind(account_id)
                        .bind(name)
                        .bind(ms(at))
                        .execute(&mut *tx)
                        .await?
                } else {
                    sqlx::query("DELETE FROM event_types WHERE account_id = $1 AND name = $2")
                        .bind(account_id)
                        .bind(name)
                        .execute(&mut *tx)
                        .await?
                };
                tx.commit().await?;
                Ok((done.rows_affected() > 0).then_some(if used { Removal::Archived } else { Removal::Deleted }))
            }

            async fn touch_api_key(&self, key_id: &str, at: chrono::DateTime<chrono::Utc>) -> Result<()> {
                sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                    .bind(ms(at))
                    .bind(key_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn create_session(&self, session: &DashboardSession) -> Result<()> {
                sqlx::query(&format!(
                    "INSERT INTO dashboard_sessions ({}) VALUES ($1, $2, $3, $4, $5, $6)",
                    rows::SESSION_COLUMNS
                ))
                .bind(&session.id_hash)
                .bind(&session.account_id)
                .bind(&session.key_id)
                .bind(session.role.as_str())
                .bind(ms(session.created_at))
                .bind(ms(session.expires_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn find_session(
                &self,
                id_hash: &[u8],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<(DashboardSession, Option<Account>)>> {
                let row = sqlx::query(
                    "SELECT s.id_hash, s.account_id, s.key_id, s.role, s.created_at, s.expires_at, \
                         a.name AS account_name, a.created_at AS account_created_at \
                     FROM dashboard_sessions s LEFT JOIN accounts a ON a.id = s.account_id \
                     WHERE s.id_hash = $1 AND s.expires_at > $2",
                )
                .bind(id_hash)
                .bind(ms(now))
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let session = rows::session(&row)?;
                let account = match (&session.account_id, row.opt_text("account_name")?) {
                    (Some(id), Some(name)) => Some(Account {
                        id: id.clone(),
                        name,
                        created_at: rows::time(row.int("account_created_at")?),
                    }),
                    _ => None,
                };
                Ok(Some((session, account)))
            }

            async fn delete_session(&self, id_hash: &[u8]) -> Result<bool> {
                let done = sqlx::query("DELETE FROM dashboard_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_expired_sessions(&self, now: chrono::DateTime<chrono::Utc>) -> Result<u64> {
                let done = sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
                    .bind(ms(now))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn create_webhook(&self, webhook: &Webhook) -> Result<()> {
                sqlx::query(&format!(
                    "INSERT INTO webhooks ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    rows::WEBHOOK_COLUMNS
                ))
                .bind($dialect::key(&webhook.id))
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
                .bind(webhook.paused_until.map(ms))
                .bind(&webhook.pause_reason)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn pause_webhook(
                &self,
                id: &str,
                pause: Option<(chrono::DateTime<chrono::Utc>, String)>,
            ) -> Result<()> {
                let (until, reason) = pause.unzip();
                sqlx::query("UPDATE webhooks SET paused_until = $1, pause_reason = $2 WHERE id = $3")
                    .bind(until.map(ms))
                    .bind(reason)
                    .bind($dialect::key(id))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_webhook(&self, account_id: &str, id: &str) -> Result<Option<Webhook>> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM webhooks WHERE id = $1 AND account_id = $2",
                    rows::WEBHOOK_COLUMNS
                ))
                .bind($dialect::key(id))
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
                    "SELECT {} FROM webhooks WHERE account_id = $1 \
                     AND ($2 IS NULL OR {} = $2) AND ($3 IS NULL OR {} = $3) \
                     AND id > $4 ORDER BY id LIMIT $5",
                    rows::WEBHOOK_COLUMNS,
                    $dialect::json_text("settings", "database_id"),
                    $dialect::json_text("settings", "collection_id"),
                ))
                .bind(account_id)
                .bind(&filter.database_id)
                .bind(&filter.collection_id)
                .bind($dialect::key(page.after.as_deref().unwrap_or("")))
                .bind(rows::page_limit(page))
                .fetch_all(&self.pool)
                .await?;
                rows::page(&rows, page, rows::webhook, |w| &w.id)
            }

            async fn update_webhook(&self, webhook: &Webhook) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE webhooks SET settings = $1, enabled = $2, disabled_reason = $3, secret = $4, \
                     verification = $5, failing_since = $6, updated_at = $7, previous_secret = $8, \
                     previous_secret_until = $9 WHERE id = $10 AND account_id = $11",
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
                .bind($dialect::key(&webhook.id))
                .bind(&webhook.account_id)
                .execute(&self.pool)
                .await?;
                if webhook.settings.enabled {
                    // Deliveries that waited while it was disabled may go now.
                    self.announce_work().await;
                }
                Ok(done.rows_affected() > 0)
            }

            async fn delete_webhook(&self, account_id: &str, id: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND account_id = $2")
                    .bind($dialect::key(id))
                    .bind(account_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn get_event(&self, account_id: &str, id: &str) -> Result<Option<(EventRecord, Vec<Delivery>)>> {
                let Some(row) =
                    sqlx::query("SELECT id, type, body, created_at FROM events WHERE id = $1 AND account_id = $2")
                        .bind($dialect::key(id))
                        .bind(account_id)
                        .fetch_optional(&self.pool)
                        .await?
                else {
                    return Ok(None);
                };
                let (event_id, event_type) = (row.text("id")?, row.text("type")?);
                let event = EventRecord {
                    body: rows::receiver_body(&row, &event_id, &event_type)?.to_vec(),
                    id: event_id,
                    event_type,
                    created_at: rows::time(row.int("created_at")?),
                };
                let deliveries = sqlx::query(&format!(
                    "SELECT {} FROM deliveries WHERE event_id = $1 \
                     AND EXISTS (SELECT 1 FROM webhooks o WHERE o.id = deliveries.webhook_id AND o.account_id = $2) \
                     ORDER BY id",
                    rows::DELIVERY_COLUMNS
                ))
                .bind($dialect::key(id))
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
                    "SELECT {} FROM deliveries WHERE id = $1 \
                     AND EXISTS (SELECT 1 FROM webhooks o WHERE o.id = deliveries.webhook_id AND o.account_id = $2)",
                    rows::DELIVERY_COLUMNS
                ))
                .bind($dialect::key(id))
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::delivery).transpose()
            }

            async fn list_deliveries(&self, account_id: &str, query: &DeliveryQuery) -> Result<Page<Delivery>> {
                let newer = query.newer_than.is_some();
                let cursor = match &query.newer_than {
                    Some(id) => id.as_str(),
                    None => query.page.after.as_deref().unwrap_or("~"),
                };
                // A filter without a search reads a bounded window of deliveries: where
                // it ends, and whether it was full.
                let filtered = query.search.is_none() && (query.status.is_some() || query.event_type.is_some());
                let window = match query.scan.filter(|_| filtered) {
                    None => None,
                    Some(scan) => {
                        let sql = $crate::records_sql::window_edge(query);
                        let mut bound = sqlx::query(&sql).bind($dialect::key(&query.webhook_id)).bind(account_id);
                        if let Some(since) = query.since {
                            bound = bound.bind(ms(since));
                        }
                        if let Some(until) = query.until {
                            bound = bound.bind(ms(until));
                        }
                        let row = bound.bind($dialect::key(cursor)).bind(i64::from(scan)).fetch_one(&self.pool).await?;
                        match row.opt_text("edge")? {
                            Some(edge) => Some((edge, row.int("n")? >= i64::from(scan))),
                            None => return Ok(Page::from_rows(Vec::new(), query.page.limit, |d: &Delivery| &d.id)),
                        }
                    }
                };
                let selection = $crate::records_sql::DeliverySelection::of(query, true, $dialect::events_with_text);
                let mut n = selection.next;
                let mut param = || {
                    n += 1;
                    n - 1
                };
                let cursor_param = param();
                let edge = match &window {
                    Some(_) => format!(" AND d.id {} ${}", if newer { "<=" } else { ">=" }, param()),
                    None => String::new(),
                };
                let limit_param = param();
                let sql = format!(
                    "SELECT {} {} AND d.id {} ${cursor_param}{edge} ORDER BY d.id {} LIMIT ${limit_param}",
                    rows::prefixed("d", rows::DELIVERY_COLUMNS, ""),
                    selection.sql,
                    if newer { ">" } else { "<" },
                    if newer { "ASC" } else { "DESC" },
                );
                let mut bound = $crate::records_sql::bind_selection!(sqlx::query(&sql), query, account_id, $dialect)
                    .bind($dialect::key(cursor));
                if let Some((edge, _)) = &window {
                    bound = bound.bind($dialect::key(edge));
                }
                let rows = bound.bind(rows::page_limit(&query.page)).fetch_all(&self.pool).await?;
                let mut page = rows::page(&rows, &query.page, rows::delivery, |d| &d.id)?;
                if newer {
                    page.data.reverse();
                }
                if let Some((edge, true)) = window
                    && page.next_cursor.is_none()
                {
                    // The window was full: more may match beyond it.
                    page.next_cursor = Some(edge);
                }
                Ok(page)
            }

            async fn count_deliveries(&self, account_id: &str, query: &DeliveryQuery, cap: u64) -> Result<(u64, bool)> {
                let cap_param = i64::try_from(cap).unwrap_or(i64::MAX);
                if query.search.is_some() {
                    // A search names a few deliveries: count them all.
                    let selection = $crate::records_sql::DeliverySelection::of(query, query.event_type.is_some(), $dialect::events_with_text);
                    let sql = format!(
                        "SELECT COUNT(*) AS n FROM (SELECT 1 {} LIMIT ${}) AS matching",
                        selection.sql, selection.next
                    );
                    let row = $crate::records_sql::bind_selection!(sqlx::query(&sql), query, account_id, $dialect)
                        .bind(cap_param)
                        .fetch_one(&self.pool)
                        .await?;
                    let n = row.int("n")? as u64;
                    return Ok((n, n < cap));
                }
                let sql = $crate::records_sql::newest_count(query);
                let mut bound = sqlx::query(&sql).bind($dialect::key(&query.webhook_id)).bind(account_id);
                if let Some(since) = query.since {
                    bound = bound.bind(ms(since));
                }
                if let Some(until) = query.until {
                    bound = bound.bind(ms(until));
                }
                bound = bound.bind(cap_param);
                if let Some(status) = query.status {
                    bound = bound.bind(status.as_str());
                }
                if let Some(event_type) = &query.event_type {
                    bound = bound.bind(event_type);
                }
                let row = bound.fetch_one(&self.pool).await?;
                let scanned = row.int("scanned")? as u64;
                Ok((row.int("matching")? as u64, scanned < cap))
            }

            async fn event_types(
                &self,
                account_id: &str,
                event_ids: &[&str],
            ) -> Result<std::collections::HashMap<String, String>> {
                if event_ids.is_empty() {
                    return Ok(std::collections::HashMap::new());
                }
                let rows = sqlx::query(&format!(
                    "SELECT id, type FROM events WHERE account_id = $1 AND {}",
                    $dialect::key_in("id", 2)
                ))
                .bind(account_id)
                .bind($dialect::key_list(event_ids)?)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|row| Ok((row.text("id")?, row.text("type")?))).collect()
            }

            async fn latest_delivery_attempts(
                &self,
                account_id: &str,
                delivery_ids: &[&str],
            ) -> Result<std::collections::HashMap<String, Attempt>> {
                if delivery_ids.is_empty() {
                    return Ok(std::collections::HashMap::new());
                }
                // Each delivery's newest attempt through the delivery_id index.
                let rows = sqlx::query(&$crate::records_sql::newest_attempts("delivery_id", &$dialect::key_table(2, "w")))
                .bind(account_id)
                .bind($dialect::key_list(delivery_ids)?)
                .fetch_all(&self.pool)
                .await?;
                let mut latest = std::collections::HashMap::new();
                for row in &rows {
                    let attempt = rows::attempt(row)?;
                    if let Some(delivery) = attempt.delivery_id.clone() {
                        latest.insert(delivery, attempt);
                    }
                }
                Ok(latest)
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
                seen: &[&str],
            ) -> Result<bool> {
                // Writers of the keys queue here, so what is read next stays true until commit.
                let mut tx = $dialect::begin_key_change(&self.pool).await?;
                let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM signing_keys ORDER BY id")
                    .fetch_all(&mut *tx)
                    .await?;
                let mut seen = seen.to_vec();
                seen.sort_unstable();
                if stored != seen {
                    tx.rollback().await?;
                    return Ok(false);
                }
                for (id, schedule) in rescheduled {
                    sqlx::query(
                        "UPDATE signing_keys SET activates_at = $1, retires_at = $2, expires_at = $3 WHERE id = $4",
                    )
                    .bind(ms(schedule.activates_at))
                    .bind(ms(schedule.retires_at))
                    .bind(ms(schedule.expires_at))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                for key in new {
                    sqlx::query(&format!(
                        "INSERT INTO signing_keys ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        rows::SIGNING_KEY_COLUMNS
                    ))
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
                Ok(true)
            }

            async fn create_database(&self, d: &Database) -> Result<()> {
                sqlx::query(&format!(
                    "INSERT INTO databases ({}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    rows::DATABASE_COLUMNS
                ))
                .bind(&d.id)
                .bind(&d.account_id)
                .bind(&d.name)
                .bind(serde_json::to_string(&d.fields)?)
                .bind(serde_json::to_string(&d.unsubscribe)?)
                .bind(ms(d.created_at))
                .bind(ms(d.updated_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_database(&self, account_id: &str, id: &str) -> Result<Option<Database>> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM databases WHERE id = $1 AND account_id = $2",
                    rows::DATABASE_COLUMNS
                ))
                .bind(id)
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::database).transpose()
            }

            async fn list_databases(&self, account_id: &str, page: &PageRequest) -> Result<Page<Database>> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM databases WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                    rows::DATABASE_COLUMNS
                ))
                .bind(account_id)
                .bind(page.after.as_deref().unwrap_or(""))
                .bind(rows::page_limit(page))
                .fetch_all(&self.pool)
                .await?;
                rows::page(&rows, page, rows::database, |d| &d.id)
            }

            async fn update_database(&self, d: &Database) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE databases SET name = $1, fields = $2, unsubscribe = $3, updated_at = $4 \
                     WHERE id = $5 AND account_id = $6",
                )
                .bind(&d.name)
                .bind(serde_json::to_string(&d.fields)?)
                .bind(serde_json::to_string(&d.unsubscribe)?)
                .bind(ms(d.updated_at))
                .bind(&d.id)
                .bind(&d.account_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_database(&self, account_id: &str, id: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM databases WHERE id = $1 AND account_id = $2")
                    .bind(id)
                    .bind(account_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_collection(&self, c: &Collection) -> Result<()> {
                sqlx::query(&format!(
                    "INSERT INTO collections ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    rows::COLLECTION_COLUMNS
                ))
                .bind(&c.id)
                .bind(&c.account_id)
                .bind(&c.database_id)
                .bind(&c.name)
                .bind(serde_json::to_string(&c.fields)?)
                .bind(serde_json::to_string(&c.unsubscribe)?)
                .bind(ms(c.created_at))
                .bind(ms(c.updated_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_collection(&self, account_id: &str, id: &str) -> Result<Option<Collection>> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM collections WHERE id = $1 AND account_id = $2",
                    rows::COLLECTION_COLUMNS
                ))
                .bind(id)
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::collection).transpose()
            }

            async fn list_collections(
                &self,
                account_id: &str,
                database_id: &str,
                page: &PageRequest,
            ) -> Result<Page<Collection>> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM collections WHERE account_id = $1 AND database_id = $2 AND id > $3 \
                     ORDER BY id LIMIT $4",
                    rows::COLLECTION_COLUMNS
                ))
                .bind(account_id)
                .bind(database_id)
                .bind(page.after.as_deref().unwrap_or(""))
                .bind(rows::page_limit(page))
                .fetch_all(&self.pool)
                .await?;
                rows::page(&rows, page, rows::collection, |c| &c.id)
            }

            async fn update_collection(&self, c: &Collection) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE collections SET name = $1, fields = $2, unsubscribe = $3, updated_at = $4 \
                     WHERE id = $5 AND account_id = $6",
                )
                .bind(&c.name)
                .bind(serde_json::to_string(&c.fields)?)
                .bind(serde_json::to_string(&c.unsubscribe)?)
                .bind(ms(c.updated_at))
                .bind(&c.id)
                .bind(&c.account_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_collection(&self, account_id: &str, id: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM collections WHERE id = $1 AND account_id = $2")
                    .bind(id)
                    .bind(account_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn get_profile(&self, account_id: &str, id: &str) -> Result<Option<Profile>> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM profiles WHERE id = $1 AND account_id = $2",
                    rows::PROFILE_COLUMNS
                ))
                .bind(id)
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::profile).transpose()
            }

            /// `query.field` filters on one field's value (the caller has checked the
            /// name against the database's fields, so it is an identifier).
            async fn list_profiles(
                &self,
                account_id: &str,
                database_id: &str,
                query: &ProfileQuery,
            ) -> Result<Page<Profile>> {
                let page = &query.page;
                let field = query
                    .field
                    .as_ref()
                    .filter(|(name, _)| name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
                let filter = match field {
                    Some((name, _)) => format!("AND {}", $dialect::json_equals("fields", name, 5)),
                    None => String::new(),
                };
                let sql = format!(
                    "SELECT {} FROM profiles WHERE account_id = $1 AND database_id = $2 AND id > $3 {filter} \
                     ORDER BY id LIMIT $4",
                    rows::PROFILE_COLUMNS
                );
                let mut select = sqlx::query(&sql)
                    .bind(account_id)
                    .bind(database_id)
                    .bind(page.after.as_deref().unwrap_or(""))
                    .bind(rows::page_limit(page));
                if let Some((_, value)) = field {
                    select = select.bind(value.to_string());
                }
                let rows = select.fetch_all(&self.pool).await?;
                rows::page(&rows, page, rows::profile, |p| &p.id)
            }

            async fn profiles_with_databases(
                &self,
                account_id: &str,
                ids: &[&str],
            ) -> Result<std::collections::HashMap<String, (Profile, Database)>> {
                if ids.is_empty() {
                    return Ok(std::collections::HashMap::new());
                }
                let rows = sqlx::query(&format!(
                    "SELECT {}, {} FROM profiles p JOIN databases d ON d.id = p.database_id \
                     WHERE p.account_id = $1 AND {}",
                    rows::prefixed("p", rows::PROFILE_COLUMNS, "p_"),
                    rows::prefixed("d", rows::DATABASE_COLUMNS, "d_"),
                    $dialect::id_in("p.id", 2),
                ))
                .bind(account_id)
                .bind($dialect::id_list(ids)?)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let profile = rows::profile_at(row, "p_")?;
                        Ok((profile.id.clone(), (profile, rows::database_at(row, "d_")?)))
                    })
                    .collect()
            }

            async fn get_subprofile(&self, account_id: &str, id: &str) -> Result<Option<Subprofile>> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM subprofiles WHERE id = $1 AND account_id = $2",
                    rows::SUBPROFILE_COLUMNS
                ))
                .bind(id)
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::subprofile).transpose()
            }

            async fn list_subprofiles(
                &self,
                account_id: &str,
                profile_id: &str,
                page: &PageRequest,
            ) -> Result<Page<Subprofile>> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM subprofiles WHERE profile_id = $1 AND account_id = $2 AND id > $3 \
                     ORDER BY id LIMIT $4",
                    rows::SUBPROFILE_COLUMNS
                ))
                .bind(profile_id)
                .bind(account_id)
                .bind(page.after.as_deref().unwrap_or(""))
                .bind(rows::page_limit(page))
                .fetch_all(&self.pool)
                .await?;
                rows::page(&rows, page, rows::subprofile, |s| &s.id)
            }

            async fn create_message(&self, m: &Message) -> Result<()> {
                sqlx::query(&format!(
                    "INSERT INTO messages ({}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    rows::MESSAGE_COLUMNS
                ))
                .bind(&m.id)
                .bind(&m.account_id)
                .bind(serde_json::to_string(&m.mailing)?)
                .bind(&m.email)
                .bind(&m.profile_id)
                .bind(&m.subprofile_id)
                .bind(ms(m.created_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn message_context(&self, id: &str) -> Result<Option<MessageContext>> {
                let row = sqlx::query(&format!("{} WHERE m.id = $1", rows::message_context_select()))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::message_context).transpose()
            }

            async fn create_domain(&self, d: &postbode_core::domain::Domain) -> Result<bool> {
                let done = sqlx::query(&format!(
                    "INSERT INTO domains ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (account_id, domain) DO NOTHING",
                    rows::DOMAIN_COLUMNS
                ))
                .bind(&d.id)
                .bind(&d.account_id)
                .bind(&d.domain)
                .bind(&d.token)
                .bind(d.status.as_str())
                .bind(d.checked_at.map(ms))
                .bind(&d.outcome)
                .bind(ms(d.created_at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn get_domain(&self, account_id: &str, id: &str) -> Result<Option<postbode_core::domain::Domain>> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM domains WHERE id = $1 AND account_id = $2",
                    rows::DOMAIN_COLUMNS
                ))
                .bind(id)
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::domain).transpose()
            }

            async fn list_domains(
                &self,
                account_id: &str,
                page: &PageRequest,
            ) -> Result<Page<postbode_core::domain::Domain>> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM domains WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                    rows::DOMAIN_COLUMNS
                ))
                .bind(account_id)
                .bind(page.after.as_deref().unwrap_or(""))
                .bind(rows::page_limit(page))
                .fetch_all(&self.pool)
                .await?;
                rows::page(&rows, page, rows::domain, |d| &d.id)
            }

            async fn update_domain(&self, d: &postbode_core::domain::Domain) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE domains SET status = $1, checked_at = $2, outcome = $3 WHERE id = $4 AND account_id = $5",
                )
                .bind(d.status.as_str())
                .bind(d.checked_at.map(ms))
                .bind(&d.outcome)
                .bind(&d.id)
                .bind(&d.account_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_domain(&self, account_id: &str, id: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM domains WHERE id = $1 AND account_id = $2")
                    .bind(id)
                    .bind(account_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn validated_domains(&self, account_id: &str) -> Result<Vec<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT domain FROM domains WHERE account_id = $1 AND status = 'validated' ORDER BY domain",
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn save_verifications(&self, webhooks: &[&Webhook]) -> Result<()> {
                if webhooks.is_empty() {
                    return Ok(());
                }
                let sql = format!(
                    "UPDATE webhooks SET verification = $1, updated_at = $2 \
                     WHERE id = $3 AND account_id = $4 AND {} = $5",
                    $dialect::json_text("settings", "url")
                );
                let mut tx = self.pool.begin().await?;
                for webhook in webhooks {
                    sqlx::query(&sql)
                        .bind(serde_json::to_string(&webhook.verification)?)
                        .bind(ms(webhook.updated_at))
                        .bind($dialect::key(&webhook.id))
                        .bind(&webhook.account_id)
                        .bind(&webhook.settings.url)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                // Deliveries that waited for a verification may go now.
                self.announce_work().await;
                Ok(())
            }

            async fn erase_profile_batch(
                &self,
                account_id: &str,
                profile_id: &str,
                before: &str,
                limit: u32,
            ) -> Result<Erased> {
                let mut tx = self.pool.begin().await?;
                let mut erased = Erased::default();
                // A write first: SQLite takes the write lock now (waiting its turn), not on
                // a later write after a read, where a busy database fails at once.
                erased.messages = sqlx::query(
                    "DELETE FROM messages WHERE id IN \
                     (SELECT id FROM messages WHERE account_id = $1 AND profile_id = $2 ORDER BY id LIMIT $3)",
                )
                .bind(account_id)
                .bind(profile_id)
                .bind(i64::from(limit))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let events = sqlx::query(
                    "SELECT id FROM events WHERE account_id = $1 AND profile_id = $2 AND id < $3 ORDER BY id LIMIT $4",
                )
                .bind(account_id)
                .bind(profile_id)
                .bind($dialect::key(before))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| row.text("id"))
                .collect::<Result<Vec<String>>>()?;
                if !events.is_empty() {
                    let ids = $dialect::key_list(&events)?;
                    erased.attempts = sqlx::query(&format!(
                        "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE {})",
                        $dialect::key_in("event_id", 1)
                    ))
                    .bind(&ids)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    erased.deliveries = sqlx::query(&format!(
                        "DELETE FROM deliveries WHERE {}",
                        $dialect::key_in("event_id", 1)
                    ))
                    .bind(&ids)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    erased.events = sqlx::query(&format!("DELETE FROM events WHERE {}", $dialect::key_in("id", 1)))
                        .bind(&ids)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(erased)
            }

            async fn queue_gauges(&self, now: chrono::DateTime<chrono::Utc>) -> Result<QueueGauges> {
                // One pass over `deliveries_due`, the partial index of pending deliveries.
                let row = sqlx::query(
                    "SELECT COUNT(*) AS pending, \
                     COALESCE(SUM(CASE WHEN next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
                       THEN 1 ELSE 0 END), 0) AS due, \
                     COALESCE(SUM(CASE WHEN lease_until > $1 THEN 1 ELSE 0 END), 0) AS leased, \
                     MIN(CASE WHEN next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
                       THEN next_attempt_at END) AS oldest_due \
                     FROM deliveries WHERE status = 'pending'",
                )
                .bind(ms(now))
                .fetch_one(&self.pool)
                .await?;
                Ok(QueueGauges {
                    pending: row.int("pending")? as u64,
                    due: row.int("due")? as u64,
                    leased: row.int("leased")? as u64,
                    oldest_due_at: rows::opt_time(row.opt_int("oldest_due")?),
                })
            }

            async fn list_attempts(&self, account_id: &str, query: &AttemptQuery) -> Result<Page<Attempt>> {
                let status_filter = match query.status {
                    None => "",
                    Some(AttemptFilter::Succeeded) => "AND status_code BETWEEN 200 AND 299",
                    Some(AttemptFilter::Failed) => "AND (status_code IS NULL OR status_code NOT BETWEEN 200 AND 299)",
                };
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM attempts WHERE webhook_id = $1 \
                     AND EXISTS (SELECT 1 FROM webhooks o WHERE o.id = $1 AND o.account_id = $2) AND id < $3 \
                     AND started_at >= $4 AND started_at < $5 {status_filter} ORDER BY id DESC LIMIT $6",
                    rows::ATTEMPT_COLUMNS
                ))
                .bind($dialect::key(&query.webhook_id))
                .bind(account_id)
                .bind($dialect::key(query.page.after.as_deref().unwrap_or("~")))
                .bind(query.since.map_or(i64::MIN, ms))
                .bind(query.until.map_or(i64::MAX, ms))
                .bind(rows::page_limit(&query.page))
                .fetch_all(&self.pool)
                .await?;
                rows::page(&rows, &query.page, rows::attempt, |a| &a.id)
            }

            async fn delivery_attempts(&self, account_id: &str, delivery_id: &str) -> Result<Vec<Attempt>> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM attempts WHERE delivery_id = $1 \
                     AND EXISTS (SELECT 1 FROM webhooks o WHERE o.id = attempts.webhook_id AND o.account_id = $2) \
                     ORDER BY id DESC LIMIT $3",
                    rows::ATTEMPT_COLUMNS
                ))
                .bind($dialect::key(delivery_id))
                .bind(account_id)
                .bind(MAX_DELIVERY_ATTEMPTS)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::attempt).collect()
            }

            async fn latest_attempts(
                &self,
                account_id: &str,
                webhook_ids: &[&str],
            ) -> Result<std::collections::HashMap<String, Attempt>> {
                if webhook_ids.is_empty() {
                    return Ok(std::collections::HashMap::new());
                }
                // Each webhook's newest attempt through the (webhook_id, id) index.
                let rows = sqlx::query(&$crate::records_sql::newest_attempts("webhook_id", &$dialect::key_table(2, "w")))
                .bind(account_id)
                .bind($dialect::key_list(webhook_ids)?)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| rows::attempt(row).map(|a| (a.webhook_id.clone(), a)))
                    .collect()
            }

            async fn account_stats(&self, account_id: &str, query: &StatsQuery) -> Result<Vec<StatsBucket>> {
                // Summed per hour by the database, so the answer has one row per hour
                // however many webhooks the account has.
                let rows = sqlx::query(&$dialect::account_hours())
                    .bind(account_id)
                    .bind(ms($crate::rules::hour_of(query.since)))
                    .bind(ms(query.until))
                    .fetch_all(&self.pool)
                    .await?;
                let hours = rows.iter().map(rows::hour_stats).collect::<Result<Vec<_>>>()?;
                Ok(rows::stats_buckets(hours, query.bucket))
            }

            async fn undelivered(
                &self,
                account_id: &str,
                webhook_ids: &[&str],
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<std::collections::HashMap<String, Undelivered>> {
                // A held count reads the disabled webhook's part of `deliveries_pending`
                // only; the skips, its hours of `webhook_stats` since `since`.
                let rows = sqlx::query(&format!(
                    "SELECT w.id, \
                       CASE WHEN w.enabled THEN 0 ELSE (SELECT COUNT(*) FROM deliveries d \
                         WHERE d.webhook_id = w.id AND d.status = 'pending') END AS held, \
                       CAST(COALESCE((SELECT SUM(s.skipped_unverified) FROM webhook_stats s \
                         WHERE s.webhook_id = w.id AND s.hour >= $3), 0) AS BIGINT) AS skipped_unverified \
                     FROM webhooks w WHERE w.account_id = $1 AND {}",
                    $dialect::key_in("w.id", 2)
                ))
                .bind(account_id)
                .bind($dialect::key_list(webhook_ids)?)
                .bind(ms($crate::rules::hour_of(since)))
                .fetch_all(&self.pool)
                .await?;
                let mut undelivered = std::collections::HashMap::new();
                for row in &rows {
                    let counts = Undelivered {
                        held: row.int("held")?.max(0) as u64,
                        skipped_unverified: row.int("skipped_unverified")?.max(0) as u64,
                    };
                    if counts != Undelivered::default() {
                        undelivered.insert(row.text("id")?, counts);
                    }
                }
                Ok(undelivered)
            }

            async fn webhook_stats(
                &self,
                account_id: &str,
                webhook_id: &str,
                query: &StatsQuery,
            ) -> Result<Vec<StatsBucket>> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM webhook_stats s JOIN webhooks w ON w.id = s.webhook_id \
                     WHERE s.webhook_id = $1 AND w.account_id = $2 AND s.hour >= $3 AND s.hour < $4 ORDER BY s.hour",
                    rows::prefixed("s", rows::HOUR_STATS_COLUMNS, "")
                ))
                .bind($dialect::key(webhook_id))
                .bind(account_id)
                .bind(ms($crate::rules::hour_of(query.since)))
                .bind(ms(query.until))
                .fetch_all(&self.pool)
                .await?;
                let hours = rows.iter().map(rows::hour_stats).collect::<Result<Vec<_>>>()?;
                Ok(rows::stats_buckets(hours, query.bucket))
            }
        }
    };
}

pub(crate) use sql_records;

/// The newest attempt of each key in the list `$2` by `column` (`delivery_id` or
/// `webhook_id`: each is the first column of an index), of the account `$1`'s webhooks;
/// `keys` is the dialect's `key_table` of the list, named `w`.
pub(crate) fn newest_attempts(column: &str, keys: &str) -> String {
    format!(
        "SELECT {} FROM attempts \
         WHERE EXISTS (SELECT 1 FROM webhooks o WHERE o.id = attempts.webhook_id AND o.account_id = $1) AND id IN \
         (SELECT (SELECT max(a.id) FROM attempts a WHERE a.{column} = w.value) FROM {keys})",
        crate::rows::ATTEMPT_COLUMNS
    )
}

/// That the webhook `$1` is the account `$2`'s: deliveries and attempts are an account's
/// through their webhook (they keep no account of their own).
const OWNED: &str = "EXISTS (SELECT 1 FROM webhooks o WHERE o.id = $1 AND o.account_id = $2)";

/// The `FROM ... WHERE ...` of a webhook's deliveries that a query selects (its filters
/// and search, not its paging), and the number of the next free parameter. Parameters
/// are numbered in the order they first appear (SQLite numbers `$n` that way): webhook,
/// account, then each filter that is set, in the order `bind_selection!` binds them.
pub(crate) struct DeliverySelection {
    pub sql: String,
    pub next: usize,
}

impl DeliverySelection {
    /// `with_events`: join the events (`e`), as listing does for every row; a count
    /// joins them only to filter by type.
    ///
    /// `events_with_text` is the dialect's query of the events whose body holds the
    /// search's words (a search looks at the payload too).
    pub fn of(query: &crate::model::DeliveryQuery, with_events: bool, events_with_text: fn(usize) -> String) -> Self {
        let mut sql = String::from("FROM deliveries d");
        if with_events || query.event_type.is_some() {
            sql.push_str(" JOIN events e ON e.id = d.event_id");
        }
        sql.push_str(&format!(" WHERE d.webhook_id = $1 AND {OWNED}"));
        let mut n = 2;
        let mut condition = |text: &str| {
            n += 1;
            sql.push_str(&text.replace("$n", &format!("${n}")));
        };
        if query.status.is_some() {
            condition(" AND d.status = $n");
        }
        if query.event_type.is_some() {
            condition(" AND e.type = $n");
        }
        if query.since.is_some() {
            condition(" AND d.created_at >= $n");
        }
        if query.until.is_some() {
            condition(" AND d.created_at < $n");
        }
        if let Some(search) = &query.search {
            // Look-ups by index, whichever the term is: by its key as a delivery or an
            // event id, by itself as an idempotency key, and by its words in the
            // events' full-text index.
            let (key, term) = (n + 1, n + 2);
            n += 2;
            let text = match postbode_core::search::terms(search).is_empty() {
                true => String::new(),
                false => {
                    n += 1;
                    format!(
                        " UNION ALL SELECT t.id FROM deliveries t WHERE t.webhook_id = $1 AND t.event_id IN ({})",
                        events_with_text(n)
                    )
                }
            };
            sql.push_str(&format!(
                " AND d.id IN (SELECT id FROM deliveries WHERE id = ${key} \
                 UNION ALL SELECT id FROM deliveries WHERE event_id = ${key} \
                 UNION ALL SELECT s.id FROM idempotency_keys k JOIN deliveries s ON s.event_id = k.event_id \
                 WHERE k.account_id = $2 AND k.key = ${term}{text})"
            ));
        }
        Self { sql, next: n + 1 }
    }
}

/// How many of a webhook's newest deliveries (at most the last parameter's number, in
/// the query's time range) match its status and event type: a count that reads a
/// bounded number of rows however many the webhook has. Parameters in order: webhook,
/// account, since and until (when set), the number, status and event type (when set).
pub(crate) fn newest_count(query: &crate::model::DeliveryQuery) -> String {
    let mut n = 2;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let mut window = String::new();
    if query.since.is_some() {
        window.push_str(&format!(" AND d.created_at >= {}", next()));
    }
    if query.until.is_some() {
        window.push_str(&format!(" AND d.created_at < {}", next()));
    }
    let limit = next();
    let mut matching = vec!["1 = 1".to_owned()];
    if query.status.is_some() {
        matching.push(format!("d.status = {}", next()));
    }
    let join = match query.event_type {
        Some(_) => {
            matching.push(format!("e.type = {}", next()));
            " JOIN events e ON e.id = d.event_id"
        }
        None => "",
    };
    format!(
        "WITH newest AS (SELECT d.id, d.status, d.event_id FROM deliveries d \
         WHERE d.webhook_id = $1 AND {OWNED}{window} ORDER BY d.id DESC LIMIT {limit}) \
         SELECT COUNT(*) AS scanned, COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0) AS matching \
         FROM newest d{join}",
        matching.join(" AND ")
    )
}

/// The far end of the window a filtered page reads, and how many deliveries it holds:
/// the webhook's deliveries (in the time range) past the cursor, at most the last
/// parameter's number of them, read through the (webhook_id, id) index. Parameters in
/// order: webhook, account, since and until (when set), cursor, number.
pub(crate) fn window_edge(query: &crate::model::DeliveryQuery) -> String {
    let newer = query.newer_than.is_some();
    let mut n = 2;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let mut window = String::new();
    if query.since.is_some() {
        window.push_str(&format!(" AND d.created_at >= {}", next()));
    }
    if query.until.is_some() {
        window.push_str(&format!(" AND d.created_at < {}", next()));
    }
    let (cursor, limit) = (next(), next());
    let (edge, compare, order) = if newer {
        ("MAX", ">", "ASC")
    } else {
        ("MIN", "<", "DESC")
    };
    format!(
        "SELECT {edge}(w.id) AS edge, COUNT(*) AS n FROM (SELECT d.id FROM deliveries d \
         WHERE d.webhook_id = $1 AND {OWNED}{window} AND d.id {compare} {cursor} \
         ORDER BY d.id {order} LIMIT {limit}) AS w"
    )
}

/// Binds the parameters of a [`DeliverySelection`] to a query, in its order.
macro_rules! bind_selection {
    ($sql:expr, $query:expr, $account_id:expr, $dialect:ident) => {{
        let query = $query;
        let mut bound = $sql.bind($dialect::key(&query.webhook_id)).bind($account_id);
        if let Some(status) = query.status {
            bound = bound.bind(status.as_str());
        }
        if let Some(event_type) = &query.event_type {
            bound = bound.bind(event_type);
        }
        if let Some(since) = query.since {
            bound = bound.bind(ms(since));
        }
        if let Some(until) = query.until {
            bound = bound.bind(ms(until));
        }
        if let Some(term) = &query.search {
            bound = bound.bind($dialect::key(term)).bind(term);
            let words = postbode_core::search::terms(term);
            if !words.is_empty() {
                bound = bound.bind($dialect::text_query(&words));
            }
        }
        bound
    }};
}

pub(crate) use bind_selection;
