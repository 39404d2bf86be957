//! Postbode's HTTP surfaces: the REST API under `/v1`, health and readiness. Every
//! handler checks its input completely before it changes anything, and answers bad
//! input with an RFC 9457 problem document ([`problem::ApiError`]).

pub mod auth;
pub mod decode;
pub mod extract;
pub mod openapi;
pub mod problem;
mod routes;
pub mod serve;
pub mod settings;
pub mod signing_keys;
mod state;
pub mod telemetry;
pub mod throttle;
pub mod tracking;
mod ui;
mod views;

pub use routes::router;
pub use settings::{MetricsSettings, ReplaySettings, ServerSettings};
pub use state::AppState;
