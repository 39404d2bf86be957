//! Postbode's own signing keys: created at first start, rotated on schedule and on
//! demand, and published (JSON key set and DNS TXT records, the way DKIM keys are).

use chrono::{DateTime, Utc};
use postbode_core::ids;
use postbode_core::signing_keys::{KeyPhase, KeySchedule, SignatureSettings, key_due};
use postbode_signature::dkim;
use postbode_signature::key_set::{KeySet, KeyState};
use postbode_signature::keys::{KeyAlgorithm, PublicKey, SigningKey};
use postbode_signature::sealed::MasterKey;
use postbode_store::{SigningKeyRecord, Store};
use serde::Serialize;

use crate::problem::ApiError;

pub const ALGORITHMS: [KeyAlgorithm; 2] = [KeyAlgorithm::Rsa, KeyAlgorithm::Ed25519];

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn new_key(
    algorithm: KeyAlgorithm,
    schedule: KeySchedule,
    master: &MasterKey,
    now: DateTime<Utc>,
) -> Result<SigningKeyRecord, ApiError> {
    let key = SigningKey::generate(algorithm).map_err(internal)?;
    let id = ids::new_id(ids::SIGNING_KEY);
    Ok(SigningKeyRecord {
        sealed_private_key: master.seal(&key.to_pkcs8().map_err(internal)?, &id).map_err(internal)?,
        public_key: key.public_key().map_err(internal)?.spki().to_vec(),
        selector: dkim::new_selector(now.timestamp()).map_err(internal)?,
        algorithm: algorithm.dkim_name().to_owned(),
        schedule,
        created_at: now,
        id,
    })
}

/// A change of the keys decided from what is stored is saved only if they are still
/// what it was decided from; another node's change in between makes it decide again.
/// Each retry follows a change another node committed, so a few always suffice.
const DECISIONS: usize = 5;

/// Creates whatever key is due: the first of each algorithm, and the next one a
/// pre-publication period before the current one retires. Run at start and hourly, on
/// every node: two nodes doing it at once add one key, not two.
pub async fn maintain(
    store: &dyn Store,
    master: &MasterKey,
    now: DateTime<Utc>,
    settings: &SignatureSettings,
) -> Result<usize, ApiError> {
    for _ in 0..DECISIONS {
        let keys = store.list_signing_keys().await?;
        let mut new = Vec::new();
        for algorithm in ALGORITHMS {
            let schedules: Vec<KeySchedule> = keys
                .iter()
                .filter(|k| k.algorithm == algorithm.dkim_name())
                .map(|k| k.schedule)
                .collect();
            if let Some(schedule) = key_due(&schedules, now, settings) {
                new.push(new_key(algorithm, schedule, master, now)?);
            }
        }
        if new.is_empty() {
            return Ok(0);
        }
        let seen: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
        if !store.save_signing_keys(&new, &[], &seen).await? {
            continue;
        }
        // The first keys of a new installation are no rotation.
        for key in new.iter().filter(|k| k.schedule.activates_at > now) {
            log_new_key(
                key,
                "scheduled: the active key retires at the end of its rotation period",
            );
        }
        return Ok(new.len());
    }
    Err(internal(
        "the signing keys kept changing while a new key was being added",
    ))
}

