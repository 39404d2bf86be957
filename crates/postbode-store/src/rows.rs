//! Converting between database rows and the store's records, for every backend: both
//! store times as Unix milliseconds, JSON as text, and use the same column names.

use chrono::{DateTime, Utc};
use postbode_core::profile::State;
use postbode_core::webhook::{Verification, Webhook, WebhookSettings};
use sqlx::Row;

use crate::model::{Attempt, Collection, Database, Delivery, DeliveryStatus, Message, Profile, Subprofile, Trigger};
use crate::{Result, StoreError};

/// A row of either backend, read by column name as the types both store.
pub trait Columns {
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn int(&self, column: &str) -> Result<i64>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
    fn flag(&self, column: &str) -> Result<bool>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>>;
}

macro_rules! columns {
    ($row:ty, $get:ident, $text:ident, $opt_text:ident) => {
        impl Columns for $row {
            fn text(&self, column: &str) -> Result<String> {
                $text(self, column)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>> {
                $opt_text(self, column)
            }
            fn int(&self, column: &str) -> Result<i64> {
                Ok(self.$get(column)?)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>> {
                Ok(self.$get(column)?)
            }
            fn flag(&self, column: &str) -> Result<bool> {
                Ok(self.$get(column)?)
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>> {
                Ok(self.$get(column)?)
            }
        }
    };
}

columns!(sqlx::sqlite::SqliteRow, try_get, sqlite_text, sqlite_opt_text);
columns!(sqlx::postgres::PgRow, try_get, pg_text, pg_opt_text);
// The SQLite writer's own connection (`sqlite/connection.rs`).
columns!(rusqlite::Row<'_>, get, writer_text, writer_opt_text);

// On SQLite an id column may hold a key (`keys.rs`): text reads it back as its id.
fn sqlite_opt_text(row: &sqlx::sqlite::SqliteRow, column: &str) -> Result<Option<String>> {
    use sqlx::{TypeInfo, ValueRef};
    let raw = row.try_get_raw(column)?;
    if raw.is_null() {
        return Ok(None);
    }
    if raw.type_info().name() == "BLOB" {
        return crate::keys::id(row.try_get(column)?).map(Some);
    }
    Ok(row.try_get(column)?)
}

fn sqlite_text(row: &sqlx::sqlite::SqliteRow, column: &str) -> Result<String> {
    sqlite_opt_text(row, column)?.ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
}

fn writer_opt_text(row: &rusqlite::Row<'_>, column: &str) -> Result<Option<String>> {
    match row.get_ref(column)? {
        rusqlite::types::ValueRef::Blob(stored) => crate::keys::id(stored.to_vec()).map(Some),
        _ => Ok(row.get(column)?),
    }
}

fn writer_text(row: &rusqlite::Row<'_>, column: &str) -> Result<String> {
    writer_opt_text(row, column)?.ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
}

fn pg_text(row: &sqlx::postgres::PgRow, column: &str) -> Result<String> {
    Ok(row.try_get(column)?)
}

fn pg_opt_text(row: &sqlx::postgres::PgRow, column: &str) -> Result<Option<String>> {
    Ok(row.try_get(column)?)
}

/// One row more than the page, to tell whether another page follows.
pub fn page_limit(page: &postbode_core::page::PageRequest) -> i64 {
    i64::from(page.limit) + 1
}

/// A page of records from up to `limit + 1` rows.
pub fn page<R: Columns, T>(
    rows: &[R],
    page: &postbode_core::page::PageRequest,
    convert: impl Fn(&R) -> Result<T>,
    id_of: impl Fn(&T) -> &str,
) -> Result<postbode_core::page::Page<T>> {
    let records = rows.iter().map(convert).collect::<Result<Vec<_>>>()?;
    Ok(postbode_core::page::Page::from_rows(records, page.limit, id_of))
}

pub fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub fn opt_time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.map(time)
}

pub const WEBHOOK_COLUMNS: &str = "id, account_id, settings, enabled, disabled_reason, secret, verification, failing_since, created_at, updated_at, \
     previous_secret, previous_secret_until, paused_until, pause_reason";

pub fn webhook(row: &impl Columns) -> Result<Webhook> {
    let mut settings: WebhookSettings = serde_json::from_str(&row.text("settings")?)?;
    settings.enabled = row.flag("enabled")?;
    let verification: Verification = serde_json::from_str(&row.text("verification")?)?;
    Ok(Webhook {
        id: row.text("id")?,
        account_id: row.text("account_id")?,
        settings,
        disabled_reason: row.opt_text("disabled_reason")?,
        secret: row.text("secret")?,
        previous_secret: match (
            row.opt_text("previous_secret")?,
            opt_time(row.opt_int("previous_secret_until")?),
        ) {
            (Some(sealed), Some(until)) => Some((sealed, until)),
            _ => None,
        },
        verification,
        failing_since: opt_time(row.opt_int("failing_since")?),
        paused_until: opt_time(row.opt_int("paused_until")?),
        pause_reason: row.opt_text("pause_reason")?,
        created_at: time(row.int("created_at")?),
        updated_at: time(row.int("updated_at")?),
    })
}

pub const DOMAIN_COLUMNS: &str = "id, account_id, domain, token, status, checked_at, outcome, created_at";

pub fn domain(row: &impl Columns) -> Result<postbode_core::domain::Domain> {
    let status = row.text("status")?;
    Ok(postbode_core::domain::Domain {
        id: row.text("id")?,
        account_id: row.text("account_id")?,
        domain: row.text("domain")?,
        token: row.text("token")?,
        status: postbode_core::domain::DomainStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("domain status {status:?}")))?,
        checked_at: opt_time(row.opt_int("checked_at")?),
        outcome: row.opt_text("outcome")?,
        created_at: time(row.int("created_at")?),
    })
}

pub const DELIVERY_COLUMNS: &str =
    "id, event_id, webhook_id, status, attempts, next_attempt_at, last_status_code, created_at, delivered_at";

pub fn delivery(row: &impl Columns) -> Result<Delivery> {
    let status = delivery_status(row)?;
    Ok(Delivery {
        id: row.text("id")?,
        event_id: row.text("event_id")?,
        webhook_id: row.text("webhook_id")?,
        status,
        attempts: row.int("attempts")? as u32,
        next_attempt_at: if status == DeliveryStatus::Pending {
            opt_time(row.opt_int("next_attempt_at")?)
        } else {
            None
        },
        last_status_code: row.opt_int("last_status_code")?.map(|c| c as u16),
        created_at: time(row.int("created_at")?),
        delivered_at: opt_time(row.opt_int("delivered_at")?),
    })
}

pub fn delivery_status(row: &impl Columns) -> Result<DeliveryStatus> {
    let status = row.text("status")?;
    DeliveryStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("delivery status {status:?}")))
}

