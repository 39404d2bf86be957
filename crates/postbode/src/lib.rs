//! The Postbode binary's library: configuration and wiring. `main.rs` parses the
//! command line; the integration tests start the same [`app::start`] in-process with a
//! test clock.

pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod telemetry;
