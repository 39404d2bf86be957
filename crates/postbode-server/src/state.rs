use postbode_core::clock::SharedClock;
use postbode_store::Store;
use std::sync::Arc;

use crate::settings::ServerSettings;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: SharedClock,
    pub settings: Arc<ServerSettings>,
    /// SHA-256 of the operator token.
    pub operator_token_hash: Arc<[u8; 32]>,
}
