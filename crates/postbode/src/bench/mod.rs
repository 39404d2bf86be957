//! `postbode bench`: Postbode measured end to end, from the API call to the receiver.
//!
//! A receiver runs in this process on 127.0.0.1; the server is a child process of the
//! same binary with a temporary data directory (or, with `--target`, one that is already
//! running). The bench makes an account and `--fanout` webhooks pointing at the
//! receiver, pushes the events through the API, waits until the receiver has every
//! delivery, and prints throughput, latency, losses, duplicates and server memory.
//!
//! `--scenario opens` measures tracking instead of the events API: it makes a database,
//! profiles and a message for each, points the webhooks at `open` only, and GETs the
//! messages' open pixels; every open must come out as an `open` delivery that carries
//! the recipient and the profile's fields. Each GET has a User-Agent of its own, which
//! comes back in the body and ties the delivery to its request.
//!
//! `--backlog N` measures the other case: N deliveries are queued while the server's
//! delivery is paused (`delivery.paused`), then the server is restarted with delivery on
//! and the drain is timed from the restart.

mod api;
mod database;
mod keys;
mod limits;
mod load;
mod receiver;
mod report;
mod server;
mod soak;

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt};
use indicatif::{MultiProgress, ProgressBar, ProgressState, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use api::Api;
use limits::LimitWatch;
use load::{LoadPlan, Work};
use receiver::{MatchBy, Receiver, ReceiverOptions};
use report::{DeliveryStats, Summary};
use server::{ServerChild, ServerOptions};

/// How long the warm-up event's deliveries may take.
const WARM_UP_LIMIT: Duration = Duration::from_secs(30);
/// Calls in flight while making profiles and messages: enough to hide the round trips,
/// and the set-up is not what is measured.
const SET_UP_CONCURRENCY: usize = 16;

/// What the bench pushes through the server.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Custom events through POST /v1/events (or /v1/events/batch with --batch).
    Events,
    /// Tracking: GETs of messages' open pixels, each to arrive as an `open` delivery with the
    /// recipient and the profile's fields (a database, --profiles profiles and a message for
    /// each are made first).
    Opens,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Events => "events",
            Scenario::Opens => "opens",
        }
    }

    fn webhook_events(self) -> &'static [&'static str] {
        match self {
            Scenario::Events => &["all"],
            Scenario::Opens => &["open"],
        }
    }

    fn match_by(self) -> MatchBy {
        match self {
            Scenario::Events => MatchBy::EventId,
            Scenario::Opens => MatchBy::UserAgent,
        }
    }
}

