//! Moving a store from SQLite to PostgreSQL (`postbode migrate --from --to`): every row,
//! table by table in the order their references need, in one PostgreSQL transaction, so
//! a failed copy leaves the target as empty as it was. The columns are the target's:
//! both schemas have the same tables and columns, and a table this list does not know
//! stops the copy rather than being left behind.

use crate::error::StoreError;
use crate::{postgres, sqlite};
use futures_util::TryStreamExt;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, ValueRef};
use std::str::FromStr;

type Result<T> = std::result::Result<T, StoreError>;

/// Every table, each after those it refers to.
pub const TABLES: &[&str] = &[
    "accounts",
    "api_keys",
    "dashboard_sessions",
    "signing_keys",
    "webhooks",
    "domains",
    "databases",
    "collections",
    "profiles",
    "subprofiles",
    "profile_keys",
    "messages",
    "events",
    "idempotency_keys",
    "deliveries",
    "attempts",
    "webhook_stats",
    "event_types",
    "replay_jobs",
];

/// Rows per `INSERT`.
const CHUNK: usize = 1000;

/// How far a copy is: `done` of `total` rows, now in `table`.
pub struct Progress<'a> {
    pub table: &'a str,
    pub done: u64,
    pub total: u64,
}

/// Copies the SQLite store at `from` into the empty PostgreSQL store at `to` (migrated
/// first); returns the rows copied per table. The SQLite store is opened as the service
/// opens it, so a running service holding it makes this fail instead of copying a
/// moving target. Leases are not copied: every pending delivery is free to claim.
pub async fn sqlite_to_postgres(
    from: &str,
    to: &str,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<Vec<(&'static str, u64)>> {
    if !from.starts_with("sqlite:") || !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(StoreError::Move(
            "a move goes from sqlite://PATH to postgres://...".to_owned(),
        ));
    }
    // Takes the SQLite file's lock and brings both schemas up to date.
    let _source_lock = sqlite::SqliteStore::open(from).await?;
    let _target_schema = postgres::PgStore::open(to).await?;
    let source = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::from_str(from)?.read_only(true))
        .await?;
    let target = PgPoolOptions::new().max_connections(1).connect(to).await?;
    check_tables(&target).await?;
    let mut counts = Vec::new();
    let mut total = 0;
    for table in TABLES {
        let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&source)
            .await?;
        let present: bool = sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {table})"))
            .fetch_one(&target)
            .await?;
        if present {
            return Err(StoreError::Move(format!(
                "the target is not empty (table {table} has rows): a move goes into a new database"
            )));
        }
        counts.push((*table, count as u64, columns(&target, table).await?));
        total += count as u64;
    }
    let mut tx = target.begin().await?;
    let mut done = 0;
    for (table, _, columns) in &counts {
        let select = format!(
            "SELECT {} FROM {table}",
            columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
        );
        let mut rows = sqlx::query(&select).fetch(&source);
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            let row = rows.try_next().await?;
            let end = row.is_none();
            if let Some(row) = row {
                chunk.push(row);
            }
            if chunk.len() == CHUNK || (end && !chunk.is_empty()) {
                insert(&mut tx, table, columns, &chunk).await?;
                done += chunk.len() as u64;
                chunk.clear();
                progress(Progress { table, done, total });
            }
            if end {
                break;
            }
        }
    }
    tx.commit().await?;
    source.close().await;
    Ok(counts.into_iter().map(|(table, count, _)| (table, count)).collect())
}

/// A column as the target has it.
struct Column {
    name: String,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Integer,
    Bytes,
    Boolean,
}

/// The target's tables are those this copy knows: a new table must be added to
/// [`TABLES`] in its place.
async fn check_tables(target: &PgPool) -> Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(target)
    .await?;
    match tables.iter().find(|t| !TABLES.contains(&t.as_str())) {
        Some(unknown) => Err(StoreError::Invalid(format!(
            "the table {unknown} is not in the copy's list (postbode_store::transfer::TABLES)"
        ))),
        None => Ok(()),
    }
}

/// The target table's columns that take a value (generated ones are left out).
async fn columns(target: &PgPool, table: &str) -> Result<Vec<Column>> {
    let rows = sqlx::query(
        "SELECT column_name::text AS name, data_type::text AS kind FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' \
         ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(target)
    .await?;
    rows.iter()
        .map(|row| {
            let name: String = row.try_get("name")?;
            let kind = match row.try_get::<String, _>("kind")?.as_str() {
                "text" => Kind::Text,
                "bigint" | "integer" => Kind::Integer,
                "bytea" => Kind::Bytes,
                "boolean" => Kind::Boolean,
                other => {
                    return Err(StoreError::Invalid(format!(
                        "{table}.{name} is of type {other}, which the copy does not know"
                    )));
                }
            };
            Ok(Column { name, kind })
        })
        .collect()
}

/// One chunk of rows as one `INSERT ... SELECT FROM UNNEST`, an array per column.
async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &str,
    columns: &[Column],
    rows: &[SqliteRow],
) -> Result<()> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let array = match c.kind {
                Kind::Text => "text[]",
                Kind::Integer => "bigint[]",
                Kind::Bytes => "bytea[]",
                Kind::Boolean => "boolean[]",
            };
            format!("${}::{array}", i + 1)
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) SELECT * FROM UNNEST({})",
        names.join(", "),
        arrays.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for (i, column) in columns.iter().enumerate() {
        // A lease belongs to the process that took it, which is gone.
        let cleared = table == "deliveries" && column.name == "lease_until";
        query = match column.kind {
            Kind::Text => query.bind(texts(rows, i)?),
            Kind::Integer if cleared => query.bind(vec![None::<i64>; rows.len()]),
            Kind::Integer => query.bind(values::<i64>(rows, i)?),
            Kind::Bytes => query.bind(values::<Vec<u8>>(rows, i)?),
            Kind::Boolean => query.bind(
                values::<i64>(rows, i)?
                    .into_iter()
                    .map(|v| v.map(|v| v != 0))
                    .collect::<Vec<_>>(),
            ),
        };
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// A text column's values, ids stored as keys (`keys.rs`) read back as their ids.
fn texts(rows: &[SqliteRow], column: usize) -> Result<Vec<Option<String>>> {
    use sqlx::TypeInfo;
    rows.iter()
        .map(|row| {
            let raw = row.try_get_raw(column)?;
            if raw.is_null() {
                return Ok(None);
            }
            if raw.type_info().name() == "BLOB" {
                return crate::keys::id(row.try_get::<Vec<u8>, _>(column)?).map(Some);
            }
            Ok(Some(row.try_get::<String, _>(column)?))
        })
        .collect()
}

fn values<T>(rows: &[SqliteRow], column: usize) -> Result<Vec<Option<T>>>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    rows.iter()
        .map(|row| {
            if row.try_get_raw(column)?.is_null() {
                return Ok(None);
            }
            Ok(Some(row.try_get::<T, _>(column)?))
        })
        .collect()
}