/// Rotation on demand: a new key per algorithm, published now and signing after the
/// pre-publication period, when the current key retires. A rotation already under way
/// (on any node) is left to finish.
pub async fn rotate(
    store: &dyn Store,
    master: &MasterKey,
    now: DateTime<Utc>,
    settings: &SignatureSettings,
) -> Result<(), ApiError> {
    let switch_at = now + chrono::Duration::from_std(settings.pre_publication).unwrap_or(chrono::Duration::MAX);
    for _ in 0..DECISIONS {
        let keys = store.list_signing_keys().await?;
        let mut new = Vec::new();
        let mut rescheduled = Vec::new();
        for algorithm in ALGORITHMS {
            let mine = keys.iter().filter(|k| k.algorithm == algorithm.dkim_name());
            if mine.clone().any(|k| k.schedule.phase(now) == KeyPhase::Next) {
                continue; // a rotation is already under way
            }
            for key in mine.filter(|k| k.schedule.phase(now) == KeyPhase::Active) {
                let mut schedule = key.schedule;
                schedule.retire_at(switch_at, settings);
                rescheduled.push((key.id.clone(), schedule));
            }
            new.push(new_key(
                algorithm,
                KeySchedule::starting(switch_at, settings),
                master,
                now,
            )?);
        }
        let seen: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
        if !store.save_signing_keys(&new, &rescheduled, &seen).await? {
            continue;
        }
        for key in &new {
            log_new_key(key, "requested by the operator");
        }
        return Ok(());
    }
    Err(internal("the signing keys kept changing while they were being rotated"))
}

/// One line per new signing key (a rotation), for the operator.
fn log_new_key(key: &SigningKeyRecord, reason: &str) {
    tracing::info!(
        key = %key.id,
        algorithm = %key.algorithm,
        selector = %key.selector,
        signs_from = %key.schedule.activates_at.format("%Y-%m-%dT%H:%M:%SZ"),
        %reason,
        "signing key rotation: a new key is published"
    );
}

/// One key as the operator sees it, with the DNS record to publish.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: String,
    pub algorithm: String,
    pub selector: String,
    pub key_id: String,
    pub state: &'static str,
    pub activates_at: DateTime<Utc>,
    pub retires_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub dns: DnsRecord,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DnsRecord {
    /// The TXT record's name.
    pub name: String,
    /// The record's text, whole.
    pub text: String,
    /// The text as quoted strings of at most 255 characters, for a zone file.
    pub zone_text: String,
}

fn public_key(record: &SigningKeyRecord) -> Result<PublicKey, ApiError> {
    let algorithm = KeyAlgorithm::from_dkim_name(&record.algorithm)
        .ok_or_else(|| internal(format!("unknown key algorithm {}", record.algorithm)))?;
    PublicKey::from_der(algorithm, &record.public_key).map_err(internal)
}

/// Every key that is still published (next, active, retired).
pub fn views(keys: &[SigningKeyRecord], now: DateTime<Utc>, key_domain: &str) -> Result<Vec<KeyView>, ApiError> {
    let mut out = Vec::new();
    for record in keys {
        let phase = record.schedule.phase(now);
        if phase == KeyPhase::Expired {
            continue;
        }
        let text = dkim::record(&public_key(record)?);
        let key_id = dkim::key_id(&record.selector, key_domain);
        out.push(KeyView {
            id: record.id.clone(),
            algorithm: record.algorithm.clone(),
            selector: record.selector.clone(),
            dns: DnsRecord {
                name: key_id.clone(),
                zone_text: dkim::zone_text(&text),
                text,
            },
            key_id,
            state: phase.as_str(),
            activates_at: record.schedule.activates_at,
            retires_at: record.schedule.retires_at,
            expires_at: record.schedule.expires_at,
        });
    }
    Ok(out)
}

/// The JSON key set of `/.well-known/postbode/keys`.
pub fn key_set(keys: &[SigningKeyRecord], now: DateTime<Utc>, key_domain: &str) -> Result<KeySet, ApiError> {
    let mut set = KeySet::default();
    for record in keys {
        let state = match record.schedule.phase(now) {
            KeyPhase::Next => KeyState::Next,
            KeyPhase::Active => KeyState::Active,
            KeyPhase::Retired => KeyState::Retired,
            KeyPhase::Expired => continue,
        };
        set.push(dkim::key_id(&record.selector, key_domain), public_key(record)?, state);
        if let Some(published) = set.keys.last_mut() {
            published.expires_at = Some(record.schedule.expires_at.timestamp());
        }
    }
    Ok(set)
}
