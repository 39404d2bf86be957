//! Turning what the load generator and the receiver saw into the figures, and printing
//! them.

use std::time::{Duration, Instant};

use super::Scenario;
use super::load::LoadResult;
use super::receiver::Received;
use super::server::Usage;

/// What became of the accepted events' deliveries.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Accepted events × webhooks.
    pub expected: u64,
    /// First receipts of accepted events' deliveries, at most `fanout` per event.
    pub received: u64,
    pub lost: u64,
    /// Calls that repeated a delivery id already received.
    pub duplicates: u64,
    /// More distinct deliveries of one event than there are webhooks.
    pub extra: u64,
    /// Deliveries of events this run never had accepted.
    pub unexpected: u64,
    /// Calls without a delivery id or event id.
    pub malformed: u64,
    /// `open` bodies without the recipient or the profile's fields.
    pub unenriched: u64,
    /// Deliveries that came after a later one of their webhook and subject.
    pub out_of_order: u64,
    /// Per delivery: from its origin (the `202`, or the restart) to its receipt; sorted.
    pub latencies: Vec<Duration>,
    pub last: Option<Instant>,
}

/// Matches every receipt with its event. `origin` replaces the accept instant as the
/// start of every latency (a backlog is timed from the restart).
pub fn analyze(load: &mut LoadResult, fanout: u32, received: Received, origin: Option<Instant>) -> DeliveryStats {
    let mut stats = DeliveryStats {
        expected: load.accepted() * u64::from(fanout),
        duplicates: received.duplicates,
        malformed: received.malformed,
        unenriched: received.unenriched,
        out_of_order: received.out_of_order,
        latencies: Vec::with_capacity(received.arrivals.len()),
        ..DeliveryStats::default()
    };
    for arrival in received.arrivals {
        let Some(event) = load.events.get_mut(&arrival.event) else {
            stats.unexpected += 1;
            continue;
        };
        event.received += 1;
        if event.received > fanout {
            stats.extra += 1;
            continue;
        }
        stats.received += 1;
        // Receipt can beat the 202 to the client by a hair; that counts as no wait.
        let start = origin.unwrap_or(event.at);
        stats.latencies.push(arrival.at.saturating_duration_since(start));
        stats.last = Some(stats.last.map_or(arrival.at, |last| last.max(arrival.at)));
    }
    stats.lost = stats.expected - stats.received;
    stats.latencies.sort_unstable();
    stats
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    /// Nearest-rank percentiles of sorted values; `None` when there are none.
    pub fn of(sorted: &[Duration]) -> Option<Self> {
        let rank = |p: f64| {
            let index = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted[index.clamp(1, sorted.len()) - 1]
        };
        let max = *sorted.last()?;
        Some(Self {
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max,
        })
    }

    fn line(&self) -> String {
        format!(
            "p50 {}  p90 {}  p99 {}  max {}",
            duration(self.p50),
            duration(self.p90),
            duration(self.p99),
            duration(self.max)
        )
    }
}

/// Everything the final block shows.
pub struct Summary<'a> {
    pub scenario: Scenario,
    /// `single, 64 clients` or `batch 100, 64 clients`, plus the rate when fixed.
    pub how: String,
    pub load: &'a LoadResult,
    pub deliveries: &'a DeliveryStats,
    pub fanout: u32,
    /// For a backlog: the restart instant and how long the server took to be healthy.
    pub restart: Option<(Instant, Duration)>,
    /// What the server used, per phase (`""` for a single phase); empty with `--target`.
    pub usage: Vec<(String, Usage)>,
    /// The bench process's own processor time (load generator and receiver).
    pub bench_cpu: Option<Duration>,
    /// With `--database` on this machine: what PostgreSQL's processes used during the run.
    pub database_cpu: Option<Duration>,
    pub receiver_accept_errors: u64,
    /// `--rate`, to show how well the schedule was kept.
    pub rate: Option<f64>,
    /// Rows that only some runs have (the adaptive limit, the slow receivers' calls).
    pub notes: Vec<(&'static str, String)>,
}

