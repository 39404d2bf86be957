//! Postbode's domain: what an event, a webhook and a delivery are, and the pure rules
//! over them (which webhook wants which event, how a body is rendered, when the next
//! attempt is due). Nothing here does I/O, so every rule is testable on its own and
//! shared by the server, the store and the delivery engine.

pub mod address;
pub mod clock;
pub mod condition;
pub mod domain;
pub mod error;
pub mod event;
pub mod event_type;
pub mod ids;
pub mod latency;
pub mod mail;
pub mod page;
pub mod probe;
pub mod profile;
pub mod render;
pub mod retry;
pub mod runtime;
pub mod scope;
pub mod search;
pub mod signing_keys;
pub mod trace;
pub mod webhook;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::{FieldError, ValidationError};
