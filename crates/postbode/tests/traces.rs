//! OpenTelemetry traces: the real binary exports its spans over OTLP/HTTP to a small
//! collector this test runs on 127.0.0.1, which decodes them with the OTLP protobuf
//! definitions. An event's trace runs from the sender's `traceparent` through the
//! ingest request and each delivery attempt to the receiver (for a webhook that asks
//! for it); the write group that commits the event links to it. Without an exporter the
//! sender's `traceparent` is still kept with the event and passed on as it came.

mod common;

use axum::body::Bytes;
use common::binary::start_binary_with;
use common::{ADMIN, Receiver, Reply, Service, eventually, free_port};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SENDER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SENDER_SPAN: &str = "00f067aa0ba902b7";

fn sender_traceparent() -> String {
    format!("00-{SENDER_TRACE}-{SENDER_SPAN}-01")
}

/// An OTLP/HTTP collector: keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Collector {
    async fn start() -> (Self, String) {
        let collector = Self::default();
        let kept = collector.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| {
                let kept = kept.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                    let spans = request
                        .resource_spans
                        .into_iter()
                        .flat_map(|r| r.scope_spans)
                        .flat_map(|s| s.spans);
                    kept.spans.lock().unwrap().extend(spans);
                    ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (collector, url)
    }

    /// Waits for the spans `pick` finds (non-empty) among those received so far.
    async fn wait_for(&self, what: &str, pick: impl Fn(&[Span]) -> Vec<Span>) -> Vec<Span> {
        eventually(what, || async {
            let found = pick(&self.spans.lock().unwrap());
            (!found.is_empty()).then_some(found)
        })
        .await
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = span
        .attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()?;
    Some(match value {
        AnyValue::StringValue(s) => s.clone(),
        AnyValue::IntValue(n) => n.to_string(),
        other => format!("{other:?}"),
    })
}

#[tokio::test]
async fn an_events_spans_follow_its_trace_from_the_sender_to_the_receiver() {
    let (collector, endpoint) = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let binary = start_binary_with(
        dir.path(),
        free_port(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "20"),
        ],
    )
    .await;
    let (_, account) = binary
        .call("POST", "/v1/accounts", ADMIN, Some(json!({"name": "Acme"})))
        .await;
    let key = account["api_key"].as_str().unwrap().to_owned();
    let traced = Receiver::start().await;
    let plain = Receiver::start().await;
    let (status, traced_hook) = binary
        .call(
            "POST",
            "/v1/webhooks",
            &key,
            Some(json!({"url": traced.url, "send_traceparent": true})),
        )
        .await;
    assert_eq!(status, 201, "{traced_hook}");
    assert_eq!(traced_hook["send_traceparent"], true);
    binary
        .call("POST", "/v1/webhooks", &key, Some(json!({"url": plain.url})))
        .await;

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let accepted: serde_json::Value = http
        .post(format!("{}/v1/events", binary.url))
        .bearer_auth(&key)
        .header("traceparent", sender_traceparent())
        .json(&json!({"type": "order.paid", "data": {"order": 42}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event_id = accepted["id"].as_str().unwrap().to_owned();

    // The receiver that asked for it continues the trace; the other gets no header.
    let call = traced.wait_for(1).await.remove(0);
    let outgoing = call.header("traceparent").to_owned();
    let fields: Vec<&str> = outgoing.split('-').collect();
    assert_eq!(
        (fields[0], fields[1], fields[3]),
        ("00", SENDER_TRACE, "01"),
        "{outgoing}"
    );
    assert_ne!(fields[2], SENDER_SPAN, "the parent is Postbode's attempt span");
    assert!(plain.wait_for(1).await[0].headers.get("traceparent").is_none());
    // The body is the event's, with nothing of the trace in it.
    let body = call.json();
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "type", "timestamp", "time", "data"]);

    let ingest = collector
        .wait_for("the ingest request's span", |spans| {
            spans.iter().filter(|s| s.name == "POST /v1/events").cloned().collect()
        })
        .await
        .remove(0);
    assert_eq!(hex(&ingest.trace_id), SENDER_TRACE);
    assert_eq!(hex(&ingest.parent_span_id), SENDER_SPAN);
    assert_eq!(ingest.kind, SpanKind::Server as i32);
    assert_eq!(attribute(&ingest, "route").as_deref(), Some("/v1/events"));
    assert_eq!(attribute(&ingest, "http.response.status_code").as_deref(), Some("202"));

    let group = collector
        .wait_for("the write group that committed the event", |spans| {
            spans
                .iter()
                .filter(|s| {
                    s.name == "write group"
                        && s.links
                            .iter()
                            .any(|l| l.trace_id == ingest.trace_id && l.span_id == ingest.span_id)
                })
                .cloned()
                .collect()
        })
        .await;
    assert_ne!(
        group[0].trace_id, ingest.trace_id,
        "a group is a trace of its own, linked to its events'"
    );

    let attempts = collector
        .wait_for("both delivery attempts", |spans| {
            let attempts: Vec<Span> = spans.iter().filter(|s| s.name == "delivery attempt").cloned().collect();
            if attempts.len() == 2 { attempts } else { Vec::new() }
        })
        .await;
    for attempt in &attempts {
        assert_eq!(hex(&attempt.trace_id), SENDER_TRACE);
        assert_eq!(attempt.parent_span_id, ingest.span_id, "a child of the ingest request");
        assert_eq!(attempt.kind, SpanKind::Client as i32);
        assert_eq!(attribute(attempt, "event").as_deref(), Some(event_id.as_str()));
        assert_eq!(attribute(attempt, "http.response.status_code").as_deref(), Some("200"));
    }
    let to_traced: Vec<&Span> = attempts
        .iter()
        .filter(|a| attribute(a, "webhook").as_deref() == traced_hook["id"].as_str())
        .collect();
    assert_eq!(
        hex(&to_traced[0].span_id),
        fields[2],
        "the receiver's parent is the attempt"
    );
}

/// Off (no `OTEL_*`), the service exports nothing, and a webhook that asks for it gets
/// the sender's `traceparent` as it came, on the first call and on the retry claimed
/// from the store; an event sent without one goes out without. Runs on both backends.
#[tokio::test]
async fn without_an_exporter_the_senders_traceparent_is_kept_and_passed_on() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let receiver = Receiver::answering(|n| Reply::Status(if n == 0 { 500 } else { 200 })).await;
    service
        .webhook(&key, json!({"url": receiver.url, "send_traceparent": true}))
        .await;
    let traced = service
        .http
        .post(format!("{}/v1/events", service.url))
        .bearer_auth(&key)
        .header("traceparent", sender_traceparent())
        .json(&json!({"type": "order.paid", "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(traced.status(), 202);
    receiver.wait_for(1).await;
    // The first call failed; its retry is claimed from the store after the retry delay.
    service.advance(Duration::from_secs(60));
    receiver.wait_for(2).await;
    service
        .send_event(&key, json!({"type": "order.paid", "data": {}}))
        .await;
    let calls = receiver.wait_for(3).await;
    let sent: Vec<Option<&str>> = calls
        .iter()
        .map(|c| c.headers.get("traceparent").map(|v| v.to_str().unwrap()))
        .collect();
    let expected = sender_traceparent();
    assert_eq!(sent, [Some(expected.as_str()), Some(expected.as_str()), None]);
    assert_eq!(
        calls[0].header("x-postbode-delivery"),
        calls[1].header("x-postbode-delivery")
    );
}
