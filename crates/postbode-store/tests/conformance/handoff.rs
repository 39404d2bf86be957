//! Deliveries handed straight to the engine at commit, leased to it.

use crate::{Fixture, conformance};
use postbode_store::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

conformance!(
    the_engine_gets_what_it_reserved_and_the_rest_is_claimed,
    nothing_is_handed_over_once_detached,
    an_events_trace_comes_with_its_deliveries_handed_over_or_claimed,
);

/// An engine that takes up to `room` deliveries of each webhook.
#[derive(Default)]
struct Engine {
    room: usize,
    reserved: Mutex<HashMap<String, usize>>,
    got: Mutex<Vec<Claim>>,
}

impl Dispatch for Engine {
    fn reserve(&self, webhook_id: &str, wanted: usize) -> usize {
        let mut reserved = self.reserved.lock().unwrap();
        let held = reserved.entry(webhook_id.to_owned()).or_default();
        let granted = wanted.min(self.room - *held);
        *held += granted;
        granted
    }

    fn unreserve(&self, webhook_id: &str, count: usize) {
        *self.reserved.lock().unwrap().get_mut(webhook_id).unwrap() -= count;
    }

    fn dispatch(&self, claim: Claim) {
        self.got.lock().unwrap().push(claim);
    }
}

async fn the_engine_gets_what_it_reserved_and_the_rest_is_claimed(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    let engine = Arc::new(Engine {
        room: 2,
        ..Engine::default()
    });
    f.store.attach(Some((engine.clone(), Duration::from_secs(120))));
    let events: Vec<NewEvent> = (0..3).map(|_| crate::custom("x", f.at(0))).collect();
    let ingested = f.store.ingest(&f.account, events, f.at(0), true).await.unwrap();
    let got: Vec<Claim> = std::mem::take(&mut *engine.got.lock().unwrap());
    let handed: Vec<&ClaimedDelivery> = got.iter().flat_map(|c| &c.deliveries).collect();
    assert_eq!(handed.len(), 2, "as many as the engine had room for");
    assert!(got.iter().all(|c| c.webhooks.contains_key(&webhook.id)));
    for delivery in &handed {
        let event = ingested.iter().find(|i| i.event_id == delivery.event_id).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
        assert_eq!(body["id"], event.event_id.as_str());
        assert_eq!(delivery.attempts, 0);
    }
    // Leased to this engine: a claim finds only the one it had no room for.
    let claimed = f.claim_all(f.at(1)).await.deliveries;
    assert_eq!(claimed.len(), 1);
    assert!(handed.iter().all(|h| h.delivery_id != claimed[0].delivery_id));
}

/// The trace is kept beside the event, not in its body, and each delivery brings it to
/// the engine, whichever way it goes out.
async fn an_events_trace_comes_with_its_deliveries_handed_over_or_claimed(f: Fixture) {
    f.webhook(json!({})).await;
    let engine = Arc::new(Engine {
        room: 1,
        ..Engine::default()
    });
    f.store.attach(Some((engine.clone(), Duration::from_secs(120))));
    let traces = [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
    ]
    .map(|t| TraceParent::parse(t).unwrap());
    let events: Vec<NewEvent> = traces
        .iter()
        .map(|trace| NewEvent {
            trace_parent: Some(*trace),
            ..crate::custom("x", f.at(0))
        })
        .collect();
    // A custom event's body is kept as its `data`; receivers get it in the envelope.
    let bodies: Vec<Vec<u8>> = events
        .iter()
        .map(|e| postbode_core::event::receiver_body(&e.id, &e.event_type, e.created_at, &e.body).into_owned())
        .collect();
    let ingested = f.store.ingest(&f.account, events, f.at(0), true).await.unwrap();
    let handed = std::mem::take(&mut *engine.got.lock().unwrap()).remove(0).deliveries;
    let claimed = f.claim_all(f.at(1)).await.deliveries;
    assert_eq!((handed.len(), claimed.len()), (1, 1));
    for delivery in handed.iter().chain(&claimed) {
        let n = ingested.iter().position(|i| i.event_id == delivery.event_id).unwrap();
        assert_eq!(delivery.trace_parent, Some(traces[n]));
        assert_eq!(
            delivery.body, bodies[n],
            "the body is the receiver's envelope around what was sent"
        );
    }
}

async fn nothing_is_handed_over_once_detached(f: Fixture) {
    f.webhook(json!({})).await;
    let engine = Arc::new(Engine {
        room: 10,
        ..Engine::default()
    });
    f.store.attach(Some((engine.clone(), Duration::from_secs(120))));
    f.store.attach(None);
    f.event("x", f.at(0)).await;
    assert!(engine.got.lock().unwrap().is_empty());
    assert_eq!(f.claim_all(f.at(0)).await.deliveries.len(), 1);
}
