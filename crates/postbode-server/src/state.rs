use postbode_core::clock::SharedClock;
use postbode_core::domain::TxtLookup;
use postbode_core::probe::WebhookProbe;
use postbode_core::signing_keys::SignatureSettings;
use postbode_signature::sealed::MasterKey;
use postbode_store::Store;
use std::sync::Arc;

use crate::auth::KeyCache;
use crate::settings::ServerSettings;
use crate::tracking::TrackingKey;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: SharedClock,
    pub settings: Arc<ServerSettings>,
    /// SHA-256 of the operator token.
    pub operator_token_hash: Arc<[u8; 32]>,
    /// Fetches ownership files and makes test calls (implemented by the delivery crate).
    pub probe: Arc<dyn WebhookProbe>,
    /// What the delivery engine is doing for each webhook (implemented by the delivery crate).
    pub engine: Arc<dyn postbode_core::runtime::EngineView>,
    /// Only webhooks with a verified URL receive calls (`webhooks.require_verification`).
    pub require_verification: bool,
    /// `delivery.allow_private_targets`: a webhook URL may name a non-public IP address.
    pub allow_private_targets: bool,
    pub keys: Arc<KeyCache>,
    /// The accounts' event-type schemas, compiled.
    pub event_types: Arc<crate::routes::event_types::SchemaCache>,
    /// Seals and opens webhook secrets at rest.
    pub master: Arc<MasterKey>,
    /// How long the previous secret keeps signing after a rotation.
    pub secret_overlap: std::time::Duration,
    pub signature: Arc<SignatureSettings>,
    /// `signature.key_domain`, or the public URL's host.
    pub key_domain: Arc<str>,
    /// Why the key domain cannot be published (no setting, and the address it falls back
    /// to holds no DNS records); shown with the keys to the operator.
    pub key_domain_warning: Option<Arc<str>>,
    /// The address the outside world uses (no trailing slash); tracking URLs start with it.
    pub public_url: Arc<str>,
    /// Makes and checks the MACs of tracking tokens.
    pub tracking: Arc<TrackingKey>,
    /// Reads the TXT records that validate domains (implemented by the delivery crate).
    pub dns: Arc<dyn TxtLookup>,
    pub metrics: Arc<crate::telemetry::MetricsEndpoint>,
    /// Failed authentications per client address and per API key.
    pub throttle: Arc<crate::throttle::AuthThrottle>,
    pub replay: crate::settings::ReplaySettings,
    /// Wakes the replay runner when a job is made.
    pub replay_wake: Arc<tokio::sync::Notify>,
}
