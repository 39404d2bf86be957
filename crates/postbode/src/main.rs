use anyhow::Context;
use clap::{Parser, Subcommand};
use postbode::config::Config;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Postbode: a self-hosted webhook delivery service.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The settings every command that opens the database shares.
#[derive(clap::Args)]
struct StoreArgs {
    /// A TOML configuration file (see postbode.example.toml).
    #[arg(long, env = "POSTBODE_CONFIG")]
    config: Option<PathBuf>,
    /// Where the database and generated keys live [default: ./postbode-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Database URL [default: sqlite://<data-dir>/postbode.db].
    #[arg(long)]
    database: Option<String>,
}

impl StoreArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref(), std::env::vars())?;
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(url) = &self.database {
            config.database_url = Some(url.clone());
        }
        Ok(config)
    }
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<SocketAddr>,
}

impl ServeArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = self.store.load()?;
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        Ok(config)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: API, tracking endpoints and delivery engine.
    Serve(ServeArgs),
    /// Apply the database migrations and exit; with --from and --to, move a store from
    /// SQLite to an empty PostgreSQL database instead.
    Migrate {
        #[command(flatten)]
        service: StoreArgs,
        /// The SQLite store to copy (sqlite://PATH); the service must not be running on it.
        #[arg(long, value_name = "URL", requires = "to")]
        from: Option<String>,
        /// The empty PostgreSQL database to copy into (postgres://...).
        #[arg(long, value_name = "URL", requires = "from")]
        to: Option<String>,
    },
    /// Copy the SQLite database to FILE while the service runs (restore: put the copy
    /// in a data directory as postbode.db).
    Backup {
        /// Where the copy goes; it must not exist yet.
        file: PathBuf,
        #[command(flatten)]
        service: StoreArgs,
    },
    /// Measure throughput and latency end to end against a local receiver.
    Bench(postbode::bench::BenchArgs),
    /// Verify, test and check webhooks of a running Postbode.
    #[command(subcommand)]
    Webhook(postbode::cli::webhook::WebhookCommand),
    /// Check a captured call's signatures, every scheme it carries, and say why one fails.
    Verify(postbode::cli::verify::VerifyArgs),
    /// Run a local receiver that prints every call with its signature checks.
    Listen(postbode::cli::listen::ListenArgs),
    /// Add, list, validate and delete the account's validated domains.
    #[command(subcommand)]
    Domain(postbode::cli::domain::DomainCommand),
    /// Erase a profile and every stored trace of its data.
    #[command(subcommand)]
    Profile(postbode::cli::profile::ProfileCommand),
    /// Show, rotate and check Postbode's signing keys (operator).
    #[command(subcommand)]
    Keys(postbode::cli::keys::KeysCommand),
    /// Import profiles from a CSV or JSON-lines file into a database, streaming it.
    Import(postbode::cli::import::ImportArgs),
}

// glibc's allocator took a fifth of the service's CPU under load (many threads
// allocating and freeing small buffers); mimalloc keeps per-thread pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every failure exits non-zero with its message and causes on standard error; never
/// with a backtrace, which `main() -> Result` would print under `RUST_BACKTRACE=1` and
/// which says nothing to someone who mistyped an id.
fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args.load()?).await,
            Command::Migrate {
                from: Some(from),
                to: Some(to),
                ..
            } => postbode::app::move_store(&from, &to).await,
            Command::Migrate { service: args, .. } => {
                let config = args.load()?;
                let _telemetry = postbode::telemetry::init(&config)?;
                postbode::app::open_store(&config).await?;
                tracing::info!(database = %config.database_url(), "migrations applied");
                Ok(())
            }
            Command::Backup { file, service } => postbode::app::backup(&service.load()?, &file).await,
            Command::Bench(args) => postbode::bench::run(args).await,
            Command::Webhook(command) => postbode::cli::webhook::run(command).await,
            Command::Verify(args) => postbode::cli::verify::run(args).await,
            Command::Listen(args) => postbode::cli::listen::run(args).await,
            Command::Keys(command) => postbode::cli::keys::run(command).await,
            Command::Domain(command) => postbode::cli::domain::run(command).await,
            Command::Profile(command) => postbode::cli::profile::run(command).await,
            Command::Import(args) => postbode::cli::import::run(args).await,
        }
    })
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let telemetry = postbode::telemetry::init(&config)?;
    let running = postbode::app::start(config, Arc::new(postbode_core::SystemClock)).await?;
    if let Some(token) = &running.new_admin_token {
        // Printed once; it is also in <data-dir>/admin-token (mode 0600).
        println!("Operator token (also saved in the data directory's admin-token file): {token}");
    }
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests and calls in flight");
    running.stop().await?;
    tracing::info!("stopped");
    telemetry.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        // Without signal handlers the process can only be killed; wait for that.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
