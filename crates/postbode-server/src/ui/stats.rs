//! Statistics pages, per webhook and for the whole account: delivered, failed and
//! skipped per hour or day, and latency p50/p99, as charts drawn on the server and as
//! a table with the same numbers.

use askama::Template;
use axum::extract::{Path, Query, State};
use postbode_store::{Bucket, StatsBucket, StatsQuery, Undelivered};
use serde::Deserialize;

use super::chart::{self, Series};
use super::health;
use super::page::{Chrome, UiResult, render};
use super::session::AccountSession;
use crate::routes::webhooks::{find, stats_window, undelivered};
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct StatsParams {
    /// `hour` (default) or `day`.
    #[serde(default)]
    bucket: Option<Bucket>,
    /// How far back: `24h` (default), `7d` or `30d`.
    #[serde(default)]
    range: Option<String>,
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    chrome: Chrome,
    heading: String,
    /// The page's own path, for the range links.
    path: String,
    range: String,
    bucket: &'static str,
    counts_chart: String,
    latency_chart: String,
    rows: Vec<StatsBucket>,
    /// A webhook's held deliveries and unverified skips of the last 24 hours, now.
    now: Option<(String, String)>,
}

impl StatsPage {
    fn start(&self, bucket: &StatsBucket) -> String {
        label(bucket, self.bucket == "day")
    }

    fn ms(value: &Option<u64>) -> String {
        value.map(super::page::duration).unwrap_or_else(|| "–".into())
    }
}

fn label(bucket: &StatsBucket, day: bool) -> String {
    if day {
        bucket.start.format("%m-%d").to_string()
    } else {
        bucket.start.format("%m-%d %H:00").to_string()
    }
}

/// Every bucket of the window, empty ones included, so the time axis has no holes.
fn fill(rows: &[StatsBucket], query: &StatsQuery) -> Vec<StatsBucket> {
    let size = match query.bucket {
        Bucket::Hour => chrono::Duration::hours(1),
        Bucket::Day => chrono::Duration::days(1),
    };
    let size_ms = size.num_milliseconds();
    let first = query.since.timestamp_millis() - query.since.timestamp_millis().rem_euclid(size_ms);
    let mut start = chrono::DateTime::from_timestamp_millis(first).unwrap_or(query.since);
    let mut out = Vec::new();
    while start < query.until {
        out.push(
            rows.iter()
                .find(|b| b.start == start)
                .cloned()
                .unwrap_or_else(|| StatsBucket {
                    start,
                    ..StatsBucket::default()
                }),
        );
        start += size;
    }
    out
}

fn window(params: &StatsParams) -> (String, chrono::Duration) {
    match params.range.as_deref() {
        Some("7d") => ("7d".into(), chrono::Duration::days(7)),
        Some("30d") => ("30d".into(), chrono::Duration::days(30)),
        _ => ("24h".into(), chrono::Duration::hours(24)),
    }
}

async fn page(state: &AppState, session: &AccountSession, params: StatsParams, webhook_id: Option<&str>) -> UiResult {
    let (range, span) = window(&params);
    let until = state.clock.now();
    let query = stats_window(state, Some(until - span), Some(until), params.bucket)?;
    let day = query.bucket == Bucket::Day;
    let (rows, heading, path, now) = match webhook_id {
        Some(id) => {
            let webhook = find(state, &session.account_id, id).await?;
            let rows = state
                .store
                .webhook_stats(&session.account_id, &webhook.id, &query)
                .await?;
            let counts: Undelivered = undelivered(state, &session.account_id, &[webhook.id.as_str()])
                .await?
                .remove(&webhook.id)
                .unwrap_or_default();
            let now = (
                health::held(counts.held, webhook.settings.enabled),
                health::skipped_unverified(counts.skipped_unverified),
            );
            let path = format!("/ui/webhooks/{}/stats", webhook.id);
            (rows, format!("Statistics of {}", webhook.settings.url), path, Some(now))
        }
        None => {
            let rows = state.store.account_stats(&session.account_id, &query).await?;
            (
                rows,
                "Statistics of every webhook".to_owned(),
                "/ui/stats".to_owned(),
                None,
            )
        }
    };
    let filled = fill(&rows, &query);
    let labels: Vec<String> = filled.iter().map(|b| label(b, day)).collect();
    let count = |f: fn(&StatsBucket) -> u64| filled.iter().map(|b| Some(f(b) as f64)).collect::<Vec<_>>();
    let counts_chart = chart::stacked_bars(
        "Deliveries per bucket",
        &labels,
        &[
            Series {
                name: "delivered",
                class: "ok",
                values: count(|b| b.delivered),
            },
            Series {
                name: "failed",
                class: "bad",
                values: count(|b| b.failed),
            },
            Series {
                name: "skipped",
                class: "skip",
                values: count(|b| b.skipped + b.skipped_unverified + b.condition_errors),
            },
        ],
    );
    let latency =
        |f: fn(&StatsBucket) -> Option<u64>| filled.iter().map(|b| f(b).map(|v| v as f64)).collect::<Vec<_>>();
    let latency_chart = chart::lines(
        "Latency",
        &labels,
        &[
            Series {
                name: "p50",
                class: "p50",
                values: latency(|b| b.latency_p50_ms),
            },
            Series {
                name: "p99",
                class: "p99",
                values: latency(|b| b.latency_p99_ms),
            },
        ],
        " ms",
    );
    Ok(render(&StatsPage {
        chrome: session.chrome(heading.clone(), if webhook_id.is_some() { "webhooks" } else { "stats" }),
        heading,
        path,
        range,
        bucket: if day { "day" } else { "hour" },
        counts_chart,
        latency_chart,
        rows,
        now,
    }))
}

pub async fn webhook(
    session: AccountSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<StatsParams>,
) -> UiResult {
    page(&state, &session, params, Some(&id)).await
}

pub async fn account(
    session: AccountSession,
    State(state): State<AppState>,
    Query(params): Query<StatsParams>,
) -> UiResult {
    page(&state, &session, params, None).await
}
