//! Wiring: the store, the delivery engine and the HTTP server, started and stopped
//! together.

use anyhow::Context;
use postbode_core::clock::SharedClock;
use postbode_core::signing_keys::SignatureSettings;
use postbode_delivery::{DnsResolver, Engine, EngineHandle, KeyRing, Probe};
use postbode_server::AppState;
use postbode_server::telemetry::MetricsEndpoint;
use postbode_server::throttle::AuthThrottle;
use postbode_server::tracking::TrackingKey;
use postbode_signature::sealed::MasterKey;
use postbode_store::Store;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::oneshot;

use crate::config::{Config, RetentionSettings};

/// A running service.
pub struct Running {
    pub addr: SocketAddr,
    /// The operator token, when it was generated on this start (to print once).
    pub new_admin_token: Option<String>,
    engine: EngineHandle,
    key_upkeep: tokio::task::JoinHandle<()>,
    retention: tokio::task::JoinHandle<()>,
    replays: tokio::task::JoinHandle<()>,
    auth_failures_log: tokio::task::JoinHandle<()>,
    stop_http: oneshot::Sender<()>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        create_data_dir(&config.data_dir)?;
    }
    postbode_store::open(&url)
        .await
        .with_context(|| format!("opening {}", redacted(&url)))
}

/// `postbode migrate --from sqlite://... --to postgres://...`: every row into an empty
/// PostgreSQL database, with a progress bar.
pub async fn move_store(from: &str, to: &str) -> anyhow::Result<()> {
    // Opening a file that is not there would make an empty store and copy nothing.
    if let Some(path) = sqlite_file(from)
        && !path.exists()
    {
        anyhow::bail!(
            "--from: there is no SQLite store at {} (a data directory's postbode.db, e.g. \
             sqlite://postbode-data/postbode.db)",
            path.display()
        );
    }
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{prefix:>16} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len}")
            .context("the progress bar's template")?,
    );
    let counts = postbode_store::transfer::sqlite_to_postgres(from, to, &mut |p| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        bar.set_prefix(p.table.to_owned());
    })
    .await
    .with_context(|| format!("moving {} to {}", redacted(from), redacted(to)))?;
    bar.finish_and_clear();
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    println!("Copied {total} rows from {} to {}:", redacted(from), redacted(to));
    for (table, count) in counts {
        println!("  {table:<18}{count}");
    }
    // Secrets and private keys are sealed with the master key: without the same key the
    // copy's webhooks cannot sign and its signing keys cannot be opened.
    println!(
        "Start every node with the master key of the SQLite store's data directory \
         (its master-key file, or the same POSTBODE_MASTER_KEY)."
    );
    Ok(())
}

/// `postbode backup FILE`: a consistent copy of the SQLite store, taken while the
/// service runs. PostgreSQL has its own tools for that.
pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<()> {
    let url = config.database_url();
    if !url.starts_with("sqlite:") {
        anyhow::bail!(
            "the store is PostgreSQL ({}): back it up with pg_dump (e.g. pg_dump -Fc -f postbode.dump DATABASE_URL)",
            redacted(&url)
        );
    }
    if file.exists() {
        anyhow::bail!("{} exists already; name a new file", file.display());
    }
    if let Some(store) = sqlite_file(&url)
        && !store.exists()
    {
        anyhow::bail!(
            "there is no SQLite store at {}: give the service's data directory (--data-dir) or database (--database)",
            store.display()
        );
    }
    let directory = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !directory.is_dir() {
        anyhow::bail!(
            "the directory {} does not exist; make it first (backup does not create directories)",
            directory.display()
        );
    }
    postbode_store::sqlite::backup(&url, file)
        .await
        .with_context(|| format!("backing up {} to {}", redacted(&url), file.display()))?;
    println!("Backed up {} to {}.", redacted(&url), file.display());
    Ok(())
}

