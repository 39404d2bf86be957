//! The product's rules about stored data, written once for every backend: which
//! webhooks get an event (`routing`), idempotency (`ingest`), what a profile change
//! fires (`changes`), mail events with their enrichment (`mail`), what an attempt's
//! result does to the delivery, the webhook's health and the statistics (`results`),
//! sending again (`retry`, and in batches as a job: `replay`), which deliveries a claim takes (`claim`) and what
//! retention may delete (`retention`). They run inside
//! a write group (`group`), over the backend's [`crate::backend::GroupTx`].

mod changes;
pub(crate) mod claim;
pub(crate) mod group;
mod ingest;
mod mail;
pub(crate) mod replay;
mod results;
pub(crate) mod retention;
pub(crate) mod retry;
mod routing;

pub(crate) use routing::hour_of;