impl Summary<'_> {
    pub fn print(&self) {
        let load = self.load;
        let d = self.deliveries;
        let ingest = load.finished.saturating_duration_since(load.started);
        let (noun, taken, answered) = match self.scenario {
            Scenario::Events => ("events", "events accepted", "API call → 202"),
            Scenario::Opens => ("opens", "opens handled", "GET open → 200"),
        };
        row("scenario", self.scenario.name().to_owned());
        if self.restart.is_some() {
            row(
                "backlog",
                format!(
                    "{} deliveries ({} {noun} × {} webhook{}), queued with delivery paused",
                    d.expected,
                    load.accepted(),
                    self.fanout,
                    if self.fanout == 1 { "" } else { "s" }
                ),
            );
        }
        row(
            taken,
            format!(
                "{} in {}   {}   ({})",
                load.accepted(),
                duration(ingest),
                rate(load.accepted(), ingest),
                self.how
            ),
        );
        if let Some(calls) = Percentiles::of(&sorted(&load.call_latencies)) {
            row(answered, calls.line());
        }
        if let Some(asked) = self.rate {
            row(
                "rate",
                format!("{asked}/s asked; calls started at most {} late", duration(load.max_lag)),
            );
        }
        if load.failed_calls > 0 {
            row(
                "failed calls",
                format!(
                    "{} ({} {noun}), first: {}",
                    load.failed_calls,
                    load.failed_events,
                    load.first_error.as_deref().unwrap_or("?")
                ),
            );
        }
        // Made for every webhook, the slow ones' included.
        let made = load.accepted() * u64::from(self.fanout);
        if let Some(reported) = load.deliveries_reported
            && reported != made
        {
            row(
                "deliveries made",
                format!("{reported} by the server's count, {made} expected"),
            );
        }
        let (origin, origin_name) = match self.restart {
            Some((at, healthy_after)) => {
                row("server restart", format!("healthy in {}", duration(healthy_after)));
                (at, "from the restart")
            }
            None => (load.started, "from the first call"),
        };
        let span = d
            .last
            .map_or(Duration::ZERO, |last| last.saturating_duration_since(origin));
        row(
            "deliveries received",
            format!(
                "{} in {}   {}   ({origin_name})",
                d.received,
                duration(span),
                rate(d.received, span)
            ),
        );
        if let Some(latency) = Percentiles::of(&d.latencies) {
            match self.restart {
                Some(_) => row(
                    "restart→receive",
                    format!("first {}  {}", duration(d.latencies[0]), latency.line()),
                ),
                None => row("accept→receive", latency.line()),
            }
        }
        for (label, text) in &self.notes {
            row(label, text.clone());
        }
        let mut problems = format!("lost {}   duplicated {}", d.lost, d.duplicates);
        for (count, what) in [
            (d.extra, "extra"),
            (d.unexpected, "unexpected"),
            (d.malformed, "malformed"),
            (d.unenriched, "without recipient or fields"),
            (d.out_of_order, "out of order"),
            (self.receiver_accept_errors, "refused connections"),
        ] {
            if count > 0 {
                problems.push_str(&format!("   {what} {count}"));
            }
        }
        println!("{problems}");
        for (phase, usage) in &self.usage {
            let label = if phase.is_empty() {
                "server peak RSS".to_owned()
            } else {
                format!("peak RSS, {phase}")
            };
            let peak = usage.peak.map_or_else(|| "?".to_owned(), bytes);
            row(
                &label,
                format!(
                    "{peak}   (sampled max {}, at the end {})",
                    bytes(usage.sampled_max),
                    usage.last.map_or_else(|| "?".to_owned(), bytes)
                ),
            );
        }
        self.print_cpu(ingest, span);
    }

    /// Processor time of the server (per phase) and of the bench itself, also as cores
    /// kept busy over the phase, to tell whether the machine was the limit.
    fn print_cpu(&self, ingest: Duration, drain: Duration) {
        let mut parts = Vec::new();
        let mut per_node = Vec::new();
        for (phase, usage) in &self.usage {
            let Some(cpu) = usage.cpu else { continue };
            let over = match phase.as_str() {
                "ingest" => ingest,
                "drain" => drain,
                // One phase: the run from the first call to the last receipt, which is
                // when nearly all of the server's work happened.
                _ => drain.max(ingest),
            };
            let name = if phase.is_empty() {
                "server".to_owned()
            } else {
                format!("server {phase}")
            };
            parts.push(format!("{name} {}{}", duration(cpu), cores(cpu, over)));
            if phase.is_empty() || phase.starts_with("node") {
                per_node.push(cpu);
            }
        }
        if let Some(cpu) = self.database_cpu {
            parts.push(format!("PostgreSQL {}{}", duration(cpu), cores(cpu, drain.max(ingest))));
        }
        if let Some(cpu) = self.bench_cpu {
            parts.push(format!("bench {}", duration(cpu)));
        }
        if !parts.is_empty() {
            row("CPU time", parts.join("   "));
        }
        // What a node costs per unit of work: the figure that carries over to a machine
        // where every node has cores of its own.
        let delivered = self.deliveries.received;
        if !per_node.is_empty() && delivered > 0 {
            let per_1000 = |cpu: &Duration| format!("{:.3} s", cpu.as_secs_f64() * 1000.0 / delivered as f64);
            let figures: Vec<String> = per_node.iter().map(per_1000).collect();
            let database = self
                .database_cpu
                .map(|cpu| format!("; PostgreSQL {}", per_1000(&cpu)))
                .unwrap_or_default();
            row(
                "CPU per 1000 deliv.",
                format!("{} (per node, over all deliveries){database}", figures.join(", ")),
            );
        }
    }
}