pub fn trigger(row: &impl Columns, column: &str) -> Result<Trigger> {
    let trigger = row.text(column)?;
    Trigger::parse(&trigger).ok_or_else(|| StoreError::Corrupt(format!("trigger {trigger:?}")))
}

/// An attempt's event is its delivery's (attempts keep no event id of their own).
pub const ATTEMPT_COLUMNS: &str = "id, delivery_id, webhook_id, \
     (SELECT d.event_id FROM deliveries d WHERE d.id = attempts.delivery_id) AS event_id, number, trigger, started_at, \
     duration_ms, status_code, error_kind, error, response_body";

pub fn attempt(row: &impl Columns) -> Result<Attempt> {
    Ok(Attempt {
        id: row.text("id")?,
        delivery_id: row.opt_text("delivery_id")?,
        webhook_id: row.text("webhook_id")?,
        event_id: row.opt_text("event_id")?,
        number: row.int("number")? as u32,
        trigger: trigger(row, "trigger")?,
        started_at: time(row.int("started_at")?),
        duration_ms: row.int("duration_ms")?.max(0) as u64,
        status_code: row.opt_int("status_code")?.map(|c| c as u16),
        error_kind: row.opt_text("error_kind")?,
        error: row.opt_text("error")?,
        response_body: row.opt_text("response_body")?,
    })
}

pub const PROFILE_COLUMNS: &str = "id, account_id, database_id, fields, interests, sequence, created_at, modified_at";

pub fn profile(row: &impl Columns) -> Result<Profile> {
    profile_at(row, "")
}

