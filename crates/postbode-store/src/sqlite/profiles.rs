//! Reads of profile data and messages, and the management writes of databases and
//! collections (rare, so they take the pool's turn at SQLite's write lock). Changes to
//! profiles go through the writer (see `changes`), because they fire events.

use postbode_core::page::{Page, PageRequest};
use serde_json::Value;
use sqlx::Arguments;
use sqlx::sqlite::SqliteArguments;
use sqlx::{SqliteConnection, SqlitePool};
use std::collections::HashMap;

use super::records::page_limit;
use crate::Result;
use crate::model::*;
use crate::rows::{self, ms};

pub async fn create_database(pool: &SqlitePool, d: &Database) -> Result<()> {
    sqlx::query(
        "INSERT INTO databases (id, account_id, name, fields, unsubscribe, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&d.id)
    .bind(&d.account_id)
    .bind(&d.name)
    .bind(serde_json::to_string(&d.fields)?)
    .bind(serde_json::to_string(&d.unsubscribe)?)
    .bind(ms(d.created_at))
    .bind(ms(d.updated_at))
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn update_database(pool: &SqlitePool, d: &Database) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE databases SET name = ?, fields = ?, unsubscribe = ?, updated_at = ? WHERE id = ? AND account_id = ?",
    )
    .bind(&d.name)
    .bind(serde_json::to_string(&d.fields)?)
    .bind(serde_json::to_string(&d.unsubscribe)?)
    .bind(ms(d.updated_at))
    .bind(&d.id)
    .bind(&d.account_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn create_collection(pool: &SqlitePool, c: &Collection) -> Result<()> {
    sqlx::query(
        "INSERT INTO collections (id, account_id, database_id, name, fields, unsubscribe, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&c.id)
    .bind(&c.account_id)
    .bind(&c.database_id)
    .bind(&c.name)
    .bind(serde_json::to_string(&c.fields)?)
    .bind(serde_json::to_string(&c.unsubscribe)?)
    .bind(ms(c.created_at))
    .bind(ms(c.updated_at))
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn update_collection(pool: &SqlitePool, c: &Collection) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE collections SET name = ?, fields = ?, unsubscribe = ?, updated_at = ? WHERE id = ? AND account_id = ?",
    )
    .bind(&c.name)
    .bind(serde_json::to_string(&c.fields)?)
    .bind(serde_json::to_string(&c.unsubscribe)?)
    .bind(ms(c.updated_at))
    .bind(&c.id)
    .bind(&c.account_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a row of `table` (databases or collections) in the account.
pub async fn delete_in_account(pool: &SqlitePool, table: &str, account_id: &str, id: &str) -> Result<bool> {
    let done = sqlx::query(&format!("DELETE FROM {table} WHERE id = ? AND account_id = ?"))
        .bind(id)
        .bind(account_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_database(pool: &SqlitePool, account_id: &str, id: &str) -> Result<Option<Database>> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM databases WHERE id = ? AND account_id = ?",
        rows::DATABASE_COLUMNS
    ))
    .bind(id)
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rows::database).transpose()
}

pub async fn list_databases(pool: &SqlitePool, account_id: &str, page: &PageRequest) -> Result<Page<Database>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM databases WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?",
        rows::DATABASE_COLUMNS
    ))
    .bind(account_id)
    .bind(page.after.as_deref().unwrap_or(""))
    .bind(page_limit(page))
    .fetch_all(pool)
    .await?;
    let list = rows.iter().map(rows::database).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(list, page.limit, |d| &d.id))
}

pub async fn get_collection(pool: &SqlitePool, account_id: &str, id: &str) -> Result<Option<Collection>> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM collections WHERE id = ? AND account_id = ?",
        rows::COLLECTION_COLUMNS
    ))
    .bind(id)
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rows::collection).transpose()
}

pub async fn list_collections(
    pool: &SqlitePool,
    account_id: &str,
    database_id: &str,
    page: &PageRequest,
) -> Result<Page<Collection>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM collections WHERE account_id = ? AND database_id = ? AND id > ? ORDER BY id LIMIT ?",
        rows::COLLECTION_COLUMNS
    ))
    .bind(account_id)
    .bind(database_id)
    .bind(page.after.as_deref().unwrap_or(""))
    .bind(page_limit(page))
    .fetch_all(pool)
    .await?;
    let list = rows.iter().map(rows::collection).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(list, page.limit, |c| &c.id))
}

