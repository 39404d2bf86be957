//! One row of the soak's table: the server's memory and processor time from `/proc`, the
//! database's size, and the interval's deliveries and latencies.

use anyhow::Context;
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::path::PathBuf;
use std::time::Duration;

use super::super::report::{Percentiles, bytes, duration};
use super::super::server::{cpu_time, read_status, status_kb};
use super::tally::IntervalFigures;

/// Where the database's size is read.
pub enum DatabaseSize {
    /// The SQLite database: the pages its data takes.
    Sqlite(PathBuf),
    /// `pg_database_size` of the run's own database.
    Postgres(Box<PgConnection>),
}

impl DatabaseSize {
    pub async fn postgres(url: &str) -> anyhow::Result<Self> {
        let connection = PgConnection::connect(url)
            .await
            .context("connecting to the run's database to read its size")?;
        Ok(Self::Postgres(Box::new(connection)))
    }

    /// Bytes, or `None` when it cannot be read.
    pub async fn read(&mut self) -> Option<u64> {
        match self {
            DatabaseSize::Sqlite(path) => match sqlite_pages(path).await {
                Ok(size) => Some(size),
                // Unreadable (locked, say): the file and its write-ahead log.
                Err(_) => {
                    let mut wal = path.as_os_str().to_owned();
                    wal.push("-wal");
                    let main = std::fs::metadata(&*path).ok()?.len();
                    Some(main + std::fs::metadata(wal).map_or(0, |m| m.len()))
                }
            },
            DatabaseSize::Postgres(connection) => {
                sqlx::query_scalar::<_, i64>("SELECT pg_database_size(current_database())")
                    .fetch_one(connection.as_mut())
                    .await
                    .ok()
                    .and_then(|size| u64::try_from(size).ok())
            }
        }
    }
}

/// The pages the database's data takes, its write-ahead log's included: the file and
/// log together count a page twice until a checkpoint, and the log keeps its largest
/// size after one, so their sizes over-count by as much as the log holds.
async fn sqlite_pages(path: &std::path::Path) -> anyhow::Result<u64> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
    let mut connection = sqlx::sqlite::SqliteConnection::connect_with(&options).await?;
    let pages: i64 =
        sqlx::query_scalar("SELECT page_count - freelist_count FROM pragma_page_count(), pragma_freelist_count()")
            .fetch_one(&mut connection)
            .await?;
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut connection)
        .await?;
    connection.close().await?;
    Ok(u64::try_from(pages * page_size)?)
}

/// What `/proc` says of the server now.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessFigures {
    pub rss: Option<u64>,
    /// `RssAnon`: the heap and the allocators' arenas, not mapped files.
    pub anon: Option<u64>,
    pub cpu: Option<Duration>,
}

impl ProcessFigures {
    pub fn read(pid: u32) -> Self {
        let status = read_status(pid);
        Self {
            rss: status.as_deref().and_then(|s| status_kb(s, "VmRSS")),
            anon: status.as_deref().and_then(|s| status_kb(s, "RssAnon")),
            cpu: cpu_time(pid),
        }
    }
}

/// One row.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Since the soak's start.
    pub at: Duration,
    /// Deliveries received so far.
    pub delivered: u64,
    /// Deliveries received in this interval.
    pub fresh: u64,
    pub process: ProcessFigures,
    /// Processor time the server used in this interval.
    pub cpu: Option<Duration>,
    pub database: Option<u64>,
    /// Call → receipt of the interval's deliveries.
    pub latency: Option<Percentiles>,
    /// API call → `202` of the interval's calls.
    pub calls: Option<Percentiles>,
    /// Calls the receiver failed in this interval (`--receiver-flap`).
    pub failed_answers: u64,
}

