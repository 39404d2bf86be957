//! `postbode bench --soak DURATION --rate R`: a long run at a fixed rate, the way a
//! service lives, to show the costs a burst hides. Every `--sample-every` it prints a
//! row: the server's RSS and anonymous memory, its processor time, the database's size
//! (and so the bytes each delivery costs on disk) and the interval's latencies from just
//! before the API call to the receipt. At the end a verdict says whether memory grew
//! with the work (a least-squares slope after a warm-up, and the end against the
//! warm-up's end).
//!
//! `--receiver-flap` makes the receiver fail every call for a few seconds of every half
//! minute, so retries, the circuit breaker and the statistics of failed calls are part
//! of the run; the flapping stops when the sending does, so every delivery can arrive.

mod sample;
mod tally;
mod verdict;

use anyhow::Context;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

use super::BenchArgs;
use super::api::Api;
use super::load::{self, Work};
use super::receiver::Receiver;
use super::report::{self, bytes, duration};
use super::server::ServerChild;
pub use sample::DatabaseSize;
use sample::{ProcessFigures, Sample};
pub use tally::{Answer, Tally, stamps};
use verdict::Verdict;

/// What the soak is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct SoakPlan {
    /// How long events are sent.
    pub duration: Duration,
    /// Events per second.
    pub rate: f64,
    /// How often a row is printed.
    pub every: Duration,
    pub flap: bool,
}

/// How late past the soak's end a call due before it may still start.
const LATE_LIMIT: Duration = Duration::from_secs(1);

/// Sets up the account and webhooks on `node`, runs the soak and stops the node.
pub async fn run(
    args: &BenchArgs,
    plan: SoakPlan,
    api: Api,
    admin_token: &str,
    receiver: &Arc<Receiver>,
    node: ServerChild,
    mut database: DatabaseSize,
) -> anyhow::Result<()> {
    println!(
        "postbode bench, soak: {} events/s for {} × {} webhook(s) ({}), a row every {}",
        plan.rate,
        humantime::format_duration(plan.duration),
        args.fanout,
        args.how(),
        humantime::format_duration(plan.every),
    );
    println!("{}", args.settings());
    println!(
        "server:   started, pid {}, {} (healthy in {})",
        node.pid(),
        node.base_url,
        duration(node.startup)
    );
    println!("receiver: {}", receiver.base_url());
    if plan.flap {
        println!(
            "receiver flaps: fails every call (503) for {} of every {}",
            humantime::format_duration(tally::FLAP_FOR),
            humantime::format_duration(tally::FLAP_EVERY)
        );
    }
    let (key, _) = super::set_up(&api, admin_token, receiver, args).await?;
    let work = super::prepare(&api, &key, args, 1).await?;
    super::warm_up(&api, &key, &work, receiver, args).await?;
    let Work::Events { batch, filler, .. } = work else {
        anyhow::bail!("a soak sends custom events");
    };

    let tally = Arc::new(Tally::new(args.measured(), plan.flap));
    receiver.soak_into(tally.clone());
    let start_cpu = ProcessFigures::read(node.pid()).cpu;
    let sender = tokio::spawn(send(api, key, tally.clone(), plan, batch, filler, args.concurrency));

    println!("{}", sample::header(plan.flap));
    let mut samples: Vec<Sample> = Vec::new();
    let mut tick = tokio::time::interval_at((tally.start + plan.every).into(), plan.every);
    let mut last_cpu = start_cpu;
    let mut last_delivered = 0;
    let mut last_failed = 0;
    let mut last_at = Duration::ZERO;
    let rows = (plan.duration.as_secs_f64() / plan.every.as_secs_f64()).floor() as u64;
    for _ in 0..rows {
        tick.tick().await;
        let at = tally.start.elapsed();
        let process = ProcessFigures::read(node.pid());
        let delivered = tally.delivered();
        let failed = tally.failed_answers();
        let sample = Sample::new(
            at,
            (delivered, delivered - last_delivered),
            process,
            last_cpu,
            database.read().await,
            tally.take_interval(),
            failed - last_failed,
        );
        println!("{}", sample::row(&sample, at.saturating_sub(last_at), plan.flap));
        (last_cpu, last_delivered, last_failed, last_at) = (process.cpu, delivered, failed, at);
        samples.push(sample);
    }
    tally.stop_flapping();
    let (max_lag, sent) = sender.await.context("the load generator failed")?;
    let sent_for = tally.start.elapsed();
    let expected = tally.accepted.load(std::sync::atomic::Ordering::Relaxed) * u64::from(args.measured());
    let complete = wait_for(&tally, expected, args.timeout).await;
    let drained = tally.start.elapsed();
    let end = ProcessFigures::read(node.pid());
    let database_size = database.read().await;
    let usage = node.stop().await?;

    let verdict = Verdict::of(&samples, verdict::WARM_UP);
    summarize(&Summary {
        plan,
        tally: &tally,
        expected,
        sent_for,
        drained,
        max_lag,
        sent,
        end,
        start_cpu,
        database_size,
        peak: usage.peak,
        verdict: &verdict,
    });
    let lost = expected.saturating_sub(tally.delivered());
    if lost > 0 {
        let why = match complete {
            true => String::new(),
            false => format!(" (nothing more came for {})", humantime::format_duration(args.timeout)),
        };
        anyhow::bail!("{lost} of {expected} deliveries never arrived{why}");
    }
    let failed_calls = tally.failed_calls.load(std::sync::atomic::Ordering::Relaxed);
    if failed_calls > 0 {
        anyhow::bail!(
            "{failed_calls} API calls failed, first: {}",
            tally.first_error().unwrap_or_default()
        );
    }
    Ok(())
}