/// Measure Postbode end to end: events in through the API (or opens through the tracking
/// pixel), deliveries out to a local receiver.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// What to send: `events` posts custom events to the API; `opens` GETs messages' open
    /// pixels and checks the `open` deliveries' enrichment.
    #[arg(long, value_enum, default_value_t = Scenario::Events)]
    scenario: Scenario,
    /// Events to send (opens, with --scenario opens).
    #[arg(short = 'n', long = "events", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// With --scenario opens: profiles to make, each with one message; the opens go round
    /// them (at most -n are made).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    profiles: u64,
    /// Calls in flight at once (API calls, or open pixel GETs).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    concurrency: u32,
    /// Events per call: 1 posts each to /v1/events, more go in one /v1/events/batch.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch: u32,
    /// Events (or opens) per second, paced evenly [default: as fast as the server answers].
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// Webhooks, each receiving every event (open): deliveries = events × fanout.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    fanout: u32,
    /// Queue N deliveries while delivery is paused, then restart the server with delivery
    /// on and time the drain from the restart (N / fanout events or opens, instead of -n).
    #[arg(long, value_name = "N", conflicts_with_all = ["events", "target"],
          value_parser = clap::value_parser!(u64).range(1..))]
    backlog: Option<u64>,
    /// `max_concurrency` of each webhook: the ceiling of its adaptive limit of calls in
    /// flight [default: the API's default].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    max_concurrency: Option<u32>,
    /// How long the receiver takes to answer each call.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    receiver_latency: Duration,
    /// Fairness: K of the --fanout webhooks point at a receiver that answers only after
    /// --slow-latency; their deliveries are not waited for nor measured.
    #[arg(long, value_name = "K", default_value_t = 0)]
    slow_receivers: u32,
    /// How long the --slow-receivers take to answer.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    slow_latency: Duration,
    /// Batching: each webhook gets its deliveries N to a call (`batch.max_events`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=250))]
    batch_deliveries: Option<u32>,
    /// With --batch-deliveries: `batch.max_wait_ms`.
    #[arg(long, value_name = "MS", default_value_t = 50, requires = "batch_deliveries",
          value_parser = clap::value_parser!(u32).range(0..=60_000))]
    batch_wait: u32,
    /// Ordering: webhooks with `ordering: "profile"`, events spread over --subjects
    /// `ordering_key`s; the receiver counts deliveries that overtake an earlier one of
    /// their subject (the run fails if any does).
    #[arg(long, conflicts_with = "scenario")]
    ordered: bool,
    /// With --ordered: how many subjects the events are spread over.
    #[arg(long, default_value_t = 100, requires = "ordered", value_parser = clap::value_parser!(u64).range(1..))]
    subjects: u64,
    /// The webhooks' signature schemes, comma-separated: standard-webhooks (the default),
    /// http-signature (RSA-2048, about 0.3 ms of CPU per call) or rfc9421 (Ed25519).
    #[arg(long, value_delimiter = ',', default_value = "standard-webhooks")]
    signatures: Vec<String>,
    /// Bytes of filler in each event's data.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    payload: usize,
    /// Give the events' type a JSON Schema in the account's catalogue, so every event's
    /// data is checked against it (what checking costs).
    #[arg(long, conflicts_with = "scenario")]
    typed: bool,
    /// Measure a server that is already running at URL instead of starting one. It must
    /// run on this machine (the receiver listens on 127.0.0.1), with
    /// delivery.allow_private_targets on and webhooks.require_verification off.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// The operator token of the --target server (a started server gets a random one).
    #[arg(long, env = "POSTBODE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Give up waiting when no delivery has arrived for this long.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// A setting for the started server, e.g. POSTBODE_DELIVERY__MAX_HELD=16384 (repeatable).
    #[arg(long = "server-env", value_name = "NAME=VALUE", value_parser = env_pair, conflicts_with = "target")]
    server_env: Vec<(String, String)>,
    /// Run the started server on PostgreSQL: a fresh database of its own is made on this
    /// server for the run (the user must be allowed to create databases) and dropped
    /// after it.
    #[arg(long, value_name = "URL", conflicts_with_all = ["target", "backlog"])]
    database: Option<String>,
    /// With --database: start this many nodes on the one database; events go to each in
    /// turn, and every node delivers.
    #[arg(long, default_value_t = 1, requires = "database", value_parser = clap::value_parser!(u32).range(1..=8))]
    nodes: u32,
    /// Soak: send at --rate for this long (e.g. 10m) and print a row every --sample-every
    /// (the server's RSS and anonymous memory, CPU, database size and bytes per delivery,
    /// the interval's p50/p99 from the API call to the receipt), then a verdict on
    /// whether memory grows with the deliveries.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, requires = "rate",
          conflicts_with_all = ["events", "backlog", "target", "scenario", "ordered", "slow_receivers"])]
    soak: Option<Duration>,
    /// With --soak: how often a row is printed.
    #[arg(long, value_name = "DURATION", default_value = "30s", requires = "soak",
          value_parser = humantime::parse_duration)]
    sample_every: Duration,
    /// With --soak: the receiver fails every call (503) for 3 s of every 30 s, so
    /// retries, the circuit breaker and the statistics of failed calls run too.
    #[arg(long, requires = "soak")]
    receiver_flap: bool,
    /// Keep the started server's data directory and logs, and print where they are.
    #[arg(long, conflicts_with = "target")]
    keep: bool,
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err("a number of events per second above 0".into()),
    }
}

fn env_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if name.starts_with("POSTBODE_") => Ok((name.to_owned(), value.to_owned())),
        _ => Err("NAME=VALUE with a POSTBODE_ name".into()),
    }
}