pub async fn start(config: Config, clock: SharedClock) -> anyhow::Result<Running> {
    let store = open_store(&config).await?;
    // A new token is saved only once the service listens: a start that fails before
    // (the port is taken) must not keep a token that nobody was shown.
    let (admin_token, new_admin_token) = admin_token(&config)?;
    let master = Arc::new(master_key(&config)?);
    let key_domain = config.key_domain();
    let key_domain_warning = config.key_domain_warning();
    if let Some(warning) = &key_domain_warning {
        tracing::warn!("{warning}");
    }
    postbode_server::signing_keys::maintain(store.as_ref(), &master, clock.now(), &config.signature)
        .await
        .map_err(|e| anyhow::anyhow!("creating the signing keys: {e}"))?;
    let delivery_store = postbode_delivery::port(store.clone());
    let keyring = Arc::new(KeyRing::new(
        delivery_store.clone(),
        master.clone(),
        config.signature.clone(),
        key_domain.clone(),
    ));
    keyring.check(clock.now()).await.map_err(|e| {
        anyhow::anyhow!(
            "{e}: this node's master key is not the one the stored signing keys and webhook secrets \
             were sealed with. Start it with the master key of the node that made them \
             (POSTBODE_MASTER_KEY, or the master-key file of that node's data directory)"
        )
    })?;
    let key_upkeep = tokio::spawn(keep_keys(
        store.clone(),
        master.clone(),
        clock.clone(),
        config.signature.clone(),
    ));
    let retention = tokio::spawn(prune(store.clone(), clock.clone(), config.retention.clone()));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    // Tracking URLs must reach this process: with port 0 only the bound address does.
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let tracking = Arc::new(TrackingKey::new(&master).context("deriving the tracking key")?);
    let engine = Engine::new(
        delivery_store,
        clock.clone(),
        config.delivery.clone(),
        config.webhooks.require_verification,
        keyring.clone(),
    )?;
    let state = AppState {
        store: store.clone(),
        clock: clock.clone(),
        settings: Arc::new(config.server.clone()),
        operator_token_hash: Arc::new(postbode_server::auth::sha256(admin_token.as_bytes())),
        probe: Arc::new(Probe::new(clock.clone(), &config.delivery, keyring)?),
        engine: engine.view(),
        require_verification: config.webhooks.require_verification,
        allow_private_targets: config.delivery.allow_private_targets,
        keys: Arc::default(),
        event_types: Arc::default(),
        master,
        secret_overlap: config.webhooks.secret_overlap,
        signature: Arc::new(config.signature.clone()),
        key_domain: key_domain.as_str().into(),
        key_domain_warning: key_domain_warning.map(Into::into),
        public_url: public_url.trim_end_matches('/').into(),
        tracking,
        dns: Arc::new(DnsResolver::new(&config.dns)?),
        metrics: Arc::new(MetricsEndpoint {
            handle: postbode_server::telemetry::recorder(),
            token_hash: config
                .metrics
                .token
                .as_ref()
                .map(|t| postbode_server::auth::sha256(t.as_bytes())),
        }),
        throttle: Arc::new(AuthThrottle::new(config.server.auth_failures.clone())),
        replay: config.replay,
        replay_wake: Arc::default(),
    };
    let replays = tokio::spawn(run_replays(
        store.clone(),
        clock.clone(),
        config.replay,
        config.webhooks.require_verification,
        state.replay_wake.clone(),
    ));
    let auth_failures_log = tokio::spawn(state.throttle.clone().log_every_minute(clock.clone()));
    postbode_delivery::metrics::label_webhooks(&config.metrics.webhooks);
    if let Some(token) = &new_admin_token {
        write_private(&config.data_dir.join("admin-token"), token)?;
    }
    let engine = engine.start();
    let (stop_http, stopped) = oneshot::channel::<()>();
    let app = postbode_server::router(state);
    let limits = postbode_server::serve::ConnectionLimits::new(&config.server).fitted_to_open_files();
    let http = tokio::spawn(postbode_server::serve::serve(listener, app, limits, async {
        // A dropped sender also means stop.
        let _ = stopped.await;
    }));
    tracing::info!(%addr, %key_domain, "Postbode is listening");
    Ok(Running {
        addr,
        new_admin_token,
        engine,
        key_upkeep,
        retention,
        replays,
        auth_failures_log,
        stop_http,
        http,
    })
}

impl Running {
    /// Graceful stop: no new requests (those in flight finish, so every 202 given is
    /// committed), no new claims, calls in flight finish within the grace period, and
    /// the rest is released for the next start.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop_http.send(());
        self.key_upkeep.abort();
        self.auth_failures_log.abort();
        // A batch cut short is rolled back whole.
        self.retention.abort();
        // A batch cut short is rolled back whole; the job goes on at the next start.
        self.replays.abort();
        let (http, ()) = tokio::join!(self.http, self.engine.shutdown());
        http.context("the HTTP server task failed")??;
        Ok(())
    }
}

/// The fewest characters an operator token may have: one that can be guessed opens
/// every account.
const MIN_OPERATOR_TOKEN: usize = 32;

/// The operator token: from the configuration, else from `<data_dir>/admin-token`,
/// else newly generated (the caller saves it there, mode 0600). Returns it, and the
/// new one to save and print.
/// A token shorter than [`MIN_OPERATOR_TOKEN`] characters is refused.
fn admin_token(config: &Config) -> anyhow::Result<(String, Option<String>)> {
    let long_enough = |token: String, from: &str| {
        let length = token.chars().count();
        if length < MIN_OPERATOR_TOKEN {
            anyhow::bail!(
                "the operator token ({from}) has {length} characters; it needs at least {MIN_OPERATOR_TOKEN}, so \
                 that it cannot be guessed. Choose a random one (e.g. `openssl rand -hex 24`), or leave it unset \
                 and one is generated into the data directory's admin-token file"
            );
        }
        Ok(token)
    };
    if let Some(token) = &config.admin_token {
        return Ok((
            long_enough(
                token.clone(),
                "POSTBODE_ADMIN_TOKEN, or admin_token in the configuration",
            )?,
            None,
        ));
    }
    let path = config.data_dir.join("admin-token");
    if path.exists() {
        let token = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        return Ok((long_enough(token.trim().to_owned(), &path.display().to_string())?, None));
    }
    let token = format!(
        "pbadmin_{}",
        postbode_signature::random::string(postbode_signature::random::LOWER_ALNUM, 40)?
    );
    Ok((token.clone(), Some(token)))
}

