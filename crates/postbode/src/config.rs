//! Configuration: defaults, then the TOML file, then `POSTBODE_*` environment variables,
//! then command-line flags. Every key is documented with its default in
//! `postbode.example.toml` at the repository root.

use anyhow::Context;
use postbode_core::signing_keys::SignatureSettings;
use postbode_delivery::{DeliverySettings, DnsSettings};
use postbode_server::{MetricsSettings, ReplaySettings, ServerSettings};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://PATH`; defaults to `sqlite://<data_dir>/postbode.db`.
    pub database_url: Option<String>,
    /// The address the outside world uses; defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// The operator token; generated into `<data_dir>/admin-token` when unset.
    pub admin_token: Option<String>,
    /// Base64 of 32 bytes that seals secrets at rest; generated into
    /// `<data_dir>/master-key` when unset.
    pub master_key: Option<String>,
    pub server: ServerSettings,
    pub delivery: DeliverySettings,
    pub webhooks: WebhookSettings,
    pub signature: SignatureSettings,
    pub log: LogSettings,
    pub dns: DnsSettings,
    pub metrics: MetricsSettings,
    pub retention: RetentionSettings,
    pub replay: ReplaySettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("postbode-data"),
            database_url: None,
            public_url: None,
            admin_token: None,
            master_key: None,
            server: ServerSettings::default(),
            delivery: DeliverySettings::default(),
            webhooks: WebhookSettings::default(),
            signature: SignatureSettings::default(),
            log: LogSettings::default(),
            dns: DnsSettings::default(),
            metrics: MetricsSettings::default(),
            retention: RetentionSettings::default(),
            replay: ReplaySettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Only webhooks whose owner proved the URL is theirs receive calls. Turn off only
    /// for trusted internal deployments.
    pub require_verification: bool,
    /// After `POST /v1/webhooks/{id}/secret/rotate`, the previous secret keeps signing
    /// beside the new one this long.
    #[serde(with = "humantime_serde")]
    pub secret_overlap: std::time::Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            require_verification: true,
            secret_overlap: std::time::Duration::from_secs(24 * 3600),
        }
    }
}

/// How long the attempt log and events are kept; what is older is deleted in the
/// background, a small batch per transaction.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Attempts (the delivery log) older than this are deleted.
    #[serde(with = "humantime_serde")]
    pub attempts: std::time::Duration,
    /// Events older than this are deleted with their deliveries and attempts, once every
    /// delivery of theirs has ended; an event still being delivered stays.
    #[serde(with = "humantime_serde")]
    pub events: std::time::Duration,
    /// How often the deletion runs (also once at start).
    #[serde(with = "humantime_serde")]
    pub interval: std::time::Duration,
    /// Rows deleted per transaction: small, so no delivery or request waits long.
    pub batch: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            attempts: std::time::Duration::from_secs(30 * 24 * 3600),
            events: std::time::Duration::from_secs(30 * 24 * 3600),
            interval: std::time::Duration::from_secs(3600),
            batch: 1000,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For a person at a terminal.
    #[default]
    Text,
    /// One JSON object per line, every field (webhook, account, delivery ids) its own key.
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `postbode_delivery=debug,info`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Top-level keys that have an environment variable of their own.
const TOP_LEVEL: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "public_url",
    "admin_token",
    "master_key",
];

