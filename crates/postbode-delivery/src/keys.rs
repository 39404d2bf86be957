//! The signing keys the engine signs with now, opened from the store.

use chrono::{DateTime, Utc};
use postbode_core::signing_keys::KeyPhase;
use postbode_signature::dkim;
use postbode_signature::keys::{Ed25519Key, KeyAlgorithm, RsaKey};
use postbode_signature::sealed::MasterKey;
use postbode_store::SigningKeyRecord;

use crate::port::DeliveryStore;

/// Why the active keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyLoadError {
    #[error(transparent)]
    Store(#[from] postbode_store::StoreError),
    #[error("signing key {id}: {source}")]
    Open {
        id: String,
        source: postbode_signature::Error,
    },
}

/// The active key of each algorithm, with its published key id.
pub struct ActiveKeys {
    pub rsa: Option<(String, RsaKey)>,
    pub ed25519: Option<(String, Ed25519Key)>,
    /// When a key activates or retires next (or the reload interval ends).
    pub valid_until: DateTime<Utc>,
}

impl ActiveKeys {
    pub fn none(now: DateTime<Utc>) -> Self {
        Self {
            rsa: None,
            ed25519: None,
            valid_until: now,
        }
    }

    /// The keys active at `now`, valid until one activates or retires, or `reload` has
    /// passed (a rotation made on another node or through the API is picked up then).
    pub async fn load(
        store: &dyn DeliveryStore,
        master: &MasterKey,
        now: DateTime<Utc>,
        key_domain: &str,
        reload: std::time::Duration,
    ) -> Result<Self, KeyLoadError> {
        let records = store.signing_keys().await?;
        let reload = chrono::Duration::from_std(reload).unwrap_or(chrono::Duration::MAX);
        let mut keys = Self::none(now.checked_add_signed(reload).unwrap_or(DateTime::<Utc>::MAX_UTC));
        for record in &records {
            let s = record.schedule;
            for at in [s.activates_at, s.retires_at] {
                if at > now && at < keys.valid_until {
                    keys.valid_until = at;
                }
            }
        }
        let active = |algorithm: KeyAlgorithm| {
            records
                .iter()
                .filter(|r| r.algorithm == algorithm.dkim_name() && r.schedule.phase(now) == KeyPhase::Active)
                .max_by_key(|r| r.schedule.activates_at)
        };
        let failed = |record: &SigningKeyRecord| {
            let id = record.id.clone();
            move |source| KeyLoadError::Open { id, source }
        };
        let open = |record: &SigningKeyRecord| -> Result<(String, Vec<u8>), KeyLoadError> {
            let der = master
                .open(&record.sealed_private_key, &record.id)
                .map_err(failed(record))?;
            Ok((dkim::key_id(&record.selector, key_domain), der))
        };
        if let Some(record) = active(KeyAlgorithm::Rsa) {
            let (key_id, der) = open(record)?;
            keys.rsa = Some((key_id, RsaKey::from_pkcs8(&der).map_err(failed(record))?));
        }
        if let Some(record) = active(KeyAlgorithm::Ed25519) {
            let (key_id, der) = open(record)?;
            keys.ed25519 = Some((key_id, Ed25519Key::from_pkcs8(&der).map_err(failed(record))?));
        }
        Ok(keys)
    }
}

/// Everything a call is signed with besides the webhook's own secrets: the master key
/// (to open those), the active signing keys (reloaded when they may have changed) and
/// the signature settings. Shared by the engine and the test tool.
pub struct KeyRing {
    store: std::sync::Arc<dyn DeliveryStore>,
    pub master: std::sync::Arc<MasterKey>,
    pub settings: postbode_core::signing_keys::SignatureSettings,
    pub key_domain: String,
    current: std::sync::Mutex<std::sync::Arc<ActiveKeys>>,
}

impl KeyRing {
    pub fn new(
        store: std::sync::Arc<dyn DeliveryStore>,
        master: std::sync::Arc<MasterKey>,
        settings: postbode_core::signing_keys::SignatureSettings,
        key_domain: String,
    ) -> Self {
        Self {
            store,
            master,
            settings,
            key_domain,
            current: std::sync::Mutex::new(std::sync::Arc::new(ActiveKeys::none(DateTime::<Utc>::MIN_UTC))),
        }
    }

    /// Loads the keys active at `now`, and fails when they do not open: the node was
    /// started with another master key than the one that sealed them (and every
    /// webhook's secret), and would fail every call it signs.
    pub async fn check(&self, now: DateTime<Utc>) -> Result<(), KeyLoadError> {
        let keys = ActiveKeys::load(
            self.store.as_ref(),
            &self.master,
            now,
            &self.key_domain,
            self.settings.reload,
        )
        .await?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = std::sync::Arc::new(keys);
        Ok(())
    }

    /// The keys active at `now`; read from the store only when they may have changed.
    pub async fn active(&self, now: DateTime<Utc>) -> std::sync::Arc<ActiveKeys> {
        let cached = self.current.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if now < cached.valid_until {
            return cached;
        }
        match ActiveKeys::load(
            self.store.as_ref(),
            &self.master,
            now,
            &self.key_domain,
            self.settings.reload,
        )
        .await
        {
            Ok(keys) => {
                let keys = std::sync::Arc::new(keys);
                *self.current.lock().unwrap_or_else(|p| p.into_inner()) = keys.clone();
                keys
            }
            Err(e) => {
                tracing::error!(error = %e, "loading the signing keys failed; keeping the previous ones");
                cached
            }
        }
    }
}