/// Creates the next signing key when one is due (hourly: the pre-publication period is
/// days, so an hour late is never late).
async fn keep_keys(store: Arc<dyn Store>, master: Arc<MasterKey>, clock: SharedClock, settings: SignatureSettings) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = postbode_server::signing_keys::maintain(store.as_ref(), &master, clock.now(), &settings).await {
            tracing::error!(error = %e, "signing key upkeep failed");
        }
    }
}

/// Works through the running replay jobs, a batch per commit, oldest job first: at
/// start (jobs a stopped node left), when a job is made here, and every
/// `poll_interval` (jobs of a node that stopped while another runs). A batch that fails
/// (the store unreachable) is tried again at the next wake; a job whose batch is
/// refused as wrong is ended as failed, with why, never left hanging.
async fn run_replays(
    store: Arc<dyn Store>,
    clock: SharedClock,
    settings: postbode_server::ReplaySettings,
    require_verification: bool,
    wake: Arc<tokio::sync::Notify>,
) {
    loop {
        let woken = wake.notified();
        match store.running_replays().await {
            Ok(jobs) => {
                for job in jobs {
                    let mut job = Some(job);
                    while let Some(current) = job.take().filter(|j| j.status == postbode_store::JobStatus::Running) {
                        match store
                            .advance_replay(&current, settings.batch, clock.now(), require_verification)
                            .await
                        {
                            Ok(next) => job = next,
                            Err(postbode_store::StoreError::Invalid(why)) => {
                                tracing::error!(job = %current.id, error = %why, "a replay job failed");
                                if let Err(e) = store.fail_replay(&current.id, &why, clock.now()).await {
                                    tracing::error!(job = %current.id, error = %e, "marking a replay job failed");
                                }
                            }
                            Err(e) => {
                                tracing::warn!(job = %current.id, error = %e, "a replay batch failed; it is tried again");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the running replay jobs failed"),
        }
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep(settings.poll_interval) => {}
        }
    }
}

/// Deletes what retention lets go, every `interval` (the first at start). Every node
/// may do it at once: the store splits the rows between them.
async fn prune(store: Arc<dyn Store>, clock: SharedClock, settings: RetentionSettings) {
    let age = |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = clock.now();
        let request = postbode_store::PruneRequest {
            now,
            attempts_before: now
                .checked_sub_signed(age(settings.attempts))
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
            events_before: now
                .checked_sub_signed(age(settings.events))
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
            batch: settings.batch,
        };
        match store.prune(request).await {
            // A line only when something went: the default log stays one line per event.
            Ok(pruned) if pruned.events + pruned.attempts + pruned.idempotency_keys > 0 => {
                if pruned.held > 0 {
                    tracing::warn!(
                        held = pruned.held,
                        "retention dropped deliveries held for disabled webhooks: their events passed retention.events"
                    );
                }
                tracing::info!(
                    events = pruned.events,
                    deliveries = pruned.deliveries,
                    attempts = pruned.attempts,
                    idempotency_keys = pruned.idempotency_keys,
                    batches = pruned.batches,
                    "retention deleted old data"
                )
            }
            Ok(_) => tracing::debug!("retention found nothing to delete"),
            Err(e) => tracing::error!(error = %e, "retention failed; it runs again at the next interval"),
        }
    }
}

/// The master key that seals secrets at rest: from the configuration
/// (`POSTBODE_MASTER_KEY`), else from `<data_dir>/master-key`, else newly generated
/// into that file (mode 0600). Losing it makes the stored secrets unreadable.
fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(text) = &config.master_key {
        return MasterKey::parse(text).context("POSTBODE_MASTER_KEY");
    }
    let path = config.data_dir.join("master-key");
    if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        return MasterKey::parse(&text).with_context(|| format!("{} is not a master key", path.display()));
    }
    let (key, text) = MasterKey::generate()?;
    write_private(&path, &text)?;
    Ok(key)
}

/// The data directory is made by whoever needs it first: the SQLite store, or the
/// master key and operator token files (a PostgreSQL store keeps those there too).
/// Readable by its owner only, whatever the umask: it holds the database, keys and tokens.
fn create_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        create_data_dir(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(content.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// The file a `sqlite:` URL names; `None` for any other URL.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    use std::str::FromStr;
    if !url.starts_with("sqlite:") {
        return None;
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    Some(options.get_filename().to_path_buf())
}

/// A database URL as it may be shown: without its password.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