impl BenchArgs {
    /// `single, 64 clients` and the like, for the report.
    fn how(&self) -> String {
        let mut how = Vec::new();
        match (self.scenario, self.batch) {
            (Scenario::Opens, _) => {}
            (Scenario::Events, 1) => how.push("single".to_owned()),
            (Scenario::Events, n) => how.push(format!("batch {n}")),
        }
        how.push(format!("{} clients", self.concurrency));
        if let Some(rate) = self.rate {
            how.push(format!("{rate}/s"));
        }
        if self.fanout > 1 {
            how.push(format!("fan-out {}", self.fanout));
        }
        if self.backlog.is_some() {
            how.push("delivery paused".to_owned());
        }
        how.join(", ")
    }

    fn plan(&self, events: u64, work: Work) -> LoadPlan {
        LoadPlan {
            events,
            work,
            concurrency: self.concurrency as usize,
            rate: self.rate,
        }
    }

    /// Options that only the events scenario has.
    fn check(&self) -> anyhow::Result<()> {
        if self.scenario == Scenario::Opens && (self.batch != 1 || self.payload != 0) {
            anyhow::bail!("--batch and --payload are for --scenario events; an open is one GET without a body");
        }
        if self.soak.is_some() && self.nodes > 1 {
            anyhow::bail!("--soak watches one server: leave out --nodes");
        }
        if self.soak.is_some_and(|soak| soak < self.sample_every) || self.sample_every.is_zero() {
            anyhow::bail!("--sample-every must be above zero and at most --soak");
        }
        if self.slow_receivers >= self.fanout {
            anyhow::bail!(
                "--slow-receivers {} leaves no webhook to measure: raise --fanout above it",
                self.slow_receivers
            );
        }
        Ok(())
    }

    /// Webhooks whose deliveries are measured (all but the slow ones).
    fn measured(&self) -> u32 {
        self.fanout - self.slow_receivers
    }

    fn receiver_options(&self) -> ReceiverOptions {
        ReceiverOptions {
            match_by: self.scenario.match_by(),
            latency: self.receiver_latency,
            slow: self.slow_receivers,
            slow_latency: self.slow_latency,
            ordered: self.ordered,
        }
    }

    /// The body of webhook `n`'s creation: only what a flag sets; the rest is the API's
    /// default, which is what a user gets.
    fn webhook_body(&self, url: String) -> serde_json::Value {
        let mut body = serde_json::json!({
            "url": url,
            "description": "postbode bench",
            "events": self.scenario.webhook_events(),
            "signatures": self.signatures,
        });
        if let Some(max) = self.max_concurrency {
            body["max_concurrency"] = max.into();
        }
        if let Some(max_events) = self.batch_deliveries {
            body["batch"] = serde_json::json!({ "max_events": max_events, "max_wait_ms": self.batch_wait });
        }
        if self.ordered {
            body["ordering"] = "profile".into();
        }
        body
    }