impl Config {
    /// Loads the file (if any), overlays `POSTBODE_*` variables from `env`, and checks it.
    pub fn load(file: Option<&Path>, env: impl Iterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                text.parse::<toml::Table>()
                    .with_context(|| format!("{} is not valid TOML", path.display()))?
            }
            None => toml::Table::new(),
        };
        for (name, raw) in env {
            let Some(key) = name.strip_prefix("POSTBODE_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            // `POSTBODE_LOG_FORMAT` is the short name of `log.format` (as `POSTBODE_LOG`
            // is of its level).
            let key = if key == "log_format" {
                "log__format".to_owned()
            } else {
                key
            };
            let value = env_value(&raw);
            match key.split_once("__") {
                Some((section, field)) => {
                    let section = table
                        .entry(section.to_owned())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                    let toml::Value::Table(section) = section else {
                        anyhow::bail!("{name}: [{}] is not a section", key);
                    };
                    set_path(section, field, value);
                }
                None if TOP_LEVEL.contains(&key.as_str()) => {
                    table.insert(key, value);
                }
                None => {}
            }
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .context("the configuration is not valid")?;
        config.delivery.validate().map_err(anyhow::Error::msg)?;
        let server = &config.server;
        if [
            server.header_read_timeout,
            server.body_read_timeout,
            server.idle_timeout,
        ]
        .iter()
        .any(std::time::Duration::is_zero)
            || server.max_connections == 0
        {
            anyhow::bail!(
                "server.header_read_timeout, body_read_timeout, idle_timeout and max_connections must be more than zero"
            );
        }
        if config.retention.batch == 0 || config.retention.interval.is_zero() {
            anyhow::bail!("retention.batch and retention.interval must be more than zero");
        }
        if config.replay.batch == 0 || config.replay.max_per_job == 0 || config.replay.poll_interval.is_zero() {
            anyhow::bail!("replay.batch, replay.max_per_job and replay.poll_interval must be more than zero");
        }
        if config.metrics.webhooks.len() > postbode_delivery::metrics::MAX_LABELLED_WEBHOOKS {
            anyhow::bail!(
                "metrics.webhooks lists {} webhooks; at most {} get series of their own",
                config.metrics.webhooks.len(),
                postbode_delivery::metrics::MAX_LABELLED_WEBHOOKS
            );
        }
        Ok(config)
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// `signature.key_domain`, else the public URL's host.
    pub fn key_domain(&self) -> String {
        self.signature.key_domain.clone().unwrap_or_else(|| {
            url::Url::parse(&self.public_url())
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| "localhost".to_owned())
        })
    }

    /// Why the key domain cannot be published, when it is derived from an address that
    /// holds no DNS records (an IP address or `localhost`): receivers then cannot look the
    /// keys up, so the operator should set one.
    pub fn key_domain_warning(&self) -> Option<String> {
        if self.signature.key_domain.is_some() {
            return None;
        }
        let domain = self.key_domain();
        let publishable =
            matches!(url::Host::parse(&domain), Ok(url::Host::Domain(name)) if !name.eq_ignore_ascii_case("localhost"));
        (!publishable).then(|| {
            format!(
                "signing keys are published under the key domain {domain:?}, which cannot hold DNS records: \
                 set signature.key_domain (POSTBODE_SIGNATURE__KEY_DOMAIN) to a domain of yours used for nothing \
                 else, or POSTBODE_PUBLIC_URL to the address the outside world uses"
            )
        })
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("postbode.db").display()))
    }
}

/// `retry__schedule` style nesting below a section.
fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) {
    match path.split_once("__") {
        Some((head, rest)) => {
            let child = table
                .entry(head.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(child) = child {
                set_path(child, rest, value);
            }
        }
        None => {
            table.insert(path.to_owned(), value);
        }
    }
}

/// A variable's value as TOML when it reads as a TOML value (`true`, `8`, `["5s"]`),
/// else as a plain string (`127.0.0.1:8080`).
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn defaults_need_nothing() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database_url(), "sqlite://postbode-data/postbode.db");
        assert!(config.webhooks.require_verification);
    }

    #[test]
    fn environment_overrides_sections_and_top_level_keys() {
        let config = Config::load(
            None,
            env(&[
                ("POSTBODE_LISTEN", "127.0.0.1:9999"),
                ("POSTBODE_DELIVERY__ALLOW_PRIVATE_TARGETS", "true"),
                ("POSTBODE_DELIVERY__RETRY__SCHEDULE", r#"["1s", "2s"]"#),
                ("POSTBODE_WEBHOOKS__REQUIRE_VERIFICATION", "false"),
                ("POSTBODE_TEST_DATABASE_URL", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9999);
        assert!(config.delivery.allow_private_targets);
        assert_eq!(config.delivery.retry.max_attempts(), 3);
        assert!(!config.webhooks.require_verification);
    }

    #[test]
    fn a_key_domain_that_cannot_be_published_is_warned_about() {
        let warning = |pairs: &[(&str, &str)]| Config::load(None, env(pairs)).unwrap().key_domain_warning();
        let text = warning(&[]).expect("the listen address is no key domain");
        assert!(
            text.contains("\"127.0.0.1\"") && text.contains("signature.key_domain"),
            "{text}"
        );
        assert!(warning(&[("POSTBODE_PUBLIC_URL", "http://[::1]:8080")]).is_some());
        assert!(warning(&[("POSTBODE_PUBLIC_URL", "http://localhost:8080")]).is_some());
        assert_eq!(
            warning(&[("POSTBODE_PUBLIC_URL", "https://postbode.example.com")]),
            None
        );
        assert_eq!(
            warning(&[("POSTBODE_SIGNATURE__KEY_DOMAIN", "webhooks.example.com")]),
            None
        );
    }

    #[test]
    fn the_log_format_has_a_short_variable_and_only_known_values() {
        let config = Config::load(None, env(&[("POSTBODE_LOG_FORMAT", "json")])).unwrap();
        assert_eq!(config.log.format, LogFormat::Json);
        assert!(Config::load(None, env(&[("POSTBODE_LOG_FORMAT", "yaml")])).is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = Config::load(None, env(&[("POSTBODE_DELIVERY__TIMEOUT", "5s")])).unwrap_err();
        assert!(format!("{error:#}").contains("unknown field `timeout`"), "{error:#}");
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../postbode.example.toml");
        let config = Config::load(Some(&path), env(&[])).unwrap();
        let defaults = Config::default();
        // Every setting, not a sample: a default changed in the code shows up here.
        assert_eq!(format!("{config:#?}"), format!("{defaults:#?}"));
    }
}
