//! Statistics reads: the hourly roll-up rows (`webhook_stats`) of one webhook or of a
//! whole account, folded into hour or day buckets with their latency percentiles.

use chrono::{DateTime, Utc};
use postbode_core::latency::LatencyHistogram;
use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqliteRow};

use super::rows::{ms, time};
use crate::Result;
use crate::model::{Bucket, StatsBucket, StatsQuery};

const COUNTERS: &str = "s.hour, s.delivered, s.failed, s.skipped, s.skipped_unverified, s.condition_errors, \
     s.attempts, s.latency";

/// The first hour row a query needs: the hour `since` falls in.
fn first_hour(since: DateTime<Utc>) -> i64 {
    ms(since) - ms(since).rem_euclid(3_600_000)
}

pub async fn webhook_stats(
    pool: &SqlitePool,
    account_id: &str,
    webhook_id: &str,
    query: &StatsQuery,
) -> Result<Vec<StatsBucket>> {
    let rows = sqlx::query(&format!(
        "SELECT {COUNTERS} FROM webhook_stats s JOIN webhooks w ON w.id = s.webhook_id \
         WHERE s.webhook_id = ? AND w.account_id = ? AND s.hour >= ? AND s.hour < ? ORDER BY s.hour"
    ))
    .bind(webhook_id)
    .bind(account_id)
    .bind(first_hour(query.since))
    .bind(ms(query.until))
    .fetch_all(pool)
    .await?;
    fold(&rows, query.bucket)
}

/// Every webhook of the account together, added up per hour by the database in one
/// query (counters summed, latency histograms merged bucket by bucket), so the answer
/// has one row per hour however many webhooks there are.
pub async fn account_stats(pool: &SqlitePool, account_id: &str, query: &StatsQuery) -> Result<Vec<StatsBucket>> {
    let rows = sqlx::query(
        "WITH rows AS (SELECT s.* FROM webhooks w JOIN webhook_stats s ON s.webhook_id = w.id \
             WHERE w.account_id = ? AND s.hour >= ? AND s.hour < ?), \
         counts AS (SELECT hour, SUM(delivered) AS delivered, SUM(failed) AS failed, SUM(skipped) AS skipped, \
             SUM(skipped_unverified) AS skipped_unverified, SUM(condition_errors) AS condition_errors, \
             SUM(attempts) AS attempts FROM rows GROUP BY hour), \
         latency AS (SELECT r.hour, b.key, SUM(b.value) AS n FROM rows r, json_each(r.latency, '$.buckets') b \
             GROUP BY r.hour, b.key), \
         merged AS (SELECT hour, json_object('buckets', json_group_object(key, n)) AS latency FROM latency \
             GROUP BY hour) \
         SELECT c.hour, c.delivered, c.failed, c.skipped, c.skipped_unverified, c.condition_errors, c.attempts, \
             COALESCE(m.latency, '{\"buckets\":{}}') AS latency \
         FROM counts c LEFT JOIN merged m ON m.hour = c.hour ORDER BY c.hour",
    )
    .bind(account_id)
    .bind(first_hour(query.since))
    .bind(ms(query.until))
    .fetch_all(pool)
    .await?;
    fold(&rows, query.bucket)
}

/// Adds up hourly rows, ordered by hour, into buckets of the requested size.
fn fold(rows: &[SqliteRow], bucket: Bucket) -> Result<Vec<StatsBucket>> {
    let bucket_ms: i64 = match bucket {
        Bucket::Hour => 3_600_000,
        Bucket::Day => 86_400_000,
    };
    let mut buckets: Vec<StatsBucket> = Vec::new();
    for row in rows {
        let hour: i64 = row.try_get("hour")?;
        let start = hour - hour.rem_euclid(bucket_ms);
        if buckets.last().is_none_or(|b| ms(b.start) != start) {
            buckets.push(StatsBucket {
                start: time(start),
                ..StatsBucket::default()
            });
        }
        let Some(bucket) = buckets.last_mut() else { continue };
        let count = |name: &str| row.try_get::<i64, _>(name).map(|n| n.max(0) as u64);
        bucket.delivered += count("delivered")?;
        bucket.failed += count("failed")?;
        bucket.skipped += count("skipped")?;
        bucket.skipped_unverified += count("skipped_unverified")?;
        bucket.condition_errors += count("condition_errors")?;
        bucket.attempts += count("attempts")?;
        let latency: LatencyHistogram = serde_json::from_str(row.try_get("latency")?)?;
        bucket.latency.merge(&latency);
    }
    for bucket in &mut buckets {
        bucket.latency_p50_ms = bucket.latency.quantile(0.5);
        bucket.latency_p99_ms = bucket.latency.quantile(0.99);
    }
    Ok(buckets)
}