    /// The settings line of the report: every webhook setting and server setting the run
    /// changed from the defaults, and the defaults it kept.
    fn settings(&self) -> String {
        let mut webhook = vec![match self.max_concurrency {
            Some(max) => format!("max_concurrency {max}"),
            None => "max_concurrency default".to_owned(),
        }];
        webhook.push(match self.batch_deliveries {
            Some(n) => format!("batch {{max_events {n}, max_wait_ms {}}}", self.batch_wait),
            None => "batch off".to_owned(),
        });
        webhook.push(match self.ordered {
            true => format!("ordering profile over {} subjects", self.subjects),
            false => "ordering none".to_owned(),
        });
        webhook.push(format!("signatures {}", self.signatures.join(",")));
        webhook.push(match self.typed {
            true => "event type with a schema".to_owned(),
            false => "event type without a schema".to_owned(),
        });
        let mut server = match (&self.target, self.server_env.is_empty()) {
            (Some(_), _) => "as the target runs".to_owned(),
            (None, true) => "defaults".to_owned(),
            (None, false) => self
                .server_env
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join(" "),
        };
        server.push_str(match self.database {
            Some(_) => " on PostgreSQL",
            None if self.target.is_none() => " on SQLite",
            None => "",
        });
        if self.nodes > 1 {
            server.push_str(&format!(", {} nodes", self.nodes));
        }
        let mut receiver = match self.receiver_latency.is_zero() {
            true => "answers at once".to_owned(),
            false => format!("answers after {}", humantime::format_duration(self.receiver_latency)),
        };
        if self.slow_receivers > 0 {
            receiver.push_str(&format!(
                "; {} slow webhook(s) answered after {} (not measured)",
                self.slow_receivers,
                humantime::format_duration(self.slow_latency)
            ));
        }
        format!(
            "settings: webhooks: {}; server: {server}; receiver: {receiver}",
            webhook.join(", ")
        )
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    args.check()?;
    let http = api::client()?;
    let receiver = Arc::new(
        Receiver::start(args.receiver_options())
            .await
            .context("starting the receiver")?,
    );
    if let Some(url) = &args.target {
        let token = args
            .admin_token
            .clone()
            .context("--target needs the server's operator token: --admin-token or POSTBODE_ADMIN_TOKEN")?;
        return run_live(&args, Api::new(http, url), &token, &receiver, Vec::new(), None).await;
    }
    let temp = tempfile::Builder::new()
        .prefix("postbode-bench-")
        .tempdir()
        .context("creating a data directory")?;
    // Without --keep, the directory goes when `_cleanup` is dropped at the end.
    let (data_dir, _cleanup) = if args.keep {
        let path = temp.keep();
        println!("data directory and server logs: {}", path.display());
        (path, None)
    } else {
        (temp.path().to_owned(), Some(temp))
    };
    let options = |paused| ServerOptions {
        data_dir: data_dir.clone(),
        admin_token: args.admin_token.clone().unwrap_or_else(random_token),
        paused,
        extra_env: args.server_env.clone(),
    };
    if let Some(deliveries) = args.backlog {
        return run_backlog(&args, http, deliveries, options(true), &receiver, &data_dir).await;
    }
    let mut options = options(false);
    let database = match &args.database {
        Some(url) => Some(database::FreshDatabase::create(url).await?),
        None => None,
    };
    if let Some(database) = &database {
        options
            .extra_env
            .insert(0, ("POSTBODE_DATABASE_URL".to_owned(), database.url.clone()));
        println!("database: {} (made for this run)", database.name());
    }
    // One after another: the first makes the master key the others read from the
    // shared data directory.
    let mut nodes = Vec::new();
    for _ in 0..args.nodes {
        nodes.push(ServerChild::start(&options, &http).await?);
    }
    let urls: Vec<String> = nodes.iter().map(|node| node.base_url.clone()).collect();
    let api = Api::nodes(http, &urls);
    let outcome = match (args.soak, args.rate, nodes.pop()) {
        (Some(duration), Some(rate), Some(node)) => {
            let size = match &database {
                Some(database) => soak::DatabaseSize::postgres(&database.url).await,
                None => Ok(soak::DatabaseSize::Sqlite(data_dir.join("postbode.db"))),
            };
            let plan = soak::SoakPlan {
                duration,
                rate,
                every: args.sample_every,
                flap: args.receiver_flap,
            };
            match size {
                Ok(size) => soak::run(&args, plan, api, &options.admin_token, &receiver, node, size).await,
                Err(e) => Err(e),
            }
        }
        (_, _, last) => {
            nodes.extend(last);
            let size = match &database {
                Some(database) => soak::DatabaseSize::postgres(&database.url).await.ok(),
                None => Some(soak::DatabaseSize::Sqlite(data_dir.join("postbode.db"))),
            };
            run_live(&args, api, &options.admin_token, &receiver, nodes, size).await
        }
    };
    if let Some(database) = database
        && !args.keep
    {
        database.drop_database().await.context("dropping the run's database")?;
    }
    outcome
}

/// The usual run: warm up, push the events, wait for every delivery.
/// Whether `--database` names a PostgreSQL on this machine, whose processes' CPU the
/// report can then show.
fn database_on_this_machine(args: &BenchArgs) -> bool {
    args.database
        .as_deref()
        .and_then(|url| url::Url::parse(url).ok())
        .is_some_and(|url| matches!(url.host_str(), None | Some("127.0.0.1" | "localhost" | "[::1]")))
}

async fn run_live(
    args: &BenchArgs,
    api: Api,
    admin_token: &str,
    receiver: &Arc<Receiver>,
    nodes: Vec<ServerChild>,
    mut size: Option<soak::DatabaseSize>,
) -> anyhow::Result<()> {
    print_header(args, args.events, &nodes, receiver);
    // Read once the schema is in place, so that an empty database's own size (most of a
    // PostgreSQL database's at the start) is not counted against the run's deliveries.
    let size_before = match size.as_mut() {
        Some(size) => size.read().await,
        None => None,
    };
    // Counted from here, like the nodes' own processor time (from their start).
    let database_before = database_on_this_machine(args).then(server::postgres_cpu);
    let (key, webhooks) = set_up(&api, admin_token, receiver, args).await?;
    let work = prepare(&api, &key, args, args.events).await?;
    warm_up(&api, &key, &work, receiver, args).await?;
    receiver.start_measuring();

    let expected_total = args.events * u64::from(args.measured());
    let bars = Bars::new(args.events, args.scenario)?;
    let delivered = bars.delivered(expected_total)?;
    let ticker = Ticker::start(Some(receiver.clone()), delivered.clone(), nodes.first());
    let limits = LimitWatch::start(api.clone(), key.clone(), &webhooks);
    let mut load = load::run(api, key, &args.plan(args.events, work), &bars.accepted).await;
    bars.accepted.finish();
    let expected = load.accepted() * u64::from(args.measured());
    let complete = wait_for_deliveries(receiver, expected, args.timeout).await;
    let database_cpu = database_before.as_ref().map(server::postgres_cpu_since);
    drop(ticker);
    delivered.set_position(receiver.unique());
    delivered.finish();
    bars.clear();
    let notes = notes(args, &limits, receiver);
    drop(limits);

    // A server that stops badly still gets its figures printed; the error comes after.
    let (mut usage, mut stop_error) = (Vec::new(), None);
    let several = nodes.len() > 1;
    for (n, node) in nodes.into_iter().enumerate() {
        match node.stop().await {
            Ok(used) if several => usage.push((format!("node {}", n + 1), used)),
            Ok(used) => usage.push((String::new(), used)),
            Err(e) => stop_error = stop_error.or(Some(e)),
        }
    }
    // After the nodes stopped: SQLite's write-ahead log is then folded into the file.
    let size_after = match size.as_mut() {
        Some(size) => size.read().await,
        None => None,
    };
    let stats = report::analyze(&mut load, args.measured(), receiver.take(), None);
    Summary {
        scenario: args.scenario,
        how: args.how(),
        load: &load,
        deliveries: &stats,
        fanout: args.fanout,
        restart: None,
        usage,
        bench_cpu: server::cpu_time("self"),
        database_cpu,
        receiver_accept_errors: receiver.accept_errors(),
        rate: args.rate,
        notes,
    }
    .print();
    if let (Some(before), Some(after)) = (size_before, size_after) {
        println!("{}", report::disk_per_delivery(before, after, stats.received));
    }
    if let Some(e) = stop_error {
        return Err(e);
    }
    verdict(&stats, &load, complete, args.timeout)
}

/// Queue a backlog with delivery paused, restart with delivery on, time the drain.
async fn run_backlog(
    args: &BenchArgs,
    http: reqwest::Client,
    deliveries: u64,
    paused: ServerOptions,
    receiver: &Arc<Receiver>,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let events = deliveries.div_ceil(u64::from(args.fanout));
    let first = ServerChild::start(&paused, &http).await?;
    print_header(args, events, std::slice::from_ref(&first), receiver);
    let api = Api::new(http.clone(), &first.base_url);
    let (key, webhooks) = set_up(&api, &paused.admin_token, receiver, args).await?;
    let work = prepare(&api, &key, args, events).await?;
    // Nothing is sent while paused, so there is no warm-up: every call counts.
    receiver.start_measuring();

    let bars = Bars::new(events, args.scenario)?;
    let ticker = Ticker::start(None, bars.accepted.clone(), Some(&first));
    let mut load = load::run(api, key.clone(), &args.plan(events, work), &bars.accepted).await;
    drop(ticker);
    bars.accepted.finish();
    let ingest_usage = first.stop().await.context("stopping the paused server")?;
    if receiver.unique() > 0 {
        anyhow::bail!("deliveries arrived while delivery was paused; is delivery.paused honoured?");
    }

    let expected = load.accepted() * u64::from(args.measured());
    let delivered = bars.delivered(expected)?;
    let restart = Instant::now();
    let options = ServerOptions {
        paused: false,
        ..paused
    };
    let second = ServerChild::start(&options, &http)
        .await
        .with_context(|| format!("restarting the server on {}", data_dir.display()))?;
    let startup = second.startup;
    let ticker = Ticker::start(Some(receiver.clone()), delivered.clone(), Some(&second));
    let limits = LimitWatch::start(Api::new(http, &second.base_url), key, &webhooks);
    let complete = wait_for_deliveries(receiver, expected, args.timeout).await;
    drop(ticker);
    delivered.set_position(receiver.unique());
    delivered.finish();
    bars.clear();
    let notes = notes(args, &limits, receiver);
    drop(limits);
    // A server that stops badly still gets its figures printed; the error comes after.
    let (usage, stop_error) = match second.stop().await {
        Ok(drain_usage) => (
            vec![("ingest".to_owned(), ingest_usage), ("drain".to_owned(), drain_usage)],
            None,
        ),
        Err(e) => (vec![("ingest".to_owned(), ingest_usage)], Some(e)),
    };

    let stats = report::analyze(&mut load, args.measured(), receiver.take(), Some(restart));
    Summary {
        scenario: args.scenario,
        how: args.how(),
        load: &load,
        deliveries: &stats,
        fanout: args.fanout,
        restart: Some((restart, startup)),
        usage,
        bench_cpu: server::cpu_time("self"),
        database_cpu: None,
        receiver_accept_errors: receiver.accept_errors(),
        rate: args.rate,
        notes,
    }
    .print();
    if let Some(e) = stop_error {
        return Err(e);
    }
    verdict(&stats, &load, complete, args.timeout)
}

/// The rows only some runs have.
fn notes(args: &BenchArgs, limits: &LimitWatch, receiver: &Receiver) -> Vec<(&'static str, String)> {
    let mut notes = vec![("adaptive limit", limits.summary())];
    if args.slow_receivers > 0 {
        notes.push((
            "slow receivers",
            format!(
                "{} calls to {} webhook(s) answering after {}, not measured",
                receiver.slow_calls(),
                args.slow_receivers,
                humantime::format_duration(args.slow_latency)
            ),
        ));
    }
    notes
}

fn print_header(args: &BenchArgs, events: u64, nodes: &[ServerChild], receiver: &Receiver) {
    let scenario = args.scenario.name();
    let server = match nodes {
        [] => args.target.clone().unwrap_or_default(),
        nodes => nodes
            .iter()
            .map(|node| {
                format!(
                    "started, pid {}, {} (healthy in {})",
                    node.pid(),
                    node.base_url,
                    report::duration(node.startup)
                )
            })
            .collect::<Vec<_>>()
            .join("\n          "),
    };
    println!(
        "postbode bench, scenario {scenario}: {events} {scenario} × {} webhook(s) ({})",
        args.fanout,
        args.how(),
    );
    println!("{}", args.settings());
    println!("server:   {server}");
    println!("receiver: {}", receiver.base_url());
}

/// A fresh account and `fanout` webhooks pointing at the receiver; returns the account
/// key and the measured webhooks' ids.
async fn set_up(
    api: &Api,
    admin_token: &str,
    receiver: &Receiver,
    args: &BenchArgs,
) -> anyhow::Result<(Arc<str>, Vec<String>)> {
    let name = format!("bench {}", chrono::Utc::now().format("%Y-%m-%d %H:%M:%S"));
    let key = api.create_account(admin_token, &name).await?;
    if args.typed {
        api.create_event_type(&key, &load::event_type_definition()).await?;
    }
    let mut measured = Vec::new();
    for n in 0..args.fanout {
        let id = api.create_webhook(&key, &args.webhook_body(receiver.url(n))).await?;
        if n >= args.slow_receivers {
            measured.push(id);
        }
    }
    Ok((key.into(), measured))
}

/// What the calls will do; for opens, this makes the database, the profiles and their
/// messages (at most one per open, so none goes unopened).
async fn prepare(api: &Api, key: &str, args: &BenchArgs, events: u64) -> anyhow::Result<Work> {
    if args.scenario == Scenario::Events {
        return Ok(Work::Events {
            batch: args.batch,
            filler: "x".repeat(args.payload).into(),
            subjects: args.ordered.then_some(args.subjects),
        });
    }
    let started = Instant::now();
    let profiles = args.profiles.min(events);
    let database = api
        .create_database(
            key,
            &serde_json::json!({
                "name": "bench",
                "fields": [
                    {"name": "email", "type": "email"},
                    {"name": "name", "type": "text"},
                    {"name": "age", "type": "integer"},
                ],
            }),
        )
        .await?;
    let bar = ProgressBar::new(profiles)
        .with_style(bar_style()?)
        .with_prefix("messages");
    let urls: Vec<String> = futures_util::stream::iter(0..profiles)
        .map(|i| {
            let (database, bar) = (&database, &bar);
            async move {
                let email = format!("p{i}@example.com");
                let fields = serde_json::json!({ "fields": { "email": email, "name": format!("P{i}"), "age": i } });
                let profile = api.create_profile(key, database, &fields).await?;
                let message = serde_json::json!({
                    "mailing": { "id": "bench-1", "name": "Bench", "tags": ["bench"] },
                    "email": email,
                    "profile_id": profile,
                });
                let url = api.create_message(key, &message).await?;
                bar.inc(1);
                anyhow::Ok(url)
            }
        })
        .buffered(SET_UP_CONCURRENCY)
        .try_collect()
        .await?;
    bar.finish_and_clear();
    println!(
        "set-up:   database {database}, {profiles} profiles with a message each, in {}",
        report::duration(started.elapsed())
    );
    Ok(Work::Opens { urls: urls.into() })
}

/// One event (or open) end to end before the clock starts: proves that the server calls
/// the receiver at all (a misconfigured server fails here, not after the timeout), and
/// opens the connections.
async fn warm_up(api: &Api, key: &str, work: &Work, receiver: &Receiver, args: &BenchArgs) -> anyhow::Result<()> {
    let (fanout, measured) = (args.fanout, args.measured());
    match work {
        Work::Events { .. } => {
            let body = serde_json::json!({ "type": "bench.warmup", "data": {} }).to_string();
            let accepted = api
                .post_event(key, body.into())
                .await
                .context("sending the warm-up event")?;
            let made = accepted.deliveries.unwrap_or_default();
            if made != u64::from(fanout) {
                anyhow::bail!(
                    "the warm-up event made {made} deliveries instead of {fanout}: are the webhooks enabled, \
                     and is webhooks.require_verification off?"
                );
            }
        }
        Work::Opens { urls } => {
            let url = urls.first().context("no message to open")?;
            api.open(url, load::WARM_UP_AGENT.to_owned())
                .await
                .context("opening the first message for the warm-up (is public_url this server?)")?;
        }
    }
    let deadline = Instant::now() + WARM_UP_LIMIT;
    // The slow webhooks' calls are not waited for.
    while receiver.ignored_calls() < u64::from(measured) {
        if Instant::now() > deadline {
            anyhow::bail!(
                "the warm-up event's deliveries did not arrive within {WARM_UP_LIMIT:?} ({} of {measured}); \
                 may the server call 127.0.0.1 (delivery.allow_private_targets)?",
                receiver.ignored_calls()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Waits until `expected` deliveries are in, or none has come for `stall`. Returns
/// whether all came.
async fn wait_for_deliveries(receiver: &Receiver, expected: u64, stall: Duration) -> bool {
    let mut seen = receiver.unique();
    let mut progressed = Instant::now();
    loop {
        let now = receiver.unique();
        if now >= expected {
            return true;
        }
        if now != seen {
            seen = now;
            progressed = Instant::now();
        } else if progressed.elapsed() > stall {
            return false;
        }
        // Only the progress check waits on this; receipt times come from the receiver.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The exit status: a lost delivery, an open without its enrichment or a refused call
/// fails the run.
fn verdict(stats: &DeliveryStats, load: &load::LoadResult, complete: bool, timeout: Duration) -> anyhow::Result<()> {
    if stats.lost > 0 {
        let why = if complete {
            String::new()
        } else {
            format!(" (nothing more came for {})", humantime::format_duration(timeout))
        };
        anyhow::bail!("{} of {} deliveries never arrived{why}", stats.lost, stats.expected);
    }
    if stats.out_of_order > 0 {
        anyhow::bail!(
            "{} deliveries arrived after a later one of their subject",
            stats.out_of_order
        );
    }
    if stats.unenriched > 0 {
        anyhow::bail!(
            "{} open deliveries came without the recipient or the profile's fields",
            stats.unenriched
        );
    }
    if load.failed_calls > 0 {
        anyhow::bail!(
            "{} API calls failed ({} events not accepted)",
            load.failed_calls,
            load.failed_events
        );
    }
    Ok(())
}

fn random_token() -> String {
    // The token only has to be unguessable for the few seconds the server runs; if the
    // system's random source fails, a time-based one still keeps other local users out
    // of a bench run in practice.
    postbode_signature::random::string(postbode_signature::random::LOWER_ALNUM, 40).unwrap_or_else(|_| {
        format!(
            "bench-operator-{:032}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        )
    })
}

/// The progress bars: events accepted (opens handled), then deliveries received.
struct Bars {
    multi: MultiProgress,
    accepted: ProgressBar,
}

impl Bars {
    fn new(events: u64, scenario: Scenario) -> anyhow::Result<Self> {
        let multi = MultiProgress::new();
        let name = match scenario {
            Scenario::Events => "accepted",
            Scenario::Opens => "handled",
        };
        let accepted = multi.add(bar(events, name)?);
        Ok(Self { multi, accepted })
    }

    fn delivered(&self, deliveries: u64) -> anyhow::Result<ProgressBar> {
        Ok(self.multi.add(bar(deliveries, "delivered")?))
    }

    /// Takes the bars off the screen; the summary repeats their figures.
    fn clear(&self) {
        // Only a terminal write can fail here, and the summary follows anyway.
        let _ = self.multi.clear();
    }
}

fn bar(len: u64, name: &'static str) -> anyhow::Result<ProgressBar> {
    Ok(ProgressBar::new(len).with_style(bar_style()?).with_prefix(name))
}

fn bar_style() -> anyhow::Result<ProgressStyle> {
    Ok(ProgressStyle::with_template(
        "{prefix:>9} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {rate:>8} {msg}",
    )?
    // indicatif's own `{per_sec}` prints every decimal of the rate.
    .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:.0}/s", state.per_sec());
    }))
}

/// Keeps a bar up to date: the deliveries received (when given the receiver) and the
/// server's memory (when given the child). Stops when dropped.
struct Ticker(tokio::task::JoinHandle<()>);

impl Ticker {
    fn start(receiver: Option<Arc<Receiver>>, bar: ProgressBar, child: Option<&ServerChild>) -> Self {
        let rss = child.map(ServerChild::rss_gauge);
        Self(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                if let Some(receiver) = &receiver {
                    bar.set_position(receiver.unique());
                }
                if let Some(rss) = &rss {
                    bar.set_message(format!("server RSS {}", report::bytes(rss.load(Ordering::Relaxed))));
                }
            }
        }))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}
