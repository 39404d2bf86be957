//! Converting between SQLite rows and the store's records.

use chrono::{DateTime, Utc};
use postbode_core::webhook::{Verification, Webhook, WebhookSettings};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::model::{Attempt, Collection, Database, Delivery, DeliveryStatus, Message, Profile, Subprofile, Trigger};
use crate::{Result, StoreError};
use postbode_core::profile::State;

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
     previous_secret, previous_secret_until";

pub fn webhook(row: &SqliteRow) -> Result<Webhook> {
    let mut settings: WebhookSettings = serde_json::from_str(row.try_get("settings")?)?;
    settings.enabled = row.try_get("enabled")?;
    let verification: Verification = serde_json::from_str(row.try_get("verification")?)?;
    Ok(Webhook {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        settings,
        disabled_reason: row.try_get("disabled_reason")?,
        secret: row.try_get("secret")?,
        previous_secret: match (
            row.try_get::<Option<String>, _>("previous_secret")?,
            opt_time(row.try_get("previous_secret_until")?),
        ) {
            (Some(sealed), Some(until)) => Some((sealed, until)),
            _ => None,
        },
        verification,
        failing_since: opt_time(row.try_get("failing_since")?),
        created_at: time(row.try_get("created_at")?),
        updated_at: time(row.try_get("updated_at")?),
    })
}

pub const DELIVERY_COLUMNS: &str =
    "id, event_id, webhook_id, status, attempts, next_attempt_at, last_status_code, created_at, delivered_at";

pub fn delivery(row: &SqliteRow) -> Result<Delivery> {
    let status: String = row.try_get("status")?;
    let status =
        DeliveryStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("delivery status {status:?}")))?;
    let code: Option<i64> = row.try_get("last_status_code")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        event_id: row.try_get("event_id")?,
        webhook_id: row.try_get("webhook_id")?,
        status,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        next_attempt_at: if status == DeliveryStatus::Pending {
            opt_time(row.try_get("next_attempt_at")?)
        } else {
            None
        },
        last_status_code: code.map(|c| c as u16),
        created_at: time(row.try_get("created_at")?),
        delivered_at: opt_time(row.try_get("delivered_at")?),
    })
}

pub const ATTEMPT_COLUMNS: &str = "id, delivery_id, webhook_id, event_id, number, trigger, started_at, duration_ms, \
     status_code, error_kind, error, response_body";

pub fn attempt(row: &SqliteRow) -> Result<Attempt> {
    let trigger: String = row.try_get("trigger")?;
    let code: Option<i64> = row.try_get("status_code")?;
    Ok(Attempt {
        id: row.try_get("id")?,
        delivery_id: row.try_get("delivery_id")?,
        webhook_id: row.try_get("webhook_id")?,
        event_id: row.try_get("event_id")?,
        number: row.try_get::<i64, _>("number")? as u32,
        trigger: Trigger::parse(&trigger).ok_or_else(|| StoreError::Corrupt(format!("attempt trigger {trigger:?}")))?,
        started_at: time(row.try_get("started_at")?),
        duration_ms: row.try_get::<i64, _>("duration_ms")?.max(0) as u64,
        status_code: code.map(|c| c as u16),
        error_kind: row.try_get("error_kind")?,
        error: row.try_get("error")?,
        response_body: row.try_get("response_body")?,
    })
}

pub const PROFILE_COLUMNS: &str = "id, account_id, database_id, fields, interests, sequence, created_at, modified_at";

pub fn profile(row: &SqliteRow) -> Result<Profile> {
    profile_at(row, "")
}

/// From columns named `<prefix><column>` (a joined row).
pub fn profile_at(row: &SqliteRow, prefix: &str) -> Result<Profile> {
    let c = |name: &str| format!("{prefix}{name}");
    Ok(Profile {
        id: row.try_get(c("id").as_str())?,
        account_id: row.try_get(c("account_id").as_str())?,
        database_id: row.try_get(c("database_id").as_str())?,
        state: State {
            values: serde_json::from_str(row.try_get(c("fields").as_str())?)?,
            interests: serde_json::from_str(row.try_get(c("interests").as_str())?)?,
        },
        sequence: row.try_get::<i64, _>(c("sequence").as_str())? as u64,
        created_at: time(row.try_get(c("created_at").as_str())?),
        modified_at: time(row.try_get(c("modified_at").as_str())?),
    })
}

