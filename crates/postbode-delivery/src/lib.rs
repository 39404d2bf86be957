//! Postbode's outbound side: the engine that claims due deliveries and calls the
//! receivers, the HTTP client with its SSRF guard, and what a call's answer means.

mod attempt;
mod breaker;
pub mod call;
pub mod dns;
pub mod engine;
pub mod http;
pub mod keys;
mod lane;
mod limiter;
pub mod metrics;
mod port;
pub mod probe;
pub mod settings;
pub mod ssrf;

pub use dns::{DnsResolver, DnsSettings};
pub use engine::{Engine, EngineError, EngineHandle};
pub use keys::KeyRing;
pub use port::{DeliveryStore, port};
pub use probe::Probe;
pub use settings::DeliverySettings;