impl Sample {
    pub fn new(
        at: Duration,
        delivered: (u64, u64),
        process: ProcessFigures,
        cpu_before: Option<Duration>,
        database: Option<u64>,
        mut figures: IntervalFigures,
        failed_answers: u64,
    ) -> Self {
        figures.latencies.sort_unstable();
        figures.calls.sort_unstable();
        let cpu = process.cpu.zip(cpu_before).map(|(now, then)| now.saturating_sub(then));
        Self {
            at,
            delivered: delivered.0,
            fresh: delivered.1,
            process,
            cpu,
            database,
            latency: Percentiles::of(&figures.latencies),
            calls: Percentiles::of(&figures.calls),
            failed_answers,
        }
    }

    /// Database bytes per delivery so far.
    pub fn bytes_per_delivery(&self) -> Option<u64> {
        Some(self.database? / (self.delivered > 0).then_some(self.delivered)?)
    }
}

/// `m:ss`.
pub fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// The table's head; `flap` adds the receiver's failed calls.
pub fn header(flap: bool) -> String {
    let mut line = format!(
        "{:>6} {:>11} {:>7} {:>10} {:>10} {:>6} {:>9} {:>11} {:>8} {:>8} {:>8} {:>8}",
        "time", "delivered", "per s", "RSS", "anon", "cores", "CPU/1k", "database", "B/deliv", "p50", "p99", "API p99"
    );
    if flap {
        line.push_str(&format!(" {:>7}", "failed"));
    }
    line
}

/// The sample as a row under [`header`]; `over` is the interval's length.
pub fn row(sample: &Sample, over: Duration, flap: bool) -> String {
    let unknown = || "?".to_owned();
    let cores = sample
        .cpu
        .filter(|_| !over.is_zero())
        .map_or_else(unknown, |cpu| format!("{:.2}", cpu.as_secs_f64() / over.as_secs_f64()));
    let per_1000 = sample.cpu.filter(|_| sample.fresh > 0).map_or_else(unknown, |cpu| {
        format!("{:.3} s", cpu.as_secs_f64() * 1000.0 / sample.fresh as f64)
    });
    let rate = match over.is_zero() {
        true => 0.0,
        false => sample.fresh as f64 / over.as_secs_f64(),
    };
    let mut line = format!(
        "{:>6} {:>11} {:>7.0} {:>10} {:>10} {:>6} {:>9} {:>11} {:>8} {:>8} {:>8} {:>8}",
        clock(sample.at),
        sample.delivered,
        rate,
        sample.process.rss.map_or_else(unknown, bytes),
        sample.process.anon.map_or_else(unknown, bytes),
        cores,
        per_1000,
        sample.database.map_or_else(unknown, bytes),
        sample.bytes_per_delivery().map_or_else(unknown, |b| b.to_string()),
        sample.latency.map_or_else(|| "-".to_owned(), |p| duration(p.p50)),
        sample.latency.map_or_else(|| "-".to_owned(), |p| duration(p.p99)),
        sample.calls.map_or_else(|| "-".to_owned(), |p| duration(p.p99)),
    );
    if flap {
        line.push_str(&format!(" {:>7}", sample.failed_answers));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_lines_up_under_the_header() {
        let sample = Sample::new(
            Duration::from_secs(90),
            (270_000, 90_000),
            ProcessFigures {
                rss: Some(50 << 20),
                anon: Some(30 << 20),
                cpu: Some(Duration::from_secs(40)),
            },
            Some(Duration::ZERO),
            Some(27_000_000),
            IntervalFigures {
                latencies: vec![Duration::from_millis(2), Duration::from_millis(1)],
                calls: vec![],
            },
            0,
        );
        assert_eq!(sample.bytes_per_delivery(), Some(100));
        let line = row(&sample, Duration::from_secs(30), false);
        assert_eq!(line.len(), header(false).len(), "{line}");
        assert!(
            line.starts_with("  1:30      270000    3000   50.0 MiB   30.0 MiB   1.33"),
            "{line}"
        );
        assert!(line.contains("0.444 s"), "{line}");
        assert!(row(&sample, Duration::from_secs(30), true).ends_with("       0"));
    }
}