/// From columns named `<prefix><column>` (a joined row).
pub fn profile_at(row: &impl Columns, prefix: &str) -> Result<Profile> {
    let c = |name: &str| format!("{prefix}{name}");
    Ok(Profile {
        id: row.text(&c("id"))?,
        account_id: row.text(&c("account_id"))?,
        database_id: row.text(&c("database_id"))?,
        state: State {
            values: serde_json::from_str(&row.text(&c("fields"))?)?,
            interests: serde_json::from_str(&row.text(&c("interests"))?)?,
        },
        sequence: row.int(&c("sequence"))? as u64,
        created_at: time(row.int(&c("created_at"))?),
        modified_at: time(row.int(&c("modified_at"))?),
    })
}

pub const SUBPROFILE_COLUMNS: &str =
    "id, account_id, profile_id, database_id, collection_id, fields, sequence, created_at, modified_at";

pub fn subprofile(row: &impl Columns) -> Result<Subprofile> {
    subprofile_at(row, "")
}

/// From columns named `<prefix><column>` (a joined row).
pub fn subprofile_at(row: &impl Columns, prefix: &str) -> Result<Subprofile> {
    let c = |name: &str| format!("{prefix}{name}");
    Ok(Subprofile {
        id: row.text(&c("id"))?,
        account_id: row.text(&c("account_id"))?,
        profile_id: row.text(&c("profile_id"))?,
        database_id: row.text(&c("database_id"))?,
        collection_id: row.text(&c("collection_id"))?,
        values: serde_json::from_str(&row.text(&c("fields"))?)?,
        sequence: row.int(&c("sequence"))? as u64,
        created_at: time(row.int(&c("created_at"))?),
        modified_at: time(row.int(&c("modified_at"))?),
    })
}

pub const DATABASE_COLUMNS: &str = "id, account_id, name, fields, unsubscribe, created_at, updated_at";

pub fn database(row: &impl Columns) -> Result<Database> {
    database_at(row, "")
}

/// From columns named `<prefix><column>` (a joined row).
pub fn database_at(row: &impl Columns, prefix: &str) -> Result<Database> {
    let c = |name: &str| format!("{prefix}{name}");
    Ok(Database {
        id: row.text(&c("id"))?,
        account_id: row.text(&c("account_id"))?,
        name: row.text(&c("name"))?,
        fields: serde_json::from_str(&row.text(&c("fields"))?)?,
        unsubscribe: serde_json::from_str(&row.text(&c("unsubscribe"))?)?,
        created_at: time(row.int(&c("created_at"))?),
        updated_at: time(row.int(&c("updated_at"))?),
    })
}

pub const COLLECTION_COLUMNS: &str = "id, account_id, database_id, name, fields, unsubscribe, created_at, updated_at";

pub fn collection(row: &impl Columns) -> Result<Collection> {
    collection_at(row, "")
}

/// From columns named `<prefix><column>` (a joined row).
pub fn collection_at(row: &impl Columns, prefix: &str) -> Result<Collection> {
    let c = |name: &str| format!("{prefix}{name}");
    Ok(Collection {
        id: row.text(&c("id"))?,
        account_id: row.text(&c("account_id"))?,
        database_id: row.text(&c("database_id"))?,
        name: row.text(&c("name"))?,
        fields: serde_json::from_str(&row.text(&c("fields"))?)?,
        unsubscribe: serde_json::from_str(&row.text(&c("unsubscribe"))?)?,
        created_at: time(row.int(&c("created_at"))?),
        updated_at: time(row.int(&c("updated_at"))?),
    })
}

pub const MESSAGE_COLUMNS: &str = "id, account_id, mailing, email, profile_id, subprofile_id, created_at";

pub fn message(row: &impl Columns) -> Result<Message> {
    Ok(Message {
        id: row.text("id")?,
        account_id: row.text("account_id")?,
        mailing: serde_json::from_str(&row.text("mailing")?)?,
        email: row.text("email")?,
        profile_id: row.opt_text("profile_id")?,
        subprofile_id: row.opt_text("subprofile_id")?,
        created_at: time(row.int("created_at")?),
    })
}