/// ` (1.3 cores)`: processor time over wall time.
fn cores(cpu: Duration, over: Duration) -> String {
    if over.is_zero() {
        return String::new();
    }
    format!(" ({:.1} cores)", cpu.as_secs_f64() / over.as_secs_f64())
}

fn row(label: &str, text: String) {
    println!("{label:<20}{text}");
}

fn sorted(values: &[Duration]) -> Vec<Duration> {
    let mut values = values.to_vec();
    values.sort_unstable();
    values
}

/// `0.4 ms`, `12.3 ms`, `310 ms`, `6.10 s`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

pub fn rate(count: u64, over: Duration) -> String {
    if over.is_zero() {
        return "-/s".into();
    }
    format!("{:.0}/s", count as f64 / over.as_secs_f64())
}

pub fn bytes(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
}

/// The database's growth over the run shared out over its deliveries: what a delivery
/// costs on disk (its event, the delivery, its attempts and their index entries).
pub fn disk_per_delivery(before: u64, after: u64, deliveries: u64) -> String {
    let grown = after.saturating_sub(before);
    format!(
        "database: {} ({} at the start) = {} bytes per delivery",
        bytes(after),
        bytes(before),
        grown / deliveries.max(1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::load::AcceptedEvent;
    use crate::bench::receiver::Arrival;
    use std::collections::HashMap;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(ms).collect();
        let p = Percentiles::of(&values).unwrap();
        assert_eq!((p.p50, p.p90, p.p99, p.max), (ms(50), ms(90), ms(99), ms(100)));
        let one = Percentiles::of(&[ms(7)]).unwrap();
        assert_eq!((one.p50, one.max), (ms(7), ms(7)));
        assert_eq!(Percentiles::of(&[]), None);
    }

    #[test]
    fn receipts_are_matched_with_their_events() {
        let t0 = Instant::now();
        let mut load = LoadResult {
            events: HashMap::from([
                (1, AcceptedEvent { at: t0, received: 0 }),
                (
                    2,
                    AcceptedEvent {
                        at: t0 + ms(5),
                        received: 0,
                    },
                ),
            ]),
            started: t0,
            finished: t0 + ms(5),
            call_latencies: vec![],
            deliveries_reported: None,
            failed_calls: 0,
            failed_events: 0,
            first_error: None,
            max_lag: Duration::ZERO,
        };
        let received = Received {
            arrivals: vec![
                Arrival {
                    event: 1,
                    at: t0 + ms(3),
                },
                Arrival {
                    event: 1,
                    at: t0 + ms(4),
                },
                Arrival {
                    event: 1,
                    at: t0 + ms(4),
                },
                // Before its 202 arrived: counted as no wait.
                Arrival {
                    event: 2,
                    at: t0 + ms(4),
                },
                Arrival {
                    event: 9,
                    at: t0 + ms(4),
                },
            ],
            duplicates: 1,
            malformed: 0,
            unenriched: 2,
            out_of_order: 1,
        };
        let stats = analyze(&mut load, 2, received, None);
        assert_eq!(stats.expected, 4);
        assert_eq!(stats.received, 3);
        assert_eq!(stats.out_of_order, 1);
        assert_eq!(stats.lost, 1);
        assert_eq!(stats.extra, 1);
        assert_eq!(stats.unexpected, 1);
        assert_eq!(stats.duplicates, 1);
        assert_eq!(stats.unenriched, 2);
        assert_eq!(stats.latencies, vec![ms(0), ms(3), ms(4)]);
    }

    #[test]
    fn figures_read_well() {
        assert_eq!(duration(Duration::from_micros(2100)), "2.1 ms");
        assert_eq!(duration(ms(310)), "310 ms");
        assert_eq!(duration(ms(6100)), "6.10 s");
        assert_eq!(rate(100, ms(500)), "200/s");
        assert_eq!(bytes(54 * 1024 * 1024 + 209715), "54.2 MiB");
        assert_eq!(
            disk_per_delivery(1024 * 1024, 101 * 1024 * 1024, 200_000),
            "database: 101.0 MiB (1.0 MiB at the start) = 524 bytes per delivery"
        );
        assert_eq!(
            disk_per_delivery(5, 3, 0),
            "database: 0.0 MiB (0.0 MiB at the start) = 0 bytes per delivery"
        );
    }
}