pub const SUBPROFILE_COLUMNS: &str =
    "id, account_id, profile_id, database_id, collection_id, fields, sequence, created_at, modified_at";

pub fn subprofile(row: &SqliteRow) -> Result<Subprofile> {
    subprofile_at(row, "")
}

/// From columns named `<prefix><column>` (a joined row).
pub fn subprofile_at(row: &SqliteRow, prefix: &str) -> Result<Subprofile> {
    let c = |name: &str| format!("{prefix}{name}");
    Ok(Subprofile {
        id: row.try_get(c("id").as_str())?,
        account_id: row.try_get(c("account_id").as_str())?,
        profile_id: row.try_get(c("profile_id").as_str())?,
        database_id: row.try_get(c("database_id").as_str())?,
        collection_id: row.try_get(c("collection_id").as_str())?,
        values: serde_json::from_str(row.try_get(c("fields").as_str())?)?,
        sequence: row.try_get::<i64, _>(c("sequence").as_str())? as u64,
        created_at: time(row.try_get(c("created_at").as_str())?),
        modified_at: time(row.try_get(c("modified_at").as_str())?),
    })
}

pub const DATABASE_COLUMNS: &str = "id, account_id, name, fields, unsubscribe, created_at, updated_at";

pub fn database(row: &SqliteRow) -> Result<Database> {
    database_at(row, "")
}

/// From columns named `<prefix><column>` (a joined row).
pub fn database_at(row: &SqliteRow, prefix: &str) -> Result<Database> {
    let c = |name: &str| format!("{prefix}{name}");
    Ok(Database {
        id: row.try_get(c("id").as_str())?,
        account_id: row.try_get(c("account_id").as_str())?,
        name: row.try_get(c("name").as_str())?,
        fields: serde_json::from_str(row.try_get(c("fields").as_str())?)?,
        unsubscribe: serde_json::from_str(row.try_get(c("unsubscribe").as_str())?)?,
        created_at: time(row.try_get(c("created_at").as_str())?),
        updated_at: time(row.try_get(c("updated_at").as_str())?),
    })
}

pub const COLLECTION_COLUMNS: &str = "id, account_id, database_id, name, fields, unsubscribe, created_at, updated_at";

pub fn collection(row: &SqliteRow) -> Result<Collection> {
    collection_at(row, "")
}

/// From columns named `<prefix><column>` (a joined row).
pub fn collection_at(row: &SqliteRow, prefix: &str) -> Result<Collection> {
    let c = |name: &str| format!("{prefix}{name}");
    Ok(Collection {
        id: row.try_get(c("id").as_str())?,
        account_id: row.try_get(c("account_id").as_str())?,
        database_id: row.try_get(c("database_id").as_str())?,
        name: row.try_get(c("name").as_str())?,
        fields: serde_json::from_str(row.try_get(c("fields").as_str())?)?,
        unsubscribe: serde_json::from_str(row.try_get(c("unsubscribe").as_str())?)?,
        created_at: time(row.try_get(c("created_at").as_str())?),
        updated_at: time(row.try_get(c("updated_at").as_str())?),
    })
}

pub const MESSAGE_COLUMNS: &str = "id, account_id, mailing, email, profile_id, subprofile_id, created_at";

pub fn message(row: &SqliteRow) -> Result<Message> {
    Ok(Message {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        mailing: serde_json::from_str(row.try_get("mailing")?)?,
        email: row.try_get("email")?,
        profile_id: row.try_get("profile_id")?,
        subprofile_id: row.try_get("subprofile_id")?,
        created_at: time(row.try_get("created_at")?),
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
