use serde::Deserialize;
use std::time::Duration;

/// The `[metrics]` section of the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// A bearer token for the Prometheus scraper alone; the operator token works too.
    pub token: Option<String>,
    /// Webhook ids whose attempt series carry their own `webhook` label (at most 100);
    /// every other webhook is counted as `webhook="other"`.
    pub webhooks: Vec<String>,
}

/// The `[server]` section of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Request bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// Events in one `POST /v1/events/batch`.
    pub max_batch_events: usize,
    /// How long an `idempotency_key` keeps answering with the first event.
    #[serde(with = "humantime_serde")]
    pub idempotency_ttl: Duration,
    /// Peers whose `X-Forwarded-For` is believed (a load balancer in front): the client
    /// IP of a tracking request, and the address failed authentications are counted by,
    /// is otherwise the connection's.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// An import body (`POST /v1/databases/{id}/import`) larger than this is cut off.
    pub max_import_bytes: u64,
    /// How long a dashboard sign-in lasts.
    #[serde(with = "humantime_serde")]
    pub dashboard_session: Duration,
    /// Whether the dashboard's cookies carry `Secure`.
    pub secure_cookies: SecureCookies,
    /// A new connection must send its first request's headers within this time; a
    /// kept-alive one, the next request's headers within this time of their first byte.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A request body that sends nothing for this long is cut off (408).
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// A kept-alive connection on which no next request starts within this time is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Connections served at once; at the cap, idle kept-alive connections are closed
    /// and new ones wait to be accepted.
    pub max_connections: usize,
    /// How many failed authentications are allowed before a client is answered 429.
    pub auth_failures: AuthFailureSettings,
}

/// The `[server.auth_failures]` section: failed authentications (a wrong API key,
/// operator token or metrics token, on the API, `/metrics` or the dashboard's sign-in),
/// counted per client address and per API key, so keys cannot be guessed quickly.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthFailureSettings {
    /// Failures a client address (an IPv6 /64) may make per `period`; past them every
    /// attempt from it, right or wrong, is answered 429 until its share refills.
    pub per_address: u32,
    /// Failures (a wrong secret) with one API key's id per `period`, from any address.
    pub per_key: u32,
    #[serde(with = "humantime_serde")]
    pub period: Duration,
    /// Addresses and keys tracked at once; when more fail at once, the rest share one
    /// limit, so memory stays bounded.
    pub max_tracked: usize,
}

impl Default for AuthFailureSettings {
    fn default() -> Self {
        Self {
            per_address: 10,
            per_key: 100,
            period: Duration::from_secs(60),
            max_tracked: 10_000,
        }
    }
}

/// When the dashboard's cookies are marked `Secure` (sent over https only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SecureCookies {
    /// When the public URL is https.
    #[default]
    Auto,
    /// Always: Postbode is behind an https proxy whose public URL is not configured.
    Always,
    /// Never (plain-http development).
    Never,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_batch_events: 1000,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            trusted_proxies: Vec::new(),
            max_import_bytes: 1 << 30,
            dashboard_session: Duration::from_secs(12 * 3600),
            secure_cookies: SecureCookies::Auto,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            auth_failures: AuthFailureSettings::default(),
        }
    }
}

/// The `[replay]` section: replay jobs (`POST /v1/webhooks/{id}/replay`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplaySettings {
    /// Deliveries and events one job may resend or make; a request matching more is
    /// refused (422) and asks for a narrower range.
    pub max_per_job: u64,
    /// Rows done per transaction: each batch is one commit, so deliveries and requests
    /// never wait long behind a replay.
    pub batch: u32,
    /// How often a node looks for running jobs it did not start (another node's, whose
    /// node stopped), besides at start and when a job is made here.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        Self {
            max_per_job: 100_000,
            batch: 500,
            poll_interval: Duration::from_secs(30),
        }
    }
}