/// Sends `plan.rate` events a second for `plan.duration`, `batch` to a call, with at
/// most `concurrency` calls in flight; returns how late the latest call started, and
/// how many events were sent.
async fn send(
    api: Api,
    key: Arc<str>,
    tally: Arc<Tally>,
    plan: SoakPlan,
    batch: u32,
    filler: Arc<str>,
    concurrency: u32,
) -> (Duration, u64) {
    let batch = u64::from(batch.max(1));
    let every = Duration::from_secs_f64(batch as f64 / plan.rate);
    let permits = Arc::new(Semaphore::new(concurrency as usize));
    let (mut max_lag, mut sent) = (Duration::ZERO, 0);
    for call in 0u64.. {
        let due = every.mul_f64(call as f64);
        // A server that cannot keep up does not stretch the soak: what was not sent by
        // the end is reported as behind.
        if due >= plan.duration || tally.start.elapsed() >= plan.duration + LATE_LIMIT {
            break;
        }
        tokio::time::sleep_until((tally.start + due).into()).await;
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        max_lag = max_lag.max(tally.start.elapsed().saturating_sub(due));
        sent += batch;
        let (api, key, tally, filler) = (api.clone(), key.clone(), tally.clone(), filler.clone());
        tokio::spawn(async move {
            let stamped = |seq: u64| {
                let mut event = load::event_value(seq, &filler, None);
                event["data"]["sent_us"] = tally.now_us().into();
                event
            };
            let first = call * batch;
            let sent = Instant::now();
            let answer = match batch {
                1 => api.post_event(&key, stamped(first).to_string().into()).await,
                _ => {
                    let events: Vec<_> = (first..first + batch).map(stamped).collect();
                    let body = serde_json::json!({ "events": events }).to_string();
                    api.post_batch(&key, body.into()).await
                }
            };
            match answer {
                Ok(accepted) => {
                    tally.accepted_call(accepted.ids.len() as u64, accepted.at.saturating_duration_since(sent))
                }
                Err(e) => tally.failed_call(format!("{e:#}")),
            }
            drop(permit);
        });
    }
    // Every call has answered once every permit is back.
    let _ = permits.acquire_many(concurrency).await;
    (max_lag, sent)
}

/// Waits until `expected` deliveries are in, or none has come for `stall`; returns
/// whether all came.
async fn wait_for(tally: &Tally, expected: u64, stall: Duration) -> bool {
    let (mut seen, mut progressed) = (tally.delivered(), Instant::now());
    while tally.delivered() < expected {
        if tally.delivered() != seen {
            (seen, progressed) = (tally.delivered(), Instant::now());
        } else if progressed.elapsed() > stall {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

struct Summary<'a> {
    plan: SoakPlan,
    tally: &'a Tally,
    expected: u64,
    /// From the soak's start to the last call's answer.
    sent_for: Duration,
    /// From the soak's start to the last delivery (or giving up).
    drained: Duration,
    max_lag: Duration,
    /// Events sent (all that were due, unless the server fell behind).
    sent: u64,
    /// The server after the drain.
    end: ProcessFigures,
    start_cpu: Option<Duration>,
    database_size: Option<u64>,
    peak: Option<u64>,
    verdict: &'a Verdict,
}

fn summarize(s: &Summary) {
    let row = |label: &str, text: String| println!("{label:<20}{text}");
    let accepted = s.tally.accepted.load(std::sync::atomic::Ordering::Relaxed);
    let delivered = s.tally.delivered();
    row(
        "events accepted",
        format!(
            "{accepted} in {}   {}   ({}/s asked; calls started at most {} late)",
            duration(s.sent_for),
            report::rate(accepted, s.sent_for),
            s.plan.rate,
            duration(s.max_lag)
        ),
    );
    let due = (s.plan.rate * s.plan.duration.as_secs_f64()).round() as u64;
    if s.sent < due {
        row(
            "behind",
            format!(
                "{} of {due} events due were not sent: the server did not keep up",
                due - s.sent
            ),
        );
    }
    row(
        "deliveries received",
        format!(
            "{delivered} of {}, the last at {}",
            s.expected,
            sample::clock(s.drained)
        ),
    );
    let problems = format!(
        "lost {}   duplicated {}",
        s.expected.saturating_sub(delivered),
        s.tally.duplicates()
    );
    println!("{problems}");
    if s.tally.other() > 0 {
        row(
            "other calls",
            format!("{} without a soak event (the warm-up's repeats)", s.tally.other()),
        );
    }
    if s.plan.flap {
        row(
            "receiver failed",
            format!("{} calls (flapping)", s.tally.failed_answers()),
        );
    }
    if let Some(size) = s.database_size {
        row(
            "database",
            format!("{} = {} bytes per delivery", bytes(size), size / delivered.max(1)),
        );
    }
    row(
        "server RSS",
        format!(
            "{} at the end (anon {}), peak {}",
            s.end.rss.map_or_else(|| "?".to_owned(), bytes),
            s.end.anon.map_or_else(|| "?".to_owned(), bytes),
            s.peak.map_or_else(|| "?".to_owned(), bytes),
        ),
    );
    if let (Some(end), Some(start)) = (s.end.cpu, s.start_cpu)
        && delivered > 0
    {
        let cpu = end.saturating_sub(start);
        row(
            "server CPU",
            format!(
                "{} = {:.3} s per 1000 deliveries",
                duration(cpu),
                cpu.as_secs_f64() * 1000.0 / delivered as f64
            ),
        );
    }
    for (label, text) in s.verdict.lines(verdict::WARM_UP) {
        row(label, text);
    }
}