/// `alias.column AS <prefix>column` for each of `columns`, to select a joined table's
/// row beside another's.
pub fn prefixed(alias: &str, columns: &str, prefix: &str) -> String {
    columns
        .split(", ")
        .map(|column| format!("{alias}.{column} AS {prefix}{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Messages joined with their profile data (columns of [`message_context_select`]).
pub fn message_context(row: &impl Columns) -> Result<crate::model::MessageContext> {
    let present = |prefix: &str| -> Result<bool> { Ok(row.opt_text(&format!("{prefix}id"))?.is_some()) };
    let profile = match present("p_")? && present("d_")? {
        true => Some((profile_at(row, "p_")?, database_at(row, "d_")?)),
        false => None,
    };
    let subprofile = match present("s_")? && present("c_")? {
        true => Some((subprofile_at(row, "s_")?, collection_at(row, "c_")?)),
        false => None,
    };
    Ok(crate::model::MessageContext {
        message: message(row)?,
        profile,
        subprofile,
    })
}

/// The columns and joins that read messages with their profile data: the profile,
/// database, subprofile and collection (absent when the message names none, or it is gone).
pub fn message_context_select() -> String {
    format!(
        "SELECT {}, {}, {}, {}, {} FROM messages m \
         LEFT JOIN profiles p ON p.id = m.profile_id AND p.account_id = m.account_id \
         LEFT JOIN databases d ON d.id = p.database_id \
         LEFT JOIN subprofiles s ON s.id = m.subprofile_id AND s.account_id = m.account_id \
         LEFT JOIN collections c ON c.id = s.collection_id",
        prefixed("m", MESSAGE_COLUMNS, ""),
        prefixed("p", PROFILE_COLUMNS, "p_"),
        prefixed("d", DATABASE_COLUMNS, "d_"),
        prefixed("s", SUBPROFILE_COLUMNS, "s_"),
        prefixed("c", COLLECTION_COLUMNS, "c_"),
    )
}

pub const ACCOUNT_COLUMNS: &str = "id, name, created_at";

pub fn account(row: &impl Columns) -> Result<crate::model::Account> {
    Ok(crate::model::Account {
        id: row.text("id")?,
        name: row.text("name")?,
        created_at: time(row.int("created_at")?),
    })
}

pub const EVENT_TYPE_COLUMNS: &str = "account_id, name, description, schema, example, archived, created_at, updated_at";

pub fn event_type(row: &impl Columns) -> Result<crate::model::EventTypeRecord> {
    let json = |column: &str| -> Result<Option<serde_json::Value>> {
        row.opt_text(column)?
            .map(|text| {
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("event type {column}: {e}")))
            })
            .transpose()
    };
    Ok(crate::model::EventTypeRecord {
        account_id: row.text("account_id")?,
        name: row.text("name")?,
        description: row.opt_text("description")?,
        schema: json("schema")?,
        example: json("example")?,
        archived: row.flag("archived")?,
        created_at: time(row.int("created_at")?),
        updated_at: time(row.int("updated_at")?),
    })
}

pub const INSERT_API_KEY: &str =
    "INSERT INTO api_keys (id, account_id, secret_hash, name, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

pub const API_KEY_COLUMNS: &str = "id, account_id, secret_hash, name, scopes, created_at, last_used_at";

pub fn api_key(row: &impl Columns) -> Result<crate::model::ApiKey> {
    Ok(crate::model::ApiKey {
        id: row.text("id")?,
        account_id: row.text("account_id")?,
        secret_hash: row.bytes("secret_hash")?,
        name: row.opt_text("name")?,
        scopes: scopes(row)?,
        created_at: time(row.int("created_at")?),
        last_used_at: opt_time(row.opt_int("last_used_at")?),
    })
}

pub const API_KEY_INFO_COLUMNS: &str = "id, name, scopes, created_at, last_used_at";

pub fn api_key_info(row: &impl Columns) -> Result<crate::model::ApiKeyInfo> {
    Ok(crate::model::ApiKeyInfo {
        id: row.text("id")?,
        name: row.opt_text("name")?,
        scopes: scopes(row)?.list().to_vec(),
        created_at: time(row.int("created_at")?),
        last_used_at: opt_time(row.opt_int("last_used_at")?),
    })
}

fn scopes(row: &impl Columns) -> Result<postbode_core::scope::Scopes> {
    let text = row.text("scopes")?;
    postbode_core::scope::Scopes::from_text(&text)
        .ok_or_else(|| StoreError::Corrupt(format!("API key scopes {text:?}")))
}

pub const SESSION_COLUMNS: &str = "id_hash, account_id, key_id, role, created_at, expires_at";

pub fn session(row: &impl Columns) -> Result<crate::model::DashboardSession> {
    let role = row.text("role")?;
    Ok(crate::model::DashboardSession {
        id_hash: row.bytes("id_hash")?,
        account_id: row.opt_text("account_id")?,
        key_id: row.opt_text("key_id")?,
        role: crate::model::SessionRole::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("session role {role:?}")))?,
        created_at: time(row.int("created_at")?),
        expires_at: time(row.int("expires_at")?),
    })
}

