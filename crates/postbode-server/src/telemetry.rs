//! What an operator watches: Prometheus metrics (`GET /metrics`, rendered from the
//! `metrics` crate's recorder; no listener of its own) and a span per request whose
//! fields (route, and the account once the key is checked) every log line inside it
//! carries. When traces are exported, that span is the request's server span, a child
//! of the sender's `traceparent`, and the trace of the events the request sends.
//!
//! Series (all counters `_total`):
//! - `postbode_http_requests_total{method, route, status}`: `route` is the matched
//!   route's pattern (`/v1/webhooks/{id}`), `unmatched` for any other path;
//! - `postbode_events_accepted_total{type}`: the suite's own types by name, every
//!   custom type as `custom` (their names are the producers', unbounded);
//! - `postbode_tracking_hits_total{kind, genuine}`: opens and clicks, and whether the
//!   token's MAC held;
//! - from the engine (`postbode_delivery::metrics`): attempts, their duration and the
//!   deliveries' outcomes; from the writer: `postbode_writer_group_ops` and
//!   `postbode_writer_commit_seconds`;
//! - gauges sampled at each scrape: `postbode_deliveries_pending`, `_due`, `_leased`
//!   and `postbode_oldest_due_age_seconds`.
//!
//! The recorder keeps every histogram sample until it is folded into the histogram's
//! buckets, which a scrape does, and otherwise only its upkeep: a thread of its own runs
//! it every [`UPKEEP_EVERY`], so a service nobody scrapes stays flat (unfolded, the
//! samples took 20–50 bytes per delivery, for good).

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use postbode_core::trace::{self, TraceParent};
use std::sync::OnceLock;
use std::time::Duration;
use tracing::Instrument;

use crate::auth::{Caller, ClientAddress, authenticate, bearer};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// How often the recorder's histogram samples are folded into their buckets.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The recorder of this process (the `metrics` crate's is global), installed once, with
/// its upkeep.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ];
            let ops = [
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full("postbode_writer_group_ops".into()), &ops));
            match builder.map(PrometheusBuilder::build_recorder) {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    if metrics::set_global_recorder(recorder).is_err() {
                        tracing::warn!("another metrics recorder is installed; /metrics shows nothing");
                    }
                    keep_up(handle.clone());
                    handle
                }
                // Only an empty bucket list fails, and the lists above are not empty.
                Err(e) => {
                    tracing::warn!(error = %e, "building the metrics recorder");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}

/// Folds the recorder's histogram samples into their buckets every [`UPKEEP_EVERY`],
/// for the life of the process (the recorder is global, so is its upkeep): on a thread,
/// not a task, so it does not end with the runtime that first asked for the recorder.
fn keep_up(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("postbode-metrics".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "starting the metrics upkeep; histograms grow until /metrics is scraped");
    }
}

/// The `/metrics` endpoint: the recorder, and who may read it.
pub struct MetricsEndpoint {
    pub handle: PrometheusHandle,
    /// SHA-256 of `metrics.token`, a token for the scraper alone (the operator token
    /// works too).
    pub token_hash: Option<[u8; 32]>,
}

/// Counts a request by its route's pattern and status, inside a span that names them.
pub async fn observe(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = request.method().to_string();
    let span = tracing::info_span!(
        "request",
        %method,
        %route,
        account = tracing::field::Empty,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    let exporting = trace::exporting();
    if exporting {
        span.record("otel.name", format!("{method} {route}"));
        span.record("otel.kind", "server");
        if let Some(parent) = sender_trace(request.headers()) {
            trace::set_parent(&span, &parent);
        }
    }
    let response = next.run(request).instrument(span.clone()).await;
    if exporting {
        span.record("http.response.status_code", response.status().as_u16());
    }
    metrics::counter!(
        "postbode_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    response
}

/// The `traceparent` a request came with, when it is a valid one (W3C Trace Context:
/// an invalid one is ignored).
fn sender_trace(headers: &HeaderMap) -> Option<TraceParent> {
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse)
}

/// The trace an event sent by this request belongs to: the request's own span when
/// traces are exported (the sender's trace, or a new one), else the sender's
/// `traceparent` as it came, so a webhook that asks for it still continues that trace.
pub fn event_trace(headers: &HeaderMap) -> Option<TraceParent> {
    trace::context_of(&tracing::Span::current()).or_else(|| sender_trace(headers))
}

/// Counts accepted events of a type; custom types are counted together.
pub fn events_accepted(event_type: &str, count: u64) {
    let label = if postbode_core::event::is_builtin(event_type) {
        event_type.to_owned()
    } else {
        "custom".to_owned()
    };
    metrics::counter!("postbode_events_accepted_total", "type" => label).increment(count);
}

/// Counts the `create`, `update` and `delete` events profile changes fired (a deleted
/// profile's subprofiles fire theirs too, uncounted here).
pub fn changes_accepted(outcomes: &[postbode_store::ChangeOutcome]) {
    use postbode_store::ChangeOutcome;
    for outcome in outcomes {
        match outcome {
            ChangeOutcome::Created(_) => events_accepted("create", 1),
            ChangeOutcome::Updated(_) => events_accepted("update", 1),
            ChangeOutcome::Deleted => events_accepted("delete", 1),
            ChangeOutcome::Unchanged(_) | ChangeOutcome::NotFound | ChangeOutcome::Ingested(_) => {}
        }
    }
}

pub fn tracking_hit(kind: &'static str, genuine: bool) {
    metrics::counter!("postbode_tracking_hits_total", "kind" => kind, "genuine" => genuine.to_string()).increment(1);
}

/// `GET /metrics` (Prometheus text format), with the operator token or `metrics.token`.
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "operations", security(("operator_token" = [])), responses((status = 200, body = String, content_type = "text/plain", description = "Prometheus text format; the operator token or metrics.token"), crate::openapi::Errors))]
pub async fn metrics(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let token = bearer(&headers).ok_or(ApiError::Unauthorized)?;
    match authenticate(&state, address, token).await? {
        Caller::Operator | Caller::Scraper => {}
        Caller::Account(_) => return Err(ApiError::Forbidden),
    }
    let endpoint = &state.metrics;
    let now = state.clock.now();
    let queue = state.store.queue_gauges(now).await?;
    metrics::gauge!("postbode_deliveries_pending").set(queue.pending as f64);
    metrics::gauge!("postbode_deliveries_due").set(queue.due as f64);
    metrics::gauge!("postbode_deliveries_leased").set(queue.leased as f64);
    let age = queue
        .oldest_due_at
        .map_or(0.0, |at| (now - at).num_milliseconds().max(0) as f64 / 1000.0);
    metrics::gauge!("postbode_oldest_due_age_seconds").set(age);
    let mut response = endpoint.handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