pub async fn get_profile(pool: &SqlitePool, account_id: &str, id: &str) -> Result<Option<Profile>> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM profiles WHERE id = ? AND account_id = ?",
        rows::PROFILE_COLUMNS
    ))
    .bind(id)
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rows::profile).transpose()
}

/// Profiles of a database by id; `query.field` filters on one field's value (the
/// caller has checked the name against the database's fields, so it is an identifier).
pub async fn list_profiles(
    pool: &SqlitePool,
    account_id: &str,
    database_id: &str,
    query: &ProfileQuery,
) -> Result<Page<Profile>> {
    let mut sql = format!(
        "SELECT {} FROM profiles WHERE account_id = ? AND database_id = ? AND id > ?",
        rows::PROFILE_COLUMNS
    );
    let mut args = SqliteArguments::default();
    let page = &query.page;
    args.add(account_id).map_err(sqlx::Error::Encode)?;
    args.add(database_id).map_err(sqlx::Error::Encode)?;
    args.add(page.after.clone().unwrap_or_default())
        .map_err(sqlx::Error::Encode)?;
    if let Some((name, value)) = &query.field
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        sql.push_str(&format!(" AND fields ->> '$.{name}' = ?"));
        match value {
            Value::Number(n) if n.is_i64() => args.add(n.as_i64()),
            Value::Number(n) => args.add(n.as_f64()),
            Value::String(s) => args.add(s.clone()),
            other => args.add(other.to_string()),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    sql.push_str(" ORDER BY id LIMIT ?");
    args.add(page_limit(page)).map_err(sqlx::Error::Encode)?;
    let rows = sqlx::query_with(&sql, args).fetch_all(pool).await?;
    let list = rows.iter().map(rows::profile).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(list, page.limit, |p| &p.id))
}

pub async fn profiles_with_databases(
    pool: &SqlitePool,
    account_id: &str,
    ids: &[&str],
) -> Result<HashMap<String, (Profile, Database)>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(&format!(
        "SELECT {}, {} FROM profiles p JOIN databases d ON d.id = p.database_id \
         WHERE p.account_id = ? AND p.id IN (SELECT value FROM json_each(?))",
        rows::prefixed("p", rows::PROFILE_COLUMNS, "p_"),
        rows::prefixed("d", rows::DATABASE_COLUMNS, "d_"),
    ))
    .bind(account_id)
    .bind(serde_json::to_string(ids)?)
    .fetch_all(pool)
    .await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let profile = rows::profile_at(row, "p_")?;
        found.insert(profile.id.clone(), (profile, rows::database_at(row, "d_")?));
    }
    Ok(found)
}

pub async fn get_subprofile(pool: &SqlitePool, account_id: &str, id: &str) -> Result<Option<Subprofile>> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM subprofiles WHERE id = ? AND account_id = ?",
        rows::SUBPROFILE_COLUMNS
    ))
    .bind(id)
    .bind(account_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rows::subprofile).transpose()
}

pub async fn list_subprofiles(
    pool: &SqlitePool,
    account_id: &str,
    profile_id: &str,
    page: &PageRequest,
) -> Result<Page<Subprofile>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM subprofiles WHERE profile_id = ? AND account_id = ? AND id > ? ORDER BY id LIMIT ?",
        rows::SUBPROFILE_COLUMNS
    ))
    .bind(profile_id)
    .bind(account_id)
    .bind(page.after.as_deref().unwrap_or(""))
    .bind(page_limit(page))
    .fetch_all(pool)
    .await?;
    let list = rows.iter().map(rows::subprofile).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(list, page.limit, |s| &s.id))
}

pub async fn create_message(pool: &SqlitePool, m: &Message) -> Result<()> {
    sqlx::query(
        "INSERT INTO messages (id, account_id, mailing, email, profile_id, subprofile_id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&m.id)
    .bind(&m.account_id)
    .bind(serde_json::to_string(&m.mailing)?)
    .bind(&m.email)
    .bind(&m.profile_id)
    .bind(&m.subprofile_id)
    .bind(ms(m.created_at))
    .execute(pool)
    .await?;
    Ok(())
}

/// Messages with their profile data, in one read.
pub async fn message_contexts(conn: &mut SqliteConnection, ids: &[&str]) -> Result<HashMap<String, MessageContext>> {
    static QUERY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let query = QUERY.get_or_init(|| {
        format!(
            "{} WHERE m.id IN (SELECT value FROM json_each(?))",
            rows::message_context_select()
        )
    });
    let rows = sqlx::query(query)
        .bind(serde_json::to_string(ids)?)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| rows::message_context(row).map(|c| (c.message.id.clone(), c)))
        .collect()
}