pub const SIGNING_KEY_COLUMNS: &str =
    "id, algorithm, selector, private_key, public_key, activates_at, retires_at, expires_at, created_at";

pub fn signing_key(row: &impl Columns) -> Result<crate::model::SigningKeyRecord> {
    Ok(crate::model::SigningKeyRecord {
        id: row.text("id")?,
        algorithm: row.text("algorithm")?,
        selector: row.text("selector")?,
        sealed_private_key: row.text("private_key")?,
        public_key: row.bytes("public_key")?,
        schedule: postbode_core::signing_keys::KeySchedule {
            activates_at: time(row.int("activates_at")?),
            retires_at: time(row.int("retires_at")?),
            expires_at: time(row.int("expires_at")?),
        },
        created_at: time(row.int("created_at")?),
    })
}

/// The body receivers get of an event row's `body` (what is kept of it) and
/// `created_at`.
pub fn receiver_body(row: &impl Columns, event_id: &str, event_type: &str) -> Result<bytes::Bytes> {
    let stored = row.bytes("body")?;
    let at = time(row.int("created_at")?);
    Ok(
        match postbode_core::event::receiver_body(event_id, event_type, at, &stored) {
            std::borrow::Cow::Borrowed(_) => stored.into(),
            std::borrow::Cow::Owned(whole) => whole.into(),
        },
    )
}

pub const HOUR_STATS_COLUMNS: &str =
    "webhook_id, hour, delivered, failed, skipped_unverified, condition_errors, held, attempts, latency";

pub fn hour_stats(row: &impl Columns) -> Result<crate::backend::HourStats> {
    Ok(crate::backend::HourStats {
        webhook_id: row.text("webhook_id")?,
        hour: time(row.int("hour")?),
        delivered: row.int("delivered")?.max(0) as u64,
        failed: row.int("failed")?.max(0) as u64,
        skipped_unverified: row.int("skipped_unverified")?.max(0) as u64,
        condition_errors: row.int("condition_errors")?.max(0) as u64,
        held: row.int("held")?.max(0) as u64,
        attempts: row.int("attempts")?.max(0) as u64,
        latency: serde_json::from_str(&row.text("latency")?)?,
    })
}

/// Adds stored hours into hour or day buckets, with their latency quantiles.
pub fn stats_buckets(
    hours: Vec<crate::backend::HourStats>,
    bucket: crate::model::Bucket,
) -> Vec<crate::model::StatsBucket> {
    let bucket_ms: i64 = match bucket {
        crate::model::Bucket::Hour => 3_600_000,
        crate::model::Bucket::Day => 86_400_000,
    };
    let mut buckets: Vec<crate::model::StatsBucket> = Vec::new();
    for hour in hours {
        let start = ms(hour.hour) - ms(hour.hour).rem_euclid(bucket_ms);
        if buckets.last().is_none_or(|b| ms(b.start) != start) {
            buckets.push(crate::model::StatsBucket {
                start: time(start),
                ..crate::model::StatsBucket::default()
            });
        }
        let Some(b) = buckets.last_mut() else { continue };
        b.delivered += hour.delivered;
        b.failed += hour.failed;
        b.skipped_unverified += hour.skipped_unverified;
        b.condition_errors += hour.condition_errors;
        b.held += hour.held;
        b.attempts += hour.attempts;
        b.latency.merge(&hour.latency);
    }
    for b in &mut buckets {
        b.latency_p50_ms = b.latency.quantile(0.5);
        b.latency_p99_ms = b.latency.quantile(0.99);
    }
    buckets
}
